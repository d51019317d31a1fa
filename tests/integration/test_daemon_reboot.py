"""A node that reboots, under the real operator (drain controller included) and its config daemon.

The simulator's reboot is the kernel's: the VFs, driver bindings and loaded
modules are gone, the boot id is new, our files under ``/etc`` stay, among them
the device plugin's config from the earlier boot.  While the test holds the
host's apply lock (as another applier would) the daemon can withdraw that
config but cannot create VFs: so the withdrawal is seen with no VF on the host,
deterministically; once the lock is released, the config must come back only
with the VFs, and nobody may ask for a drain.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kubernetes_asyncio import client

from sriov_operator.api.names import device_plugin_configmap_name
from sriov_operator.controlplane.process import ControlPlane
from sriov_operator.daemon.handoff import digest
from sriov_operator.host.boot import read_boot_marks
from sriov_operator.host.bootconfig import bls_entries, read_cmdline
from sriov_operator.host.lock import LOCK_FILE
from sriov_operator.host.root import HostRoot
from sriov_operator.host.simulator.kernel import SimulatedKernel
from sriov_operator.kube.objects import KubeObjects
from sriov_operator.kube.resources import (
    CONFIG_MAPS,
    EVENTS,
    NODES,
    PODS,
    SRIOV_NETWORK_NODE_POLICIES,
    SRIOV_NETWORK_NODE_STATES,
)
from tests.integration.daemon_harness import (
    PLUGIN_FILE,
    DaemonProcess,
    annotations_of,
    eventually,
    handed_over,
    synced,
)
from tests.integration.operator_harness import make_pod
from tests.integration.recorded_changes import (
    drain_over,
    drain_request,
    failed_by_loop_guard,
    is_cordoned,
    last_is,
    recording,
    refused_again,
)
from tests.integration.test_daemon_with_operator import (
    BAREMETAL_PF,
    bare_metal_node,
    operator,  # noqa: F401 - the fixture
    vf_count,
    vf_policy,
)
from tests.kube_client import kube_objects

HANDED_OVER = "sriovnetwork.openshift.io/handed-over"
PLUGIN_LABELS = {"app": "sriov-device-plugin"}
IOMMU_ARGS = ("intel_iommu=on", "iommu=pt")


@contextlib.contextmanager
def apply_lock_held(root: Path) -> Iterator[None]:
    """Hold the host's apply lock, as another applier (``sriov-operator apply``) would."""
    path = root / LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


async def test_a_reboot_withdraws_the_hand_off_until_the_vfs_exist_again_and_drains_nothing(
    kube: client.ApiClient,
    control_plane: ControlPlane,
    operator: str,  # noqa: F811 - the imported fixture
    tmp_path: Path,
) -> None:
    namespace, objects = operator, kube_objects(kube)
    name = f"reboot-{namespace}"
    daemon = (await bare_metal_node(objects, control_plane, namespace, name, tmp_path)).start()
    try:
        async with recording(objects) as watches:
            handed = watches.record(  # the ConfigMap's handed-over annotation
                CONFIG_MAPS,
                namespace,
                device_plugin_configmap_name(name),
                lambda c: annotations_of(c).get(HANDED_OVER),
            )
            requests = watches.record(NODES, None, name, drain_request)
            cordoned = watches.record(NODES, None, name, is_cordoned)
            await objects.create(SRIOV_NETWORK_NODE_POLICIES, vf_policy(namespace, name, 4), namespace)

            text = await eventually(
                lambda: configured(objects, namespace, name, daemon.root),
                "4 VFs, Succeeded, drained once and handed over",
                180,
            )
            assert vf_count(daemon.root, BAREMETAL_PF) == 4
            assert "Drain_Required" in requests  # the first configuration drains (VFs are taken from pods)
            await make_pod(objects, "device-plugin", namespace, name, labels=PLUGIN_LABELS)
            await eventually(lambda: last_is(handed, digest(text)), "the hand-off seen by the watch")

            await eventually(
                lambda: drain_over(requests, cordoned), "the first drain's end seen by the watches"
            )
            seen_before = len(requests), len(cordoned)

            with apply_lock_held(daemon.root):
                with SimulatedKernel.transaction(daemon.root) as kernel:
                    kernel.reboot()
                assert vf_count(daemon.root, BAREMETAL_PF) == 0
                assert (daemon.root / PLUGIN_FILE).read_text() == text  # the old boot's config is still there
                await eventually(lambda: last_is(handed, None), "the ConfigMap's hand-off withdrawn")
                assert not (daemon.root / PLUGIN_FILE).exists()
                assert vf_count(daemon.root, BAREMETAL_PF) == 0  # withdrawn while no VF exists
                pod = await objects.get(PODS, "device-plugin", namespace)
                assert pod is None or pod["metadata"].get("deletionTimestamp"), "the device plugin restarts"

            await eventually(lambda: last_is(handed, digest(text)), "the hand-off given back", 180)
            assert vf_count(daemon.root, BAREMETAL_PF) == 4  # the VFs existed when it came back
            assert (daemon.root / PLUGIN_FILE).read_text() == text
            state = await eventually(
                lambda: _synced_now(objects, namespace, name), "Succeeded again after the reboot", 120
            )
            assert annotations_of(state).get("sriovnetwork.openshift.io/current-state") == "Idle"
            watches.check()
            assert handed[-3:] == [digest(text), None, digest(text)], handed
            after_reboot = requests[seen_before[0] :], cordoned[seen_before[1] :]
            assert after_reboot == ([], []), f"a reboot must not drain: requests, cordons {after_reboot}"
    finally:
        daemon.stop()


