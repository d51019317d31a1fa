"""``sriov-operator why``: walk from a pod, network, policy or node to where the chain breaks.

The command reads the cluster once (``fetch.py``), the walk decides (``chain.py``, pure)
and this module prints: one line per link, the evidence under the broken one. Exit 0
when every link holds, 1 at the first that does not.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from pathlib import Path
from typing import Any

import yaml

from sriov_operator.commands.why.chain import (
    Answer,
    ClusterObjects,
    Link,
    why_network,
    why_node,
    why_pod,
    why_policy,
)
from sriov_operator.errors import EXIT_FAILURE, EXIT_OK, BadInputError

SUBJECTS = ("pod", "network", "policy", "node")
EVIDENCE_SHOWN = 8  # lines under the broken link; -o json has all of it
EVIDENCE_WIDTH = 200  # characters of each


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "why",
        help="walk from a pod, network, policy or node to where its SR-IOV chain breaks, with the evidence",
        description="Read the cluster and walk the chain pod -> network annotation -> NAD -> SriovNetwork -> "
        "resource -> policy -> node selection -> NodeState spec -> daemon sync -> device-plugin hand-off -> "
        "node allocatable -> scheduler, saying in order what holds and where it breaks, with the object, "
        "condition or Event that shows it. Exit 0: every link holds; 1: a link is broken (the first is named "
        "last); 2: bad arguments or kubeconfig.",
    )
    parser.add_argument("kind", choices=SUBJECTS, help="what to start from")
    parser.add_argument("name", help="its name")
    parser.add_argument(
        "-n",
        "--namespace",
        help="the pod's namespace (default: default); for a network: its namespace or its NAD's",
    )
    parser.add_argument(
        "--operator-namespace",
        help="the operator's namespace (default: the one holding SriovOperatorConfig default)",
    )
    parser.add_argument(
        "--kubeconfig", type=Path, help="kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)"
    )
    parser.add_argument("-o", "--output", choices=("text", "json", "yaml"), default="text")
    parser.set_defaults(handler=run)


def _kubeconfig(given: Path | None) -> Path:
    if given is not None:
        return given
    first = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
    path = Path(first) if first else Path.home() / ".kube" / "config"
    if not path.exists():
        raise BadInputError(f"--kubeconfig: not given and {path} does not exist (give a kubeconfig file)")
    return path


def answer(view: ClusterObjects, kind: str, name: str, namespace: str | None) -> Answer:
    if kind == "pod":
        return why_pod(view, namespace or "default", name)
    if kind == "network":
        return why_network(view, name, namespace)
    if kind == "policy":
        return why_policy(view, name)
    return why_node(view, name)


def _cut(line: str) -> str:
    return line if len(line) <= EVIDENCE_WIDTH else line[: EVIDENCE_WIDTH - 1] + "…"


def _link_lines(link: Link) -> list[str]:
    mark = "ok    " if link.holds else "BROKEN"
    lines = [f"  {mark} {link.step:<11} {link.summary}"]
    if not link.holds:
        lines += [f"           {_cut(line)}" for line in link.evidence[:EVIDENCE_SHOWN]]
        if len(link.evidence) > EVIDENCE_SHOWN:
            lines.append(f"           ... {len(link.evidence) - EVIDENCE_SHOWN} more (-o json shows all)")
    return lines


def format_text(result: Answer) -> str:
    lines = [f"why {result.subject}:"]
    for link in result.head:
        lines += _link_lines(link)
    for branch in result.branches:
        if result.head:
            lines.append(f" network {branch.label}:")
        for link in branch.links:
            lines += _link_lines(link)
    for link in result.tail:
        lines += _link_lines(link)
    broken = result.broken
    if broken is None:
        lines.append(f"every link holds ({len(result.links())} checked)")
    else:
        lines.append(f"broken at {broken.step}: {broken.summary}")
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    if args.kind in {"policy", "node"} and args.namespace:
        raise BadInputError(
            f"--namespace: {args.namespace} is not accepted for a {args.kind} (policies and nodes are "
            "found by name; --operator-namespace names the operator's namespace)"
        )
    pod = (args.namespace or "default", args.name) if args.kind == "pod" else None
    # imported here: the API client, which `--help` and the other commands need not pay for
    from sriov_operator.commands.why.fetch import read_cluster

    view = asyncio.run(read_cluster(_kubeconfig(args.kubeconfig), args.operator_namespace, pod))
    result = answer(view, args.kind, args.name, args.namespace)
    if args.output == "json":
        print(json.dumps(result.to_output(), indent=2))
    elif args.output == "yaml":
        print(yaml.safe_dump(result.to_output(), sort_keys=False), end="")
    else:
        print(format_text(result), end="")
    return EXIT_OK if result.holds else EXIT_FAILURE
