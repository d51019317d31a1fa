"""Obtain the control-plane binaries for tests and the sandbox.

``kube-apiserver`` and ``etcd`` form one cache entry; ``kube-controller-manager``
and ``kube-scheduler`` (same ``k8s.io/kubernetes`` module and version) form
another, so changing how the controllers are built never discards the
apiserver/etcd build, and building them after the apiserver reuses most of
the Go build cache (client-go, apimachinery, ... are compiled once).

Order of preference:

1. ``KUBEBUILDER_ASSETS`` names a directory holding both binaries (people who
   already use controller-runtime's envtest keep using their binaries);
2. a previous build in the cache directory (keyed by version);
3. a build from the published Go modules with the machine's Go toolchain.

The build needs only the Go module proxy.  ``k8s.io/kubernetes`` is not meant
to be consumed as a module: its go.mod requires the staging modules
(``k8s.io/api`` …) at ``v0.0.0`` and replaces them with local paths.  We
generate a tiny wrapper module that requires it and replaces each of those
staging modules with its published ``v0.<minor>.<patch>`` release.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sriov_operator.errors import HostError

KUBERNETES_VERSION = "v1.36.3"
ETCD_VERSION = "v3.6.16"
# Bump when the build recipe changes, so caches built by an older recipe are rebuilt.
BUILD_RECIPE = "r2"
CONTROLLERS_RECIPE = "r1"
CONTROLLERS = ("kube-controller-manager", "kube-scheduler")

_STAGING_REQUIRE = re.compile(r"^\s*(k8s\.io/[\w.-]+) v0\.0\.0\s*$", re.MULTILINE)


class BinariesUnavailableError(HostError):
    """Raised with a message that tells a person what went wrong and what to do."""


@dataclass(frozen=True)
class ControlPlaneBinaries:
    kube_apiserver: Path
    etcd: Path
    source: str  # "KUBEBUILDER_ASSETS", "cache" or "built"
    kube_controller_manager: Path
    kube_scheduler: Path


def cache_root() -> Path:
    """Where built binaries live: outside any checkout, shared by every clone."""
    override = os.environ.get("SRIOV_OPERATOR_CACHE")
    if override:
        return Path(override)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "sriov-operator"


def binary_dir() -> Path:
    name = f"kubernetes-{KUBERNETES_VERSION}_etcd-{ETCD_VERSION}_{BUILD_RECIPE}"
    return cache_root() / "controlplane" / name


def controllers_dir() -> Path:
    return cache_root() / "controlplane" / f"controllers-{KUBERNETES_VERSION}_{CONTROLLERS_RECIPE}"


def staging_replaces(kubernetes_go_mod: str, kubernetes_version: str) -> dict[str, str]:
    """Map each staging module required at v0.0.0 to its published version.

    >>> staging_replaces("require (\\n\\tk8s.io/api v0.0.0\\n)", "v1.36.3")
    {'k8s.io/api': 'v0.36.3'}
    """
    published = "v0." + kubernetes_version.removeprefix("v1.")
    return {name: published for name in sorted(set(_STAGING_REQUIRE.findall(kubernetes_go_mod)))}


def wrapper_go_mod(module: str, requires: dict[str, str], replaces: dict[str, str]) -> str:
    lines = [f"module {module}", "", "go 1.24", ""]
    lines += [f"require {name} {version}" for name, version in sorted(requires.items())]
    lines.append("")
    lines += [f"replace {name} => {name} {version}" for name, version in sorted(replaces.items())]
    return "\n".join(lines) + "\n"


def version_ldflags(kubernetes_version: str) -> str:
    """Stamp the version a ``go build`` of a module cannot know (no git tree)."""
    major, minor = kubernetes_version.removeprefix("v").split(".")[:2]
    package = "k8s.io/component-base/version"
    return " ".join(
        [
            "-s -w",
            f"-X {package}.gitVersion={kubernetes_version}",
            f"-X {package}.gitMajor={major}",
            f"-X {package}.gitMinor={minor}",
            f"-X {package}.gitTreeState=clean",
        ]
    )


def _log(message: str) -> None:
    print(f"[controlplane] {message}", file=sys.stderr, flush=True)


_ASSETS_HINT = "or set KUBEBUILDER_ASSETS to a directory containing kube-apiserver and etcd."


def run_go(args: list[str], workdir: Path, log: Path, hint: str = _ASSETS_HINT) -> None:
    """Run ``go args`` in ``workdir`` (module mode, no cgo), appending its output to ``log``."""
    go = shutil.which("go")
    if go is None:
        raise BinariesUnavailableError(
            f"cannot build {workdir.name}: no 'go' on PATH. Install Go >= 1.24 {hint}"
        )
    env = dict(os.environ, GOFLAGS="-mod=mod", CGO_ENABLED="0", GOWORK="off")
    with log.open("a") as out:
        out.write(f"$ go {' '.join(args)}\n")
        out.flush()
        result = subprocess.run(
            [go, *args], check=False, cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    if result.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-25:])
        raise BinariesUnavailableError(
            f"'go {' '.join(args)}' failed (exit {result.returncode}) in {workdir}; "
            f"full log: {log}\n{tail}\nFix the Go toolchain / module proxy access, {hint}"
        )


def module_go_mod(module: str, version: str, workdir: Path, log: Path) -> str:
    """The go.mod of ``module@version``, downloaded from the module proxy."""
    go = shutil.which("go") or "go"
    env = dict(os.environ, GOWORK="off", GOFLAGS="")
    result = subprocess.run(
        [go, "mod", "download", "-json", f"{module}@{version}"],
        check=False,
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
    )
    log.write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        raise BinariesUnavailableError(
            f"cannot download {module}@{version} from the Go module proxy "
            f"(log: {log}): {result.stderr.strip()[-800:]}"
        )
    return Path(json.loads(result.stdout)["GoMod"]).read_text()


def build_kubernetes_commands(
    commands: Sequence[str], staging: Path, log: Path, hint: str = _ASSETS_HINT
) -> dict[str, Path]:
    """Build ``k8s.io/kubernetes/cmd/<command>`` for each command at KUBERNETES_VERSION (one ``go build``)."""
    name = "-".join(commands)
    module = staging / f"{name}-module"
    module.mkdir()
    (module / "go.mod").write_text("module sriovoperator.local/probe\n\ngo 1.24\n")
    replaces = staging_replaces(
        module_go_mod("k8s.io/kubernetes", KUBERNETES_VERSION, module, staging / f"download-{name}.log"),
        KUBERNETES_VERSION,
    )
    (module / "go.mod").write_text(
        wrapper_go_mod(
            f"sriovoperator.local/{name.replace('-', '')}",
            {"k8s.io/kubernetes": KUBERNETES_VERSION},
            replaces,
        )
    )
    out = staging / f"{name}-bin"
    out.mkdir()
    packages = [f"k8s.io/kubernetes/cmd/{command}" for command in commands]
    run_go(
        ["build", "-ldflags", version_ldflags(KUBERNETES_VERSION), "-o", f"{out}/", *packages],
        module,
        log,
        hint,
    )
    return {command: out / command for command in commands}


def build_kubernetes_command(command: str, staging: Path, log: Path, hint: str = _ASSETS_HINT) -> Path:
    """Build ``k8s.io/kubernetes/cmd/<command>`` at KUBERNETES_VERSION into ``staging``; returns its path."""
    return build_kubernetes_commands([command], staging, log, hint)[command]


def build_atomically(target: Path, produce: Callable[[Path, Path], dict[str, Path]]) -> None:
    """Fill ``target`` with what ``produce(staging, log)`` built (name -> file), all at once.

    A failed or interrupted build leaves nothing at ``target``; the build log and
    its duration (``BUILD_SECONDS``) are kept beside the binaries.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="build-", dir=target.parent))
    log = staging / "build.log"
    started = time.monotonic()
    try:
        built = produce(staging, log)
        out = staging / "out"
        out.mkdir()
        for name, path in built.items():
            path.rename(out / name)
        shutil.copy(log, out / "build.log")
        (out / "BUILD_SECONDS").write_text(f"{time.monotonic() - started:.0f}\n")
        if target.exists():
            shutil.rmtree(target)
        out.rename(target)
        _log(f"built in {time.monotonic() - started:.0f}s into {target}")
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def build_once(target: Path, names: Sequence[str], build: Callable[[Path], None]) -> str:
    """Run ``build(target)`` unless every name is already in ``target``; "cache" or "built".

    A file lock serialises concurrent callers: the second waits and then finds the cache.
    """
    if all((target / name).exists() for name in names):
        return "cache"
    lock = target.parent / f"{target.name}.lock"
    target.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # another process may be building right now
        if all((target / name).exists() for name in names):
            return "cache"
        build(target)
        return "built"


