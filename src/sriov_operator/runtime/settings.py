"""Settings common to every process: flags, each with an environment-variable fallback.

Every flag ``--some-name`` takes its default from ``SRIOV_OPERATOR_SOME_NAME``
when that variable is set (a flag on the command line wins). The environment is
read here, while the parser is built, and nowhere else: processes build one
frozen settings object from the parsed arguments and pass it down.
"""

from __future__ import annotations

import argparse
import functools
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from sriov_operator.api.constants import DEFAULT_OPERATOR_NAMESPACE
from sriov_operator.errors import BadInputError
from sriov_operator.kube.session import in_cluster_server

ENV_PREFIX = "SRIOV_OPERATOR_"
LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

LogFormat = Literal["text", "json"]


@dataclass(frozen=True)
class RuntimeSettings:
    kubeconfig: Path | None = None  # None: the in-cluster service account
    namespace: str = DEFAULT_OPERATOR_NAMESPACE
    health_port: int = 8081  # /healthz, /readyz, /metrics; 0 = any free port, -1 = no server
    log_format: LogFormat = "text"
    log_level: str = "INFO"
    leader_elect: bool = False
    lease_name: str = ""
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    identity: str = ""
    health_address: str = "0.0.0.0"
    in_cluster_server: str = ""  # https://host:port of the kubernetes Service (used when kubeconfig is None)


def env_variable(flag: str) -> str:
    """``--health-port`` -> ``SRIOV_OPERATOR_HEALTH_PORT``."""
    return ENV_PREFIX + flag.lstrip("-").replace("-", "_").upper()


def parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"{text!r} is not a boolean (accepted: true, false)")


def add_flag(
    parser: argparse.ArgumentParser | Any,
    flag: str,
    *,
    default: Any,
    help: str,
    type: Callable[[str], Any] = str,
    choices: tuple[str, ...] | None = None,
    environ: Mapping[str, str] | None = None,
) -> None:
    """Add ``flag`` whose default comes from its environment variable when set.

    A variable's value goes through ``type`` and ``choices`` like a flag's, so a
    bad value fails the start with argparse's one-line message naming the flag.
    Boolean flags accept ``--flag`` (true) and ``--flag=true|false``.
    """
    variable = env_variable(flag)
    env = os.environ if environ is None else environ
    value = env.get(variable, default)
    extra: dict[str, Any] = {}
    if type is parse_bool:
        extra = {"nargs": "?", "const": True, "metavar": "true|false"}
    parser.add_argument(
        flag,
        default=value,
        type=type,
        choices=choices,
        help=f"{help} [env {variable}; default: {default}]",
        **extra,
    )


class FlagAdder(Protocol):
    """`add_flag` with its parser and environment given: ``flag("--name", default=..., help=...)``."""

    def __call__(
        self,
        flag: str,
        *,
        default: Any,
        help: str,
        type: Callable[[str], Any] = ...,
        choices: tuple[str, ...] | None = ...,
    ) -> None: ...


def flag_adder(parser: argparse.ArgumentParser | Any, environ: Mapping[str, str] | None = None) -> FlagAdder:
    """`add_flag` bound to one parser and environment, for a module that adds several flags."""
    return functools.partial(add_flag, parser, environ=environ)


def add_runtime_arguments(
    parser: argparse.ArgumentParser | Any,
    *,
    default_lease_name: str,
    environ: Mapping[str, str] | None = None,
) -> None:
    """The flags every process shares (see docs/settings.md)."""
    defaults = RuntimeSettings()
    flag = flag_adder(parser, environ)
    flag("--kubeconfig", default=None, help="kubeconfig file; unset: the in-cluster service account")
    flag("--namespace", default=defaults.namespace, help="namespace the operator's objects live in")
    flag(
        "--health-port",
        default=defaults.health_port,
        type=int,
        help="port of /healthz, /readyz and /metrics (0: any free port, -1: no server)",
    )
    flag("--health-address", default=defaults.health_address, help="address the health server binds")
    flag("--log-format", default=defaults.log_format, choices=LOG_FORMATS, help="log line format")
    flag(
        "--log-level",
        default=defaults.log_level,
        type=str.upper,
        choices=LOG_LEVELS,
        help="lowest level logged",
    )
    flag(
        "--leader-elect",
        default=defaults.leader_elect,
        type=parse_bool,
        help="run controllers only while holding the Lease",
    )
    flag(
        "--lease-name", default=default_lease_name, help="name of the leader-election Lease (in --namespace)"
    )
    flag(
        "--lease-duration",
        default=defaults.lease_duration,
        type=float,
        help="seconds a Lease holds without renewal before others may take it",
    )
    flag(
        "--renew-deadline",
        default=defaults.renew_deadline,
        type=float,
        help="seconds the leader keeps trying to renew before it stops its controllers",
    )
    flag(
        "--retry-period",
        default=defaults.retry_period,
        type=float,
        help="seconds between acquire/renew attempts",
    )
    flag("--identity", default="", help="leader-election identity (default: <hostname>_<pid>)")


def runtime_settings_from(
    args: argparse.Namespace, environ: Mapping[str, str] | None = None
) -> RuntimeSettings:
    """The frozen settings from parsed arguments; inconsistent timings are bad input.

    In a pod, the API server's address comes from the kubelet's
    ``KUBERNETES_SERVICE_HOST``/``_PORT`` variables (read here, like the flags').
    """
    if not args.retry_period > 0:
        raise BadInputError(f"--retry-period: {args.retry_period} must be > 0")
    if not args.retry_period < args.renew_deadline < args.lease_duration:
        raise BadInputError(
            f"--renew-deadline: {args.renew_deadline} must be greater than --retry-period "
            f"({args.retry_period}) and less than --lease-duration ({args.lease_duration})"
        )
    if not -1 <= args.health_port <= 65535:
        raise BadInputError(f"--health-port: {args.health_port} is not a port (accepted: -1 to 65535)")
    if not args.namespace:
        raise BadInputError("--namespace: must not be empty")
    return RuntimeSettings(
        kubeconfig=Path(args.kubeconfig) if args.kubeconfig else None,
        namespace=args.namespace,
        health_port=args.health_port,
        health_address=args.health_address,
        log_format=args.log_format,
        log_level=args.log_level,
        leader_elect=args.leader_elect,
        lease_name=args.lease_name,
        lease_duration=args.lease_duration,
        renew_deadline=args.renew_deadline,
        retry_period=args.retry_period,
        identity=args.identity or f"{socket.gethostname()}_{os.getpid()}",
        in_cluster_server=in_cluster_server(os.environ if environ is None else environ),
    )
