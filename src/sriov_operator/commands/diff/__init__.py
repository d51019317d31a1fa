"""``sriov-operator diff``: what applying manifests would change, node by node, and which nodes
would be drained or rebooted for it, before anything happens."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from sriov_operator.api.documents import Document
from sriov_operator.commands.diff.changes import DiffResult, diff_cluster, to_output
from sriov_operator.commands.diff.live_objects import read_cluster_documents
from sriov_operator.commands.render import add_input_arguments
from sriov_operator.errors import EXIT_CHANGES, EXIT_FAILURE, EXIT_OK, BadInputError
from sriov_operator.manifests import load_paths


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "diff",
        help="what applying manifests would change per node, and which nodes it would drain or reboot",
        description="Compare the cluster (or saved objects) with the cluster after applying the given "
        "manifests: first every admission rule (what the webhook would refuse instead of a change list), "
        "then each node's NodeState spec difference, whether that node would need a drain or a "
        "reboot and why, NAD changes, totals. Exit 0: no change; 3: changes; 1: refused, or the new "
        "objects have errors; 2: bad arguments or unreadable files.",
    )
    add_input_arguments(parser)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--kubeconfig", type=Path, help="read the current objects from this cluster")
    source.add_argument(
        "--from",
        dest="saved",
        type=Path,
        metavar="DIR",
        help="read the current objects from saved manifests instead (e.g. `kubectl get -o yaml` output)",
    )
    parser.add_argument("-o", "--output", choices=("text", "json", "yaml"), default="text")
    parser.set_defaults(handler=run)


def _current(args: argparse.Namespace) -> tuple[list[Document], list[str]]:
    if args.saved is not None:
        if not args.saved.exists():
            raise BadInputError(f"--from {args.saved}: no such file or directory")
        loaded = load_paths([args.saved])
        return loaded.documents, loaded.warnings
    return asyncio.run(read_cluster_documents(args.kubeconfig, args.namespace)), []


def format_text(result: DiffResult) -> str:
    if result.refused:
        lines = [f"refused: {line}" for line in result.refused]
        lines.append("the admission webhook would refuse this for the reasons above; nothing would change")
        return "\n".join(lines) + "\n"
    lines = []
    for node in result.nodes:
        verdict = {"none": "no drain", "drain": "DRAIN", "reboot": "REBOOT"}[node.requires]
        lines.append(f"node {node.node}: {verdict}")
        lines += [f"  {change}" for change in node.changes]
        if node.device_plugin_changed:
            lines.append("  device-plugin resources change")
        lines += [f"  why: {reason}" for reason in node.reasons]
        if node.error:
            lines.append(f"  cannot be applied on this node: {node.error}")
    lines += [f"NetworkAttachmentDefinition {change}" for change in result.nads]
    lines += [f"error: {error}" for error in result.errors]
    lines += [f"policy {note}" for note in result.policy_notes]
    totals = result.totals()
    lines.append(
        f"{totals['nodesChanged']} node(s) change: {totals['drains']} drain(s), "
        f"{totals['reboots']} reboot(s), {totals['unplannable']} cannot be applied; "
        f"{totals['nadsChanged']} NetworkAttachmentDefinition change(s)"
    )
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    current, warnings = _current(args)
    applied = load_paths(args.paths)
    for warning in [*warnings, *applied.warnings]:
        print(f"warning: {warning}", file=sys.stderr)
    result = diff_cluster(
        current, applied.documents, args.namespace, args.resource_prefix, strict_nics=args.strict_nics
    )
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if args.output == "json":
        sys.stdout.write(json.dumps(to_output(result), indent=2) + "\n")
    elif args.output == "yaml":
        sys.stdout.write(yaml.safe_dump(to_output(result), sort_keys=False))
    else:
        sys.stdout.write(format_text(result))
    if result.failed:
        return EXIT_FAILURE
    return EXIT_CHANGES if result.changed else EXIT_OK
