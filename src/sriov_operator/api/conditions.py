"""metav1.Condition as JSON: build one, find one, keep lastTransitionTime honest."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

Condition = dict[str, Any]


def rfc3339(moment: datetime) -> str:
    """Kubernetes' time format: UTC, whole seconds (``moment`` must be timezone-aware)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text: str) -> datetime:
    """The inverse of `rfc3339`; raises ValueError on anything else."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def find_condition(conditions: Iterable[Mapping[str, Any]] | None, type_: str) -> Mapping[str, Any] | None:
    return next((c for c in conditions or () if c.get("type") == type_), None)


def transitioned(
    previous: Mapping[str, Any] | None, *, type_: str, status: str, reason: str, message: str, now: datetime
) -> Condition:
    """The condition to write; ``lastTransitionTime`` moves only when the status changes."""
    unchanged = previous is not None and previous.get("status") == status
    since = previous.get("lastTransitionTime") if unchanged and previous else None
    return {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": since or rfc3339(now),
    }


def same_condition(previous: Mapping[str, Any] | None, status: str, reason: str, message: str) -> bool:
    """Would writing this change nothing a reader sees?"""
    if previous is None:
        return False
    seen = (previous.get("status"), previous.get("reason"), previous.get("message"))
    return seen == (status, reason, message)
