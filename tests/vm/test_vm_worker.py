"""The config daemon inside a real-kernel OpenStack VM, driven by the real operator on this host.

The suite's kube-apiserver runs on 127.0.0.1; the `sriov-operator operator`
process runs beside it; the Node of the VM (providerID ``openstack:///<uuid>``,
worker labels) and the seed's DPDK policy are created through the API.  The VM
(`sriov_vmtest.worker.VmWorker`) boots the OpenStack machine with a
config drive and runs `sriov-operator daemon` on its real root, as the
operator's own ServiceAccount for config daemons (a TokenRequest token), reaching
the API server through a relayed guestfwd address with ``tls-server-name``.  The
NodeState must converge to ``Succeeded`` with the DPDK port on vfio-pci in
no-IOMMU mode: checked through the API and inside the guest.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from kubernetes_asyncio import client

from sriov_operator.controlplane.pki import create_pki
from sriov_operator.controlplane.process import ControlPlane, free_port
from sriov_operator.errors import SriovOperatorError
from sriov_operator.kube.objects import KubeObjects
from sriov_operator.kube.resources import (
    NODES,
    SRIOV_NETWORK_NODE_POLICIES,
    SRIOV_NETWORK_NODE_STATES,
)
from sriov_operator.manifests import load_paths
from sriov_vmtest.bundle import Bundle
from sriov_vmtest.machine import GuestResult, VmError
from sriov_vmtest.nova import NETWORK_OF
from sriov_vmtest.profiles import DPDK_PORT, pci_address
from sriov_vmtest.worker import ApiServerAccess, VmWorker, node_manifest
from tests.integration.conftest import control_plane, kube  # noqa: F401 - the suite's API server
from tests.integration.operator_support import start_operator
from tests.kube_client import kube_objects
from tests.support import FIXTURES, REPO_ROOT, control_plane_report
from tests.vm.support import daemon_token, stop_worker_and_operator

pytestmark = [pytest.mark.vm, pytest.mark.timeout(1800)]

DPDK_PCI = pci_address(DPDK_PORT)
CONVERGE_SECONDS = 900.0  # TCG: the daemon's imports alone take minutes on a loaded machine
HEALTH_CHECK_SECONDS = 30.0


@dataclass
class Converged:
    worker: VmWorker
    namespace: str
    state: dict[str, Any]  # the NodeState once Succeeded with the port on vfio-pci
    seconds_to_succeeded: float  # from QEMU's start
    guest: dict[str, GuestResult] = field(default_factory=dict)


def tail(path: Path, lines: int = 30) -> str:
    text = path.read_text(errors="replace").splitlines() if path.exists() else []
    return "\n".join(text[-lines:])


def dpdk_policy(namespace: str) -> dict[str, Any]:
    policy = next(d.body for d in load_paths([FIXTURES / "seed/dpdk1-policy.yaml"]).documents)
    policy["metadata"]["namespace"] = namespace
    return policy


def converged_state(state: dict[str, Any] | None) -> bool:
    """Succeeded for the current generation, the operator's spec binds the port, discovery shows it bound."""
    if state is None:
        return False
    spec_ports = {i["pciAddress"]: i for i in (state.get("spec") or {}).get("interfaces") or []}
    status = state.get("status") or {}
    found = {i["pciAddress"]: i for i in status.get("interfaces") or []}
    applied = (state["metadata"].get("annotations") or {}).get("sriovnetwork.openshift.io/applied-generation")
    return (
        spec_ports.get(DPDK_PCI, {}).get("vfGroups", [{}])[0].get("deviceType") == "vfio-pci"
        and status.get("syncStatus") == "Succeeded"
        and applied == str(state["metadata"]["generation"])
        and found.get(DPDK_PCI, {}).get("driver") == "vfio-pci"
    )


async def wait_until_converged(
    objects: KubeObjects, worker: VmWorker, namespace: str, operator_log: Path
) -> dict[str, Any]:
    deadline = time.monotonic() + CONVERGE_SECONDS
    next_health_check = time.monotonic() + HEALTH_CHECK_SECONDS
    state = None
    while True:
        state = await objects.get(SRIOV_NETWORK_NODE_STATES, worker.node_name, namespace)
        if converged_state(state):
            return state or {}
        now = time.monotonic()
        dead = False
        if now > next_health_check:
            dead = not await asyncio.to_thread(lambda: bool(worker.machine and worker.machine.alive()))
            dead = dead or not await asyncio.to_thread(worker.daemon_running)
            next_health_check = now + HEALTH_CHECK_SECONDS
        if dead or now > deadline:
            why = "the VM or its daemon stopped" if dead else f"not converged within {CONVERGE_SECONDS:g} s"
            report = await asyncio.to_thread(worker.diagnosis)
            pytest.fail(
                f"{why}; NodeState status: {(state or {}).get('status')}\n{report}\n"
                f"--- operator log (tail) ---\n{tail(operator_log)}",
                pytrace=False,
            )
        await asyncio.sleep(2)


