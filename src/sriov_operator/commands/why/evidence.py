"""What ``why`` cites as evidence: the objects it read, in the words ``kubectl`` shows (pure).

Conditions are read generically (any type, any reason, whoever wrote them), so a
new condition or reason shows up here without a change. Events are matched to the
object they regard, newest first.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sriov_operator.api.meta import name_of, namespace_of

Object = Mapping[str, Any]
EVENTS_PER_OBJECT = 3  # the newest ones; one screen


def ref(obj: Object, kind: str | None = None) -> str:
    """``Kind namespace/name`` (or ``Kind name`` for a cluster-scoped object)."""
    namespace = namespace_of(obj)
    where = f"{namespace}/{name_of(obj)}" if namespace else name_of(obj)
    return f"{kind or obj.get('kind') or '?'} {where}"


def conditions(obj: Object | None) -> list[Mapping[str, Any]]:
    found = ((obj or {}).get("status") or {}).get("conditions") or []
    return [c for c in found if isinstance(c, Mapping)]


def condition(obj: Object | None, kind: str) -> Mapping[str, Any] | None:
    return next((c for c in conditions(obj) if c.get("type") == kind), None)


def condition_line(found: Mapping[str, Any]) -> str:
    """``Ready=False NodesFailed: failed: worker-1`` (the message when there is one)."""
    head = f"{found.get('type')}={found.get('status')} {found.get('reason') or ''}".rstrip()
    message = str(found.get("message") or "").strip()
    return f"condition {head}: {message}" if message else f"condition {head}"


def condition_lines(obj: Object | None, who: str) -> list[str]:
    return [f"{who}: {condition_line(c)}" for c in conditions(obj)]


def shown(value: Any) -> str:
    """A value as JSON, the way a user would write it (never a Python repr)."""
    return json.dumps(value, separators=(", ", ": "), sort_keys=True)


@dataclass(frozen=True)
class EventView:
    """One Event, from either API (``events.k8s.io/v1`` or core ``v1``)."""

    kind: str
    namespace: str
    name: str
    type: str
    reason: str
    note: str
    count: int
    when: str

    def line(self) -> str:
        times = f" (x{self.count})" if self.count > 1 else ""
        return f"Event {self.type} {self.reason}{times}: {self.note}"


def _event_view(event: Object) -> EventView | None:
    regarding = event.get("regarding") or event.get("involvedObject")
    if not isinstance(regarding, Mapping):
        return None
    series = event.get("series") or {}
    count = series.get("count") or event.get("deprecatedCount") or event.get("count") or 1
    when = (
        series.get("lastObservedTime")
        or event.get("deprecatedLastTimestamp")
        or event.get("lastTimestamp")
        or event.get("eventTime")
        or (event.get("metadata") or {}).get("creationTimestamp")
        or ""
    )
    return EventView(
        kind=str(regarding.get("kind") or ""),
        namespace=str(regarding.get("namespace") or ""),
        name=str(regarding.get("name") or ""),
        type=str(event.get("type") or "Normal"),
        reason=str(event.get("reason") or ""),
        note=" ".join(str(event.get("note") or event.get("message") or "").split()),
        count=int(count) if isinstance(count, int) else 1,
        when=str(when),
    )


@dataclass(frozen=True)
class Events:
    """Every Event read, looked up by the object it regards."""

    items: Sequence[EventView] = field(default_factory=tuple)

    @classmethod
    def of(cls, events: Iterable[Object]) -> Events:
        views = [v for e in events if (v := _event_view(e)) is not None]
        return cls(tuple(sorted(views, key=lambda v: v.when, reverse=True)))

    def about(self, obj: Object | None, kind: str, *, warnings_only: bool = False) -> list[str]:
        """The newest Events regarding ``obj`` (a cluster-scoped object's Events may sit in any namespace)."""
        if obj is None:
            return []
        name, namespace = name_of(obj), namespace_of(obj) or ""
        lines = [
            f"{ref(obj, kind)}: {view.line()}"
            for view in self.items
            if view.kind == kind
            and view.name == name
            and view.namespace in (namespace, "")
            and (view.type == "Warning" or not warnings_only)
        ]
        return lines[:EVENTS_PER_OBJECT]
