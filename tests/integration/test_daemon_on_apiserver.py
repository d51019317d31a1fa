"""The config daemon (`sriov-operator daemon` processes) on the real API server with simulated hosts.

These tests write the NodeState spec and the device-plugin ConfigMap themselves
(what the operator writes) and, where a drain is needed, play the drain
controller's answer: their subject is the daemon.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest_asyncio
from kubernetes_asyncio import client

from sriov_operator.api.constants import API_VERSION
from sriov_operator.controlplane.process import ControlPlane, free_port
from sriov_operator.host.root import VFIO_NOIOMMU_PARAMETER, HostRoot
from sriov_operator.host.simulator.builder import create_host, load_profile
from sriov_operator.host.simulator.kernel import SimulatedKernel
from sriov_operator.kube.objects import KubeObjects
from sriov_operator.kube.resources import EVENTS, NODES, SRIOV_NETWORK_NODE_STATES
from tests.integration.conftest import NamespaceFactory
from tests.integration.daemon_harness import (
    PLUGIN_FILE,
    WAIT_SECONDS,
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
    write_device_plugin_config,
    write_node_state_spec,
)
from tests.kube_client import kube_objects

DPDK_PORT = "0000:00:04.0"  # vhost-user virtio port, Neutron network 55a54d05-…
OFFLOAD_PORT = "0000:00:07.0"  # ConnectX-6 Dx VF, Neutron network c0ffee00-…


def port(pci: str, policy: str, device_type: str, is_rdma: bool = False) -> dict[str, Any]:
    group = {"resourceName": policy, "deviceType": device_type, "vfRange": "0-0", "policyName": policy}
    return {"pciAddress": pci, "numVfs": 1, "vfGroups": [{**group, "isRdma": is_rdma}]}


SEED_SPEC = {
    "interfaces": [port(DPDK_PORT, "dpdk1", "vfio-pci"), port(OFFLOAD_PORT, "hwoffload1", "netdevice", True)]
}
SEED_RESOURCES = [
    {"resourceName": "dpdk1", "selectors": {"pciAddresses": [DPDK_PORT], "drivers": ["vfio-pci"]}},
    {"resourceName": "hwoffload1", "selectors": {"pciAddresses": [OFFLOAD_PORT], "isRdma": True}},
]


@dataclass
class Node:
    name: str
    namespace: str
    root: Path
    objects: KubeObjects
    daemon: DaemonProcess

    def restart(self) -> DaemonProcess:
        self.daemon = DaemonProcess(
            self.name, self.namespace, self.daemon.kubeconfig, self.root, self.daemon.log_path
        ).start()
        return self.daemon


async def _make_node(
    profile: str, tmp_path: Path, kube: client.ApiClient, plane: ControlPlane, namespace: str, **changes: Any
) -> Node:
    objects = kube_objects(kube)
    name = f"{profile}-{namespace}"
    root = tmp_path / name
    create_host(load_profile(profile).model_copy(update=changes), root)
    await create_node(objects, name)
    await objects.create(
        SRIOV_NETWORK_NODE_STATES,
        {
            "apiVersion": API_VERSION,
            "kind": "SriovNetworkNodeState",
            "metadata": {"name": name, "namespace": namespace},
        },
    )
    daemon = DaemonProcess(name, namespace, plane.kubeconfig, root, tmp_path / f"{name}.log")
    return Node(name, namespace, root, objects, daemon)


NodeFactory = Callable[..., Awaitable[Node]]


@pytest_asyncio.fixture
async def make_node(
    tmp_path: Path, kube: client.ApiClient, control_plane: ControlPlane, make_namespace: NamespaceFactory
) -> AsyncIterator[NodeFactory]:
    """``await make_node(profile, **profile_changes)``: a node in a namespace of its own, its daemon not
    started yet; the daemons are stopped after the test."""
    made: list[Node] = []

    async def make(profile: str, **changes: Any) -> Node:
        namespace = await make_namespace(None)
        made.append(await _make_node(profile, tmp_path, kube, control_plane, namespace, **changes))
        return made[-1]

    yield make
    for node in made:
        node.daemon.stop()


@pytest_asyncio.fixture
async def vm(make_node: NodeFactory) -> Node:
    return await make_node("openstack-vm")


@pytest_asyncio.fixture
async def vm_without_noiommu(make_node: NodeFactory) -> Node:
    """A VM whose kernel's vfio was built without CONFIG_VFIO_NOIOMMU."""
    return await make_node("openstack-vm", vfio_noiommu=False)