async def configured(objects: KubeObjects, namespace: str, name: str, root: Path) -> str | None:
    """The device plugin's config.json once the node has its 4 VFs, Succeeded, is Idle and has it."""
    state = await objects.get(SRIOV_NETWORK_NODE_STATES, name, namespace)
    interfaces = ((state or {}).get("spec") or {}).get("interfaces") or []
    if state is None or [i.get("numVfs") for i in interfaces] != [4]:
        return None
    if await synced(objects, namespace, name, state["metadata"]["generation"]) is None:
        return None
    if annotations_of(state).get("sriovnetwork.openshift.io/current-state") != "Idle":
        return None
    configmap = await objects.get(CONFIG_MAPS, device_plugin_configmap_name(name), namespace)
    text: str | None = ((configmap or {}).get("data") or {}).get("config.json")
    ok = text is not None and await handed_over(objects, namespace, name, root, text)
    return text if ok else None


async def _synced_now(objects: KubeObjects, namespace: str, name: str) -> dict[str, Any] | None:
    state = await objects.get(SRIOV_NETWORK_NODE_STATES, name, namespace)
    return await synced(objects, namespace, name, state["metadata"]["generation"]) if state else None


def boot_without(root: Path, args: tuple[str, ...]) -> None:
    """The host boots without ``args``: dropped from its boot entry, then a reboot (before any daemon)."""
    for entry in bls_entries(HostRoot(root)):
        entry.write_text(" ".join(word for word in entry.read_text().split(" ") if word.strip() not in args))
    with SimulatedKernel.transaction(root) as kernel:
        kernel.reboot()


async def _booted_without_iommu(
    objects: KubeObjects, control_plane: ControlPlane, namespace: str, name: str, tmp_path: Path
) -> tuple[DaemonProcess, HostRoot, str | None]:
    """A bare-metal node booted without the IOMMU arguments (its daemon not started), its host, boot id."""
    process = await bare_metal_node(objects, control_plane, namespace, name, tmp_path)
    boot_without(process.root, IOMMU_ARGS)
    host = HostRoot(process.root)
    return process, host, read_boot_marks(host).boot_id


def dpdk_policy(namespace: str, node: str) -> dict[str, Any]:
    policy = vf_policy(namespace, node, 2)
    policy["spec"]["deviceType"] = "vfio-pci"
    return policy


async def test_dpdk_without_an_iommu_drains_writes_the_arguments_reboots_then_binds_vfio(
    kube: client.ApiClient,
    control_plane: ControlPlane,
    operator: str,  # noqa: F811 - the imported fixture
    tmp_path: Path,
) -> None:
    namespace, objects = operator, kube_objects(kube)
    name = f"kargs-{namespace}"
    process, host, first_boot = await _booted_without_iommu(objects, control_plane, namespace, name, tmp_path)
    assert not set(IOMMU_ARGS) & read_cmdline(host) and not host.names(host.path("sys/kernel/iommu_groups"))
    daemon = process.start()
    try:
        async with recording(objects) as watches:
            requests = watches.record(NODES, None, name, drain_request)
            await objects.create(SRIOV_NETWORK_NODE_POLICIES, dpdk_policy(namespace, name), namespace)
            await eventually(
                lambda: _rebooted_with_iommu(host, first_boot), "the reboot with the IOMMU args", 180
            )
            assert "Reboot_Required" in requests  # the reboot came after a drain was asked for
            state = await eventually(
                lambda: _vfio_configured(objects, namespace, name, host), "2 VFs on vfio-pci, Succeeded", 180
            )
            assert annotations_of(state).get("sriovnetwork.openshift.io/current-state") == "Idle"
            assert read_boot_marks(host).boot_id != first_boot
            (entry,) = bls_entries(host)
            assert all(arg in entry.read_text().split() for arg in IOMMU_ARGS)
            watches.check()
    finally:
        daemon.stop()


