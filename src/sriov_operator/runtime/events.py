"""Kubernetes Events (events.k8s.io/v1) that fold repeats into one Event with a count.

The first occurrence of (regarding object, type, reason, note) creates an
Event; a repeat within `FOLD_WINDOW` seconds updates that Event's ``series``
(``count`` = occurrences so far, ``lastObservedTime``) instead of creating
another, so a flapping condition cannot flood etcd. Recording never raises:
an Event is a courtesy, not part of the reconcile's outcome.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sriov_operator.api.constants import EventReason
from sriov_operator.api.names import event_name
from sriov_operator.api.refs import ObjectRef, ref
from sriov_operator.errors import describe
from sriov_operator.kube.errors import NotFoundError
from sriov_operator.kube.objects import KubeObjects
from sriov_operator.kube.resources import EVENTS
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
            patch = {"series": {"count": series.count, "lastObservedTime": micro_time(self.clock.now())}}
            try:
                await self.objects.patch(EVENTS, series.name, patch, namespace=series.namespace)
                return
            except NotFoundError:
                pass  # expired or deleted meanwhile: start a new Event
        namespace = reference.namespace or CLUSTER_SCOPED_EVENT_NAMESPACE
        name = event_name(reference.name, secrets.token_hex(8))
        body = {
            "apiVersion": "events.k8s.io/v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "eventTime": micro_time(self.clock.now()),
            "reportingController": self.component,
            "reportingInstance": self.instance,
            "action": action,
            "reason": str(reason),
            "note": note,
            "type": type_,
            "regarding": reference.to_api(),
        }
        await self.objects.create(EVENTS, body, namespace=namespace)
        self._series[key] = _Series(name, namespace, 1, now)
        self._series.move_to_end(key)
        while len(self._series) > MAX_REMEMBERED:
            self._series.popitem(last=False)
