"""The runtime's other parts on a real API server: manager + health server, Events, errors, writes."""

from __future__ import annotations

import asyncio
import contextlib
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Hashable
from typing import Any

import pytest
from prometheus_client import REGISTRY

from sriov_operator.api.constants import EventReason
from sriov_operator.controlplane.process import ControlPlane
from sriov_operator.kube.errors import ConflictError, EvictionBlockedError, InvalidObjectError
from sriov_operator.kube.objects import KubeObjects
from sriov_operator.kube.resources import (
    CONFIG_MAPS,
    CORE_EVENTS,
    EVENTS,
    POD_DISRUPTION_BUDGETS,
    PODS,
    Resource,
)
from sriov_operator.runtime.controller import Controller
from sriov_operator.runtime.events import FOLD_WINDOW, EventRecorder
from sriov_operator.runtime.leader import NotLeaderError
from sriov_operator.runtime.manager import InformerConflictError, Manager
from sriov_operator.runtime.settings import RuntimeSettings
from sriov_operator.runtime.testing import FakeClock
from sriov_operator.runtime.transforms import slim_node, strip_managed_fields
from tests.integration.conftest import NamespaceFactory
from tests.integration.operator_harness import ensure_default_service_account
from tests.waiting import eventually


def http_get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def config_map(name: str, namespace: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace}}


@contextlib.asynccontextmanager
async def running(manager: Manager) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(manager.run())
    try:
        await eventually(lambda: manager.health_port is not None, what="the health server")
        yield task
    finally:
        manager.stop()
        await asyncio.wait_for(task, 20)


async def test_manager_serves_readiness_and_metrics_over_http(
    control_plane: ControlPlane, objects: KubeObjects, make_namespace: NamespaceFactory
) -> None:
    namespace = await make_namespace(None)
    settings = RuntimeSettings(
        kubeconfig=control_plane.kubeconfig, namespace=namespace, health_port=0, health_address="127.0.0.1"
    )
    seen: list[Hashable] = []

    async def reconcile(key: Hashable) -> None:
        seen.append(key)
        await objects.patch(CONFIG_MAPS, str(key), {"data": {"seen": "yes"}}, namespace)

    await objects.create(CONFIG_MAPS, config_map("first", namespace))
    async with Manager(settings) as manager:
        controller = Controller("config-maps-under-test", reconcile)
        informer = manager.informer(CONFIG_MAPS, namespace=namespace)
        assert manager.informer(CONFIG_MAPS, namespace=namespace) is informer  # shared
        controller.watch(informer, lambda obj: [obj["metadata"]["name"]])
        manager.add_controller(controller)
        async with running(manager):
            port = manager.health_port
            assert port is not None
            await eventually(lambda: "first" in seen, what="the first reconcile")
            assert await asyncio.to_thread(http_get, port, "/readyz") == (200, "ok\n")
            assert await asyncio.to_thread(http_get, port, "/healthz") == (200, "ok\n")
            status, metrics = await asyncio.to_thread(http_get, port, "/metrics")
    assert status == 200
    assert 'sriov_operator_workqueue_adds_total{name="config-maps-under-test"}' in metrics
    assert (
        'sriov_operator_workqueue_reconcile_duration_seconds_count{name="config-maps-under-test"}' in metrics
    )
    assert 'sriov_operator_api_writes_total{resource="configmaps",verb="patch"}' in metrics


async def test_readyz_fails_while_a_cache_cannot_sync(control_plane: ControlPlane) -> None:
    missing = Resource("example.invalid", "v1", "widgets", "Widget", namespaced=False)  # never served
    settings = RuntimeSettings(kubeconfig=control_plane.kubeconfig, health_port=0, health_address="127.0.0.1")
    async with Manager(settings) as manager:
        manager.informer(missing)
        async with running(manager):
            assert manager.health_port is not None
            status, body = await asyncio.to_thread(http_get, manager.health_port, "/readyz")
            assert (status, body) == (503, "caches not synced: widgets.example.invalid\n")
            assert await asyncio.to_thread(http_get, manager.health_port, "/healthz") == (200, "ok\n")


