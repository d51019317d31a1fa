"""``sriov-operator plan``: what applying a NodeState spec would change on the host (writes nothing)."""

from __future__ import annotations

import argparse
from typing import Any

from sriov_operator.commands.host_options import add_host_arguments, emit, load_state, open_node
from sriov_operator.host.plan import plan


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "plan",
        help="show the host changes a SriovNetworkNodeState spec needs",
        description="Print {actions, requiresDrain, requiresReboot}; nothing is written to the host.",
    )
    add_host_arguments(parser, with_state=True)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    desired = load_state(args.state, args.node).spec
    emit(plan(desired, open_node(args).observe(checkpoint=False)).to_output(), args.output)
    return 0