@pytest_asyncio.fixture(scope="module")
async def converged(
    control_plane: ControlPlane,  # noqa: F811
    kube: client.ApiClient,  # noqa: F811
    vm_bundle: Bundle,
    vm_accel: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Converged]:
    objects = kube_objects(kube)
    work = tmp_path_factory.mktemp("vm-worker")
    namespace = f"vmw-{uuid.uuid4().hex[:6]}"
    node = f"vm-worker-{namespace}"
    await client.CoreV1Api(kube).create_namespace({"metadata": {"name": namespace}})
    operator_log = work / "operator.log"
    operator = start_operator(namespace, control_plane.kubeconfig, operator_log)
    worker: VmWorker | None = None
    try:
        await objects.create(NODES, node_manifest(node))
        await objects.create(SRIOV_NETWORK_NODE_POLICIES, dpdk_policy(namespace), namespace)
        token = await daemon_token(objects, namespace)
        ca_pem = control_plane.pki.ca.cert.read_bytes()
        access = ApiServerAccess.with_token(control_plane.api_url, ca_pem, token)
        worker = VmWorker(node, namespace, access, vm_bundle, work / "vm", REPO_ROOT, accel=vm_accel)
        started = time.monotonic()
        try:
            await asyncio.to_thread(worker.start)
        except SriovOperatorError as error:
            pytest.fail(str(error), pytrace=False)
        state = await wait_until_converged(objects, worker, namespace, operator_log)
        result = Converged(worker, namespace, state, round(time.monotonic() - started, 1))
        group = f"/sys/bus/pci/devices/{DPDK_PCI}/iommu_group"
        for step, argv in {
            "driver": ["readlink", f"/sys/bus/pci/devices/{DPDK_PCI}/driver"],
            "noiommu parameter": ["cat", "/sys/module/vfio/parameters/enable_unsafe_noiommu_mode"],
            "vfio group node": ["sh", "-c", f'ls -l "/dev/vfio/noiommu-$(basename "$(readlink {group})")"'],
        }.items():
            result.guest[step] = await asyncio.to_thread(worker.run, argv)
        boot = worker.machine.boot_seconds if worker.machine else 0.0
        control_plane_report.append(
            f"VM worker {node} ({vm_accel}): booted in {boot:.1f}s,"
            f" NodeState Succeeded {result.seconds_to_succeeded:.1f}s after QEMU started"
        )
        yield result
    finally:
        await stop_worker_and_operator(worker, operator, objects, node)


async def test_nodestate_converges_to_succeeded_with_the_dpdk_port_on_vfio_pci(converged: Converged) -> None:
    state = converged.state
    status = state["status"]
    assert status["syncStatus"] == "Succeeded"
    assert status.get("lastSyncError", "") == ""
    ports = {i["pciAddress"]: i for i in status["interfaces"]}
    assert ports[DPDK_PCI]["driver"] == "vfio-pci"
    assert ports[DPDK_PCI]["netFilter"] == f"openstack/NetworkID:{NETWORK_OF[DPDK_PORT]}"
    annotations = state["metadata"]["annotations"]
    assert annotations["sriovnetwork.openshift.io/metadata-source"] == "configDrive"
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["Ready"]["status"] == "True"
    assert conditions["NoIOMMU"]["status"] == "True"


async def test_the_operator_rendered_the_spec_from_the_discovered_port(converged: Converged) -> None:
    spec_ports = {i["pciAddress"]: i for i in converged.state["spec"]["interfaces"]}
    assert list(spec_ports) == [DPDK_PCI]  # only the port on the policy's Neutron network
    group = spec_ports[DPDK_PCI]["vfGroups"][0]
    assert (group["deviceType"], group["policyName"], group["resourceName"]) == ("vfio-pci", "dpdk1", "dpdk1")


async def test_inside_the_guest_the_port_is_on_vfio_pci_with_a_noiommu_group(converged: Converged) -> None:
    driver = converged.guest["driver"]
    assert driver.returncode == 0 and driver.stdout.strip().endswith("/vfio-pci"), str(driver)
    assert converged.guest["noiommu parameter"].stdout.strip() == "Y"
    node = converged.guest["vfio group node"]
    assert node.returncode == 0, str(node)
    assert node.stdout.startswith("c"), str(node)  # a character device: the group DPDK opens


def test_a_worker_that_cannot_reach_its_api_server_fails_to_start_saying_so(
    vm_bundle: Bundle, vm_accel: str, tmp_path: Path
) -> None:
    nothing_listens = f"https://127.0.0.1:{free_port()}"
    ca_pem = create_pki(tmp_path / "pki").ca.cert.read_bytes()
    access = ApiServerAccess.with_token(nothing_listens, ca_pem, "t0ken")
    worker = VmWorker("unreachable", "ns", access, vm_bundle, tmp_path / "vm", REPO_ROOT, accel=vm_accel)
    with pytest.raises(VmError) as failure:
        worker.start()
    message = str(failure.value)
    assert f"VM worker unreachable: reaching the API server (relayed to {nothing_listens}) failed" in message
    assert "api_probe: https://169.254.0.8:443 (as 127.0.0.1):" in message
    assert "--- console.log" in message  # the console's tail
    assert worker.machine is not None and not worker.machine.alive()  # and the VM is gone
