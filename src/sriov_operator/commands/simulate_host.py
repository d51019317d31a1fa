"""``sriov-operator simulate-host``: create a simulated host tree from a shipped profile."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sriov_operator.errors import BadInputError
from sriov_operator.host.simulator.builder import create_host, load_profile, profile_names


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "simulate-host",
        help="create a simulated host (sysfs tree with kernel-like reactions) to use with --simulate",
        description="Profiles: " + ", ".join(profile_names()),
    )
    parser.add_argument("--profile", required=True, choices=profile_names())
    parser.add_argument("--out", type=Path, required=True, help="a new (or empty) directory")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        create_host(load_profile(args.profile), args.out)
    except FileExistsError as error:
        raise BadInputError(str(error)) from None
    print(args.out)
    return 0
