"""The ``sriov-operator`` command line.

Each sub-command lives in ``sriov_operator.commands.<name>`` and exposes
``register(subparsers)``, which adds its parser and sets ``handler`` to a
function ``(args) -> int`` (the exit code).

Errors are mapped to exit codes and one-line messages here and only here:
the error tree (`sriov_operator.errors`) decides the code, `errors.describe`
the message. An ``OSError`` that escapes a command is a host failure (exit 1).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from sriov_operator import __version__
from sriov_operator.errors import EXIT_BAD_INPUT, SriovOperatorError, describe, exit_code_for

COMMAND_MODULES = (
    "sriov_operator.commands.crds",
    "sriov_operator.commands.manifests",
    "sriov_operator.commands.sandbox",
    "sriov_operator.commands.render",
    "sriov_operator.commands.validate",
    "sriov_operator.commands.discover",
    "sriov_operator.commands.plan",
    "sriov_operator.commands.apply",
    "sriov_operator.commands.simulate_host",
    "sriov_operator.commands.operator",
    "sriov_operator.commands.diff",
    "sriov_operator.commands.daemon",
    "sriov_operator.commands.webhook",
    "sriov_operator.commands.why",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sriov-operator",
        description=(
            "Fast-Datapath (SR-IOV, DPDK, offload) network operator for Kubernetes, "
            "compatible with sriovnetwork.openshift.io/v1."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        return handler(args)
    except (SriovOperatorError, OSError, KeyboardInterrupt) as error:
        if not isinstance(error, KeyboardInterrupt):
            print(f"sriov-operator {args.command}: {describe(error)}", file=sys.stderr)
        return exit_code_for(error)


if __name__ == "__main__":
    sys.exit(main())
