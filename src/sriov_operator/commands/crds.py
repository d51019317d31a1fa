"""``sriov-operator crds``: print or write the CRDs generated from the models."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sriov_operator.api.crds import all_crds, render_crd_yaml, write_crds


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "crds",
        help="print the CustomResourceDefinitions (or write one file per CRD)",
        description="Generate the sriovnetwork.openshift.io/v1 CRDs from the API models.",
    )
    parser.add_argument("--output-dir", type=Path, help="write one YAML file per CRD here (e.g. deploy/crds)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.output_dir:
        for path in write_crds(args.output_dir):
            print(path)
        return 0
    sys.stdout.write("---\n".join(render_crd_yaml(crd) for crd in all_crds()))
    return 0
