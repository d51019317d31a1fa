"""Install tooling: the helm + kubectl build, and rendering the manifests.

Run: .venv/bin/python bench/bench_install.py [--build] [--cold-go-cache]
  --build          build helm and kubectl into an empty cache directory (as on a fresh clone of CI)
  --cold-go-cache  ... with an empty Go build cache too (as on a fresh machine; the Go module
                   cache is kept, so downloads are not counted)
Without --build it times `sriov-operator manifests` (generation), `helm template` and
`kubectl kustomize` with the cached tools.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

from sriov_operator.controlplane.tools import ensure_tools
from sriov_operator.install.files import deploy_files

REPO = Path(__file__).resolve().parent.parent


def timed(label: str, argv: list[str]) -> float:
    started = time.monotonic()
    subprocess.run(argv, cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    seconds = time.monotonic() - started
    print(f"{label}: {seconds:.2f} s")
    return seconds


def build(cold_go_cache: bool) -> None:
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as go_cache:
        os.environ["SRIOV_OPERATOR_CACHE"] = cache
        if cold_go_cache:
            os.environ["GOCACHE"] = go_cache
        started, cpu = time.monotonic(), os.times()
        ensure_tools()
        done = os.times()
        children = (done.children_user - cpu.children_user) + (done.children_system - cpu.children_system)
        print(f"helm + kubectl build: {time.monotonic() - started:.0f} s wall, {children:.0f} CPU-s")


def render() -> None:
    started = time.monotonic()
    files = deploy_files()
    print(f"generate {len(files)} deploy files: {time.monotonic() - started:.2f} s")
    tools = ensure_tools()
    timed(
        "helm template",
        [str(tools.helm), "template", "x", "deploy/helm/sriov-fdp-operator", "--include-crds"],
    )
    timed("kubectl kustomize (base)", [str(tools.kubectl), "kustomize", "deploy/kustomize/base"])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--build", action="store_true")
    parser.add_argument("--cold-go-cache", action="store_true")
    args = parser.parse_args()
    if args.build:
        build(args.cold_go_cache)
    else:
        render()


if __name__ == "__main__":
    main()