@pytest_asyncio.fixture
async def baremetal(make_node: NodeFactory) -> Node:
    return await make_node("baremetal-intel")


async def _events(node: Node) -> list[dict[str, Any]]:
    listed = await node.objects.list(EVENTS, node.namespace)
    return [e for e in listed["items"] if (e.get("regarding") or {}).get("name") == node.name]


async def _notes(node: Node, reason: str) -> list[str]:
    return [str(e.get("note")) for e in await _events(node) if e.get("reason") == reason]


async def _play_drain_controller(node: Node) -> None:
    """Answer the daemon's request the way the drain controller does (with drain disabled: at once)."""
    kube_node = await node.objects.get(NODES, node.name)
    assert kube_node is not None
    wanted = annotations_of(kube_node).get("sriovnetwork.openshift.io/state", "Idle")
    current = "Idle" if wanted == "Idle" else "DrainComplete"
    patch = {"metadata": {"annotations": {"sriovnetwork.openshift.io/current-state": current}}}
    await node.objects.patch(SRIOV_NETWORK_NODE_STATES, node.name, patch, node.namespace)


async def _drain_requested(node: Node) -> str | None:
    kube_node = await node.objects.get(NODES, node.name)
    assert kube_node is not None
    state = annotations_of(kube_node).get("sriovnetwork.openshift.io/state")
    return state if state in ("Drain_Required", "Reboot_Required") else None


async def _first_version(
    node: Node, since: str, matches: Callable[[dict[str, Any]], bool], what: str
) -> dict[str, Any]:
    """The first version of the NodeState, as stored after ``since``, that ``matches``.

    Read from a watch, so no version is missed between two polls.
    """

    async def first() -> dict[str, Any]:
        async for event in node.objects.watch(
            SRIOV_NETWORK_NODE_STATES,
            node.namespace,
            field_selector=f"metadata.name={node.name}",
            resource_version=since,
            allow_bookmarks=False,
        ):
            state: dict[str, Any] = event["object"]
            if matches(state):
                return state
        raise AssertionError(f"the watch of {node.name} ended before {what}")

    return await asyncio.wait_for(first(), WAIT_SECONDS)


async def _first_version_listing(node: Node, ports: int, since: str) -> dict[str, Any]:
    """The first version of the NodeState, as stored after ``since``, whose status lists ``ports`` ports."""

    def listing(state: dict[str, Any]) -> bool:
        return len((state.get("status") or {}).get("interfaces") or []) == ports

    return await _first_version(node, since, listing, f"its status listed {ports} ports")


def _drain_recorded(state: dict[str, Any]) -> bool:
    """The daemon wrote both halves of its drain request on the NodeState (two writes: the annotation,
    then the status)."""
    progressing = conditions(state).get("Progressing") or {}
    return annotations_of(state).get("sriovnetwork.openshift.io/desired-state") == "Drain_Required" and (
        progressing.get("reason") in {"DrainRequested", "WaitingForDrain"}
    )


