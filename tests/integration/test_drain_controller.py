"""The drain controller on the real API server: pool budgets, deadlines, PDBs, which pods go.

The test plays the config daemon (it writes the Node's request annotation) and the
kubelet (pods have no grace period, so an eviction deletes them at once).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from prometheus_client import REGISTRY

from sriov_operator.api.constants import API_VERSION
from sriov_operator.controlplane.process import ControlPlane
from sriov_operator.kube.objects import KubeObjects
from sriov_operator.kube.resources import (
    DAEMON_SETS,
    EVENTS,
    NODES,
    POD_DISRUPTION_BUDGETS,
    PODS,
    SRIOV_NETWORK_NODE_STATES,
    SRIOV_NETWORK_POOL_CONFIGS,
    SRIOV_OPERATOR_CONFIGS,
)
from sriov_operator.operator import drain
from sriov_operator.operator.drain.settings import DrainSettings
from tests.integration.conftest import NamespaceFactory
from tests.integration.operator_harness import (
    annotation,
    condition,
    make_node,
    make_node_state,
    make_pod,
    request_drain,
    running,
    unique,
)
from tests.integration.operator_support import eventually
from tests.kube_client import api_client, kube_objects

pytestmark = pytest.mark.integration

CURRENT = "sriovnetwork.openshift.io/current-state"
VF = {"openshift.io/intelnics": "1"}


@pytest.fixture
async def objects(control_plane: ControlPlane, kube: Any) -> AsyncIterator[KubeObjects]:
    async with api_client(control_plane.kubeconfig) as api:
        yield kube_objects(api)


def settings_for(namespace: str, **overrides: Any) -> DrainSettings:
    fast = DrainSettings(
        namespace=namespace,
        resource_prefix="openshift.io",
        deadline=600,
        retry_base=600,
        retry_max=600,
        poll_interval=0.3,
        pool_wait=0.5,
    )
    return replace(fast, **overrides)


@contextlib.asynccontextmanager
async def drain_controller(control_plane: ControlPlane, settings: DrainSettings) -> AsyncIterator[None]:
    async with running(control_plane.kubeconfig, settings.namespace, lambda m: drain.register(m, settings)):
        yield


async def node_state(objects: KubeObjects, name: str, namespace: str) -> dict[str, Any]:
    state = await objects.get(SRIOV_NETWORK_NODE_STATES, name, namespace)
    assert state is not None
    return state


async def managed_nodes(
    objects: KubeObjects, namespace: str, names: list[str], labels: dict[str, str]
) -> None:
    for name in names:
        await make_node(objects, name, labels)
        await make_node_state(objects, name, namespace)


async def events_about(objects: KubeObjects, node: str, reason: str) -> list[dict[str, Any]]:
    listed = await objects.list(EVENTS, namespace="default", field_selector=f"regarding.name={node}")
    return [e for e in listed["items"] if e["reason"] == reason]


def drains_ended(result: str) -> float:
    value = REGISTRY.get_sample_value("sriov_operator_drain_duration_seconds_count", {"result": result})
    return value or 0.0


def evictions(result: str) -> float:
    return REGISTRY.get_sample_value("sriov_operator_drain_evictions_total", {"result": result}) or 0.0


async def test_two_pools_never_exceed_their_budgets(
    control_plane: ControlPlane, objects: KubeObjects, make_namespace: NamespaceFactory
) -> None:
    namespace = await make_namespace(None)
    apps = await make_namespace(None)
    run = unique("pools")
    pools = {"half": [f"{run}-h{i}" for i in range(4)], "one": [f"{run}-o{i}" for i in range(3)]}
    for pool, budget in (("half", "50%"), ("one", 1)):
        body = {
            "apiVersion": API_VERSION,
            "kind": "SriovNetworkPoolConfig",
            "metadata": {"name": f"{run}-{pool}", "namespace": namespace},
            "spec": {
                "nodeSelector": {"matchLabels": {"test-pool": f"{run}-{pool}"}},
                "maxUnavailable": budget,
            },
        }
        await objects.create(SRIOV_NETWORK_POOL_CONFIGS, body, namespace=namespace)
        await managed_nodes(objects, namespace, pools[pool], {"test-pool": f"{run}-{pool}"})
    pool_of = {node: pool for pool, nodes in pools.items() for node in nodes}
    for node in pool_of:
        await make_pod(objects, f"{node}-vf", apps, node, resources=VF)

    # Watch cordons as they happen, from the API server's own stream.
    cordoned: dict[str, bool] = {}
    peak: dict[str, int] = defaultdict(int)

    async def watch_cordons() -> None:
        listed = await objects.list(NODES)
        async for event in objects.watch(NODES, resource_version=listed["metadata"]["resourceVersion"]):
            node = event["object"]
            name = node["metadata"]["name"]
            if name in pool_of:
                cordoned[name] = bool(node.get("spec", {}).get("unschedulable"))
                for pool, members in pools.items():
                    peak[pool] = max(peak[pool], sum(cordoned.get(n, False) for n in members))

    watcher = asyncio.create_task(watch_cordons())
    finished: set[str] = set()

    async def play_daemons() -> None:
        """Each daemon asks for a drain, holds its node a moment once drained, then says Idle."""
        for node in pool_of:
            await request_drain(objects, node, "Drain_Required")
        while len(finished) < len(pool_of):
            for node in set(pool_of) - finished:
                if annotation(await node_state(objects, node, namespace), CURRENT) == "DrainComplete":
                    await asyncio.sleep(0.3)
                    await request_drain(objects, node, "Idle")
                    finished.add(node)
            await asyncio.sleep(0.1)

    try:
        async with drain_controller(control_plane, settings_for(namespace)):
            await asyncio.wait_for(play_daemons(), timeout=120)

            async def all_released() -> bool:
                states = [await node_state(objects, n, namespace) for n in pool_of]
                nodes = [await objects.get(NODES, n) for n in pool_of]
                return all(annotation(s, CURRENT) == "Idle" for s in states) and not any(
                    (n or {}).get("spec", {}).get("unschedulable") for n in nodes
                )

            await eventually(all_released, what="every node uncordoned and Idle")
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher

    assert dict(peak) == {"half": 2, "one": 1}, "each pool drains up to, and never past, its budget"
    left = await objects.list(PODS, namespace=apps)
    assert left["items"] == [], "every VF-using pod was evicted"


async def pdb_guarded_node(objects: KubeObjects, namespace: str, apps: str) -> str:
    """A node with a VF pod its PDB protects, a VF pod nothing protects, a pod without VFs, and the
    daemon's own NodeState condition (written with its field manager; ours must not clobber it)."""
    node = unique("pdb")
    await managed_nodes(objects, namespace, [node], {})
    await make_pod(objects, "web-1", apps, node, resources=VF, labels={"app": "web"})
    await make_pod(objects, "vf-free", apps, node, resources=VF)
    await make_pod(objects, "plain", apps, node, resources={"cpu": "100m"})
    pdb = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "web-pdb", "namespace": apps},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}},
    }
    await objects.create(POD_DISRUPTION_BUDGETS, pdb, namespace=apps)
    daemon_status = {
        "apiVersion": API_VERSION,
        "kind": "SriovNetworkNodeState",
        "metadata": {"name": node, "namespace": namespace},
        "status": {
            "conditions": [
                {
                    "type": "Ready",
                    "status": "False",
                    "reason": "WaitingForDrain",
                    "message": "",
                    "lastTransitionTime": "2026-01-01T00:00:00Z",
                }
            ]
        },
    }
    await objects.apply(
        SRIOV_NETWORK_NODE_STATES, daemon_status, "sriov-fdp-config-daemon", subresource="status"
    )

    return node


