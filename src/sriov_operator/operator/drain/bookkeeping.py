"""Read a node's drain state from its Node and NodeState, and spell the writes that change it.

Everything the controller must remember across restarts lives in annotations:
on the Node that we cordoned it, on the NodeState the answer (``current-state``)
and the drain's start, attempts and next retry. A restarted operator therefore
continues a drain with the same deadline and backoff.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sriov_operator.api.constants import (
    CORDONED_BY_ANNOTATION,
    DRAIN_ATTEMPTS_ANNOTATION,
    DRAIN_BOOKKEEPING_ANNOTATIONS,
    DRAIN_COMPLETE,
    DRAIN_IDLE,
    DRAIN_RETRY_AT_ANNOTATION,
    DRAIN_STARTED_AT_ANNOTATION,
    DRAINED_FOR_ANNOTATION,
    DRAINING,
    FIELD_MANAGER,
    NODE_STATE_ANNOTATION,
    NODE_STATE_CURRENT_ANNOTATION,
)
from sriov_operator.api.meta import annotations_of
from sriov_operator.operator.drain.decision import NodeDrainState

log = logging.getLogger(__name__)

Object = Mapping[str, Any]
Annotations = dict[str, str | None]
"""A merge patch of annotations: None removes one."""


def _time(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        log.warning("ignoring annotation %s=%r: not an ISO 8601 time", name, value)
        return None


def timestamp(moment: datetime) -> str:
    return moment.isoformat()


def read_state(node: Object, node_state: Object) -> NodeDrainState:
    node_annotations = annotations_of(node)
    ours = annotations_of(node_state)
    return NodeDrainState(
        request=node_annotations.get(NODE_STATE_ANNOTATION, ""),
        current=ours.get(NODE_STATE_CURRENT_ANNOTATION, ""),
        cordoned_by_us=node_annotations.get(CORDONED_BY_ANNOTATION) == FIELD_MANAGER,
        drained_for=ours.get(DRAINED_FOR_ANNOTATION, ""),
        retry_at=_time(ours.get(DRAIN_RETRY_AT_ANNOTATION), DRAIN_RETRY_AT_ANNOTATION),
        has_bookkeeping=any(name in ours for name in DRAIN_BOOKKEEPING_ANNOTATIONS),
    )


def started_at(node_state: Object, fallback: datetime) -> datetime:
    value = annotations_of(node_state).get(DRAIN_STARTED_AT_ANNOTATION)
    return _time(value, DRAIN_STARTED_AT_ANNOTATION) or fallback


def attempts(node_state: Object) -> int:
    value = annotations_of(node_state).get(DRAIN_ATTEMPTS_ANNOTATION, "0")
    return int(value) if value.isdigit() else 0


def is_unschedulable(node: Object) -> bool:
    return bool(node.get("spec", {}).get("unschedulable"))


def cordon_patch() -> dict[str, Any]:
    return {
        "metadata": {"annotations": {CORDONED_BY_ANNOTATION: FIELD_MANAGER}},
        "spec": {"unschedulable": True},
    }


def uncordon_patch() -> dict[str, Any]:
    return {"metadata": {"annotations": {CORDONED_BY_ANNOTATION: None}}, "spec": {"unschedulable": None}}


def idle_annotations() -> Annotations:
    cleared: Annotations = dict.fromkeys(DRAIN_BOOKKEEPING_ANNOTATIONS)
    return {NODE_STATE_CURRENT_ANNOTATION: DRAIN_IDLE, **cleared}


def draining_annotations(now: datetime) -> Annotations:
    return {
        NODE_STATE_CURRENT_ANNOTATION: DRAINING,
        DRAIN_STARTED_AT_ANNOTATION: timestamp(now),
        DRAIN_RETRY_AT_ANNOTATION: None,
        DRAINED_FOR_ANNOTATION: None,
    }


def complete_annotations(request: str) -> Annotations:
    return {
        NODE_STATE_CURRENT_ANNOTATION: DRAIN_COMPLETE,
        DRAINED_FOR_ANNOTATION: request,
        DRAIN_STARTED_AT_ANNOTATION: None,
        DRAIN_ATTEMPTS_ANNOTATION: None,
        DRAIN_RETRY_AT_ANNOTATION: None,
    }


def gave_up_annotations(attempt: int, retry_at: datetime) -> Annotations:
    return {
        NODE_STATE_CURRENT_ANNOTATION: DRAIN_IDLE,
        DRAIN_STARTED_AT_ANNOTATION: None,
        DRAIN_ATTEMPTS_ANNOTATION: str(attempt),
        DRAIN_RETRY_AT_ANNOTATION: timestamp(retry_at),
    }