async def test_a_shared_informer_asked_for_with_another_transform_is_refused(
    control_plane: ControlPlane,
) -> None:
    settings = RuntimeSettings(kubeconfig=control_plane.kubeconfig, health_port=-1)
    async with Manager(settings) as manager:
        stripped = manager.informer(CONFIG_MAPS, namespace="a", transform=strip_managed_fields)
        assert manager.informer(CONFIG_MAPS, namespace="a", transform=strip_managed_fields) is stripped
        with pytest.raises(
            InformerConflictError,
            match=r"^informer configmaps \(namespace=a\) registered with transform=strip_managed_fields, "
            r"asked again with transform=None; every caller",
        ):
            manager.informer(CONFIG_MAPS, namespace="a")
        with pytest.raises(InformerConflictError, match="transform=slim_node"):
            manager.informer(CONFIG_MAPS, namespace="a", transform=slim_node)
        with pytest.raises(InformerConflictError, match="page_size=10"):
            manager.informer(CONFIG_MAPS, namespace="a", transform=strip_managed_fields, page_size=10)
        # other selectors are another informer, free to hold another shape
        assert manager.informer(CONFIG_MAPS, namespace="b") is not stripped
        assert manager.informers == [stripped, manager.informer(CONFIG_MAPS, namespace="b")]


async def _config_map_to_record_about(objects: KubeObjects, name: str, namespace: str) -> dict[str, Any]:
    """A new ConfigMap for Events to be about, with its kind and apiVersion as the recorder reads them."""
    regarding = await objects.create(CONFIG_MAPS, config_map(name, namespace))
    regarding.update(kind="ConfigMap", apiVersion="v1")
    return regarding


async def test_event_recorder_folds_repeats_into_one_event_with_a_count(
    objects: KubeObjects, make_namespace: NamespaceFactory
) -> None:
    namespace = await make_namespace(None)
    regarding = await _config_map_to_record_about(objects, "flapping", namespace)
    clock = FakeClock()
    recorder = EventRecorder(objects, "runtime-test", clock)
    for _ in range(3):
        await recorder.record(regarding, "Warning", EventReason.LEADER_LOST, "same note", "Testing")
    await recorder.record(regarding, "Warning", EventReason.LEADER_LOST, "another note", "Testing")
    await clock.advance(FOLD_WINDOW + 1)
    await recorder.record(regarding, "Warning", EventReason.LEADER_LOST, "same note", "Testing")

    events = (await objects.list(EVENTS, namespace))["items"]
    summary = sorted((e["note"], (e.get("series") or {}).get("count", 1)) for e in events)
    assert summary == [("another note", 1), ("same note", 1), ("same note", 3)]
    folded = next(e for e in events if e.get("series"))
    assert folded["regarding"]["name"] == "flapping"
    assert folded["reason"] == "LeaderLost"
    assert folded["reportingController"] == "runtime-test"
    assert folded["deprecatedCount"] == 3


async def test_events_carry_last_timestamp_so_kubectl_sorts_them(
    objects: KubeObjects, make_namespace: NamespaceFactory
) -> None:
    """`kubectl get events --sort-by=.lastTimestamp` misordered ours: lastTimestamp was <nil>."""
    namespace = await make_namespace(None)
    regarding = await _config_map_to_record_about(objects, "sorted", namespace)
    clock = FakeClock()
    recorder = EventRecorder(objects, "runtime-test", clock)
    await recorder.record(regarding, "Normal", EventReason.LEADER_ELECTED, "first", "Testing")
    await clock.advance(5)
    await recorder.record(regarding, "Normal", EventReason.LEADER_LOST, "second", "Testing")
    await clock.advance(5)
    await recorder.record(regarding, "Normal", EventReason.LEADER_ELECTED, "first", "Testing")  # a repeat
    core = (await objects.list(CORE_EVENTS, namespace))["items"]
    by_note = {e["message"]: e for e in core}
    first, second = by_note["first"], by_note["second"]
    assert (first["count"], second["count"]) == (2, 1)
    assert first["firstTimestamp"] < second["lastTimestamp"] < first["lastTimestamp"]
    assert first["involvedObject"]["name"] == "sorted"
    assert [e["message"] for e in sorted(core, key=lambda e: e["lastTimestamp"])] == ["second", "first"]


async def test_events_about_objects_with_253_character_names_are_recorded(
    objects: KubeObjects, make_namespace: NamespaceFactory
) -> None:
    """'<name>.<random>' is longer than a name may be: such Events used to be refused (and lost)."""
    namespace = await make_namespace(None)
    long_name = "p" * 253
    regarding = await _config_map_to_record_about(objects, long_name, namespace)
    recorder = EventRecorder(objects, "runtime-test", FakeClock())
    await recorder.record(regarding, "Normal", EventReason.LEADER_ELECTED, "long name", "Testing")
    await recorder.record(regarding, "Normal", EventReason.LEADER_ELECTED, "long name", "Testing")
    [event] = (await objects.list(EVENTS, namespace))["items"]
    assert event["regarding"]["name"] == long_name
    assert event["series"]["count"] == 2
    assert len(event["metadata"]["name"]) <= 253


