"""The operator (its `sriov-operator operator` command, drain controller included) and config daemons.

Three simulated OpenStack VMs (two read their Neutron ports from a metadata
service on 127.0.0.1, the third from its config drive), a simulated bare-metal
server whose VFs need a drain, and a host whose writes fail.  Nothing here
plays the operator: the NodeState specs, the device-plugin ConfigMaps and the
answers to drain requests all come from the operator process.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import pytest_asyncio
from kubernetes_asyncio import client

from sriov_operator.api.constants import API_VERSION
from sriov_operator.api.names import device_plugin_configmap_name
from sriov_operator.controlplane.process import ControlPlane
from sriov_operator.host.simulator.builder import create_host, load_profile, profile_file
from sriov_operator.host.simulator.journal import FAULTS_FILE, JOURNAL_FILE
from sriov_operator.host.simulator.kernel import SimulatedKernel
from sriov_operator.kube.objects import KubeObjects
from sriov_operator.kube.resources import (
    CONFIG_MAPS,
    EVENTS,
    NODES,
    SRIOV_NETWORK_NODE_POLICIES,
    SRIOV_NETWORK_NODE_STATES,
    SRIOV_OPERATOR_CONFIGS,
)
from sriov_operator.manifests import load_paths
from tests.integration.conftest import NamespaceFactory
from tests.integration.daemon_harness import (
    PLUGIN_FILE,
    DaemonProcess,
    annotations_of,
    break_device_records,
    conditions,
    create_node,
    driver_of,
    eventually,
    handed_over,
    node_state,
    synced,
)
from tests.integration.operator_support import TEST_LABEL, TEST_MANAGER, select_test_nodes, start_operator
from tests.integration.recorded_changes import is_cordoned, recording
from tests.kube_client import kube_objects
from tests.support import FIXTURES

DPDK_PORT = "0000:00:04.0"
OFFLOAD_PORT = "0000:00:07.0"
OFFLOAD_NETWORK = "openstack/NetworkID:c0ffee00-1234-4abc-9def-0123456789ab"  # the Mellanox VF's network
T = TypeVar("T")
HOSTNAME = "kubernetes.io/hostname"  # the label each test policy selects its one node by
SRIOV_CAPABLE = {"feature.node.kubernetes.io/network-sriov.capable": "true"}


@pytest.fixture
def metadata_service() -> Iterator[str]:
    """Nova's metadata service for the VM profile, on 127.0.0.1."""
    documents = {
        "meta_data.json": profile_file("openstack-vm/meta_data.json"),
        "network_data.json": profile_file("openstack-vm/network_data.json"),
    }

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = documents.get(self.path.rsplit("/", 1)[-1])
            self.send_response(200 if body else 404)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def seed_policies(namespace: str) -> list[dict[str, Any]]:
    """The seed article's two policies, each on its own Neutron network as the article advises."""
    policies = [d.body for d in load_paths([FIXTURES / "seed"]).documents]
    for policy in policies:
        policy["metadata"]["namespace"] = namespace
        if policy["metadata"]["name"] == "hwoffload1":
            policy["spec"]["nicSelector"]["netFilter"] = OFFLOAD_NETWORK
    return policies


async def simulated_node(
    objects: KubeObjects,
    kubeconfig: Path,
    namespace: str,
    profile: str,
    name: str,
    tmp_path: Path,
    labels: dict[str, str],
    extra: tuple[str, ...] = (),
) -> DaemonProcess:
    """A simulated host from ``profile``, its Node (one the test's operator manages), and its daemon
    (not started yet)."""
    create_host(load_profile(profile), tmp_path / name)
    await create_node(objects, name, {TEST_LABEL: namespace, **labels})
    return DaemonProcess(name, namespace, kubeconfig, tmp_path / name, tmp_path / f"{name}.log", extra)