async def test_seed_policies_on_a_vm_dpdk_with_no_iommu_and_offload_with_rdma(vm: Node) -> None:
    since = (await node_state(vm.objects, vm.namespace, vm.name))["metadata"]["resourceVersion"]
    vm.daemon.start()

    # whoever reads the VM's ports also reads where they came from: never one without the other
    state = await _first_version_listing(vm, 4, since)
    assert annotations_of(state).get("sriovnetwork.openshift.io/metadata-source") == "configDrive"
    filters = {i["pciAddress"]: i.get("netFilter") for i in state["status"]["interfaces"]}
    assert filters[DPDK_PORT] != filters[OFFLOAD_PORT]  # two Neutron networks, as the seed article says

    generation = await write_node_state_spec(vm.objects, vm.namespace, vm.name, SEED_SPEC)
    config = await write_device_plugin_config(vm.objects, vm.namespace, vm.name, SEED_RESOURCES, generation)
    state = await eventually(lambda: synced(vm.objects, vm.namespace, vm.name, generation), "Succeeded")

    assert driver_of(vm.root, DPDK_PORT) == "vfio-pci"
    assert HostRoot(vm.root).read(HostRoot(vm.root).path(VFIO_NOIOMMU_PARAMETER)) in {"Y", "1"}
    assert driver_of(vm.root, OFFLOAD_PORT) == "mlx5_core"  # the offload VF keeps its netdevice
    await eventually(
        lambda: handed_over(vm.objects, vm.namespace, vm.name, vm.root, config), "the device plugin's config"
    )

    found = conditions(state)
    assert (found["Ready"]["status"], found["Degraded"]["status"]) == ("True", "False")
    assert (found["NoIOMMU"]["status"], found["NoIOMMU"]["reason"]) == ("True", "UnsafeNoIOMMUMode")
    assert state["status"]["lastSyncError"] == ""
    planned = "\n".join(await _notes(vm, "ConfigurationPlanned"))
    assert f"will bind {DPDK_PORT} to vfio-pci (no drain): policy dpdk1" in planned
    assert await _notes(vm, "UnsafeNoIOMMUMode")
    # the simulated VM has no mlx5_ib: the plan's warning is told once, not on every pass
    warned = [e for e in await _events(vm) if e.get("reason") == "PlanWarnings"]
    assert [(e["type"], e.get("series")) for e in warned] == [("Warning", None)]
    assert warned[0]["note"].startswith(f"{OFFLOAD_PORT} (")
    assert "has isRdma but the device has no RDMA device" in warned[0]["note"]
    assert warned[0]["note"].endswith("load mlx5_ib")
    assert found["Ready"]["message"].endswith(f"(plan warnings: {warned[0]['note']})")
    assert await _drain_requested(vm) is None  # a VM port bound for DPDK the first time needs no drain

    # the policies go away: the DPDK port goes back to virtio-pci, after a drain (pods may use it)
    generation = await write_node_state_spec(vm.objects, vm.namespace, vm.name, {"interfaces": []})
    await write_device_plugin_config(vm.objects, vm.namespace, vm.name, [], generation)
    assert await eventually(lambda: _drain_requested(vm), "a drain request before the port is taken back")
    assert driver_of(vm.root, DPDK_PORT) == "vfio-pci"  # nothing taken before the drain completes
    await _play_drain_controller(vm)

    async def idle_again() -> dict[str, Any] | None:
        if await _drain_requested(vm) is None:
            await _play_drain_controller(vm)
            return await synced(vm.objects, vm.namespace, vm.name, generation)
        return None

    await eventually(idle_again, "Succeeded after the drain, with Idle requested")
    assert driver_of(vm.root, DPDK_PORT) == "virtio-pci"


async def _status_of(node: Node) -> tuple[str | None, str]:
    status = (await node_state(node.objects, node.namespace, node.name)).get("status") or {}
    return status.get("syncStatus"), str(status.get("lastSyncError") or "")


async def _seed_spec_until_failed(node: Node) -> tuple[int, str]:
    """Start the daemon, write the seed's spec and its ConfigMap; (generation, lastSyncError) once Failed."""
    node.daemon.start()
    generation = await write_node_state_spec(node.objects, node.namespace, node.name, SEED_SPEC)
    await write_device_plugin_config(node.objects, node.namespace, node.name, SEED_RESOURCES, generation)

    async def failed() -> str | None:
        sync_status, error = await _status_of(node)
        return error if sync_status == "Failed" else None

    return generation, await eventually(failed, "syncStatus Failed")


async def test_failing_host_write_reports_failed_and_recovers(vm: Node) -> None:
    records = break_device_records(vm.root)
    generation, error = await _seed_spec_until_failed(vm)
    assert error.startswith(
        f"policy dpdk1: rememberDevice {DPDK_PORT}: /etc/sriov-operator/pci"
    )  # whose, what, and where on the host
    state = await node_state(vm.objects, vm.namespace, vm.name)
    assert (conditions(state)["Degraded"]["status"], conditions(state)["Degraded"]["reason"]) == (
        "True",
        "ApplyFailed",
    )
    assert conditions(state)["Progressing"]["message"].startswith("retrying (attempt 2): will ")
    assert not (vm.root / PLUGIN_FILE).exists()  # the device plugin gets nothing from a half-configured host

    seen = set()
    for _ in range(15):  # retries keep Failed: never back to InProgress while the fault lasts
        seen.add((await _status_of(vm))[0])
        await asyncio.sleep(0.4)
    assert seen == {"Failed"}
    assert await _notes(vm, "ConfigurationFailed")

    records.unlink()
    state = await eventually(
        lambda: synced(vm.objects, vm.namespace, vm.name, generation), "recovery to Succeeded"
    )
    assert state["status"]["lastSyncError"] == ""
    assert conditions(state)["Degraded"]["status"] == "False"
    assert driver_of(vm.root, DPDK_PORT) == "vfio-pci"


