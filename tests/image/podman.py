"""podman with a configuration of its own under the cache: the machine's config is never read or changed.

The combination that runs containers on the CI machine kind (hybrid cgroup
layout, no systemd): rootful, ``runc`` (crun fails on that layout), the
``cgroupfs`` manager, events to a file, explicit ulimits. Storage is ``overlay``
where the kernel mounts it on the cache's file system, else ``vfs`` (which works
everywhere, but copies and diffs the whole tree at every build step: a cached
build takes minutes instead of seconds). Each driver has its own storage.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sriov_operator.controlplane.binaries import cache_root

PACKAGES = ("podman", "buildah", "runc")  # Debian's; scripts/test installs them


DRIVERS = ("overlay", "vfs")  # preferred first


class ImageToolingError(Exception):
    """podman is missing or one of its commands failed; the message quotes its output."""


def ulimit_args() -> list[str]:
    """Explicit ``--ulimit`` for open files and processes, below this process's hard limits.

    Without CAP_SYS_RESOURCE runc can only lower a limit, and it fails on the defaults podman asks for.
    """
    limits = []
    for name, kind, wanted in (
        ("nofile", resource.RLIMIT_NOFILE, 16384),
        ("nproc", resource.RLIMIT_NPROC, 8192),
    ):
        hard = resource.getrlimit(kind)[1]
        value = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard // 2)
        limits += ["--ulimit", f"{name}={value}:{value}"]
    return limits


def podman_home() -> Path:
    return cache_root() / "podman"


@dataclass(frozen=True)
class Podman:
    """One private podman: storage, run state and configuration all under ``home``."""

    home: Path
    driver: str

    @property
    def storage_conf(self) -> Path:
        return self.home / "storage.conf"

    @property
    def containers_conf(self) -> Path:
        return self.home / "containers.conf"

    def prepare(self) -> Podman:
        missing = [p for p in ("podman", "runc") if shutil.which(p) is None]
        if missing:
            raise ImageToolingError(
                f"{', '.join(missing)} not on PATH: apt-get install {' '.join(PACKAGES)} (scripts/test does)"
            )
        if os.geteuid() != 0:
            raise ImageToolingError("the image tests run podman rootful (runc, cgroupfs): run them as root")
        self.home.mkdir(parents=True, exist_ok=True)
        self.storage_conf.write_text(
            "[storage]\n"
            f'driver = "{self.driver}"\n'
            f'graphroot = "{self.home / "storage"}"\n'
            f'runroot = "{self.home / "run"}"\n'
        )
        (self.home / "registries.conf").write_text("unqualified-search-registries = []\n")  # none reachable
        self.containers_conf.write_text(
            "[engine]\n"
            'cgroup_manager = "cgroupfs"\n'
            'runtime = "runc"\n'
            'events_logger = "file"\n'
            f'events_logfile_path = "{self.home / "events.log"}"\n'
            f'tmp_dir = "{self.home / "tmp"}"\n'
            f'volume_path = "{self.home / "volumes"}"\n'
            f'static_dir = "{self.home / "libpod"}"\n'
        )
        return self

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "CONTAINERS_STORAGE_CONF": str(self.storage_conf),
            "CONTAINERS_CONF": str(self.containers_conf),
            "CONTAINERS_REGISTRIES_CONF": str(self.home / "registries.conf"),
        }

    def argv(self, *args: str) -> list[str]:
        options = ["--storage-driver", self.driver, "--runtime", "runc", "--cgroup-manager", "cgroupfs"]
        return ["podman", *options, *args]

    def works(self) -> str | None:
        """None when this podman can use its storage; else why not (podman's words)."""
        argv = self.argv("info")
        result = subprocess.run(argv, env=self.env(), capture_output=True, text=True, check=False)
        return None if result.returncode == 0 else (result.stderr.strip().splitlines() or ["?"])[-1]

    def run(self, *args: str, log: Path | None = None) -> str:
        """Run a podman command to completion; its stdout. Fails with the output's tail."""
        result = subprocess.run(self.argv(*args), env=self.env(), capture_output=True, text=True, check=False)
        if log is not None:
            with log.open("a") as out:
                out.write(f"$ podman {' '.join(args)}\n{result.stdout}{result.stderr}")
        if result.returncode != 0:
            tail = " / ".join((result.stdout + result.stderr).strip().splitlines()[-8:])
            raise ImageToolingError(f"podman {args[0]} failed (exit {result.returncode}): {tail}")
        return result.stdout

    def popen(self, args: list[str], log: Path) -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            return subprocess.Popen(
                self.argv(*args),
                env=self.env(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def has_image(self, reference: str) -> bool:
        result = subprocess.run(
            self.argv("image", "exists", reference), env=self.env(), capture_output=True, check=False
        )
        return result.returncode == 0


def private_podman() -> Podman:
    """The first storage driver that works here, each in a home of its own."""
    failures = []
    for driver in DRIVERS:
        podman = Podman(podman_home() / driver, driver).prepare()
        problem = podman.works()
        if problem is None:
            return podman
        failures.append(f"{driver}: {problem}")
    raise ImageToolingError(f"podman cannot use its storage: {'; '.join(failures)}")