@pytest_asyncio.fixture
async def operator(
    control_plane: ControlPlane, make_namespace: NamespaceFactory, objects: KubeObjects, tmp_path: Path
) -> AsyncIterator[str]:
    """The operator command for a fresh namespace; yields the namespace.

    Its SriovOperatorConfig selects only this test's nodes: Nodes are cluster-wide, and an operator
    managing every Node earlier tests left behind spends its time (and its device-plugin backlog
    waits) on those, which is how these tests timed out under a loaded full run.
    """
    namespace = await make_namespace(None)
    await select_test_nodes(objects, namespace)
    process = start_operator(namespace, control_plane.kubeconfig, tmp_path / "operator.log")
    try:
        yield namespace
    finally:
        process.terminate()
        process.wait(timeout=30)


async def test_seed_policies_converge_on_three_vms_and_deleting_them_restores_drivers(
    kube: client.ApiClient, control_plane: ControlPlane, operator: str, metadata_service: str, tmp_path: Path
) -> None:
    namespace, objects = operator, kube_objects(kube)
    daemons = []
    for index, extra in enumerate((("--metadata-url", metadata_service),) * 2 + ((),)):
        name = f"vm{index}-{namespace}"
        daemon = await simulated_node(
            objects, control_plane.kubeconfig, namespace, "openstack-vm", name, tmp_path, SRIOV_CAPABLE, extra
        )
        daemons.append(daemon.start())
    try:
        for policy in seed_policies(namespace):
            await objects.create(SRIOV_NETWORK_NODE_POLICIES, policy, namespace)

        async def all_synced_with_the_policies() -> list[dict[str, Any]] | None:
            states = []
            for daemon in daemons:
                state = await objects.get(SRIOV_NETWORK_NODE_STATES, daemon.node, namespace)
                interfaces = ((state or {}).get("spec") or {}).get("interfaces") or []
                if state is None or len(interfaces) != 2:
                    return None
                if await synced(objects, namespace, daemon.node, state["metadata"]["generation"]) is None:
                    return None
                states.append(state)
            return states

        states = await eventually(
            all_synced_with_the_policies, "three NodeStates Succeeded with both policies", 180
        )
        sources = [annotations_of(s)["sriovnetwork.openshift.io/metadata-source"] for s in states]
        assert sources == ["metadataService", "metadataService", "configDrive"]
        for daemon in daemons:
            assert driver_of(daemon.root, DPDK_PORT) == "vfio-pci"
            assert driver_of(daemon.root, OFFLOAD_PORT) == "mlx5_core"
            configmap = await objects.get(CONFIG_MAPS, device_plugin_configmap_name(daemon.node), namespace)
            assert configmap is not None
            text = configmap["data"]["config.json"]
            offload = next(r for r in json.loads(text)["resourceList"] if r["resourceName"] == "hwoffload1")
            assert offload["selectors"]["isRdma"] is True
            await eventually(
                lambda d=daemon, t=text: handed_over(objects, namespace, d.node, d.root, t),  # type: ignore[misc]
                f"the device plugin's config on {daemon.node}",
            )

        # the VMs lack mlx5_ib: hwoffload1 (isRdma) is configured but unusable, and says so (it was Ready)
        for state in states:
            unusable = json.loads(annotations_of(state)["sriovnetwork.openshift.io/unusable-policies"])
            assert list(unusable) == ["hwoffload1"] and unusable["hwoffload1"].endswith("load mlx5_ib")

        async def policy_ready(name: str, reason: str) -> dict[str, Any] | None:
            policy = await objects.get(SRIOV_NETWORK_NODE_POLICIES, name, namespace)
            ready = conditions(policy or {}).get("Ready")
            return ready if ready is not None and ready["reason"] == reason else None

        unusable_ready = await eventually(
            lambda: policy_ready("hwoffload1", "ResourceUnusable"), "hwoffload1 ResourceUnusable"
        )
        assert unusable_ready["message"].startswith(
            "0 of 3 nodes ready; the device plugin cannot use its devices"
        )
        assert unusable_ready["message"].endswith("load mlx5_ib")
        await eventually(lambda: policy_ready("dpdk1", "AllNodesReady"), "dpdk1 Ready")

        for policy in seed_policies(namespace):
            await objects.delete(SRIOV_NETWORK_NODE_POLICIES, policy["metadata"]["name"], namespace)

        async def drivers_restored() -> bool:
            for daemon in daemons:
                state = await node_state(objects, namespace, daemon.node)
                if (state.get("spec") or {}).get("interfaces"):
                    return False
                if await synced(objects, namespace, daemon.node, state["metadata"]["generation"]) is None:
                    return False
            return all(driver_of(d.root, DPDK_PORT) == "virtio-pci" for d in daemons)

        await eventually(drivers_restored, "every DPDK port back on virtio-pci, Succeeded", 180)
    finally:
        for daemon in daemons:
            daemon.stop()


