"""``sriov-operator apply``: make the host match a NodeState spec, and say what was done."""

from __future__ import annotations

import argparse
from typing import Any

from sriov_operator.commands.host_options import add_host_arguments, emit, load_state, open_node
from sriov_operator.host.apply import converge


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "apply",
        help="apply a SriovNetworkNodeState spec to the host",
        description="Plan, apply and re-plan until the host matches the spec. Prints each action with "
        "result done|already. Draining is the config daemon's job: this command does not drain.",
    )
    add_host_arguments(parser, with_state=True)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    desired = load_state(args.state, args.node).spec
    node = open_node(args)
    outcomes = converge(node.access, desired, node.observe)
    requires = {o.action.requires for o in outcomes if o.result == "done"}
    emit(
        {
            "applied": [o.to_output() for o in outcomes],
            "requiredDrain": bool(requires & {"drain", "reboot"}),
            "requiredReboot": "reboot" in requires,
        },
        args.output,
    )
    return 0
