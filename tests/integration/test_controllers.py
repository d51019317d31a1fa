"""The test control plane runs the real kube-controller-manager and kube-scheduler.

What a cluster does on its own, and what the install lifecycle and the sandbox rely on:
ownerReferences are garbage-collected, a deleted namespace is emptied, every namespace
gets its ``default`` ServiceAccount, DaemonSets and Deployments get pods, and the
scheduler binds a pod to the node that offers the extended resource it asks for.
There is no kubelet: pods are bound, never run.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from sriov_operator.kube.objects import KubeObjects
from sriov_operator.kube.resources import (
    CONFIG_MAPS,
    DAEMON_SETS,
    DEPLOYMENTS,
    NAMESPACES,
    NODES,
    PODS,
    SERVICE_ACCOUNTS,
)
from tests.integration.conftest import NamespaceFactory
from tests.integration.operator_support import eventually

pytestmark = pytest.mark.integration

Object = dict[str, Any]
RESOURCE = "example.com/dpdk1"
TAINT_KEY = "sriov-test/controllers"  # keeps other tests' pods off these nodes


def _node(name: str, labels: dict[str, str]) -> Object:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **labels}},
        "spec": {"taints": [{"key": TAINT_KEY, "value": "only", "effect": "NoSchedule"}]},
    }


async def _make_node(objects: KubeObjects, name: str, labels: dict[str, str], extra: dict[str, str]) -> None:
    """A Node and the status a kubelet (and a device plugin, for ``extra``) would report."""
    await objects.create(NODES, _node(name, labels))
    capacity = {"cpu": "8", "memory": "16Gi", "pods": "110", **extra}
    status = {
        "capacity": capacity,
        "allocatable": capacity,
        "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "test"}],
    }
    await objects.patch(NODES, name, {"status": status}, subresource="status")


TOLERATE = [{"key": TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}]


def _container(resources: dict[str, str] | None = None) -> Object:
    container: Object = {"name": "app", "image": "registry.test/app:v1"}
    if resources:
        container["resources"] = {"requests": resources, "limits": resources}
    return container


async def test_every_namespace_gets_its_default_service_account(
    objects: KubeObjects, make_namespace: NamespaceFactory
) -> None:
    namespace = await make_namespace(None)
    await eventually(
        lambda: objects.get(SERVICE_ACCOUNTS, "default", namespace), what="the default ServiceAccount"
    )


async def test_deleting_an_owner_garbage_collects_what_it_owns(
    objects: KubeObjects, make_namespace: NamespaceFactory
) -> None:
    namespace = await make_namespace(None)
    owner = await objects.create(
        CONFIG_MAPS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owner"}}, namespace
    )
    reference = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner["metadata"]["uid"]}
    owned = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "owned", "ownerReferences": [reference]},
    }
    await objects.create(CONFIG_MAPS, owned, namespace)
    await objects.create(
        CONFIG_MAPS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "free"}}, namespace
    )

    await objects.delete(CONFIG_MAPS, "owner", namespace)

    async def owned_gone() -> bool:
        return await objects.get(CONFIG_MAPS, "owned", namespace) is None

    await eventually(owned_gone, what="the garbage collector to delete the owned ConfigMap")
    assert await objects.get(CONFIG_MAPS, "free", namespace) is not None


async def test_a_deleted_namespace_is_emptied_and_removed(
    objects: KubeObjects, make_namespace: NamespaceFactory
) -> None:
    namespace = await make_namespace(None)
    await objects.create(
        CONFIG_MAPS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}, namespace
    )
    await objects.delete(NAMESPACES, namespace)

    async def gone() -> bool:
        return await objects.get(NAMESPACES, namespace) is None

    await eventually(gone, what=f"namespace {namespace} to be finalized", timeout=60)


async def test_daemon_set_and_deployment_pods_are_made_and_scheduled_where_the_resource_is(
    objects: KubeObjects, make_namespace: NamespaceFactory
) -> None:
    namespace = await make_namespace(None)
    suffix = uuid.uuid4().hex[:6]
    plain, offering = f"plain-{suffix}", f"dpdk-{suffix}"
    label = {"sriov-test/controllers": suffix}
    await _make_node(objects, plain, label, {})
    await _make_node(objects, offering, label, {RESOURCE: "4"})
    try:
        await eventually(
            lambda: objects.get(SERVICE_ACCOUNTS, "default", namespace), what="the default ServiceAccount"
        )
        selector = {"matchLabels": {"app": "x"}}
        pod_spec = {"nodeSelector": label, "tolerations": TOLERATE, "containers": [_container()]}
        daemon_set = {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "per-node", "namespace": namespace},
            "spec": {
                "selector": selector,
                "template": {"metadata": {"labels": {"app": "x"}}, "spec": pod_spec},
            },
        }
        await objects.apply(DAEMON_SETS, daemon_set, "test")
        wants_vf = {**pod_spec, "containers": [_container({RESOURCE: "1"})]}
        deployment = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "needs-a-vf", "namespace": namespace},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "vf"}},
                "template": {"metadata": {"labels": {"app": "vf"}}, "spec": wants_vf},
            },
        }
        await objects.apply(DEPLOYMENTS, deployment, "test")

        async def placements() -> dict[str, set[str]]:
            pods = (await objects.list(PODS, namespace))["items"]
            out: dict[str, set[str]] = {}
            for pod in pods:
                node = pod["spec"].get("nodeName")
                if node:
                    out.setdefault(pod["metadata"]["labels"]["app"], set()).add(node)
            return out

        async def placed() -> dict[str, set[str]] | None:
            found = await placements()
            return found if found.get("x") == {plain, offering} and found.get("vf") else None

        found = await eventually(placed, what="DaemonSet pods on both nodes and the Deployment's pod bound")
        assert found["vf"] == {offering}, "the scheduler bound the pod to the node offering the resource"
        pod = next(
            p
            for p in (await objects.list(PODS, namespace))["items"]
            if p["metadata"]["labels"]["app"] == "vf"
        )
        assert pod["status"]["phase"] == "Pending", "no kubelet: a bound pod never runs"
    finally:
        for node in (plain, offering):
            await objects.delete(NODES, node)
