"""The operator on the real API server: NodeStates, device-plugin ConfigMaps, node labels, status."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from sriov_operator.api.constants import DEVICE_PLUGIN_LABEL, FOR_GENERATION_ANNOTATION
from sriov_operator.api.documents import Document
from sriov_operator.api.names import device_plugin_configmap_name
from sriov_operator.controlplane.process import ControlPlane
from sriov_operator.engine.inputs import read_documents
from sriov_operator.engine.render import RenderResult, render_cluster
from sriov_operator.kube.objects import KubeObjects
from sriov_operator.kube.resources import (
    CONFIG_MAPS,
    NODES,
    SRIOV_NETWORK_NODE_POLICIES,
    SRIOV_NETWORK_NODE_STATES,
    SRIOV_OPERATOR_CONFIGS,
)
from sriov_operator.manifests import load_paths
from tests.integration.conftest import NamespaceFactory
from tests.integration.operator_support import (
    TEST_MANAGER,
    add_node,
    eventually,
    node_body,
    operator_settings,
    report_status,
    running_operator,
    select_test_nodes,
)
from tests.support import FIXTURES
from tests.unit.engine.builders import pf, policy

pytestmark = pytest.mark.integration
SEED_LABEL = {"feature.node.kubernetes.io/network-sriov.capable": "true"}


def _openstack_interfaces() -> list[dict[str, Any]]:
    worker = yaml.safe_load_all((FIXTURES / "engine" / "openstack-worker.yaml").read_text())
    state = next(doc for doc in worker if doc["kind"] == "SriovNetworkNodeState")
    return list(state["status"]["interfaces"])


def _in_namespace(body: dict[str, Any], namespace: str) -> dict[str, Any]:
    return {**body, "metadata": {**body["metadata"], "namespace": namespace}}


def _rendered(namespace: str, bodies: list[dict[str, Any]]) -> RenderResult:
    cluster, problems = read_documents([Document("test", 1, body) for body in bodies], namespace)
    assert not [p for p in problems if p.severity == "error"]
    return render_cluster(cluster, resource_prefix="openshift.io")


async def _spec(objects: KubeObjects, name: str, namespace: str) -> dict[str, Any] | None:
    state = await objects.get(SRIOV_NETWORK_NODE_STATES, name, namespace)
    return None if state is None else state.get("spec", {})


async def _converged(objects: KubeObjects, namespace: str, expected: RenderResult) -> bool:
    for name, spec in expected.node_states.items():
        if await _spec(objects, name, namespace) != spec:
            return False
        config_map = await objects.get(CONFIG_MAPS, device_plugin_configmap_name(name), namespace)
        resources = expected.device_plugin[name]["resourceList"]
        if resources and (
            config_map is None
            or json.loads(config_map["data"]["config.json"]) != expected.device_plugin[name]
        ):
            return False
    return True


async def test_seed_policies_on_openstack_nodes_give_what_render_gives(
    control_plane: ControlPlane, objects: KubeObjects, make_namespace: NamespaceFactory
) -> None:
    namespace = await make_namespace(None)
    await select_test_nodes(objects, namespace)
    names = [f"{namespace}-osp-{i}" for i in range(3)]
    for name in names:
        await add_node(objects, name, namespace, _openstack_interfaces(), SEED_LABEL, "openstack:///" + name)
    seed = load_paths([FIXTURES / "seed" / "dpdk1-policy.yaml", FIXTURES / "seed" / "hwoffload1-policy.yaml"])
    policies = [_in_namespace(doc.body, namespace) for doc in seed.documents]
    for body in policies:
        await objects.apply(SRIOV_NETWORK_NODE_POLICIES, body, TEST_MANAGER)
    config = await objects.get(SRIOV_OPERATOR_CONFIGS, "default", namespace)
    assert config is not None
    inputs = [node_body(n, namespace, SEED_LABEL, "openstack:///" + n) for n in names]
    inputs += [
        {
            "kind": "SriovNetworkNodeState",
            "metadata": {"name": n, "namespace": namespace},
            "status": {"interfaces": _openstack_interfaces()},
        }
        for n in names
    ]
    expected = _rendered(namespace, [*inputs, *policies, config])
    assert expected.node_states[names[0]]["interfaces"][0]["vfGroups"][0]["policyName"] == "hwoffload1"

    async with running_operator(operator_settings(control_plane.kubeconfig, namespace)):
        await eventually(
            lambda: _converged(objects, namespace, expected), what="NodeStates and ConfigMaps as render says"
        )
        for name in names:
            node = await objects.get(NODES, name)
            assert node is not None
            assert node["metadata"]["labels"][DEVICE_PLUGIN_LABEL] == "Enabled"
            state = await objects.get(SRIOV_NETWORK_NODE_STATES, name, namespace)
            config_map = await objects.get(CONFIG_MAPS, device_plugin_configmap_name(name), namespace)
            assert state is not None and config_map is not None
            assert config_map["metadata"]["annotations"][FOR_GENERATION_ANNOTATION] == str(
                state["metadata"]["generation"]
            )
            resources = json.loads(config_map["data"]["config.json"])["resourceList"]
            assert resources == expected.device_plugin[name]["resourceList"]
            assert [r["resourceName"] for r in resources] == ["hwoffload1"]  # same VF, later name wins


async def test_one_policy_change_rewrites_only_the_states_it_selects(
    control_plane: ControlPlane, objects: KubeObjects, make_namespace: NamespaceFactory
) -> None:
    namespace = await make_namespace(None)
    await select_test_nodes(objects, namespace)
    racks = {"a": [f"{namespace}-a{i}" for i in range(3)], "b": [f"{namespace}-b{i}" for i in range(4)]}
    for rack, names in racks.items():
        for name in names:
            await add_node(objects, name, namespace, [pf("ens1f0", "0000:3b:00.0")], {"rack": rack})
    for rack in racks:
        await objects.apply(
            SRIOV_NETWORK_NODE_POLICIES,
            _in_namespace(policy(f"p{rack}", node_selector={"rack": rack}, numVfs=4), namespace),
            TEST_MANAGER,
        )

    async def all_have_vfs(count: int, names: list[str]) -> bool:
        for name in names:
            spec = await _spec(objects, name, namespace)
            if not spec or spec.get("interfaces", [{}])[0].get("numVfs") != count:
                return False
        return True

    async with running_operator(operator_settings(control_plane.kubeconfig, namespace)) as running:
        await eventually(lambda: all_have_vfs(4, [*racks["a"], *racks["b"]]), what="both racks at 4 VFs")
        untouched = {
            n: (await objects.get(SRIOV_NETWORK_NODE_STATES, n, namespace) or {})["metadata"][
                "resourceVersion"
            ]
            for n in racks["b"]
        }
        writes_before = running.writes("apply", SRIOV_NETWORK_NODE_STATES)
        await objects.apply(
            SRIOV_NETWORK_NODE_POLICIES,
            _in_namespace(policy("pa", node_selector={"rack": "a"}, numVfs=8), namespace),
            TEST_MANAGER,
        )
        await eventually(lambda: all_have_vfs(8, racks["a"]), what="rack a at 8 VFs")
        await eventually(running.settled, what="the operator idle")
        assert running.writes("apply", SRIOV_NETWORK_NODE_STATES) - writes_before == len(racks["a"])
        for name, version in untouched.items():
            state = await objects.get(SRIOV_NETWORK_NODE_STATES, name, namespace)
            assert state is not None
            assert state["metadata"]["resourceVersion"] == version, f"{name} was rewritten"

        # a change outside the spec (a label on the policy) and a status report write nothing
        writes_before = running.writes("apply", SRIOV_NETWORK_NODE_STATES)
        relabelled = _in_namespace(policy("pa", node_selector={"rack": "a"}, numVfs=8), namespace)
        relabelled["metadata"]["labels"] = {"team": "x"}
        await objects.apply(SRIOV_NETWORK_NODE_POLICIES, relabelled, TEST_MANAGER)
        await report_status(
            objects,
            racks["b"][0],
            namespace,
            {"interfaces": [pf("ens1f0", "0000:3b:00.0")], "syncStatus": "Succeeded"},
        )
        await eventually(running.settled, what="the operator idle")
        # status writes (the report above, the drain controller's condition) count as .../status
        assert running.writes("apply", SRIOV_NETWORK_NODE_STATES) == writes_before

        # a change of what the device plugin exposes costs each selected node two writes, its spec and
        # its device-plugin ConfigMap (the label is already right), and nothing once they match
        def node_writes() -> int:
            return sum(
                running.writes(verb, resource)
                for verb, resource in (
                    ("apply", SRIOV_NETWORK_NODE_STATES),
                    ("apply", CONFIG_MAPS),
                    ("patch", NODES),
                )
            )

        writes_before = node_writes()
        renamed = _in_namespace(
            policy("pa", node_selector={"rack": "a"}, numVfs=8, resourceName="renamed"), namespace
        )
        await objects.apply(SRIOV_NETWORK_NODE_POLICIES, renamed, TEST_MANAGER)

        async def exposes_renamed() -> bool:
            for name in racks["a"]:
                config_map = await objects.get(CONFIG_MAPS, device_plugin_configmap_name(name), namespace)
                if config_map is None or '"renamed"' not in config_map["data"]["config.json"]:
                    return False
            return True

        await eventually(exposes_renamed, what="rack a's ConfigMaps with the renamed resource")
        await eventually(running.settled, what="the operator idle")
        assert node_writes() - writes_before == 2 * len(racks["a"])

        # the same ConfigMap and label, removed by someone else after they were written, come back
        victim = racks["a"][0]
        await objects.delete(CONFIG_MAPS, device_plugin_configmap_name(victim), namespace)
        await objects.patch(NODES, victim, {"metadata": {"labels": {DEVICE_PLUGIN_LABEL: None}}})

        async def restored() -> bool:
            config_map = await objects.get(CONFIG_MAPS, device_plugin_configmap_name(victim), namespace)
            node = await objects.get(NODES, victim)
            labels = ((node or {}).get("metadata") or {}).get("labels") or {}
            return config_map is not None and labels.get(DEVICE_PLUGIN_LABEL) == "Enabled"

        await eventually(restored, what=f"{victim}'s ConfigMap and label written again")
