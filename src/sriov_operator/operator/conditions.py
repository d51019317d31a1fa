"""Kubernetes-style status conditions, computed as plain data."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

ConditionStatus = Literal["True", "False", "Unknown"]


@dataclass(frozen=True)
class ConditionValue:
    """What a controller decided about one condition type; the timestamps are filled in by ``merged``."""

    type: str
    status: ConditionStatus
    reason: str
    message: str = ""


def timestamp(now: datetime) -> str:
    return now.strftime("%Y-%m-%dT%H:%M:%SZ")


def merged(
    current: Sequence[Mapping[str, Any]] | None,
    value: ConditionValue,
    now: datetime,
    observed_generation: int | None = None,
) -> list[dict[str, Any]]:
    """``current`` with ``value`` set; lastTransitionTime moves only when the status changes.

    Other condition types are kept as they are (other writers own them).
    """
    conditions = [dict(c) for c in current or [] if c.get("type") != value.type]
    previous = next((c for c in current or [] if c.get("type") == value.type), None)
    keep_time = previous is not None and previous.get("status") == value.status
    condition: dict[str, Any] = {
        "type": value.type,
        "status": value.status,
        "reason": value.reason,
        "message": value.message,
        "lastTransitionTime": previous["lastTransitionTime"] if previous and keep_time else timestamp(now),
    }
    if observed_generation is not None:
        condition["observedGeneration"] = observed_generation
    conditions.append(condition)
    return sorted(conditions, key=lambda c: str(c.get("type")))


def find(conditions: Sequence[Mapping[str, Any]] | None, type_: str) -> Mapping[str, Any] | None:
    return next((c for c in conditions or [] if c.get("type") == type_), None)
