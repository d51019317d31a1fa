"""The informer on a real API server: list+watch, selectors, paging, restarts and 410 relists."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio

from sriov_operator.controlplane.process import ControlPlane
from sriov_operator.kube.objects import KubeObjects
from sriov_operator.kube.resources import CONFIG_MAPS, SRIOV_NETWORK_NODE_STATES, Resource
from sriov_operator.runtime.decoding import NODE_STATE_DECODER
from sriov_operator.runtime.informer import EventKind, Informer
from sriov_operator.runtime.transforms import slim_node_state
from tests.integration.conftest import NamespaceFactory
from tests.kube_client import api_client, kube_objects
from tests.waiting import eventually

Events = list[tuple[EventKind, str | None]]


def config_map(name: str, namespace: str, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "data": {"v": "0"},
    }


def recorded(informer: Informer) -> Events:
    events: Events = []

    def handler(kind: EventKind, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        obj = new if new is not None else old
        events.append((kind, obj["metadata"]["name"] if obj else None))

    informer.add_handler(handler)
    return events


@contextlib.asynccontextmanager
async def running(informer: Informer) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(informer.run())
    try:
        await asyncio.wait_for(informer.wait_synced(), 30)
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def fresh_list(objects: KubeObjects, resource: Resource, namespace: str) -> dict[str, str]:
    """name -> resourceVersion, straight from the API server."""
    items = (await objects.list(resource, namespace))["items"]
    return {item["metadata"]["name"]: item["metadata"]["resourceVersion"] for item in items}


def cached(informer: Informer) -> dict[str, str]:
    return {obj["metadata"]["name"]: obj["metadata"]["resourceVersion"] for obj in informer.list()}


async def test_lists_in_pages_then_follows_changes_within_its_selector(
    objects: KubeObjects, make_namespace: NamespaceFactory
) -> None:
    namespace = await make_namespace(None)
    for index in range(5):
        await objects.create(CONFIG_MAPS, config_map(f"mine-{index}", namespace, app="mine"))
    await objects.create(CONFIG_MAPS, config_map("other", namespace, app="other"))
    informer = Informer(objects, CONFIG_MAPS, namespace=namespace, label_selector="app=mine", page_size=2)
    events = recorded(informer)
    async with running(informer):
        names = [name for _, name in informer.keys()]  # noqa: SIM118 - keys() is the API under test
        assert sorted(names) == [f"mine-{i}" for i in range(5)]
        assert events[-1] == ("relisted", None)
        assert informer.get("mine-0") is not None  # namespace defaults to the informer's
        events.clear()

        await objects.patch(CONFIG_MAPS, "mine-1", {"data": {"v": "1"}}, namespace)
        await objects.delete(CONFIG_MAPS, "mine-2", namespace)
        await objects.create(CONFIG_MAPS, config_map("mine-new", namespace, app="mine"))
        await objects.patch(CONFIG_MAPS, "other", {"data": {"v": "1"}}, namespace)
        await eventually(lambda: ("added", "mine-new") in events, what="the new ConfigMap")

        assert events == [("modified", "mine-1"), ("deleted", "mine-2"), ("added", "mine-new")]
        mine_1 = informer.get("mine-1", namespace)
        assert mine_1 is not None
        assert mine_1["data"] == {"v": "1"}
        assert mine_1["kind"] == "ConfigMap"  # named even though list items come without a kind
        assert informer.get("other") is None
        assert cached(informer) == {
            name: version
            for name, version in (await fresh_list(objects, CONFIG_MAPS, namespace)).items()
            if name.startswith("mine")  # not "other", nor the controller manager's kube-root-ca.crt
        }


async def test_field_selector_watches_exactly_one_node_state(
    objects: KubeObjects, make_namespace: NamespaceFactory
) -> None:
    namespace = await make_namespace(None)
    for node in ("worker-0", "worker-1"):
        await objects.create(
            SRIOV_NETWORK_NODE_STATES,
            {
                "apiVersion": SRIOV_NETWORK_NODE_STATES.api_version,
                "kind": "SriovNetworkNodeState",
                "metadata": {"name": node, "namespace": namespace},
                "spec": {},
            },
        )
    informer = Informer(
        objects, SRIOV_NETWORK_NODE_STATES, namespace=namespace, field_selector="metadata.name=worker-1"
    )
    events = recorded(informer)
    async with running(informer):
        assert informer.keys() == [(namespace, "worker-1")]
        await objects.patch(
            SRIOV_NETWORK_NODE_STATES, "worker-0", {"metadata": {"labels": {"x": "y"}}}, namespace
        )
        await objects.patch(
            SRIOV_NETWORK_NODE_STATES, "worker-1", {"metadata": {"labels": {"x": "y"}}}, namespace
        )
        await eventually(lambda: ("modified", "worker-1") in events, what="worker-1's change")
        assert ("modified", "worker-0") not in events


def discovered(name: str, namespace: str, mtu: int) -> dict[str, Any]:
    """A NodeState status the way a config daemon reports it: a PF with every VF listed."""
    vfs = [{"pciAddress": f"0000:3b:02.{i}", "vfID": i, "driver": "iavf", "mtu": mtu} for i in range(8)]
    pf = {"name": "ens1f0", "pciAddress": "0000:3b:00.0", "vendor": "8086", "deviceID": "158b"}
    return {
        "apiVersion": SRIOV_NETWORK_NODE_STATES.api_version,
        "kind": "SriovNetworkNodeState",
        "metadata": {"name": name, "namespace": namespace},
        "status": {"interfaces": [{**pf, "mtu": mtu, "totalvfs": 64, "Vfs": vfs}], "syncStatus": "Succeeded"},
    }


async def test_a_partial_decoder_caches_what_the_transform_keeps_through_pages_and_watch(
    objects: KubeObjects, make_namespace: NamespaceFactory
) -> None:
    """The operator's NodeState cache with the partial decoder (no VFs decoded) equals the full decode
    made slim, after a paged list and after a status change seen through the watch."""
    namespace = await make_namespace(None)
    names = ["worker-0", "worker-1", "worker-2"]
    for name in names:
        await objects.create(SRIOV_NETWORK_NODE_STATES, {**discovered(name, namespace, 1500), "status": {}})
        await objects.apply(
            SRIOV_NETWORK_NODE_STATES, discovered(name, namespace, 1500), "daemon", subresource="status"
        )

    async def slim_from_server() -> dict[str, dict[str, Any]]:
        items = (await objects.list(SRIOV_NETWORK_NODE_STATES, namespace))["items"]
        return {item["metadata"]["name"]: slim_node_state(item) for item in items}

    informer = Informer(
        objects,
        SRIOV_NETWORK_NODE_STATES,
        namespace=namespace,
        transform=slim_node_state,
        decoder=NODE_STATE_DECODER,
        page_size=2,
    )
    async with running(informer):
        expected = await slim_from_server()
        assert {obj["metadata"]["name"]: obj for obj in informer.list()} == expected
        assert expected["worker-0"]["status"]["interfaces"][0]["totalvfs"] == 64
        await objects.apply(
            SRIOV_NETWORK_NODE_STATES, discovered("worker-1", namespace, 9000), "daemon", subresource="status"
        )
        await eventually(
            lambda: (informer.get("worker-1") or {})["status"]["interfaces"][0]["mtu"] == 9000,
            what="the status change through the watch",
        )
        assert {obj["metadata"]["name"]: obj for obj in informer.list()} == await slim_from_server()


async def _watched_config_maps(
    objects: KubeObjects, namespace: str, test: str, count: int
) -> tuple[Informer, Events]:
    """``count`` ConfigMaps ``<test>-<i>`` labelled test=<test>, and an informer (not started) over just
    them, its events recorded."""
    for index in range(count):
        await objects.create(CONFIG_MAPS, config_map(f"{test}-{index}", namespace, test=test))
    informer = Informer(objects, CONFIG_MAPS, namespace=namespace, label_selector=f"test={test}")
    return informer, recorded(informer)


async def _modify_delete_add(objects: KubeObjects, namespace: str, test: str) -> None:
    """One change of each kind to `_watched_config_maps`: ``<test>-0`` modified, -1 deleted, -new added."""
    await objects.patch(CONFIG_MAPS, f"{test}-0", {"data": {"v": "changed"}}, namespace)
    await objects.delete(CONFIG_MAPS, f"{test}-1", namespace)
    await objects.create(CONFIG_MAPS, config_map(f"{test}-new", namespace, test=test))


@pytest_asyncio.fixture(loop_scope="session")
async def isolated_objects(restartable_plane: ControlPlane) -> AsyncIterator[KubeObjects]:
    async with api_client(restartable_plane.kubeconfig) as api:
        yield kube_objects(api)


async def test_cache_catches_up_after_the_apiserver_restarts_underneath_it(
    restartable_plane: ControlPlane, isolated_objects: KubeObjects
) -> None:
    objects, namespace = isolated_objects, "default"
    informer, events = await _watched_config_maps(objects, namespace, "restart", 3)
    async with running(informer):
        await asyncio.to_thread(restartable_plane.restart_apiserver)
        # Written while the informer's watch is broken and it backs off.
        await _modify_delete_add(objects, namespace, "restart")
        expected = await fresh_list(objects, CONFIG_MAPS, namespace)
        expected = {name: version for name, version in expected.items() if name.startswith("restart-")}
        await eventually(lambda: cached(informer) == expected, what="the cache to equal a fresh list")
        assert informer.relists == 1, "resumed from its resourceVersion, without listing again"
        assert ("deleted", "restart-1") in events
        assert ("added", "restart-new") in events


async def test_after_a_forced_410_the_relisted_cache_equals_a_fresh_list(
    restartable_plane: ControlPlane, isolated_objects: KubeObjects
) -> None:
    objects, namespace = isolated_objects, "default"
    informer, events = await _watched_config_maps(objects, namespace, "gone", 4)
    async with running(informer):
        pass  # synced; now stopped, holding its cache and resourceVersion
    stale_version = informer.resource_version
    await _modify_delete_add(objects, namespace, "gone")
    await asyncio.to_thread(restartable_plane.compact_etcd)
    events.clear()

    async with running(informer):  # resumes from the compacted version: 410, then a full relist
        await eventually(lambda: informer.relists == 2, what="the relist after 410 Gone")
        expected = await fresh_list(objects, CONFIG_MAPS, namespace)
        assert cached(informer) == {n: v for n, v in expected.items() if n.startswith("gone-")}
        assert informer.resource_version != stale_version
        expected_events = [("modified", "gone-0"), ("deleted", "gone-1"), ("added", "gone-new")]
        assert sorted(events, key=str) == sorted([*expected_events, ("relisted", None)], key=str)
