"""``sriov-operator discover``: what the host has, as NodeState.status.interfaces."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import yaml

from sriov_operator.api.constants import DEFAULT_OPERATOR_NAMESPACE
from sriov_operator.api.models import SriovNetworkNodeState
from sriov_operator.commands.host_options import add_host_arguments, emit, open_node
from sriov_operator.errors import BadInputError
from sriov_operator.host.discovery import Discovery

NODESTATE = "nodestate"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "discover",
        help="discover SR-IOV PFs/VFs (bare metal) or Neutron ports (OpenStack) on a host",
        description="Print {platform, metadataSource, interfaces} (NodeState.status.interfaces), or with "
        "-o nodestate a SriovNetworkNodeState with that status, for `render`. Writes nothing: the host "
        "root may be read-only.",
    )
    add_host_arguments(parser, with_output=False)
    parser.add_argument("-o", "--output", choices=("json", "yaml", NODESTATE), default="json")
    parser.add_argument("--node", help="with -o nodestate: the node's name, the NodeState's name (required)")
    parser.add_argument(
        "--namespace",
        default=DEFAULT_OPERATOR_NAMESPACE,
        help="with -o nodestate: the operator namespace, the NodeState's namespace (%(default)s)",
    )
    parser.set_defaults(handler=run)


def node_state(discovery: Discovery, node: str, namespace: str) -> dict[str, Any]:
    """The SriovNetworkNodeState a config daemon would publish for this discovery (status only)."""
    state = SriovNetworkNodeState.model_validate(
        {
            "kind": SriovNetworkNodeState.KIND,
            "metadata": {"name": node, "namespace": namespace},
            "status": {"interfaces": [interface.to_k8s() for interface in discovery.interfaces]},
        }
    )
    return state.to_k8s()


def run(args: argparse.Namespace) -> int:
    if args.output == NODESTATE and not args.node:
        raise BadInputError("--node: required with -o nodestate (the name of the node and of its NodeState)")
    discovery = open_node(args).discover(checkpoint=False)
    if args.output == NODESTATE:
        sys.stdout.write(yaml.safe_dump(node_state(discovery, args.node, args.namespace), sort_keys=False))
    else:
        emit(discovery.to_output(), args.output)
    return 0
