"""Policy status counts only nodes where the policy configures a device, or says why not (issue 22, item 1).

The operator runs in-process against the real API server; the NodeStates' status and annotations are
written the way the config daemon writes them.
"""

from __future__ import annotations

import json

import pytest

from sriov_operator.controlplane.process import ControlPlane
from sriov_operator.kube.objects import KubeObjects
from sriov_operator.kube.resources import EVENTS, SRIOV_NETWORK_NODE_POLICIES, SRIOV_NETWORK_NODE_STATES
from tests.integration.conftest import NamespaceFactory
from tests.integration.operator_support import (
    BAREMETAL_PF,
    TEST_MANAGER,
    add_selected_nodes,
    eventually,
    namespaced_policy,
    operator_settings,
    report_status,
    report_succeeded,
    running_operator,
)

pytestmark = pytest.mark.integration


async def _ready(objects: KubeObjects, name: str, namespace: str) -> tuple[str, str, int, int] | None:
    """(reason, message, matchedNodes, readyNodes) of a policy's Ready condition."""
    obj = await objects.get(SRIOV_NETWORK_NODE_POLICIES, name, namespace)
    status = (obj or {}).get("status") or {}
    ready = next((c for c in status.get("conditions") or [] if c["type"] == "Ready"), None)
    if ready is None:
        return None
    return ready["reason"], ready["message"], status.get("matchedNodes", 0), status.get("readyNodes", 0)


async def _notes(objects: KubeObjects, namespace: str, policy_name: str, reason: str) -> list[str]:
    listed = await objects.list(EVENTS, namespace)
    return [
        str(e.get("note"))
        for e in listed["items"]
        if (e.get("regarding") or {}).get("name") == policy_name and e.get("reason") == reason
    ]


async def _spec_written(objects: KubeObjects, node: str, namespace: str) -> bool:
    state = await objects.get(SRIOV_NETWORK_NODE_STATES, node, namespace)
    return bool(((state or {}).get("spec") or {}).get("interfaces"))


async def test_a_policy_selecting_no_device_is_not_ready_and_says_so_once(
    control_plane: ControlPlane, objects: KubeObjects, make_namespace: NamespaceFactory
) -> None:
    namespace = await make_namespace(None)
    nodes = [f"{namespace}-n{i}" for i in range(2)]
    await add_selected_nodes(objects, namespace, nodes)
    typo = namespaced_policy("typo", namespace, nicSelector={"pfNames": ["ens9f9"]})
    await objects.apply(SRIOV_NETWORK_NODE_POLICIES, typo, TEST_MANAGER)

    async with running_operator(operator_settings(control_plane.kubeconfig, namespace)):

        async def no_device() -> tuple[str, str, int, int] | None:
            found = await _ready(objects, "typo", namespace)
            return found if found is not None and found[0] == "NoDeviceSelected" else None

        idle = await eventually(no_device, what="typo: NoDeviceSelected")
        assert idle[1].startswith(
            f"configures nothing: selects no device on 2 of 2 nodes: {nodes[0]}, {nodes[1]}"
        )
        assert idle[2:] == (2, 0)  # MATCHED 2 READY 0, not READY 2
        warned = await eventually(
            lambda: _notes(objects, namespace, "typo", "PolicySelectsNoDevice"), what="the Warning Event"
        )
        assert warned == [idle[1]]
        not_ready = await _notes(objects, namespace, "typo", "PolicyNotReady")
        assert not_ready == [f"not ready: {idle[1]}"]  # words, not "NoDeviceSelected: …"

        # a change that leaves the same nodes without a device: a new status, no new Warning
        await objects.apply(
            SRIOV_NETWORK_NODE_POLICIES, {**typo, "spec": {**typo["spec"], "priority": 5}}, TEST_MANAGER
        )

        async def observed() -> bool:
            obj = await objects.get(SRIOV_NETWORK_NODE_POLICIES, "typo", namespace)
            conditions = ((obj or {}).get("status") or {}).get("conditions") or [{}]
            return conditions[0].get("observedGeneration") == (obj or {})["metadata"]["generation"]

        await eventually(observed, what="the status of the new generation")
        assert await _notes(objects, namespace, "typo", "PolicySelectsNoDevice") == [idle[1]]

        # it now selects the PF on one node only: Ready there, the other named
        await objects.apply(
            SRIOV_NETWORK_NODE_POLICIES,
            namespaced_policy("typo", namespace, nicSelector={"pfNames": ["ens1f0"]}),
            TEST_MANAGER,
        )
        for name in nodes:
            await eventually(lambda name=name: _spec_written(objects, name, namespace), what="specs")
        for name in nodes:
            await report_succeeded(objects, name, namespace)

        async def all_ready() -> bool:
            found = await _ready(objects, "typo", namespace)
            return found is not None and found[0] == "AllNodesReady" and found[2:] == (2, 2)

        await eventually(all_ready, what="typo configures both nodes")


async def test_unusable_devices_and_a_failing_policy_are_named_in_the_others_status(
    control_plane: ControlPlane, objects: KubeObjects, make_namespace: NamespaceFactory
) -> None:
    namespace = await make_namespace(None)
    node = f"{namespace}-n0"
    await add_selected_nodes(objects, namespace, [node])
    rdma = namespaced_policy("rdma", namespace, numVfs=8, isRdma=True, resourceName="rdma")
    await objects.apply(SRIOV_NETWORK_NODE_POLICIES, rdma, TEST_MANAGER)

    async with running_operator(operator_settings(control_plane.kubeconfig, namespace)):
        await eventually(lambda: _spec_written(objects, node, namespace), what="the NodeState spec")
        why = "0000:3b:02.0 (ens1f0v0): vfGroup rdma, policy rdma has isRdma but … load the RDMA driver"
        await report_succeeded(
            objects,
            node,
            namespace,
            {"sriovnetwork.openshift.io/unusable-policies": json.dumps({"rdma": why})},
        )

        async def unusable() -> tuple[str, str, int, int] | None:
            found = await _ready(objects, "rdma", namespace)
            return found if found is not None and found[0] == "ResourceUnusable" else None

        _, message, matched, ready = await eventually(unusable, what="rdma unusable")
        assert (matched, ready) == (1, 0)
        assert message == f"0 of 1 nodes ready; the device plugin cannot use its devices on {node}: {why}"
        notes = await eventually(
            lambda: _notes(objects, namespace, "rdma", "PolicyResourceUnusable"), what="the Warning Event"
        )
        assert notes == [message]

        # the daemon fails; the failed-policies annotation comes after the Failed status, as it does
        await report_status(objects, node, namespace, {"interfaces": [BAREMETAL_PF], "syncStatus": "Failed"})

        async def failed() -> bool:
            found = await _ready(objects, "rdma", namespace)
            return found is not None and found[0] == "NodesFailed"

        await eventually(failed, what="rdma failed on the node (nobody named yet)")
        await objects.patch(
            SRIOV_NETWORK_NODE_STATES,
            node,
            {"metadata": {"annotations": {"sriovnetwork.openshift.io/failed-policies": "other"}}},
            namespace=namespace,
        )

        async def blocked() -> tuple[str, str, int, int] | None:
            found = await _ready(objects, "rdma", namespace)
            return found if found is not None and found[0] == "BlockedByOtherPolicy" else None

        _, message, _, _ = await eventually(blocked, what="rdma names the policy that blocks it")
        assert message.endswith(f"another policy's failure blocks this one on {node} (by policy other)")
