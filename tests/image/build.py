"""The operator's image for the tests: a Debian base (no registry is reachable here), then the Containerfile.

The base is ``debootstrap --variant=minbase`` of bookworm with python3 and its
venv module, imported with ``podman import`` and passed as the Containerfile's
``PYTHON_IMAGE``; users keep the documented public base. Both are cached in the
private podman storage (tests/image/podman.py): the base by its recipe's hash,
the image's layers by podman's own layer cache, so a rebuild after a change
under src/ reinstalls only the project, not its dependencies; an image built
from the same tree is tagged again, not rebuilt.

``python -m tests.image.build`` builds both and prints the timings and sizes
(bench/RESULTS.md, "Image").
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.image.podman import ImageToolingError, Podman, podman_home, private_podman, ulimit_args
from tests.support import REPO_ROOT

SUITE = "bookworm"  # python3 is 3.11 there, as in the documented python:3.11-slim-bookworm
MIRROR = "http://deb.debian.org/debian"
BASE_PACKAGES = ("python3", "python3-venv")
# What a container never needs from a minbase root: documentation, apt's downloads and lists, and
# glibc's iconv modules (Python's codecs are its own).
BASE_PRUNED = (
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
    "var/cache/apt",
    "var/lib/apt/lists",
    "usr/lib/x86_64-linux-gnu/gconv",
)
BASE_REPOSITORY = "localhost/sriov-operator-test-base"
IMAGE = "localhost/sriov-fdp-operator:test"


def base_reference() -> str:
    recipe = json.dumps({"suite": SUITE, "mirror": MIRROR, "packages": BASE_PACKAGES, "pruned": BASE_PRUNED})
    return f"{BASE_REPOSITORY}:{hashlib.sha256(recipe.encode()).hexdigest()[:12]}"


# This machine's pip configuration and CA bundle (PyPI may sit behind a TLS-inspecting proxy): mounted
# read-only into the build's RUN steps only, never stored in a layer.
HOST_PIP_FILES = (Path("/etc/pip.conf"), Path("/etc/ssl/certs/ca-certificates.crt"))


def host_pip_mounts() -> list[str]:
    return [arg for path in HOST_PIP_FILES if path.is_file() for arg in ("--volume", f"{path}:{path}:ro")]


def _run(step: str, argv: list[str], log: Path) -> None:
    with log.open("a") as out:
        out.write(f"$ {' '.join(argv)}\n")
        out.flush()
        result = subprocess.run(
            ["nice", "-n", "19", *argv], stdout=out, stderr=subprocess.STDOUT, check=False
        )
    if result.returncode != 0:
        tail = " / ".join(log.read_text(errors="replace").strip().splitlines()[-6:])
        raise ImageToolingError(f"{step}: {argv[0]} failed (exit {result.returncode}); log {log}: {tail}")


def build_base(podman: Podman, log: Path) -> str:
    """The base image, from Debian's archive (its .debs cached beside the podman storage)."""
    reference = base_reference()
    if podman.has_image(reference):
        return reference
    if shutil.which("debootstrap") is None:
        raise ImageToolingError("no debootstrap on PATH: apt-get install debootstrap (scripts/test does)")
    debs = podman_home() / "debs"  # shared by the storage drivers
    debs.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="base-", dir=podman.home) as work:
        root = Path(work) / "root"
        include = ",".join(BASE_PACKAGES)
        argv = ["debootstrap", "--variant=minbase", f"--include={include}", f"--cache-dir={debs}"]
        _run("debootstrap the base", [*argv, SUITE, str(root), MIRROR], log)
        for tree in BASE_PRUNED:
            shutil.rmtree(root / tree, ignore_errors=True)
        tarball = Path(work) / "root.tar"
        _run("pack the base", ["tar", "--numeric-owner", "-C", str(root), "-cf", str(tarball), "."], log)
        podman.run("import", str(tarball), reference, log=log)
    return reference


@dataclass(frozen=True)
class Built:
    image: str
    base: str
    base_seconds: float
    build_seconds: float
    size_bytes: int


# What the build reads from the tree (.containerignore lets in these and nothing else).
CONTEXT_FILES = ("Containerfile", ".containerignore", "pyproject.toml", "README.md")


def context_digest(context: Path, base: str) -> str:
    """A hash of everything the build reads: an unchanged context is not built again at all (with vfs
    storage even a fully cached build takes minutes: each step copies and diffs the whole tree)."""
    digest = hashlib.sha256(base.encode())
    sources = sorted(p for p in (context / "src").rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    for path in [*(context / name for name in CONTEXT_FILES), *sources]:
        digest.update(f"\0{path.relative_to(context)}\0".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def build_image(podman: Podman, log: Path, context: Path = REPO_ROOT) -> Built:
    """Base (cached) and the Containerfile's image as ``IMAGE``; one builder at a time."""
    with (podman.home / "build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        started = time.monotonic()
        base = build_base(podman, log)
        based = time.monotonic()
        built_from = f"{IMAGE}-{context_digest(context, base)}"
        if podman.has_image(built_from):
            podman.run("tag", built_from, IMAGE)
        else:
            podman.run(
                "build", "--network", "host", "--layers", *ulimit_args(), *host_pip_mounts(),
                "--build-arg", f"PYTHON_IMAGE={base}", "-f", str(context / "Containerfile"),
                "-t", built_from, "-t", IMAGE, str(context), log=log,
            )  # fmt: skip
        built = time.monotonic()
    size = int(podman.run("image", "inspect", "--format", "{{.Size}}", IMAGE).strip())
    return Built(IMAGE, base, round(based - started, 1), round(built - based, 1), size)


def ensure_image(log: Path) -> tuple[Podman, Built]:
    podman = private_podman()
    return podman, build_image(podman, log)


def main() -> None:
    podman = private_podman()
    log = podman.home / "build.log"
    built = build_image(podman, log)
    print(json.dumps({**built.__dict__, "size_mib": round(built.size_bytes / 2**20, 1)}, indent=2))


if __name__ == "__main__":
    sys.exit(main())