async def test_daemon_killed_mid_apply_and_restarted_converges(vm: Node) -> None:
    records = break_device_records(vm.root)  # the apply stops half-way: vfio loaded, port not bound
    vm.daemon.start()
    generation = await write_node_state_spec(vm.objects, vm.namespace, vm.name, SEED_SPEC)
    await write_device_plugin_config(vm.objects, vm.namespace, vm.name, SEED_RESOURCES, generation)
    await eventually(lambda: _failed_on(vm, "rememberDevice"), "the first apply to stop half-way")
    assert (vm.root / "sys/module/vfio").is_dir() and driver_of(vm.root, DPDK_PORT) == "virtio-pci"

    vm.daemon.kill()
    records.unlink()
    vm.restart()
    await eventually(
        lambda: synced(vm.objects, vm.namespace, vm.name, generation), "Succeeded after the restart"
    )
    assert driver_of(vm.root, DPDK_PORT) == "vfio-pci"
    assert (vm.root / PLUGIN_FILE).exists()


async def _failed_on(node: Node, action: str) -> bool:
    """Failed at ``action`` (after the name of the failing policy, which the error starts with)."""
    sync_status, error = await _status_of(node)
    return sync_status == "Failed" and error.partition(": ")[2].startswith(action)


async def test_bare_metal_vfs_created_after_a_drain_and_plugin_config_only_after_they_exist(
    baremetal: Node,
) -> None:
    baremetal.daemon.start()

    async def pfs() -> list[dict[str, Any]] | None:
        state = await node_state(baremetal.objects, baremetal.namespace, baremetal.name)
        return (state.get("status") or {}).get("interfaces") or None

    pf = (await eventually(pfs, "the PFs in status"))[0]["pciAddress"]
    since = (await node_state(baremetal.objects, baremetal.namespace, baremetal.name))["metadata"][
        "resourceVersion"
    ]
    spec = {
        "interfaces": [
            {
                "pciAddress": pf,
                "numVfs": 4,
                "vfGroups": [
                    {
                        "resourceName": "intelnics",
                        "deviceType": "netdevice",
                        "vfRange": "0-3",
                        "policyName": "intelnics",
                    }
                ],
            }
        ]
    }
    generation = await write_node_state_spec(baremetal.objects, baremetal.namespace, baremetal.name, spec)
    resources = [{"resourceName": "intelnics", "selectors": {"pfNames": ["ens1f0"]}}]
    await write_device_plugin_config(
        baremetal.objects, baremetal.namespace, baremetal.name, resources, generation
    )

    assert await eventually(lambda: _drain_requested(baremetal), "a drain request") == "Drain_Required"
    # the Node's annotation and the NodeState's are separate writes: wait on the NodeState itself
    state = await _first_version(
        baremetal, since, _drain_recorded, "the NodeState recorded the drain request"
    )
    progressing = conditions(state)["Progressing"]
    assert f"will create 4 VFs on {pf} (drain): policy intelnics" in progressing["message"]
    assert not (baremetal.root / PLUGIN_FILE).exists()
    assert _vf_count(baremetal.root, pf) == 0  # nothing before the drain completes

    await _play_drain_controller(baremetal)

    async def handed_over() -> tuple[int] | None:
        """The number of VFs at the moment the device plugin's file appears."""
        return (_vf_count(baremetal.root, pf),) if (baremetal.root / PLUGIN_FILE).exists() else None

    assert await eventually(handed_over, "the device-plugin config on the host") == (4,)

    async def finished() -> dict[str, Any] | None:
        if await _drain_requested(baremetal) is None:
            await _play_drain_controller(baremetal)
            return await synced(baremetal.objects, baremetal.namespace, baremetal.name, generation)
        return None

    await eventually(finished, "Succeeded with Idle requested")
    assert await _notes(baremetal, "DrainRequested")