async def test_pdb_blocked_drain_hits_deadline_uncordons_and_says_why(
    control_plane: ControlPlane, objects: KubeObjects, make_namespace: NamespaceFactory
) -> None:
    namespace = await make_namespace(None)
    apps = await make_namespace(None)
    node = await pdb_guarded_node(objects, namespace, apps)
    before = {result: drains_ended(result) for result in ("blocked", "complete")}
    refused_before = evictions("blocked")
    was_cordoned = False
    settings = settings_for(namespace, deadline=2.0, retry_base=1.0, retry_max=2.0)
    async with drain_controller(control_plane, settings):
        await request_drain(objects, node, "Drain_Required")

        async def blocked() -> dict[str, Any] | None:
            nonlocal was_cordoned
            live = await objects.get(NODES, node)
            was_cordoned = was_cordoned or bool((live or {}).get("spec", {}).get("unschedulable"))
            state = await node_state(objects, node, namespace)
            draining = condition(state, "Draining")
            return state if draining and draining["reason"] == "DrainBlocked" else None

        state = await eventually(blocked, what="the Draining condition to say DrainBlocked")
        live = await objects.get(NODES, node)
        assert live is not None
        assert was_cordoned, "the node was cordoned while draining"
        assert not live["spec"].get("unschedulable"), "a drain that gave up leaves the node schedulable"
        assert "sriovnetwork.openshift.io/cordoned-by" not in (live["metadata"].get("annotations") or {})
        assert annotation(state, CURRENT) == "Idle"
        draining = condition(state, "Draining")
        assert draining is not None and draining["status"] == "False"
        assert (
            f"pod {apps}/web-1 cannot be evicted (PodDisruptionBudget {apps}/web-pdb" in draining["message"]
        )
        assert "node uncordoned" in draining["message"]
        ready = condition(state, "Ready")
        assert ready is not None and ready["reason"] == "WaitingForDrain", (
            "the daemon's condition is untouched"
        )
        warnings = await eventually(
            lambda: events_about(objects, node, "DrainBlocked"), what="DrainBlocked Event"
        )
        assert warnings[0]["type"] == "Warning"
        assert f"{apps}/web-1" in warnings[0]["note"] and f"{apps}/web-pdb" in warnings[0]["note"]

        # Drain_Required took only the pods using our devices, and the PDB kept web-1.
        names = {p["metadata"]["name"] for p in (await objects.list(PODS, namespace=apps))["items"]}
        assert names == {"web-1", "plain"}

        # Once the budget is gone, the retry (with backoff) completes the drain.
        await objects.delete(POD_DISRUPTION_BUDGETS, "web-pdb", apps)

        async def complete() -> bool:
            state = await node_state(objects, node, namespace)
            return annotation(state, CURRENT) == "DrainComplete"

        await eventually(complete, what="the retried drain to complete")
        live = await objects.get(NODES, node)
        assert live is not None and live["spec"].get("unschedulable"), (
            "a completed drain keeps the node cordoned"
        )
        names = {p["metadata"]["name"] for p in (await objects.list(PODS, namespace=apps))["items"]}
        assert names == {"plain"}
        done = await eventually(
            lambda: events_about(objects, node, "DrainComplete"), what="a DrainComplete Event"
        )
        assert f"(evicted {apps}/web-1)" in done[0]["note"]  # the pod it acted on, not "(1 eviction(s))"
        started = [e["note"] for e in await events_about(objects, node, "DrainStarted")]
        assert any(f"devices ({apps}/vf-free, {apps}/web-1);" in note for note in started), started
        assert "Drain_Required" not in done[0]["note"]
    assert drains_ended("blocked") >= before["blocked"] + 1
    assert drains_ended("complete") == before["complete"] + 1
    assert evictions("blocked") > refused_before


