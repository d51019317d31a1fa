"""``sriov-operator discover``: what the host has, as NodeState.status.interfaces."""

from __future__ import annotations

import argparse
from typing import Any

from sriov_operator.commands.host_options import add_host_arguments, emit, open_node


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "discover",
        help="discover SR-IOV PFs/VFs (bare metal) or Neutron ports (OpenStack) on a host",
        description="Print {platform, metadataSource, interfaces} (NodeState.status.interfaces). "
        "Writes nothing: the host root may be read-only.",
    )
    add_host_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    emit(open_node(args).discover(checkpoint=False).to_output(), args.output)
    return 0