async def test_event_recorder_never_raises(objects: KubeObjects) -> None:
    recorder = EventRecorder(objects, "runtime-test", FakeClock())
    regarding = {"kind": "ConfigMap", "metadata": {"name": "x", "namespace": "no-such-namespace-here"}}
    await recorder.record(regarding, "Normal", EventReason.LEADER_ELECTED, "note", "Testing")  # 404: logged


async def test_api_errors_become_the_error_tree(
    objects: KubeObjects, make_namespace: NamespaceFactory
) -> None:
    namespace = await make_namespace(None)
    await objects.create(CONFIG_MAPS, config_map("taken", namespace))
    with pytest.raises(ConflictError, match="already exists"):
        await objects.create(CONFIG_MAPS, config_map("taken", namespace))
    with pytest.raises(InvalidObjectError, match=r"metadata\.name"):
        await objects.create(CONFIG_MAPS, config_map("Not_Valid", namespace))
    assert await objects.get(CONFIG_MAPS, "absent", namespace) is None
    assert await objects.delete(CONFIG_MAPS, "absent", namespace) is False
    stale = await objects.get(CONFIG_MAPS, "taken", namespace)
    assert stale is not None
    await objects.patch(CONFIG_MAPS, "taken", {"data": {"a": "1"}}, namespace)
    with pytest.raises(ConflictError):
        await objects.update(CONFIG_MAPS, stale)  # resourceVersion no longer current


async def test_a_refused_write_is_never_sent(objects: KubeObjects, make_namespace: NamespaceFactory) -> None:
    namespace = await make_namespace(None)

    def refuse() -> None:
        raise NotLeaderError("not leading")

    guarded = KubeObjects(objects.api, write_guard=refuse)

    def counted() -> float | None:
        return REGISTRY.get_sample_value(
            "sriov_operator_api_writes_total", {"verb": "create", "resource": "configmaps"}
        )

    writes = counted()
    with pytest.raises(NotLeaderError):
        await guarded.create(CONFIG_MAPS, config_map("refused", namespace))
    # read before anything else in the process may run (the refusal never yields to the loop)
    assert counted() == writes
    assert not guarded.writes
    assert await objects.get(CONFIG_MAPS, "refused", namespace) is None


async def test_each_client_tallies_only_its_own_writes(
    objects: KubeObjects, make_namespace: NamespaceFactory
) -> None:
    namespace = await make_namespace(None)
    mine, other = KubeObjects(objects.api), KubeObjects(objects.api)
    await mine.create(CONFIG_MAPS, config_map("mine", namespace))
    await other.create(CONFIG_MAPS, config_map("other", namespace))
    await other.patch(CONFIG_MAPS, "other", {"data": {"a": "1"}}, namespace)
    await other.apply(CONFIG_MAPS, config_map("other", namespace), "runtime-test")
    assert mine.writes == {("create", "configmaps"): 1}
    assert other.writes == {
        ("create", "configmaps"): 1,
        ("patch", "configmaps"): 1,
        ("apply", "configmaps"): 1,
    }


async def test_eviction_blocked_by_a_disruption_budget(
    objects: KubeObjects, make_namespace: NamespaceFactory
) -> None:
    namespace = await make_namespace(None)
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "guarded", "namespace": namespace, "labels": {"app": "guarded"}},
        "spec": {"containers": [{"name": "c", "image": "registry.invalid/none:1"}]},
    }
    await ensure_default_service_account(objects, namespace)  # the controller's may not be there yet
    await objects.create(PODS, pod)
    # No kubelet here: mark it Running, else the eviction API ignores budgets for a Pending pod.
    await objects.patch(PODS, "guarded", {"status": {"phase": "Running"}}, namespace, subresource="status")
    budget = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "guarded", "namespace": namespace},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "guarded"}}},
    }
    await objects.create(POD_DISRUPTION_BUDGETS, budget)
    with pytest.raises(EvictionBlockedError, match="disruption budget"):
        await objects.evict("guarded", namespace)
    await objects.evict("already-gone", namespace)  # a pod that is gone is not an error
