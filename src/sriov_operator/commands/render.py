"""``sriov-operator render``: what the operator would write for a set of manifests."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sriov_operator.api.constants import DEFAULT_RESOURCE_PREFIX
from sriov_operator.api.documents import Document
from sriov_operator.engine.inputs import read_documents
from sriov_operator.engine.render import RenderResult, render_cluster
from sriov_operator.errors import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK
from sriov_operator.manifests import ManifestError, expand_paths, load_paths


def add_input_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by ``render`` and ``validate``."""
    parser.add_argument(
        "-f",
        "--filename",
        dest="paths",
        action="append",
        type=Path,
        required=True,
        metavar="PATH",
        help="YAML/JSON file or directory of Kubernetes documents (repeatable)",
    )
    parser.add_argument(
        "--namespace",
        help="the operator namespace (default: that of the inputs' SriovNetworkNodeStates / 'default' "
        "SriovOperatorConfig, else sriov-network-operator); objects without one are read as in it",
    )
    parser.add_argument(
        "--resource-prefix",
        default=DEFAULT_RESOURCE_PREFIX,
        help="device-plugin resource prefix (%(default)s)",
    )
    parser.add_argument(
        "--strict-nics",
        action="store_true",
        help="make NIC models missing from the supported-NIC list errors",
    )


@dataclass
class Evaluation:
    result: RenderResult
    loader_warnings: list[str] = field(default_factory=list)
    loader_errors: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """2: a file could not be taken (cli.md's exit codes); 1: an object is invalid; else 0."""
        if self.loader_errors:
            return EXIT_BAD_INPUT
        return EXIT_FAILURE if self.result.has_errors else EXIT_OK

    def report_unreadable(self, command: str) -> None:
        """A file not taken is the command's error (stderr, one line each), not a line about an object."""
        for line in self.loader_errors:
            print(f"sriov-operator {command}: {line}", file=sys.stderr)


def evaluate(args: argparse.Namespace) -> Evaluation:
    """Load every file (a malformed one is an error, exit 2, the others still count) and render."""
    documents: list[Document] = []
    warnings: list[str] = []
    errors: list[str] = []
    files: list[Path] = []
    for given in args.paths:
        try:
            files += expand_paths([given])
        except ManifestError as exc:
            errors.append(str(exc))
    for path in files:
        try:
            loaded = load_paths([path])
        except ManifestError as exc:
            errors.append(str(exc))
            continue
        documents += loaded.documents
        warnings += loaded.warnings
    cluster, problems = read_documents(documents, args.namespace)
    result = render_cluster(cluster, resource_prefix=args.resource_prefix, strict_nics=args.strict_nics)
    result.problems = problems + result.problems
    return Evaluation(result, warnings, errors)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "render",
        help="print the NodeState specs, device-plugin resources and NADs the operator would write",
        description="Render manifests (Nodes, NodeStates with status, policies, pools, operator config, "
        "supported-nic-ids ConfigMap, networks) into what the operator would write. Exit 1 if any object "
        "is invalid, 2 if a file cannot be read; everything valid is still rendered.",
    )
    add_input_arguments(parser)
    parser.add_argument("-o", "--output", choices=("json", "yaml"), default="json")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    evaluation = evaluate(args)
    output = evaluation.result.to_output(evaluation.loader_warnings)
    output["errors"] = [*evaluation.loader_errors, *output["errors"]]
    if args.output == "yaml":
        sys.stdout.write(yaml.safe_dump(output, sort_keys=False))
    else:
        sys.stdout.write(json.dumps(output, indent=2) + "\n")
    evaluation.report_unreadable("render")
    return evaluation.exit_code
