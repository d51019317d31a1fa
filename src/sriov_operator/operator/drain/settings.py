"""Drain controller settings: the deadline, its retry backoff, and the opt-in to force past PDBs."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sriov_operator.api.constants import DEFAULT_OPERATOR_NAMESPACE, DEFAULT_RESOURCE_PREFIX
from sriov_operator.errors import BadInputError
from sriov_operator.runtime.settings import flag_adder, parse_bool


@dataclass(frozen=True)
class DrainSettings:
    namespace: str = DEFAULT_OPERATOR_NAMESPACE
    resource_prefix: str = DEFAULT_RESOURCE_PREFIX
    deadline: float = 600.0
    """Seconds a drain may take before it gives up: uncordon, say why, retry later."""
    force_past_pdb: bool = False
    """After the deadline, delete the pods evictions could not remove (bypasses PodDisruptionBudgets)."""
    retry_base: float = 30.0
    retry_max: float = 1800.0
    poll_interval: float = 2.0
    """Seconds between eviction rounds while draining."""
    pool_wait: float = 30.0
    """Seconds between a waiting node's own looks at its full pool; a freed slot wakes the next
    waiting node at once, so this is only the fallback."""


def add_drain_arguments(
    parser: argparse.ArgumentParser | Any, environ: Mapping[str, str] | None = None
) -> None:
    """The drain flags (docs/settings.md, docs/drain.md)."""
    defaults = DrainSettings()
    flag = flag_adder(parser, environ)
    flag(
        "--drain-deadline",
        default=defaults.deadline,
        type=float,
        help="seconds a drain may take; then uncordon, report the blocking pod, retry with backoff",
    )
    flag(
        "--drain-force-past-pdb",
        default=defaults.force_past_pdb,
        type=parse_bool,
        help="after the deadline, delete pods whose eviction a PodDisruptionBudget refuses",
    )
    flag(
        "--drain-retry-base",
        default=defaults.retry_base,
        type=float,
        help="seconds before retrying a drain that gave up (doubles per attempt)",
    )
    flag(
        "--drain-retry-max",
        default=defaults.retry_max,
        type=float,
        help="cap of the drain retry backoff, in seconds",
    )


def drain_settings_from(args: argparse.Namespace, *, namespace: str, resource_prefix: str) -> DrainSettings:
    for flag, value in (
        ("--drain-deadline", args.drain_deadline),
        ("--drain-retry-base", args.drain_retry_base),
    ):
        if not value > 0:
            raise BadInputError(f"{flag}: {value} must be > 0 (seconds)")
    if args.drain_retry_max < args.drain_retry_base:
        base = args.drain_retry_base
        raise BadInputError(
            f"--drain-retry-max: {args.drain_retry_max} must be >= --drain-retry-base ({base})"
        )
    return DrainSettings(
        namespace=namespace,
        resource_prefix=resource_prefix,
        deadline=args.drain_deadline,
        force_past_pdb=args.drain_force_past_pdb,
        retry_base=args.drain_retry_base,
        retry_max=args.drain_retry_max,
    )