BAREMETAL_PF = "0000:3b:00.0"  # ens1f0 of the profile's Intel XXV710


async def bare_metal_node(
    objects: KubeObjects, control_plane: ControlPlane, namespace: str, name: str, tmp_path: Path
) -> DaemonProcess:
    """A simulated bare-metal server (an Intel XXV710) with its Node and daemon, selected by its hostname."""
    return await simulated_node(
        objects, control_plane.kubeconfig, namespace, "baremetal-intel", name, tmp_path, {HOSTNAME: name}
    )


CURRENT_STATE = "sriovnetwork.openshift.io/current-state"


def vf_policy(namespace: str, node: str, num_vfs: int) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "SriovNetworkNodePolicy",
        "metadata": {"name": "intelnics", "namespace": namespace},
        "spec": {
            "resourceName": "intelnics",
            "numVfs": num_vfs,
            "deviceType": "netdevice",
            "nicSelector": {"pfNames": ["ens1f0"]},
            "nodeSelector": {HOSTNAME: node},
        },
    }


def drain_answer(state: dict[str, Any]) -> str:
    return annotations_of(state).get(CURRENT_STATE, "")


def vf_count(root: Path, pf: str) -> int:
    return len(list((root / "sys/bus/pci/devices" / pf).glob("virtfn*")))


async def synced_with_interfaces(
    objects: KubeObjects, namespace: str, name: str, count: int
) -> dict[str, Any] | None:
    """The NodeState once its spec has ``count`` interfaces and the daemon says it applied it."""
    state = await objects.get(SRIOV_NETWORK_NODE_STATES, name, namespace)  # None until the operator
    if state is None or len((state.get("spec") or {}).get("interfaces") or []) != count:
        return None
    return await synced(objects, namespace, name, state["metadata"]["generation"])


async def device_plugin_config_handed_over(
    objects: KubeObjects, namespace: str, name: str, root: Path
) -> str:
    """Wait until the node's device-plugin ConfigMap has been handed over to its host; its config.json."""
    configmap = await objects.get(CONFIG_MAPS, device_plugin_configmap_name(name), namespace)
    assert configmap is not None
    text: str = configmap["data"]["config.json"]
    await eventually(lambda: handed_over(objects, namespace, name, root, text), "the device plugin's config")
    return text