def _build_control_plane(staging: Path, log: Path) -> dict[str, Path]:
    _log(f"building etcd {ETCD_VERSION} (first run only; log: {log})")
    etcd_mod = staging / "etcd"
    etcd_mod.mkdir()
    (etcd_mod / "go.mod").write_text(
        wrapper_go_mod("sriovoperator.local/etcd", {"go.etcd.io/etcd/server/v3": ETCD_VERSION}, {})
    )
    run_go(
        ["build", "-ldflags", "-s -w", "-o", str(staging / "etcd.bin"), "go.etcd.io/etcd/server/v3"],
        etcd_mod,
        log,
    )
    _log(
        f"building kube-apiserver {KUBERNETES_VERSION} "
        "(first run only: 5-30 min on 2 cores, depending on the Go caches)"
    )
    apiserver = build_kubernetes_command("kube-apiserver", staging, log)
    return {"etcd": staging / "etcd.bin", "kube-apiserver": apiserver}


def build(target: Path) -> None:
    """Build both binaries into ``target`` (atomically: a half build leaves nothing)."""
    build_atomically(target, _build_control_plane)


def _build_controllers(staging: Path, log: Path) -> dict[str, Path]:
    _log(f"building {' and '.join(CONTROLLERS)} {KUBERNETES_VERSION} (first run only; log: {log})")
    return build_kubernetes_commands(CONTROLLERS, staging, log)


