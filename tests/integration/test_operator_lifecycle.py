"""Operator status, default config, node removal, restarts (its own and the API server's), and ``diff``."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes_asyncio import client
from prometheus_client import REGISTRY

from sriov_operator.api.constants import DEVICE_PLUGIN_LABEL
from sriov_operator.api.crds import all_crds
from sriov_operator.api.multus import NETWORK_ATTACHMENT_DEFINITION_CRD
from sriov_operator.api.names import device_plugin_configmap_name
from sriov_operator.cli import main
from sriov_operator.controlplane.process import ControlPlane
from sriov_operator.errors import EXIT_CHANGES, EXIT_FAILURE, EXIT_OK
from sriov_operator.kube.crds import install_crds
from sriov_operator.kube.objects import KubeObjects
from sriov_operator.kube.resources import (
    CONFIG_MAPS,
    DEPLOYMENTS,
    NODES,
    SRIOV_NETWORK_NODE_POLICIES,
    SRIOV_NETWORK_NODE_STATES,
    SRIOV_OPERATOR_CONFIGS,
)
from tests.integration.conftest import NamespaceFactory
from tests.integration.operator_harness import play_rollouts
from tests.integration.operator_support import (
    BAREMETAL_PF,
    SELECTED,
    TEST_MANAGER,
    add_node,
    add_selected_nodes,
    eventually,
    namespaced_policy,
    operator_settings,
    report_succeeded,
    running_operator,
    select_test_nodes,
)
from tests.kube_client import api_client, kube_objects

pytestmark = pytest.mark.integration


async def _spec(objects: KubeObjects, name: str, namespace: str) -> dict[str, Any]:
    state = await objects.get(SRIOV_NETWORK_NODE_STATES, name, namespace)
    return (state or {}).get("spec") or {}


async def _num_vfs(objects: KubeObjects, names: list[str], namespace: str, count: int) -> bool:
    for name in names:
        interfaces = (await _spec(objects, name, namespace)).get("interfaces") or [{}]
        if interfaces[0].get("numVfs") != count:
            return False
    return True


def _ready(obj: dict[str, Any] | None) -> dict[str, Any] | None:
    conditions = ((obj or {}).get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == "Ready"), None)


async def test_default_config_is_created_and_ready(
    control_plane: ControlPlane, objects: KubeObjects, make_namespace: NamespaceFactory
) -> None:
    namespace = await make_namespace(None)
    async with running_operator(operator_settings(control_plane.kubeconfig, namespace)):
        config = await eventually(
            lambda: objects.get(SRIOV_OPERATOR_CONFIGS, "default", namespace), what="default config"
        )
        assert config["spec"]["enableOperatorWebhook"] is True

        async def ready_reason_is(reason: str) -> bool:
            condition = _ready(await objects.get(SRIOV_OPERATOR_CONFIGS, "default", namespace))
            return condition is not None and condition["reason"] == reason

        # Ready also waits for the workloads; play their controllers once they exist.
        webhook = "sriov-operator-webhook"
        await eventually(lambda: objects.get(DEPLOYMENTS, webhook, namespace), what="workloads")
        await play_rollouts(objects, namespace)
        await eventually(lambda: ready_reason_is("OperatorConfigReady"), what="OperatorConfigReady")
        unsupported = {**config, "spec": {**config["spec"], "configurationMode": "systemd"}}
        unsupported["metadata"] = {"name": "default", "namespace": namespace}
        await objects.apply(SRIOV_OPERATOR_CONFIGS, unsupported, TEST_MANAGER)
        await eventually(lambda: ready_reason_is("UnsupportedConfiguration"), what="UnsupportedConfiguration")


async def test_policy_status_follows_the_nodes_and_deleted_nodes_lose_their_state(
    control_plane: ControlPlane, objects: KubeObjects, make_namespace: NamespaceFactory
) -> None:
    namespace = await make_namespace(None)
    names = [f"{namespace}-n{i}" for i in range(2)]
    await add_selected_nodes(objects, namespace, names)
    await objects.apply(SRIOV_NETWORK_NODE_POLICIES, namespaced_policy("dpdk1", namespace), TEST_MANAGER)

    async def policy_status(reason: str, matched: int, ready: int) -> bool:
        obj = await objects.get(SRIOV_NETWORK_NODE_POLICIES, "dpdk1", namespace)
        condition = _ready(obj)
        status = (obj or {}).get("status") or {}
        return (
            condition is not None
            and condition["reason"] == reason
            and (status.get("matchedNodes"), status.get("readyNodes")) == (matched, ready)
        )

    async with running_operator(operator_settings(control_plane.kubeconfig, namespace)):
        await eventually(lambda: policy_status("NodesNotReady", 2, 0), what="2 matched, 0 ready")
        for name in names:
            await report_succeeded(objects, name, namespace)
        await eventually(
            lambda: policy_status("AllNodesReady", 2, 2), what="kubectl wait --for=condition=Ready"
        )
        succeeded = REGISTRY.get_sample_value("sriov_operator_node_states", {"sync_status": "Succeeded"})
        assert succeeded == 2
        obj = await objects.get(SRIOV_NETWORK_NODE_POLICIES, "dpdk1", namespace)
        condition = _ready(obj)
        assert condition is not None and condition["status"] == "True"

        await objects.delete(NODES, names[1])

        async def state_gone() -> bool:
            gone = await objects.get(SRIOV_NETWORK_NODE_STATES, names[1], namespace) is None
            cm = await objects.get(CONFIG_MAPS, device_plugin_configmap_name(names[1]), namespace)
            return gone and cm is None

        await eventually(state_gone, what="NodeState of the deleted node removed after the grace delay")
        await eventually(lambda: policy_status("AllNodesReady", 1, 1), what="1 matched after the node left")
        node = await objects.get(NODES, names[0])
        assert node is not None and node["metadata"]["labels"][DEVICE_PLUGIN_LABEL] == "Enabled"
        await objects.apply(
            SRIOV_NETWORK_NODE_POLICIES,
            namespaced_policy("dpdk1", namespace, node_selector={"none": "x"}),
            TEST_MANAGER,
        )

        async def label_removed() -> bool:
            node = await objects.get(NODES, names[0])
            return node is not None and DEVICE_PLUGIN_LABEL not in node["metadata"]["labels"]

        await eventually(label_removed, what="device-plugin label removed from a node without resources")
        await eventually(lambda: policy_status("NoMatchingNodes", 0, 0), what="NoMatchingNodes")


async def test_operator_restarted_mid_work_converges(
    control_plane: ControlPlane, objects: KubeObjects, make_namespace: NamespaceFactory
) -> None:
    namespace = await make_namespace(None)
    names = [f"{namespace}-r{i:02d}" for i in range(80)]
    await add_selected_nodes(objects, namespace, names)
    settings = operator_settings(control_plane.kubeconfig, namespace, workers=1)
    async with running_operator(settings) as first:
        before = first.writes("apply", SRIOV_NETWORK_NODE_STATES)
        await objects.apply(
            SRIOV_NETWORK_NODE_POLICIES, namespaced_policy("p", namespace, numVfs=6), TEST_MANAGER
        )

        async def some_written() -> bool:
            return first.writes("apply", SRIOV_NETWORK_NODE_STATES) - before >= 5

        await eventually(some_written, what="some specs written")
        first.task.cancel()  # killed mid-work: no graceful drain of the queue
        await asyncio.gather(first.task, return_exceptions=True)
    assert not await _num_vfs(objects, names, namespace, 6)
    async with running_operator(settings):
        await eventually(
            lambda: _num_vfs(objects, names, namespace, 6), what="every node written after the restart"
        )


async def test_apiserver_restart_under_a_running_operator(restartable_plane: ControlPlane) -> None:
    plane = restartable_plane
    namespace = "sriov-network-operator"
    async with api_client(plane.kubeconfig) as api:
        await install_crds(kube_objects(api), [*all_crds(), NETWORK_ATTACHMENT_DEFINITION_CRD])
        objects = kube_objects(api)
        await client.CoreV1Api(api).create_namespace({"metadata": {"name": namespace}})
        await add_selected_nodes(objects, namespace, ["before"])
        await objects.apply(
            SRIOV_NETWORK_NODE_POLICIES, namespaced_policy("p", namespace, numVfs=2), TEST_MANAGER
        )
        async with running_operator(operator_settings(plane.kubeconfig, namespace, leader_elect=True)):
            await eventually(
                lambda: _num_vfs(objects, ["before"], namespace, 2), what="written before the restart"
            )
            await asyncio.to_thread(plane.restart_apiserver)
            await objects.apply(
                SRIOV_NETWORK_NODE_POLICIES, namespaced_policy("p", namespace, numVfs=5), TEST_MANAGER
            )
            await add_node(objects, "after", namespace, [BAREMETAL_PF], SELECTED)
            await eventually(
                lambda: _num_vfs(objects, ["before", "after"], namespace, 5),
                timeout=90,
                what="caught up after the restart",
            )


async def test_diff_predicts_drains_from_the_cluster(
    control_plane: ControlPlane,
    objects: KubeObjects,
    make_namespace: NamespaceFactory,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    namespace = await make_namespace(None)
    await select_test_nodes(objects, namespace)
    name = f"{namespace}-bm"
    await add_node(objects, name, namespace, [{**BAREMETAL_PF, "numVfs": 8}], SELECTED)
    await objects.apply(
        SRIOV_NETWORK_NODE_POLICIES, namespaced_policy("p", namespace, numVfs=8), TEST_MANAGER
    )
    async with running_operator(operator_settings(control_plane.kubeconfig, namespace)):
        await eventually(lambda: _num_vfs(objects, [name], namespace, 8), what="spec written")
    base = ["diff", "--kubeconfig", str(control_plane.kubeconfig), "--namespace", namespace, "-o", "json"]

    def run_diff(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        path = tmp_path / "change.yaml"
        path.write_text(yaml.safe_dump(body))
        code = main([*base, "-f", str(path)])
        return code, json.loads(capsys.readouterr().out)

    code, out = await asyncio.to_thread(run_diff, namespaced_policy("p", namespace, numVfs=8))
    assert (code, out["totals"]["nodesChanged"]) == (EXIT_OK, 0)
    code, out = await asyncio.to_thread(run_diff, namespaced_policy("p", namespace, numVfs=8, mtu=9000))
    assert code == EXIT_CHANGES
    [change] = [n for n in out["nodes"] if n["node"] == name]
    assert change["requires"] == "none"
    code, out = await asyncio.to_thread(run_diff, namespaced_policy("p", namespace, numVfs=16))
    assert code == EXIT_CHANGES
    [change] = [n for n in out["nodes"] if n["node"] == name]
    assert change["requires"] == "drain"
    assert any(
        reason.startswith("setNumVfs: 0000:3b:00.0 (ens1f0): 8 -> 16 VFs") for reason in change["reasons"]
    )
    assert out["totals"]["drains"] == 1
    refused = namespaced_policy("p", namespace, numVfs=8, deviceType="vfio-pci", isRdma=True)
    code, out = await asyncio.to_thread(run_diff, refused)
    assert code == EXIT_FAILURE
    assert [line.split(": ")[1] for line in out["refused"]] == ["spec.isRdma"]
    assert out["nodes"] == []  # what the webhook would refuse changes nothing