async def test_bare_metal_vfs_the_operator_drains_the_node_for_and_uncordons_after(
    kube: client.ApiClient, control_plane: ControlPlane, operator: str, tmp_path: Path
) -> None:
    namespace, objects = operator, kube_objects(kube)
    name = f"baremetal-{namespace}"
    daemon = (await bare_metal_node(objects, control_plane, namespace, name, tmp_path)).start()
    try:
        async with recording(objects) as watches:
            cordoned = watches.record(NODES, None, name, is_cordoned)
            answers = watches.record(SRIOV_NETWORK_NODE_STATES, namespace, name, drain_answer)

            async def discovered() -> bool:
                state = await objects.get(SRIOV_NETWORK_NODE_STATES, name, namespace)
                return bool(((state or {}).get("status") or {}).get("interfaces"))

            await eventually(discovered, "the operator's NodeState with the daemon's PFs in its status")
            assert vf_count(daemon.root, BAREMETAL_PF) == 0
            await objects.create(SRIOV_NETWORK_NODE_POLICIES, vf_policy(namespace, name, 4), namespace)

            async def plugin_file_appeared() -> tuple[int] | None:
                """The number of VFs at the moment the device plugin's file appears."""
                return (
                    (vf_count(daemon.root, BAREMETAL_PF),) if (daemon.root / PLUGIN_FILE).exists() else None
                )

            assert await eventually(plugin_file_appeared, "the device-plugin config on the host", 180) == (4,)

            async def finished() -> dict[str, Any] | None:
                state = await node_state(objects, namespace, name)
                interfaces = (state.get("spec") or {}).get("interfaces") or []
                if [(i["pciAddress"], i.get("numVfs")) for i in interfaces] != [(BAREMETAL_PF, 4)]:
                    return None
                kube_node = await objects.get(NODES, name)
                if is_cordoned(kube_node or {}):
                    return None
                if annotations_of(state).get(CURRENT_STATE) != "Idle":
                    return None
                return await synced(objects, namespace, name, state["metadata"]["generation"])

            await eventually(
                finished, "Succeeded, the node uncordoned and the drain answer back to Idle", 180
            )
            assert vf_count(daemon.root, BAREMETAL_PF) == 4
            watches.check()
            assert True in cordoned and cordoned[-1] is False, cordoned  # cordoned during the drain, then not
            assert "Draining" in answers and "DrainComplete" in answers[answers.index("Draining") :], answers
            text = await device_plugin_config_handed_over(objects, namespace, name, daemon.root)
            assert [r["resourceName"] for r in json.loads(text)["resourceList"]] == ["intelnics"]
    finally:
        daemon.stop()


async def test_failing_host_write_reports_failed_and_recovers_with_the_operator(
    kube: client.ApiClient, control_plane: ControlPlane, operator: str, tmp_path: Path
) -> None:
    namespace, objects = operator, kube_objects(kube)
    name = f"failing-{namespace}"
    daemon = await simulated_node(
        objects, control_plane.kubeconfig, namespace, "openstack-vm", name, tmp_path, {HOSTNAME: name}
    )
    records = break_device_records(daemon.root)
    daemon.start()
    try:
        for policy in seed_policies(namespace):
            policy["spec"]["nodeSelector"] = {HOSTNAME: name}
            await objects.create(SRIOV_NETWORK_NODE_POLICIES, policy, namespace)

        async def failed() -> dict[str, Any] | None:
            state = await objects.get(SRIOV_NETWORK_NODE_STATES, name, namespace)
            return state if ((state or {}).get("status") or {}).get("syncStatus") == "Failed" else None

        state = await eventually(failed, "syncStatus Failed", 180)
        error = state["status"]["lastSyncError"]
        assert error.startswith("policy ") and ": rememberDevice 0000:00:0" in error, error
        assert ": /etc/sriov-operator/pci" in error, error
        degraded = conditions(state)["Degraded"]
        assert (degraded["status"], degraded["reason"]) == ("True", "ApplyFailed")
        assert not (daemon.root / PLUGIN_FILE).exists()  # nothing for the device plugin from a half-done host

        records.unlink()

        state = await eventually(
            lambda: synced_with_interfaces(objects, namespace, name, 2),
            "recovery to Succeeded once the fault is gone",
            180,
        )
        assert state["status"]["lastSyncError"] == ""
        assert conditions(state)["Degraded"]["status"] == "False"
        assert driver_of(daemon.root, DPDK_PORT) == "vfio-pci"
        await device_plugin_config_handed_over(objects, namespace, name, daemon.root)
    finally:
        daemon.stop()


async def test_a_node_with_a_250_character_name_gets_its_device_plugin_config(
    kube: client.ApiClient, control_plane: ControlPlane, operator: str, tmp_path: Path
) -> None:
    """The operator hashes that node's ConfigMap name; the daemon used to watch ``prefix + node``."""
    namespace, objects = operator, kube_objects(kube)
    name = ("vm-" + namespace + "-" + "n" * 250)[:250]
    daemon = await simulated_node(
        objects, control_plane.kubeconfig, namespace, "openstack-vm", name, tmp_path, {"e2e": namespace}
    )
    daemon.start()
    try:
        for policy in seed_policies(namespace):
            policy["spec"]["nodeSelector"] = {"e2e": namespace}
            await objects.create(SRIOV_NETWORK_NODE_POLICIES, policy, namespace)

        await eventually(
            lambda: synced_with_interfaces(objects, namespace, name, 2),
            "Succeeded on the node with a 250-character name",
            180,
        )
        configmap_name = device_plugin_configmap_name(name)
        assert len(configmap_name) == 253 and not configmap_name.endswith(name)
        await device_plugin_config_handed_over(objects, namespace, name, daemon.root)
    finally:
        daemon.stop()


