"""The sandbox's kubelet stand-in on the real API server: pods going away from its nodes end.

Without a kubelet, a pod evicted from a node stays terminating for ever (the API server
waits for the node to confirm), so a drain in the sandbox never finished. Here the
stand-in ends such pods once their grace period is over, leaves a pod re-created under the
same name alone, and, in a whole sandbox, lets a drain that evicts the example pod finish.
"""

from __future__ import annotations

import asyncio
import signal
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sriov_operator.kube.objects import KubeObjects
from sriov_operator.kube.resources import NODES, PODS, SRIOV_NETWORK_NODE_STATES
from sriov_operator.kube.session import api_session
from sriov_operator.sandbox.examples import POD_NAME, WORKLOAD_NAMESPACE
from sriov_operator.sandbox.hosts import DPDK_PORT
from sriov_operator.sandbox.kubelet import termination
from sriov_operator.sandbox.kubelet_stand_in import KubeletStandIn
from tests.doc_runner import output_matches, run_console
from tests.docs_examples import example
from tests.integration.conftest import NamespaceFactory
from tests.integration.daemon_harness import driver_of, synced
from tests.integration.operator_harness import ensure_default_service_account
from tests.integration.sandbox_support import running_sandbox
from tests.waiting import eventually

pytestmark = pytest.mark.integration

OPERATOR_NAMESPACE = "sriov-network-operator"
APP = "app"


async def bound_pod(objects: KubeObjects, namespace: str, node: str, grace: int) -> dict[str, Any]:
    """A user's pod bound to ``node`` (as kube-scheduler binds one); nothing runs it: it stays Pending."""
    await ensure_default_service_account(objects, namespace)
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": APP, "namespace": namespace},
        "spec": {
            "nodeName": node,
            "terminationGracePeriodSeconds": grace,
            "containers": [{"name": APP, "image": "registry.test/app:v1"}],
        },
    }
    return await objects.create(PODS, body, namespace)


async def deleted_gracefully(objects: KubeObjects, namespace: str) -> dict[str, Any]:
    """Delete the pod as a user or a drain does; it stays, marked, waiting for its node's kubelet."""
    await objects.delete(PODS, APP, namespace)
    going = await objects.get(PODS, APP, namespace)
    assert going is not None and going["metadata"].get("deletionTimestamp"), going
    return going


async def record_pod(
    objects: KubeObjects, namespace: str, name: str, since: str, into: list[tuple[str, str, bool]]
) -> None:
    """(event type, phase, marked for deletion) of the pod each time that changes, until it is deleted."""
    async for event in objects.watch(
        PODS, namespace, field_selector=f"metadata.name={name}", resource_version=since, timeout_seconds=900
    ):
        if event["type"] in ("ADDED", "MODIFIED", "DELETED"):
            pod = event["object"]
            marked = bool(pod["metadata"].get("deletionTimestamp"))
            seen = (event["type"], (pod.get("status") or {}).get("phase", ""), marked)
            if not into or into[-1] != seen:
                into.append(seen)
        if event["type"] == "DELETED":
            return


async def test_a_deleted_pod_is_reported_failed_then_deleted_once_its_grace_period_is_over(
    objects: KubeObjects, make_namespace: NamespaceFactory
) -> None:
    namespace = await make_namespace(None)
    node = f"worker-{namespace}"
    await bound_pod(objects, namespace, node, grace=20)
    going = await deleted_gracefully(objects, namespace)
    assert going["metadata"]["deletionGracePeriodSeconds"] == 20
    due = datetime.fromisoformat(going["metadata"]["deletionTimestamp"])
    said: list[str] = []
    stand_in = KubeletStandIn(objects, namespace, [node], said.append)
    seen: list[tuple[str, str, bool]] = []
    watch = asyncio.create_task(
        record_pod(objects, namespace, APP, going["metadata"]["resourceVersion"], seen)
    )
    try:
        await stand_in.tick(due - timedelta(seconds=1))  # the clock the sandbox ticks with, a second early
        assert await objects.get(PODS, APP, namespace) is not None, "ended before its grace period was over"
        assert said == [
            f"kubelet stand-in: Pod {namespace}/{APP} on {node} is going away: it is stopped at the end of "
            "its 20s grace period"
        ]
        await stand_in.tick(due)
        await asyncio.wait_for(watch, timeout=60)
    finally:
        watch.cancel()
    assert await objects.get(PODS, APP, namespace) is None
    assert seen == [("MODIFIED", "Failed", True), ("DELETED", "Failed", True)], seen
    assert said[1:] == [
        f"kubelet stand-in: Pod {namespace}/{APP} on {node}: its 20s grace period is over; "
        "stopped (phase Failed) and deleted"
    ]