def _vf_count(root: Path, pf: str) -> int:
    return len(list((root / "sys/bus/pci/devices" / pf).glob("virtfn*")))


async def test_api_server_restarted_under_the_daemon_it_catches_up_and_applies_nothing_twice(
    vm: Node, control_plane: ControlPlane
) -> None:
    vm.daemon.start()
    first = {"interfaces": [port(DPDK_PORT, "dpdk1", "vfio-pci")]}
    generation = await write_node_state_spec(vm.objects, vm.namespace, vm.name, first)
    await write_device_plugin_config(vm.objects, vm.namespace, vm.name, SEED_RESOURCES[:1], generation)
    await eventually(
        lambda: synced(vm.objects, vm.namespace, vm.name, generation), "Succeeded before the restart"
    )
    dpdk_record = vm.root / f"etc/sriov-operator/pci/{DPDK_PORT}.json"
    written_at = dpdk_record.stat().st_mtime_ns

    await asyncio.to_thread(control_plane.restart_apiserver)
    assert vm.daemon.process is not None and vm.daemon.process.poll() is None  # still running

    generation = await write_node_state_spec(vm.objects, vm.namespace, vm.name, SEED_SPEC)
    await write_device_plugin_config(vm.objects, vm.namespace, vm.name, SEED_RESOURCES, generation)
    await eventually(
        lambda: synced(vm.objects, vm.namespace, vm.name, generation), "catching up after the restart"
    )
    assert dpdk_record.stat().st_mtime_ns == written_at  # the DPDK port was not configured again
    planned = await _notes(vm, "ConfigurationPlanned")
    assert sum(f"bind {DPDK_PORT} to vfio-pci" in note for note in planned) == 1


async def test_daemon_starts_and_stays_up_while_the_api_server_is_unreachable(
    vm: Node, control_plane: ControlPlane, tmp_path: Path
) -> None:
    unreachable = tmp_path / "unreachable.kubeconfig"
    text = control_plane.kubeconfig.read_text().replace(
        control_plane.api_url, f"https://127.0.0.1:{free_port()}"
    )
    unreachable.write_text(text)
    vm.daemon.kubeconfig = unreachable
    vm.daemon.start()

    async def retried_twice() -> bool:
        return vm.daemon.log().count("retry in") >= 2

    await eventually(retried_twice, "the daemon to log two retries of the unreachable API server")
    assert vm.daemon.process is not None and vm.daemon.process.poll() is None, vm.daemon.log()
    assert vm.daemon.stop() == 0  # and it stops cleanly on SIGTERM


async def test_kernel_without_no_iommu_support_fails_with_what_to_do(vm_without_noiommu: Node) -> None:
    vm = vm_without_noiommu
    _, error = await _seed_spec_until_failed(vm)
    assert "lacks no-IOMMU support" in error and "CONFIG_VFIO_NOIOMMU" in error
    assert driver_of(vm.root, DPDK_PORT) == "virtio-pci"
    assert not (vm.root / PLUGIN_FILE).exists()


async def test_a_tree_without_netns_fails_each_sync_saying_what_to_set_and_the_daemon_stays_up(
    baremetal: Node,
) -> None:
    """Real I/O on a tree (no --simulate) and no --netns: links and network programs would be this
    machine's, so each pass fails with the setting to give; the daemon retries, it does not exit."""
    baremetal.daemon.simulate = False
    baremetal.daemon.start()
    await eventually(lambda: "(attempt 2, retry in" in baremetal.daemon.log(), "a second failed pass")
    assert baremetal.daemon.process is not None and baremetal.daemon.process.poll() is None
    state = await node_state(baremetal.objects, baremetal.namespace, baremetal.name)
    error = state["status"]["lastSyncError"]
    assert state["status"]["syncStatus"] == "Failed" and "\n" not in error
    assert f"--netns: required with --host-root {baremetal.root} (not /)" in error
    assert "SRIOV_OPERATOR_NETNS" in error
    assert conditions(state)["Degraded"]["reason"] == "DiscoveryFailed"


