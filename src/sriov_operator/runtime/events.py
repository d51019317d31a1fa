"""Kubernetes Events that fold repeats into one Event with a count.

The first occurrence of (regarding object, type, reason, note) creates an
Event; a repeat within `FOLD_WINDOW` seconds updates that Event's ``series``
(``count`` = occurrences so far, ``lastObservedTime``) instead of creating
another, so a flapping condition cannot flood etcd. Recording never raises:
an Event is a courtesy, not part of the reconcile's outcome.

Events are written through the core API (``v1``) with both field sets: the
events.k8s.io/v1 ones (``eventTime``, ``series``, ``reportingController``/``reportingComponent``,
``action``) and the core ones kubectl shows and sorts by (``firstTimestamp``,
``lastTimestamp``, ``count``), which events.k8s.io/v1 refuses to set. Readers of
events.k8s.io/v1 see the same objects (``note``, ``regarding``, ``deprecatedLastTimestamp``).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sriov_operator.api.conditions import timestamp
from sriov_operator.api.constants import EventReason
from sriov_operator.api.names import event_name
from sriov_operator.api.refs import ObjectRef, ref
from sriov_operator.errors import describe
from sriov_operator.kube.errors import NotFoundError
from sriov_operator.kube.objects import KubeObjects
from sriov_operator.kube.resources import CORE_EVENTS
from sriov_operator.runtime.clock import SYSTEM_CLOCK, Clock

logger = logging.getLogger(__name__)

EventType = Literal["Normal", "Warning"]
FOLD_WINDOW = 600.0  # seconds a repeat is folded into the previous Event
MAX_REMEMBERED = 4096  # distinct (object, reason, note) remembered for folding; oldest forgotten first
NOTE_LIMIT = 1024  # the API server's limit on ``note``
CLUSTER_SCOPED_EVENT_NAMESPACE = "default"  # where Events about cluster-scoped objects go (as kubectl looks)


def micro_time(moment: datetime) -> str:
    """The API's MicroTime: RFC 3339 with microseconds, UTC."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_body(
    reference: ObjectRef, name: str, namespace: str, fields: Mapping[str, str], moment: datetime
) -> dict[str, Any]:
    """A new core/v1 Event; ``fields``: component, instance, action, reason, note, type."""
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": namespace},
        "involvedObject": reference.to_api(),
        "eventTime": micro_time(moment),
        "firstTimestamp": timestamp(moment),
        "lastTimestamp": timestamp(moment),
        "count": 1,
        "reportingComponent": fields["component"],
        "reportingInstance": fields["instance"],
        "source": {"component": fields["component"]},
        "action": fields["action"],
        "reason": fields["reason"],
        "message": fields["note"],
        "type": fields["type"],
    }


def repeat_patch(count: int, moment: datetime) -> dict[str, Any]:
    """A repeat folded into the Event: its count and time in both field sets."""
    return {
        "count": count,
        "lastTimestamp": timestamp(moment),
        "series": {"count": count, "lastObservedTime": micro_time(moment)},
    }


@dataclass
class _Series:
    name: str
    namespace: str
    count: int
    first_seen: float  # clock.monotonic()


class EventRecorder:
    def __init__(
        self, objects: KubeObjects, component: str, clock: Clock = SYSTEM_CLOCK, instance: str | None = None
    ) -> None:
        self.objects = objects
        self.component = component
        self.instance = instance or component
        self.clock = clock
        self._series: collections.OrderedDict[tuple[str, ...], _Series] = collections.OrderedDict()
        self._lock = asyncio.Lock()

    async def record(
        self,
        regarding: dict[str, Any] | ObjectRef,
        type_: EventType,
        reason: EventReason,
        note: str,
        action: str,
    ) -> None:
        reference = regarding if isinstance(regarding, ObjectRef) else ObjectRef.of(regarding)
        note = note[:NOTE_LIMIT]
        key = (reference.uid or ref(reference), type_, str(reason), note, action)
        try:
            async with self._lock:
                await self._record(reference, key, type_=type_, reason=reason, note=note, action=action)
        except Exception as error:
            logger.warning(
                "could not record Event %s: %s", reason, describe(error), extra={"object": ref(reference)}
            )

    async def _record(
        self,
        reference: ObjectRef,
        key: tuple[str, ...],
        *,
        type_: EventType,
        reason: EventReason,
        note: str,
        action: str,
    ) -> None:
        now = self.clock.monotonic()
        series = self._series.get(key)
        if series is not None and now - series.first_seen <= FOLD_WINDOW:
            series.count += 1
            self._series.move_to_end(key)
            patch = repeat_patch(series.count, self.clock.now())
            try:
                await self.objects.patch(CORE_EVENTS, series.name, patch, namespace=series.namespace)
                return
            except NotFoundError:
                pass  # expired or deleted meanwhile: start a new Event
        namespace = reference.namespace or CLUSTER_SCOPED_EVENT_NAMESPACE
        name = event_name(reference.name, secrets.token_hex(8))
        fields = {
            "component": self.component,
            "instance": self.instance,
            "action": action,
            "reason": str(reason),
            "note": note,
            "type": type_,
        }
        body = event_body(reference, name, namespace, fields, self.clock.now())
        await self.objects.create(CORE_EVENTS, body, namespace=namespace)
        self._series[key] = _Series(name, namespace, 1, now)
        self._series.move_to_end(key)
        while len(self._series) > MAX_REMEMBERED:
            self._series.popitem(last=False)
