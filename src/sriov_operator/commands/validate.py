"""``sriov-operator validate``: the admission rules, offline."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sriov_operator.commands.render import add_input_arguments, evaluate
from sriov_operator.engine.problems import split_by_severity


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check manifests against every admission rule (defaults applied first)",
        description="Apply the mutating defaults, then every validation rule (static, against the given "
        "nodes and NodeStates, and between policies). Prints one line per error on stdout "
        "('<Kind>/<namespace>/<name>: <field>: <message>') and warnings on stderr; exit 1 if any error, "
        "2 if a file cannot be read.",
    )
    add_input_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    evaluation = evaluate(args)
    errors, warnings = split_by_severity(evaluation.result.problems)
    for line in [*evaluation.loader_warnings, *warnings]:
        print(f"warning: {line}", file=sys.stderr)
    for line in errors:
        print(line)
    evaluation.report_unreadable("validate")
    return evaluation.exit_code