def _failed_attempts(log: str) -> list[tuple[datetime, float]]:
    """(when, the retry it announced) of each failed pass in the daemon's log, in order."""
    found = re.findall(r"time=(\S+) .*\(attempt \d+, retry in (\d+)s\)", log)
    return [(datetime.fromisoformat(when.replace("Z", "+00:00")), float(retry)) for when, retry in found]


async def test_a_host_that_cannot_be_read_is_retried_after_the_backoff_not_at_each_watch_event(
    baremetal: Node,
) -> None:
    baremetal.daemon.simulate = False  # a tree without --netns: every read of the host fails
    baremetal.daemon.start()
    await eventually(lambda: len(_failed_attempts(baremetal.daemon.log())) >= 1, "a first failed pass")
    for poke in range(3):  # watch events on the node's own NodeState, each a pass
        patch = {"metadata": {"annotations": {"test/poke": str(poke)}}}
        await baremetal.objects.patch(
            SRIOV_NETWORK_NODE_STATES, baremetal.name, patch, namespace=baremetal.namespace
        )
    await eventually(lambda: len(_failed_attempts(baremetal.daemon.log())) >= 2, "a second failed pass")
    (first, announced), (second, _) = _failed_attempts(baremetal.daemon.log())[:2]
    assert (second - first).total_seconds() >= announced, baremetal.daemon.log()


async def test_a_nic_unplugged_from_the_host_leaves_the_status_without_a_spec_change(vm: Node) -> None:
    vm.daemon.start()

    async def ports() -> set[str] | None:
        state = await node_state(vm.objects, vm.namespace, vm.name)
        found = {i["pciAddress"] for i in (state.get("status") or {}).get("interfaces") or []}
        return found or None

    before = await eventually(ports, "the discovered ports")
    with SimulatedKernel.transaction(vm.root) as kernel:
        kernel.remove_device("0000:00:06.0")  # the Intel VF port is detached from the VM

    async def rediscovered() -> bool:
        return await ports() == before - {"0000:00:06.0"}

    assert await eventually(rediscovered, "the status without the unplugged port (periodic rediscovery)")


@pytest_asyncio.fixture
async def infiniband(
    tmp_path: Path, kube: client.ApiClient, control_plane: ControlPlane, make_namespace: NamespaceFactory
) -> AsyncIterator[Node]:
    node = await _make_node("baremetal-infiniband", tmp_path, kube, control_plane, await make_namespace(None))
    yield node
    node.daemon.stop()


async def test_infiniband_vfs_get_the_guid_files_guids_and_report_them_in_status(infiniband: Node) -> None:
    guid_file = infiniband.root / "etc/sriov-operator/infiniband/guids"
    guid_file.parent.mkdir(parents=True, exist_ok=True)
    guids = ["02:00:00:00:00:00:00:10", "02:00:00:00:00:00:00:11"]
    guid_file.write_text(json.dumps([{"pciAddress": "0000:3b:00.0", "guids": guids}]))
    infiniband.daemon.start()
    group = {
        "resourceName": "ib1",
        "deviceType": "netdevice",
        "vfRange": "0-1",
        "policyName": "ib1",
        "isRdma": True,
    }
    spec = {
        "interfaces": [{"pciAddress": "0000:3b:00.0", "numVfs": 2, "linkType": "IB", "vfGroups": [group]}]
    }
    generation = await write_node_state_spec(infiniband.objects, infiniband.namespace, infiniband.name, spec)
    resources = [{"resourceName": "ib1", "selectors": {"pfNames": ["ibp59s0f0"], "isRdma": True}}]
    await write_device_plugin_config(
        infiniband.objects, infiniband.namespace, infiniband.name, resources, generation
    )

    async def finished() -> dict[str, Any] | None:
        await _play_drain_controller(infiniband)
        return await synced(infiniband.objects, infiniband.namespace, infiniband.name, generation)

    state = await eventually(finished, "Succeeded with the VFs' GUIDs set")
    (pf,) = [i for i in state["status"]["interfaces"] if i["pciAddress"] == "0000:3b:00.0"]
    assert pf["linkType"] == "IB"
    assert [vf["guid"] for vf in pf["Vfs"]] == guids