def build_controllers(target: Path) -> None:
    """Build the controller manager and the scheduler into ``target`` (atomically)."""
    build_atomically(target, _build_controllers)


def _from_assets(directory: Path) -> tuple[Path, Path]:
    apiserver, etcd = directory / "kube-apiserver", directory / "etcd"
    missing = [p.name for p in (apiserver, etcd) if not os.access(p, os.X_OK)]
    if missing:
        raise BinariesUnavailableError(
            f"KUBEBUILDER_ASSETS={directory} lacks executable {', '.join(missing)}; "
            "point it at a directory with kube-apiserver and etcd, or unset it to build them."
        )
    return apiserver, etcd


def _controllers(assets: Path | None) -> dict[str, Path]:
    """From KUBEBUILDER_ASSETS when it has both (envtest's usually has neither), else the cache."""
    if assets is not None and all(os.access(assets / name, os.X_OK) for name in CONTROLLERS):
        return {name: assets / name for name in CONTROLLERS}
    target = controllers_dir()
    build_once(target, CONTROLLERS, build_controllers)
    return {name: target / name for name in CONTROLLERS}


def ensure_binaries() -> ControlPlaneBinaries:
    assets = os.environ.get("KUBEBUILDER_ASSETS")
    if assets:
        apiserver, etcd = _from_assets(Path(assets))
        source = "KUBEBUILDER_ASSETS"
    else:
        target = binary_dir()
        source = build_once(target, ("kube-apiserver", "etcd"), build)
        apiserver, etcd = target / "kube-apiserver", target / "etcd"
    controllers = _controllers(Path(assets) if assets else None)
    return ControlPlaneBinaries(
        apiserver, etcd, source, controllers["kube-controller-manager"], controllers["kube-scheduler"]
    )


def main() -> None:
    binaries = ensure_binaries()
    print(
        f"kube-apiserver: {binaries.kube_apiserver}\netcd: {binaries.etcd}\n(source: {binaries.source})\n"
        f"kube-controller-manager: {binaries.kube_controller_manager}\n"
        f"kube-scheduler: {binaries.kube_scheduler}"
    )


if __name__ == "__main__":
    main()
