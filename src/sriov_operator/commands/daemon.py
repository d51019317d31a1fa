"""``sriov-operator daemon``: configure this node's NICs from its SriovNetworkNodeState (docs/daemon.md)."""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Mapping
from typing import Any

from sriov_operator.commands.host_options import add_host_arguments, open_node
from sriov_operator.daemon.app import run_daemon
from sriov_operator.daemon.settings import DEFAULT_REDISCOVER_SECONDS, DaemonSettings
from sriov_operator.errors import EXIT_OK, BadInputError
from sriov_operator.runtime.logging import configure_logging
from sriov_operator.runtime.settings import add_runtime_arguments, flag_adder, runtime_settings_from


def add_daemon_arguments(parser: argparse.ArgumentParser, environ: Mapping[str, str] | None = None) -> None:
    env = os.environ if environ is None else environ
    add_runtime_arguments(parser, default_lease_name="", environ=env)
    flag = flag_adder(parser, env)
    flag("--node-name", default="", help="the node this daemon configures (required)")
    flag(
        "--rediscover-interval",
        default=DEFAULT_REDISCOVER_SECONDS,
        type=float,
        help="seconds between looks at the host when nothing else happens (hot-plugged NICs, drift)",
    )
    add_host_arguments(parser, with_output=False, environ=env)


def daemon_settings_from(args: argparse.Namespace) -> DaemonSettings:
    if not args.node_name:
        raise BadInputError("--node-name: required (the Pod's spec.nodeName, e.g. from the downward API)")
    if args.rediscover_interval <= 0:
        raise BadInputError(f"--rediscover-interval: {args.rediscover_interval} must be > 0 seconds")
    runtime = runtime_settings_from(args)
    if runtime.leader_elect:
        raise BadInputError(
            "--leader-elect: not accepted by the daemon (one daemon per node, nothing to elect)"
        )
    return DaemonSettings(
        runtime=runtime, node_name=args.node_name, rediscover_seconds=args.rediscover_interval
    )


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "daemon",
        help="run one node's config daemon: discover, plan, drain, apply, hand over to the device plugin",
        description="Make this node's NICs match its SriovNetworkNodeState and report status. Every flag "
        "also reads an environment variable (shown in its help). See docs/daemon.md.",
    )
    add_daemon_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = daemon_settings_from(args)
    configure_logging(settings.runtime.log_format, settings.runtime.log_level)
    host = open_node(args)
    asyncio.run(run_daemon(settings, host))
    return EXIT_OK