async def test_a_pod_re_created_under_the_same_name_is_left_alone(
    objects: KubeObjects, make_namespace: NamespaceFactory
) -> None:
    """The stand-in decided on the pod it listed; by the time it writes, that pod was force-deleted and a
    new one made under its name. Neither the final status nor the deletion may touch the new pod."""
    namespace = await make_namespace(None)
    node = f"worker-{namespace}"
    await bound_pod(objects, namespace, node, grace=30)
    ending = termination(await deleted_gracefully(objects, namespace), [node])
    assert ending is not None and ending.stopped is not None
    await objects.delete(PODS, APP, namespace, grace_period_seconds=0)  # kubectl delete --force
    fresh = await bound_pod(objects, namespace, node, grace=30)
    said: list[str] = []
    stand_in = KubeletStandIn(objects, namespace, [node], said.append)
    for stale in (ending, replace(ending, stopped=None)):  # status and deletion, then the deletion alone
        assert await stand_in.end(stale, ending.due) is False
    now = await objects.get(PODS, APP, namespace)
    assert now is not None
    assert now["metadata"]["uid"] == fresh["metadata"]["uid"] != ending.uid
    assert "deletionTimestamp" not in now["metadata"]
    assert now["status"]["phase"] == "Pending"
    assert said == []


def is_cordoned(node: dict[str, Any]) -> bool:
    return bool((node.get("spec") or {}).get("unschedulable"))


async def record_cordon(objects: KubeObjects, name: str, since: str, into: list[bool]) -> None:
    """Whether the Node is cordoned, each time that changes."""
    selector = f"metadata.name={name}"
    watched = objects.watch(NODES, field_selector=selector, resource_version=since, timeout_seconds=900)
    async for event in watched:
        if event["type"] == "MODIFIED" and (cordoned := is_cordoned(event["object"])) != into[-1]:
            into.append(cordoned)


async def test_a_drain_in_the_sandbox_ends_the_evicted_example_pod_and_the_node_converges(
    tmp_path: Path,
) -> None:
    """docs/quickstart.md's drain: deleting dpdk1 drains the example pod's node; it used to wait for ever."""
    kubeconfig, workdir = tmp_path / "kubeconfig", tmp_path / "sandbox"
    argv = ["--workers", "1", "--apply-examples", "--kubeconfig", str(kubeconfig), "--workdir", str(workdir)]
    with running_sandbox(*argv) as (process, lines):
        async with api_session(kubeconfig) as session:
            objects = KubeObjects(session)
            pod = await objects.get(PODS, POD_NAME, WORKLOAD_NAMESPACE)
            assert pod is not None and pod["spec"]["nodeName"] == "worker-0", pod
            node = await objects.get(NODES, "worker-0")
            assert node is not None and not is_cordoned(node)
            pod_seen: list[tuple[str, str, bool]] = []
            cordoned = [False]
            watches = [
                asyncio.create_task(
                    record_pod(
                        objects, WORKLOAD_NAMESPACE, POD_NAME, pod["metadata"]["resourceVersion"], pod_seen
                    )
                ),
                asyncio.create_task(
                    record_cordon(objects, "worker-0", node["metadata"]["resourceVersion"], cordoned)
                ),
            ]
            try:
                await asyncio.to_thread(
                    run_console, example("quickstart-drain"), tmp_path, env={"KUBECONFIG": str(kubeconfig)}
                )

                async def drained_and_synced() -> dict[str, Any] | None:
                    state = await objects.get(SRIOV_NETWORK_NODE_STATES, "worker-0", OPERATOR_NAMESPACE)
                    interfaces = ((state or {}).get("spec") or {}).get("interfaces") or []
                    if state is None or any(i["pciAddress"] == DPDK_PORT for i in interfaces):
                        return None  # the operator has not taken dpdk1 out of the spec yet
                    kube_node = await objects.get(NODES, "worker-0")
                    if kube_node is None or is_cordoned(kube_node):
                        return None
                    if await objects.get(PODS, POD_NAME, WORKLOAD_NAMESPACE) is not None:
                        return None
                    generation = state["metadata"]["generation"]
                    return await synced(objects, OPERATOR_NAMESPACE, "worker-0", generation)

                await eventually(
                    drained_and_synced,
                    "dpdk-app gone, worker-0 uncordoned, its NodeState Succeeded for the spec without dpdk1",
                    300,
                    details=lambda: f"pod: {pod_seen}; cordoned: {cordoned}",
                )
                await asyncio.wait_for(watches[0], timeout=30)  # it ends with the pod's DELETED event
                await eventually(
                    lambda: True in cordoned and cordoned[-1] is False, "the Node's watch to see the uncordon"
                )
            finally:
                for watch in watches:
                    watch.cancel()
            assert driver_of(workdir / "hosts" / "worker-0", DPDK_PORT) == "virtio-pci"
            assert cordoned == [False, True, False], cordoned  # the drain cordoned it, then let it go
            assert ("MODIFIED", "Pending", True) in pod_seen, pod_seen  # evicted: marked, waiting
            assert pod_seen[-2:] == [("MODIFIED", "Failed", True), ("DELETED", "Failed", True)], pod_seen
        process.send_signal(signal.SIGTERM)
        assert process.stdout is not None
        rest = process.stdout.read()
        assert process.wait(timeout=120) == 0
    printed = "".join(lines) + rest
    documented = example("quickstart-drain-output").text
    shown = "…\n" + "".join(f"[…] {line.split('] ', 1)[1]}\n…\n" for line in documented.splitlines())
    assert output_matches(shown, printed), f"printed:\n{printed}\ndocumented:\n{documented}"
