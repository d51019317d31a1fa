"""Mellanox firmware under the real operator (drain controller included) and a config daemon on the simulator.

The simulated ConnectX card offers 8 VFs per port (``NUM_OF_VFS`` 8); a policy asks
for 16, so the daemon sets the firmware for its next load and reboots.  Its warm
reboot keeps the old firmware running (``reloadsOnReboot: false``), as on the
servers where upstream's users see reboot loops: the daemon must go Failed with
the values after that one reboot, never reboot again, and give the node back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kubernetes_asyncio import client

from sriov_operator.api.constants import API_VERSION
from sriov_operator.controlplane.process import ControlPlane
from sriov_operator.host.boot import read_boot_marks
from sriov_operator.host.root import HostRoot
from sriov_operator.host.simulator.builder import create_host, load_profile
from sriov_operator.kube.resources import NODES, SRIOV_NETWORK_NODE_POLICIES
from tests.integration.daemon_harness import DaemonProcess, create_node, eventually
from tests.integration.operator_support import TEST_LABEL
from tests.integration.recorded_changes import (
    drain_over,
    drain_request,
    failed_by_loop_guard,
    is_cordoned,
    recording,
    refused_again,
)
from tests.integration.test_daemon_with_operator import (
    HOSTNAME,
    operator,  # noqa: F401 - the fixture
)
from tests.kube_client import kube_objects

PF = "0000:5e:00.0"
STUCK = f"firmware of {PF} still has NUM_OF_VFS=8 after a reboot that should have made it 16"


def mlx_policy(namespace: str, node: str) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "SriovNetworkNodePolicy",
        "metadata": {"name": "mlxnics", "namespace": namespace},
        "spec": {
            "resourceName": "mlxnics",
            "numVfs": 16,
            "deviceType": "netdevice",
            "nicSelector": {"pfNames": ["ens2f0np0"]},
            "nodeSelector": {HOSTNAME: node},
        },
    }


async def test_firmware_a_reboot_did_not_load_fails_with_the_values_after_one_reboot(
    kube: client.ApiClient,
    control_plane: ControlPlane,
    operator: str,  # noqa: F811 - the imported fixture
    tmp_path: Path,
) -> None:
    namespace, objects = operator, kube_objects(kube)
    name = f"mlxfw-{namespace}"
    profile = load_profile("baremetal-mellanox")
    card = profile.firmware[0].model_copy(update={"reloads_on_reboot": False})
    create_host(profile.model_copy(update={"firmware": [card]}), tmp_path / name)
    await create_node(objects, name, {TEST_LABEL: namespace, HOSTNAME: name})
    log = tmp_path / f"{name}.log"
    process = DaemonProcess(name, namespace, control_plane.kubeconfig, tmp_path / name, log)
    host = HostRoot(process.root)
    first_boot = read_boot_marks(host).boot_id
    daemon = process.start()
    try:
        async with recording(objects) as watches:
            requests = watches.record(NODES, None, name, drain_request)
            cordoned = watches.record(NODES, None, name, is_cordoned)
            await objects.create(SRIOV_NETWORK_NODE_POLICIES, mlx_policy(namespace, name), namespace)
            state = await eventually(
                lambda: failed_by_loop_guard(objects, namespace, name), "Failed by the loop guard", 180
            )
            assert STUCK in state["status"]["lastSyncError"]
            await eventually(lambda: drain_over(requests, cordoned), "the node released after the loop guard")
            assert "Reboot_Required" in requests and True in cordoned  # drained for the one reboot
            rebooted = read_boot_marks(host).boot_id
            assert rebooted != first_boot
            await eventually(lambda: refused_again(objects, namespace, name), "a retry, refused again", 60)
            assert read_boot_marks(host).boot_id == rebooted  # and no second reboot
            watches.check()
    finally:
        daemon.stop()
