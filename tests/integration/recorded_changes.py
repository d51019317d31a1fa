"""Record how one object changes while a test runs, from the API server's watch stream.

A test that asserts the order of changes (cordoned, then not; a drain asked for, then Idle)
cannot poll for them: a poll misses what comes and goes between two looks. `recording`
starts one watch per value the test follows and stops them when the test is done.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sriov_operator.api.meta import annotations_of
from sriov_operator.kube.errors import ApiUnavailableError
from sriov_operator.kube.objects import KubeObjects
from sriov_operator.kube.resources import EVENTS, SRIOV_NETWORK_NODE_STATES, Resource
from tests.waiting import eventually

T = TypeVar("T")
DRAIN_REQUEST = "sriovnetwork.openshift.io/state"  # the Node annotation a config daemon asks for a drain in


def is_cordoned(node: dict[str, Any]) -> bool:
    return bool(node.get("spec", {}).get("unschedulable"))


def drain_request(node: dict[str, Any]) -> str:
    """The config daemon's drain request on its Node (``Idle`` when it has asked for nothing yet)."""
    return annotations_of(node).get(DRAIN_REQUEST, "Idle")


async def last_is(values: list[Any], wanted: Any) -> bool:
    """The latest value a recording saw is ``wanted``."""
    return bool(values) and values[-1] == wanted


async def drain_over(requests: list[str], cordoned: list[bool]) -> bool:
    """The recorded drain requests and cordon states of a Node ended Idle and uncordoned."""
    return await last_is(requests, "Idle") and await last_is(cordoned, False)


async def failed_by_loop_guard(objects: KubeObjects, namespace: str, name: str) -> dict[str, Any] | None:
    """The NodeState once it is Failed by a loop guard ("not rebooting again"), else None."""
    state = await objects.get(SRIOV_NETWORK_NODE_STATES, name, namespace)
    status = (state or {}).get("status") or {}
    if status.get("syncStatus") == "Failed" and "not rebooting again" in status.get("lastSyncError", ""):
        return state
    return None


async def refused_again(objects: KubeObjects, namespace: str, name: str) -> bool:
    """The loop guard refused a retry too (ConfigurationFailed seen twice: a second Event or a series)."""
    listed = await objects.list(EVENTS, namespace)
    seen = sum(
        ((e.get("series") or {}).get("count") or 1)
        for e in listed["items"]
        if (e.get("regarding") or {}).get("name") == name and e.get("reason") == "ConfigurationFailed"
    )
    return seen >= 2


async def record_changes(
    objects: KubeObjects,
    resource: Resource,
    namespace: str | None,
    name: str,
    value_of: Callable[[dict[str, Any]], T],
    into: list[T],
) -> None:
    """Append ``value_of`` the object each time it changes, from the API server's watch stream.

    The API server may still be initialising a new CRD's storage: list again until it answers.
    """
    selector = f"metadata.name={name}"

    def seen(obj: dict[str, Any]) -> None:
        value = value_of(obj)
        if not into or into[-1] != value:
            into.append(value)

    async def listed_once_served() -> dict[str, Any] | None:
        try:
            return await objects.list(resource, namespace, field_selector=selector)
        except ApiUnavailableError:
            return None

    listed = await eventually(listed_once_served, f"{resource.plural} listed")
    for item in listed["items"]:
        seen(item)
    version = listed["metadata"]["resourceVersion"]
    async for event in objects.watch(resource, namespace, field_selector=selector, resource_version=version):
        if event["type"] in ("ADDED", "MODIFIED"):
            seen(event["object"])


class Recordings:
    """The watches a test started (`record`); `check` fails with the error of one that died."""

    def __init__(self, objects: KubeObjects) -> None:
        self.objects = objects
        self.tasks: list[asyncio.Task[None]] = []

    def record(
        self, resource: Resource, namespace: str | None, name: str, value_of: Callable[[dict[str, Any]], T]
    ) -> list[T]:
        """The list of ``value_of`` the object, one entry per change, filled in the background."""
        into: list[T] = []
        watch = record_changes(self.objects, resource, namespace, name, value_of, into)
        self.tasks.append(asyncio.create_task(watch))
        return into

    def check(self) -> None:
        """A watch that died saw nothing more: fail with its error, not with a short list."""
        for task in self.tasks:
            if task.done():
                task.result()


@asynccontextmanager
async def recording(objects: KubeObjects) -> AsyncIterator[Recordings]:
    """Watches started inside the block are stopped when it ends."""
    recordings = Recordings(objects)
    try:
        yield recordings
    finally:
        for task in recordings.tasks:
            task.cancel()
        await asyncio.gather(*recordings.tasks, return_exceptions=True)