async def test_a_failed_apply_releases_the_drained_node_and_names_the_policy(
    kube: client.ApiClient, control_plane: ControlPlane, operator: str, tmp_path: Path
) -> None:
    """mtu 65535 passes the schema but this NIC takes 9702: the node stayed cordoned, the others READY 0."""
    namespace, objects = operator, kube_objects(kube)
    name = f"failing-mtu-{namespace}"
    daemon = await bare_metal_node(objects, control_plane, namespace, name, tmp_path)
    daemon.start()
    try:
        jumbo = vf_policy(namespace, name, 4)
        jumbo["metadata"]["name"] = "jumbo"
        jumbo["spec"] |= {"resourceName": "jumbo", "mtu": 65535}
        plain = vf_policy(namespace, name, 2)
        plain["metadata"]["name"] = "plain"
        plain["spec"] |= {"resourceName": "plain", "nicSelector": {"pfNames": ["ens1f1"]}}
        for policy in (jumbo, plain):
            await objects.create(SRIOV_NETWORK_NODE_POLICIES, policy, namespace)

        async def released() -> dict[str, Any] | None:
            state = await objects.get(SRIOV_NETWORK_NODE_STATES, name, namespace)
            kube_node = await objects.get(NODES, name)
            if state is None or kube_node is None or is_cordoned(kube_node):
                return None
            if (state.get("status") or {}).get("syncStatus") != "Failed":
                return None
            if annotations_of(kube_node).get("sriovnetwork.openshift.io/state") != "Idle":
                return None
            return state

        state = await eventually(released, "Failed, and the node uncordoned with its drain request Idle", 180)
        # the failing node names the policy that causes it, in its status too
        assert state["status"]["lastSyncError"].startswith("policy jumbo: setPfMtu"), state["status"]
        assert annotations_of(state)["sriovnetwork.openshift.io/failed-policies"] == "jumbo"
        degraded = conditions(state)["Degraded"]
        assert (degraded["status"], degraded["reason"]) == ("True", "ApplyFailed")

        async def released_event() -> dict[str, Any] | None:
            events = (await objects.list(EVENTS, namespace))["items"]
            return next((e for e in events if e["reason"] == "DrainReleased"), None)

        event = await eventually(released_event, "a DrainReleased Event")
        assert event["note"].startswith("policy jumbo: setPfMtu"), event["note"]
        assert event["regarding"]["name"] == name

        async def blocked() -> dict[str, Any] | None:
            policy = await objects.get(SRIOV_NETWORK_NODE_POLICIES, "plain", namespace)
            ready = conditions(policy or {}).get("Ready")
            return ready if ready is not None and ready["reason"] == "BlockedByOtherPolicy" else None

        ready = await eventually(blocked, "policy plain: blocked by policy jumbo")
        assert f"{name} (by policy jumbo)" in ready["message"], ready["message"]
    finally:
        daemon.stop()