async def test_force_past_pdb_is_an_explicit_opt_in(
    control_plane: ControlPlane, objects: KubeObjects, make_namespace: NamespaceFactory
) -> None:
    namespace = await make_namespace(None)
    apps = await make_namespace(None)
    node = unique("force")
    await managed_nodes(objects, namespace, [node], {})
    await make_pod(objects, "guarded", apps, node, labels={"app": "db"})
    # A real DaemonSet owning the pod (the garbage collector deletes pods whose owner does not exist):
    # it runs on this node only, counts the pod as its own, and never replaces it (OnDelete).
    on_node = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}
    daemon_set = await objects.create(
        DAEMON_SETS,
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "ds", "namespace": apps},
            "spec": {
                "selector": {"matchLabels": {"app": "ds"}},
                "updateStrategy": {"type": "OnDelete"},
                "template": {
                    "metadata": {"labels": {"app": "ds"}},
                    "spec": {
                        "affinity": {
                            "nodeAffinity": {
                                "requiredDuringSchedulingIgnoredDuringExecution": {
                                    "nodeSelectorTerms": [on_node]
                                }
                            }
                        },
                        "containers": [{"name": "app", "image": "registry.test/app:v1"}],
                    },
                },
            },
        },
        namespace=apps,
    )
    await make_pod(objects, "daemon", apps, node, labels={"app": "ds"})
    await objects.patch(
        PODS,
        "daemon",
        {
            "metadata": {
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "DaemonSet",
                        "name": "ds",
                        "uid": daemon_set["metadata"]["uid"],
                        "controller": True,
                    }
                ]
            }
        },
        namespace=apps,
    )
    pdb = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "db", "namespace": apps},
        "spec": {"maxUnavailable": 0, "selector": {"matchLabels": {"app": "db"}}},
    }
    await objects.create(POD_DISRUPTION_BUDGETS, pdb, namespace=apps)
    async with drain_controller(control_plane, settings_for(namespace, deadline=1.0, force_past_pdb=True)):
        await request_drain(objects, node, "Reboot_Required")

        async def complete() -> bool:
            return annotation(await node_state(objects, node, namespace), CURRENT) == "DrainComplete"

        await eventually(complete, what="the forced drain to complete")
    names = {p["metadata"]["name"] for p in (await objects.list(PODS, namespace=apps))["items"]}
    assert names == {"daemon"}, "a reboot drain removes every pod but DaemonSet pods"
    forced = await events_about(objects, node, "DrainForced")
    assert forced and f"{apps}/guarded" in forced[0]["note"]