async def _rebooted_with_iommu(host: HostRoot, first_boot: str | None) -> bool:
    return read_boot_marks(host).boot_id != first_boot and set(IOMMU_ARGS) <= read_cmdline(host)


async def _vfio_configured(
    objects: KubeObjects, namespace: str, name: str, host: HostRoot
) -> dict[str, Any] | None:
    pf = host.path("sys/bus/pci/devices", BAREMETAL_PF)
    drivers = [HostRoot.link_name(vf / "driver") for vf in sorted(pf.glob("virtfn*"))]
    if drivers != ["vfio-pci", "vfio-pci"]:
        return None
    return await _synced_now(objects, namespace, name)


def boot_loader_drops(root: Path, arg: str) -> None:
    """From now on the host boots without ``arg`` whatever its boot entry says (a boot loader whose default
    entry is not the one written, as after a kernel update): what the loop guard exists for."""
    with SimulatedKernel.transaction(root) as kernel:
        kernel.state.boot_drops = [arg]


async def test_loop_guard_a_boot_without_the_written_argument_fails_releases_the_node_and_reboots_once(
    kube: client.ApiClient,
    control_plane: ControlPlane,
    operator: str,  # noqa: F811 - the imported fixture
    tmp_path: Path,
) -> None:
    namespace, objects = operator, kube_objects(kube)
    name = f"loop-{namespace}"
    process, host, first_boot = await _booted_without_iommu(objects, control_plane, namespace, name, tmp_path)
    boot_loader_drops(process.root, "intel_iommu=on")
    daemon = process.start()
    try:
        async with recording(objects) as watches:
            requests = watches.record(NODES, None, name, drain_request)
            cordoned = watches.record(NODES, None, name, is_cordoned)
            await objects.create(SRIOV_NETWORK_NODE_POLICIES, dpdk_policy(namespace, name), namespace)
            state = await eventually(
                lambda: failed_by_loop_guard(objects, namespace, name), "Failed by the loop guard", 180
            )
            error = state["status"]["lastSyncError"]
            assert (
                "intel_iommu=on" in error
                and "/boot/loader/entries/" in error
                and "not rebooting again" in error
            )
            degraded = next(c for c in state["status"]["conditions"] if c["type"] == "Degraded")
            assert degraded["status"] == "True" and "intel_iommu=on" in degraded["message"]
            notes = await eventually(lambda: _warnings(objects, namespace, name), "the Warning Event")
            assert any("intel_iommu=on" in note and "/boot/loader/entries/" in note for note in notes)
            # drained for the reboot, then given back: not left cordoned with Reboot_Required
            await eventually(lambda: drain_over(requests, cordoned), "the node released after the loop guard")
            assert "Reboot_Required" in requests and True in cordoned
            released = await eventually(
                lambda: _events(objects, namespace, name, "DrainReleased"), "DrainReleased"
            )
            assert any("intel_iommu=on" in note and "nothing is applied" in note for note in released)
            rebooted = read_boot_marks(host).boot_id
            assert rebooted != first_boot and "iommu=pt" in read_cmdline(host)  # the one reboot happened
            await eventually(lambda: refused_again(objects, namespace, name), "a retry, refused again", 60)
            assert read_boot_marks(host).boot_id == rebooted  # and no second one
            watches.check()
    finally:
        daemon.stop()


async def _warnings(objects: KubeObjects, namespace: str, name: str) -> list[str]:
    return await _events(objects, namespace, name, "ConfigurationFailed")


async def _events(objects: KubeObjects, namespace: str, name: str, reason: str) -> list[str]:
    listed = await objects.list(EVENTS, namespace)
    return [
        str(e.get("note"))
        for e in listed["items"]
        if (e.get("regarding") or {}).get("name") == name
        and e.get("type") == "Warning"
        and e.get("reason") == reason
    ]