async def test_a_daemon_killed_in_the_middle_of_set_num_vfs_converges_after_its_restart(
    kube: client.ApiClient, control_plane: ControlPlane, operator: str, tmp_path: Path
) -> None:
    """Killed with -9 during setNumVfs (6 -> 8), the daemon never converged: 'sriov_numvfs: No such file'."""
    namespace, objects = operator, kube_objects(kube)
    name = f"killed-{namespace}"
    daemon = await bare_metal_node(objects, control_plane, namespace, name, tmp_path)
    with SimulatedKernel.transaction(daemon.root) as kernel:
        kernel.set_numvfs(BAREMETAL_PF, 6)
    # the first kernel write (6 -> 0 VFs) dies after five of its changes, half the VFs gone
    (daemon.root / FAULTS_FILE).write_text(json.dumps({"killInTransaction": 1, "afterChanges": 5}))
    daemon.start()
    try:
        await objects.create(SRIOV_NETWORK_NODE_POLICIES, vf_policy(namespace, name, 8), namespace)

        async def died() -> int | None:
            assert daemon.process is not None
            return daemon.process.poll()

        assert await eventually(died, "the daemon killed in the middle of setNumVfs", 180) == -9
        assert (daemon.root / JOURNAL_FILE).is_file()
        daemon.start()

        async def converged() -> dict[str, Any] | None:
            state = await objects.get(SRIOV_NETWORK_NODE_STATES, name, namespace)
            kube_node = await objects.get(NODES, name)
            if state is None or kube_node is None or is_cordoned(kube_node):
                return None
            return await synced(objects, namespace, name, state["metadata"]["generation"])

        await eventually(converged, "Succeeded with 8 VFs after the restart, uncordoned", 180)
        assert vf_count(daemon.root, BAREMETAL_PF) == 8
        assert not (daemon.root / JOURNAL_FILE).exists()
    finally:
        daemon.stop()


async def test_an_ovs_bridge_of_a_policy_is_created_reported_and_removed_with_the_gate_on(
    kube: client.ApiClient, control_plane: ControlPlane, operator: str, tmp_path: Path
) -> None:
    """manageSoftwareBridges end to end: the operator renders spec.bridges, the daemon creates the bridge
    in the simulated host's Open vSwitch and reports it; the policy's deletion removes it."""
    namespace, objects = operator, kube_objects(kube)
    name = f"offload-{namespace}"
    daemon = (
        await simulated_node(
            objects,
            control_plane.kubeconfig,
            namespace,
            "baremetal-mellanox",
            name,
            tmp_path,
            {HOSTNAME: name},
        )
    ).start()
    config = {
        "apiVersion": API_VERSION,
        "kind": "SriovOperatorConfig",
        "metadata": {"name": "default", "namespace": namespace},
        "spec": {
            "configDaemonNodeSelector": {TEST_LABEL: namespace},
            "featureGates": {"manageSoftwareBridges": True},
        },
    }
    policy = {
        "apiVersion": API_VERSION,
        "kind": "SriovNetworkNodePolicy",
        "metadata": {"name": "hwoffload", "namespace": namespace},
        "spec": {
            "resourceName": "hwoffload",
            "numVfs": 2,
            "eSwitchMode": "switchdev",
            "nicSelector": {"pfNames": ["ens2f0np0"]},
            "nodeSelector": {HOSTNAME: name},
            "bridge": {"ovs": {"bridge": {"failMode": "secure"}}},
        },
    }
    bridge = {
        "name": "br-0000_5e_00.0",
        "bridge": {"failMode": "secure"},
        "uplinks": [{"pciAddress": "0000:5e:00.0", "name": "ens2f0np0"}],
    }

    async def synced_with(bridges: list[dict[str, Any]]) -> dict[str, Any] | None:
        state = await objects.get(SRIOV_NETWORK_NODE_STATES, name, namespace)  # None until the operator's
        if state is None or ((state.get("status") or {}).get("bridges") or {}).get("ovs", []) != bridges:
            return None
        if ((state.get("spec") or {}).get("bridges") or {}).get("ovs", []) != bridges:
            return None
        return await synced(objects, namespace, name, state["metadata"]["generation"])

    try:
        await objects.apply(SRIOV_OPERATOR_CONFIGS, config, TEST_MANAGER)
        await objects.create(SRIOV_NETWORK_NODE_POLICIES, policy, namespace)
        await eventually(lambda: synced_with([bridge]), "the bridge in spec and status, Succeeded", 180)
        await objects.delete(SRIOV_NETWORK_NODE_POLICIES, "hwoffload", namespace)
        state = await eventually(lambda: synced_with([]), "the bridge gone from spec and status", 180)
        assert not (state.get("spec") or {}).get("interfaces")
    finally:
        daemon.stop()
