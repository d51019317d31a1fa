"""Obtain ``helm`` and ``kubectl`` for the install-manifest tests (helm lint/template, kustomize, dry-run).

Built from their Go modules with the machine's Go toolchain, like the control
plane (binaries.py), and cached beside it under ~/.cache/sriov-operator:
``helm`` from ``helm.sh/helm/v3`` at HELM_VERSION, stamped as its Makefile does
(version, and the Kubernetes version it assumes without a cluster, from its
client-go); ``kubectl`` (with its built-in kustomize) from ``k8s.io/kubernetes`` at
the control plane's version, so client and API server match. Tools on PATH are
not used: a test must not depend on what happens to be installed.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

from sriov_operator.controlplane.binaries import (
    KUBERNETES_VERSION,
    BinariesUnavailableError,
    build_atomically,
    build_kubernetes_command,
    build_once,
    cache_root,
    module_go_mod,
    run_go,
    wrapper_go_mod,
)

HELM_VERSION = "v3.22.0"
# Bump when the recipe changes, so caches built by an older recipe are rebuilt.
TOOLS_RECIPE = "r1"
_HINT = "(needed to build helm and kubectl for the install-manifest tests)."
_CLIENT_GO = re.compile(r"^\s*k8s\.io/client-go v(\d+)\.(\d+)\.\d+", re.MULTILINE)


@dataclass(frozen=True)
class DeployTools:
    helm: Path
    kubectl: Path
    source: str  # "cache" or "built"


def tools_dir() -> Path:
    return cache_root() / "tools" / f"helm-{HELM_VERSION}_kubectl-{KUBERNETES_VERSION}_{TOOLS_RECIPE}"


def helm_ldflags(helm_go_mod: str) -> str:
    """What helm's Makefile stamps: its version and the Kubernetes version of its client-go.

    >>> helm_ldflags("require (\\n\\tk8s.io/client-go v0.37.0\\n)")  # doctest: +ELLIPSIS
    '-s -w -X helm.sh/helm/v3/internal/version.version=v3.22.0 ...chartutil.k8sVersionMinor=37'
    """
    found = _CLIENT_GO.search(helm_go_mod)
    if found is None:
        raise BinariesUnavailableError(f"helm {HELM_VERSION}'s go.mod names no k8s.io/client-go version")
    major, minor = str(int(found[1]) + 1), found[2]
    flags = ["-s -w", f"-X helm.sh/helm/v3/internal/version.version={HELM_VERSION}"]
    for package in ("helm.sh/helm/v3/pkg/lint/rules", "helm.sh/helm/v3/pkg/chartutil"):
        flags += [f"-X {package}.k8sVersionMajor={major}", f"-X {package}.k8sVersionMinor={minor}"]
    return " ".join(flags)


def _build_helm(staging: Path, log: Path) -> Path:
    module = staging / "helm"
    module.mkdir()
    (module / "go.mod").write_text(
        wrapper_go_mod("sriovoperator.local/helm", {"helm.sh/helm/v3": HELM_VERSION}, {})
    )
    ldflags = helm_ldflags(
        module_go_mod("helm.sh/helm/v3", HELM_VERSION, module, staging / "download-helm.log")
    )
    binary = staging / "helm.bin"
    run_go(["build", "-ldflags", ldflags, "-o", str(binary), "helm.sh/helm/v3/cmd/helm"], module, log, _HINT)
    return binary


def _build_tools(staging: Path, log: Path) -> dict[str, Path]:
    print(
        f"[tools] building helm {HELM_VERSION} and kubectl {KUBERNETES_VERSION} (first run only)",
        file=sys.stderr,
        flush=True,
    )
    return {
        "helm": _build_helm(staging, log),
        "kubectl": build_kubernetes_command("kubectl", staging, log, _HINT),
    }


def ensure_tools() -> DeployTools:
    """The cached tools, built first if needed (a failed build raises, naming what to fix)."""
    target = tools_dir()
    source = build_once(target, ("helm", "kubectl"), lambda t: build_atomically(t, _build_tools))
    return DeployTools(target / "helm", target / "kubectl", source)


def main() -> None:
    tools = ensure_tools()
    seconds = (tools.helm.parent / "BUILD_SECONDS").read_text().strip()
    print(f"helm: {tools.helm}\nkubectl: {tools.kubectl}\n(source: {tools.source}; build took {seconds}s)")


if __name__ == "__main__":
    main()
