"""apt with a private configuration: its own sources, lists, status and cache, never the machine's.

Used to resolve and download packages of any Debian suite (``apt-get download``
only; nothing is installed).  ``APT_CONFIG`` points apt at our file, and
``Dir::Etc::Parts`` at an empty directory, so the machine's ``apt.conf.d``
(extra index targets, proxies of other tools) does not apply either.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sriov_operator.errors import HostError
from sriov_vmtest.recipe import Suite

_INST = re.compile(r"^Inst (\S+) (?:\[\S+\] )?\((\S+) ", re.MULTILINE)
_DEPENDS = re.compile(r"^\s+Depends: (\S+)$", re.MULTILINE)


class AptError(HostError):
    """An apt step failed; the message quotes apt's own words."""


def install_order(simulation: str) -> list[tuple[str, str]]:
    """(package, version) of every ``Inst`` line of ``apt-get -s install`` output, in order.

    >>> install_order("Inst libc6 (2.41-12 Debian:13.1/stable [amd64])\\nConf libc6 (2.41-12)")
    [('libc6', '2.41-12')]
    """
    return _INST.findall(simulation)


def first_dependency(depends_output: str) -> str | None:
    """The first ``Depends:`` of ``apt-cache depends`` output (a meta-package's real package)."""
    found = _DEPENDS.search(depends_output)
    return found.group(1) if found else None


@dataclass(frozen=True)
class PrivateApt:
    suite: Suite
    home: Path  # everything apt keeps lives under here

    def _config(self) -> Path:
        etc = self.home / "etc"
        (etc / "parts").mkdir(parents=True, exist_ok=True)
        (self.home / "lists" / "partial").mkdir(parents=True, exist_ok=True)
        (self.home / "archives" / "partial").mkdir(parents=True, exist_ok=True)
        (etc / "sources.list").write_text("\n".join(self.suite.sources) + "\n")
        status = self.home / "status"
        status.touch()
        config = etc / "apt.conf"
        settings = {
            "Dir::Etc::SourceList": etc / "sources.list",
            "Dir::Etc::SourceParts": etc / "parts",
            "Dir::Etc::Parts": etc / "parts",
            "Dir::Etc::Preferences": etc / "preferences",
            "Dir::Etc::PreferencesParts": etc / "parts",
            "Dir::State": self.home,
            "Dir::State::Lists": self.home / "lists",
            "Dir::State::Status": status,
            "Dir::Cache": self.home / "cache",
            "Dir::Cache::Archives": self.home / "archives",
            "APT::Architecture": "amd64",
            "APT::Architectures": "amd64",
            "APT::Install-Recommends": "false",
            "APT::Sandbox::User": "root",
            "Debug::NoLocking": "true",
        }
        config.write_text("".join(f'{key} "{value}";\n' for key, value in settings.items()))
        return config

    def run(self, args: list[str], cwd: Path | None = None) -> str:
        env = dict(os.environ, APT_CONFIG=str(self._config()), DEBIAN_FRONTEND="noninteractive", LC_ALL="C")
        result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            tail = (result.stderr or result.stdout).strip().splitlines()[-5:]
            raise AptError(f"{' '.join(args[:3])} ({self.suite.name}) failed: {' / '.join(tail)}")
        return result.stdout

    def update(self) -> None:
        self.run(["apt-get", "update", "-q"])

    def closure(self, packages: list[str]) -> list[tuple[str, str]]:
        """Every package (with version) needed to have ``packages`` on an empty system."""
        return install_order(self.run(["apt-get", "install", "-s", *packages]))

    def resolve_meta(self, package: str) -> str:
        found = first_dependency(self.run(["apt-cache", "depends", package]))
        if found is None:
            raise AptError(f"{package} ({self.suite.name}): depends on nothing; cannot resolve it")
        return found

    def dependencies(self, package: str) -> list[str]:
        return _DEPENDS.findall(self.run(["apt-cache", "depends", package]))

    def version(self, package: str) -> str:
        for line in self.run(["apt-cache", "policy", package]).splitlines():
            if line.strip().startswith("Candidate:"):
                return line.split(":", 1)[1].strip()
        raise AptError(f"{package} ({self.suite.name}): no candidate version")

    def download(self, pinned: list[tuple[str, str]], into: Path) -> list[Path]:
        """Download ``name=version`` of each package into ``into``; the .deb paths, in the given order."""
        into.mkdir(parents=True, exist_ok=True)
        self.run(["apt-get", "download", "-q", *(f"{name}={version}" for name, version in pinned)], cwd=into)
        debs = []
        for name, _ in pinned:
            found = sorted(into.glob(f"{name}_*.deb"))
            if not found:
                raise AptError(f"{name} ({self.suite.name}): downloaded, but no {name}_*.deb in {into}")
            debs.append(found[0])
        return debs
