"""Run operator controllers on the real API server inside a test, and play the parts that do not run.

The test API server runs the controllers and the scheduler but no kubelet: tests create Pods
with ``spec.nodeName`` set (and ``terminationGracePeriodSeconds: 0`` so an
eviction deletes them at once), write the statuses controllers would write, and
play the config daemon by writing its Node annotation.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from sriov_operator.api.constants import API_VERSION, FIELD_MANAGER
from sriov_operator.kube.errors import ConflictError
from sriov_operator.kube.objects import KubeObjects
from sriov_operator.kube.resources import (
    DAEMON_SETS,
    DEPLOYMENTS,
    NODES,
    PODS,
    SERVICE_ACCOUNTS,
    SRIOV_NETWORK_NODE_STATES,
)
from sriov_operator.runtime.manager import Manager
from sriov_operator.runtime.settings import RuntimeSettings

Object = dict[str, Any]
MANAGED = f"app.kubernetes.io/managed-by={FIELD_MANAGER}"  # the operator's workloads (render.py)


@contextlib.asynccontextmanager
async def running(
    kubeconfig: Path, namespace: str, register: Callable[[Manager], object]
) -> AsyncIterator[Manager]:
    """A Manager with the controllers ``register`` adds, running until the block ends."""
    settings = RuntimeSettings(kubeconfig=kubeconfig, namespace=namespace, health_port=-1, leader_elect=False)
    async with Manager(settings) as manager:
        register(manager)
        task = asyncio.create_task(manager.run())
        try:
            yield manager
        finally:
            manager.stop()
            await asyncio.wait_for(task, timeout=30)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


async def make_node(objects: KubeObjects, name: str, labels: dict[str, str] | None = None) -> Object:
    return await objects.create(
        NODES, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels or {}}}
    )


async def make_node_state(objects: KubeObjects, name: str, namespace: str) -> Object:
    body = {
        "apiVersion": API_VERSION,
        "kind": "SriovNetworkNodeState",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {},
    }
    return await objects.create(SRIOV_NETWORK_NODE_STATES, body, namespace=namespace)


async def make_pod(
    objects: KubeObjects,
    name: str,
    namespace: str,
    node: str,
    *,
    resources: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
) -> Object:
    container: Object = {"name": "app", "image": "registry.test/app:v1"}
    if resources:
        container["resources"] = {"limits": resources, "requests": resources}
    await ensure_default_service_account(objects, namespace)
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
        "spec": {"nodeName": node, "terminationGracePeriodSeconds": 0, "containers": [container]},
    }
    await objects.create(PODS, body, namespace=namespace)
    # What the kubelet would report: a Pending pod is evictable whatever its PodDisruptionBudget says.
    status = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
    return await objects.patch(PODS, name, {"status": status}, namespace=namespace, subresource="status")


async def ensure_default_service_account(objects: KubeObjects, namespace: str) -> None:
    """Pods need the namespace's ``default`` ServiceAccount; the ServiceAccount controller makes it, but
    a test that creates a pod right after its namespace may be there first."""
    if await objects.get(SERVICE_ACCOUNTS, "default", namespace) is None:
        body = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}}
        with contextlib.suppress(ConflictError):
            await objects.create(SERVICE_ACCOUNTS, body, namespace=namespace)


async def request_drain(objects: KubeObjects, node: str, request: str) -> None:
    """What the config daemon does: its Node's ``sriovnetwork.openshift.io/state`` annotation."""
    patch = {"metadata": {"annotations": {"sriovnetwork.openshift.io/state": request}}}
    await objects.patch(NODES, node, patch)


def annotation(obj: Object | None, key: str) -> str | None:
    if obj is None:
        return None
    return (obj["metadata"].get("annotations") or {}).get(key)


def condition(obj: Object | None, type_: str) -> Object | None:
    for item in ((obj or {}).get("status") or {}).get("conditions") or []:
        if item["type"] == type_:
            return dict(item)
    return None


async def play_rollouts(objects: KubeObjects, namespace: str, selector: str = MANAGED) -> None:
    """The kubelet's part: the pods the (real) DaemonSet and Deployment controllers made for the
    workloads labelled ``selector`` (default: the operator's) are reported Running and Ready, again
    whenever the scheduler rewrites a status, until those controllers count every pod available."""
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    ready = [{"type": "Ready", "status": "True", "lastTransitionTime": now}]
    running = {"phase": "Running", "conditions": ready}
    deadline = asyncio.get_running_loop().time() + 30
    while not await _rolled_out(objects, namespace, selector):
        for pod in (await objects.list(PODS, namespace, label_selector=selector))["items"]:
            if (pod.get("status") or {}).get("phase") != "Running":
                name = pod["metadata"]["name"]
                await objects.patch(
                    PODS, name, {"status": running}, namespace=namespace, subresource="status"
                )
        assert asyncio.get_running_loop().time() < deadline, f"{selector}: not every pod counted available"
        await asyncio.sleep(0.1)


async def _rolled_out(objects: KubeObjects, namespace: str, selector: str) -> bool:
    """What the Deployment and DaemonSet controllers report: every wanted pod available."""
    found = False
    for resource in (DEPLOYMENTS, DAEMON_SETS):
        for item in (await objects.list(resource, namespace, label_selector=selector))["items"]:
            found = True
            status = item.get("status") or {}
            if (status.get("observedGeneration") or 0) < item["metadata"]["generation"]:
                return False
            if resource is DEPLOYMENTS:
                wanted, available = item["spec"].get("replicas", 1), status.get("availableReplicas", 0)
            else:
                wanted, available = status.get("desiredNumberScheduled", 0), status.get("numberAvailable", 0)
            if available < wanted:
                return False
    return found
