"""``sriov-operator operator``: run the operator's controllers (docs/operator.md)."""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Mapping
from typing import Any

from sriov_operator.api.constants import DEFAULT_RESOURCE_PREFIX
from sriov_operator.errors import EXIT_OK, BadInputError
from sriov_operator.operator.app import run_operator
from sriov_operator.operator.drain.settings import add_drain_arguments, drain_settings_from
from sriov_operator.operator.owners import is_object_name
from sriov_operator.operator.settings import LEASE_NAME, OperatorSettings
from sriov_operator.operator.workloads.settings import add_workload_arguments, workload_settings_from
from sriov_operator.runtime.logging import configure_logging
from sriov_operator.runtime.settings import (
    add_runtime_arguments,
    env_variable,
    flag_adder,
    parse_bool,
    runtime_settings_from,
)
from sriov_operator.webhook import certificate_controller
from sriov_operator.webhook.settings import add_webhook_operator_arguments, webhook_operator_settings_from


def add_operator_arguments(
    parser: argparse.ArgumentParser | Any, environ: Mapping[str, str] | None = None
) -> None:
    env = os.environ if environ is None else environ
    add_runtime_arguments(parser, default_lease_name=LEASE_NAME, environ=env)
    if env_variable("--leader-elect") not in env:
        parser.set_defaults(leader_elect=True)  # on by default for the operator (one writer per cluster)
    parser.add_argument(
        "--metrics-port",
        dest="health_port",
        type=int,
        default=argparse.SUPPRESS,
        help="the same as --health-port (the server also serves /metrics)",
    )
    defaults = OperatorSettings()
    flag = flag_adder(parser, env)
    flag(
        "--resource-prefix",
        default=DEFAULT_RESOURCE_PREFIX,
        help="prefix of the device-plugin resource names (pods ask for <prefix>/<resourceName>)",
    )
    flag(
        "--node-state-grace",
        default=defaults.node_state_grace,
        type=float,
        help="seconds a NodeState outlives its deleted (or no longer managed) Node",
    )
    flag(
        "--workers",
        default=defaults.workers,
        type=int,
        help="concurrent node-state reconciles, and device-plugin reconciles once the specs are written",
    )
    flag(
        "--apply-crds",
        default=defaults.apply_crds,
        type=parse_bool,
        help="at start, server-side apply this version's CRDs where the cluster's differ",
    )
    flag(
        "--uninstall-with",
        default=defaults.uninstall_with,
        help="name of the operator's Deployment and ClusterRole; what it creates is owned by them, so "
        "uninstalling them removes it (the install manifests set it; empty: no owners)",
    )
    add_drain_arguments(parser, environ=env)
    add_workload_arguments(parser, environ=env)
    add_webhook_operator_arguments(parser, environ=env)


def operator_settings_from(args: argparse.Namespace) -> OperatorSettings:
    if args.node_state_grace < 0:
        raise BadInputError(f"--node-state-grace: {args.node_state_grace} must be >= 0 seconds")
    if not 1 <= args.workers <= 64:
        raise BadInputError(f"--workers: {args.workers} is not accepted (1 to 64)")
    if not args.resource_prefix or "/" in args.resource_prefix:
        raise BadInputError(
            f"--resource-prefix: {args.resource_prefix!r} must be a DNS name like openshift.io"
        )
    if args.uninstall_with and not is_object_name(args.uninstall_with):
        raise BadInputError(
            f"--uninstall-with: {args.uninstall_with!r} is not an object name "
            "(accepted: lower-case letters, digits, '-' and '.', at most 253; or empty)"
        )
    runtime = runtime_settings_from(args)
    scope = {"namespace": runtime.namespace, "resource_prefix": args.resource_prefix}
    return OperatorSettings(
        runtime=runtime,
        drain=drain_settings_from(args, **scope),
        workloads=workload_settings_from(args, **scope),
        resource_prefix=args.resource_prefix,
        node_state_grace=args.node_state_grace,
        workers=args.workers,
        apply_crds=args.apply_crds,
        uninstall_with=args.uninstall_with,
    )


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "operator",
        help="run the operator: NodeStates, device-plugin config, NADs, status (leader-elected)",
        description="Run the operator's controllers against the cluster. Every flag also reads an "
        "environment variable (shown in its help). See docs/operator.md.",
    )
    add_operator_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = operator_settings_from(args)
    webhook = webhook_operator_settings_from(args, settings.namespace)
    configure_logging(settings.runtime.log_format, settings.runtime.log_level)
    asyncio.run(
        run_operator(
            settings, also_register=[lambda manager: certificate_controller.register(manager, webhook)]
        )
    )
    return EXIT_OK
