"""``sriov-operator manifests``: write the install manifests (kustomize, Helm chart, CRDs) under deploy/."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sriov_operator.install.files import write_deploy_files


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "manifests",
        help="write the install manifests: CRDs, kustomize base and overlay, Helm chart",
        description="Generate every file of deploy/ from the code (docs/install.md). "
        "Prints the files it changed.",
    )
    parser.add_argument("--output-dir", type=Path, required=True, help="the deploy/ directory to write")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    for path in write_deploy_files(args.output_dir):
        print(path)
    return 0