async def test_disable_drain_answers_at_once_without_cordoning(
    control_plane: ControlPlane, objects: KubeObjects, make_namespace: NamespaceFactory
) -> None:
    namespace = await make_namespace(None)
    apps = await make_namespace(None)
    node = unique("nodrain")
    await managed_nodes(objects, namespace, [node], {})
    await make_pod(objects, "vf", apps, node, resources=VF)
    config = {
        "apiVersion": API_VERSION,
        "kind": "SriovOperatorConfig",
        "metadata": {"name": "default", "namespace": namespace},
        "spec": {"disableDrain": True},
    }
    await objects.create(SRIOV_OPERATOR_CONFIGS, config, namespace=namespace)
    async with drain_controller(control_plane, settings_for(namespace)):
        await request_drain(objects, node, "Reboot_Required")

        async def complete() -> dict[str, Any] | None:
            state = await node_state(objects, node, namespace)
            return state if annotation(state, CURRENT) == "DrainComplete" else None

        state = await eventually(complete, what="DrainComplete")
        # the condition is written before the answer
        draining = condition(state, "Draining")
        assert draining is not None and draining["reason"] == "DrainDisabled"
        live = await objects.get(NODES, node)
        assert live is not None and not live["spec"].get("unschedulable")
        assert [p["metadata"]["name"] for p in (await objects.list(PODS, namespace=apps))["items"]] == ["vf"]


async def test_node_in_two_pools_is_reported_and_not_drained(
    control_plane: ControlPlane, objects: KubeObjects, make_namespace: NamespaceFactory
) -> None:
    namespace = await make_namespace(None)
    node = unique("two-pools")
    await managed_nodes(objects, namespace, [node], {"rack": "r1", "zone": "z1"})
    for name, labels in (("by-rack", {"rack": "r1"}), ("by-zone", {"zone": "z1"})):
        body = {
            "apiVersion": API_VERSION,
            "kind": "SriovNetworkPoolConfig",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"nodeSelector": {"matchLabels": labels}, "maxUnavailable": 1},
        }
        await objects.create(SRIOV_NETWORK_POOL_CONFIGS, body, namespace=namespace)
    async with drain_controller(control_plane, settings_for(namespace)):
        await request_drain(objects, node, "Drain_Required")

        async def reported() -> dict[str, Any] | None:
            draining = condition(await node_state(objects, node, namespace), "Draining")
            return draining if draining and draining["reason"] == "PoolConflict" else None

        draining = await eventually(reported, what="the PoolConflict condition")
        assert "SriovNetworkPoolConfigs by-rack, by-zone" in draining["message"]
        warnings = await eventually(lambda: events_about(objects, node, "DrainPoolConflict"), what="an Event")
        assert warnings[0]["type"] == "Warning"
        live = await objects.get(NODES, node)
        assert live is not None and not live["spec"].get("unschedulable")


async def test_a_restarted_operator_continues_the_drain_with_its_deadline(
    control_plane: ControlPlane, objects: KubeObjects, make_namespace: NamespaceFactory
) -> None:
    namespace = await make_namespace(None)
    apps = await make_namespace(None)
    node = await pdb_guarded_node(objects, namespace, apps)
    settings = settings_for(namespace, deadline=4.0)
    async with drain_controller(control_plane, settings):
        await request_drain(objects, node, "Drain_Required")

        async def draining() -> bool:
            """Cordoned, Draining, and the condition already names the pod in the way."""
            live = await objects.get(NODES, node)
            state = await node_state(objects, node, namespace)
            cordoned = bool((live or {}).get("spec", {}).get("unschedulable"))
            found = condition(state, "Draining")
            names_pod = found is not None and f"{apps}/web-1" in found["message"]
            return cordoned and annotation(state, CURRENT) == "Draining" and names_pod

        await eventually(draining, what="a cordoned, Draining node")
    # Stopped mid-drain: the node stays cordoned, and says why.
    live = await objects.get(NODES, node)
    assert live is not None and live["spec"].get("unschedulable")
    state = await node_state(objects, node, namespace)
    draining_condition = condition(state, "Draining")
    assert draining_condition is not None and draining_condition["status"] == "True"
    assert f"{apps}/web-1" in draining_condition["message"]

    async with drain_controller(control_plane, settings):

        async def blocked() -> dict[str, Any] | None:
            state = await node_state(objects, node, namespace)
            found = condition(state, "Draining")
            return found if found and found["reason"] == "DrainBlocked" else None

        gave_up = await eventually(blocked, what="the same drain to give up at its deadline")
        assert "node uncordoned" in gave_up["message"]
        blocked_events = await eventually(
            lambda: events_about(objects, node, "DrainBlocked"), what="its Event"
        )
    started_events = await events_about(objects, node, "DrainStarted")
    assert len(blocked_events) == 1
    assert len(started_events) == 1, "the restarted operator continued the drain instead of starting another"
