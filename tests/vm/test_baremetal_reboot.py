"""A bare-metal worker that reboots, on a real kernel: QEMU's igb host running the config daemon.

The suite's kube-apiserver and the `sriov-operator operator` process run on
this host; the guest's daemon reaches the server through the relayed guestfwd
address (`VmWorker`, platform ``baremetal``).  A policy asks for 2 igbvf VFs.
Once they exist and the device plugin has its config, the guest reboots (the
same QEMU: its disk keeps ``/etc``): the kernel has no VF any more, and the old
boot's config is still on the disk.  The daemon is started again (as a
DaemonSet Pod would be) while the test holds the host's apply lock in the
guest, so the daemon can withdraw the hand-off but not create VFs yet: the
withdrawal is seen with no VF.  Released, the VFs come back first, then the
hand-off; nobody asks for a drain.  One boot and one reboot: TCG is slow.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from kubernetes_asyncio import client

from sriov_operator.api.constants import API_VERSION
from sriov_operator.api.names import device_plugin_configmap_name
from sriov_operator.controlplane.process import ControlPlane
from sriov_operator.daemon.handoff import digest
from sriov_operator.errors import SriovOperatorError
from sriov_operator.host.lock import LOCK_FILE
from sriov_operator.kube.objects import KubeObjects
from sriov_operator.kube.resources import (
    CONFIG_MAPS,
    NODES,
    SRIOV_NETWORK_NODE_POLICIES,
    SRIOV_NETWORK_NODE_STATES,
)
from sriov_vmtest.bundle import Bundle
from sriov_vmtest.machine import GuestResult
from sriov_vmtest.profiles import IGB_PF_ADDRESS
from sriov_vmtest.worker import ApiServerAccess, VmWorker, node_manifest
from tests.integration.conftest import control_plane, kube  # noqa: F401 - the suite's API server
from tests.integration.daemon_harness import annotations_of, synced
from tests.integration.operator_support import start_operator
from tests.integration.recorded_changes import record_changes
from tests.kube_client import kube_objects
from tests.support import REPO_ROOT, control_plane_report
from tests.vm.support import daemon_token, stop_worker_and_operator

pytestmark = [pytest.mark.vm, pytest.mark.timeout(3000)]

T = TypeVar("T")
PF = IGB_PF_ADDRESS
NUM_VFS = 2
HOSTNAME = "kubernetes.io/hostname"
PLUGIN_FILE = "/etc/sriov-operator/device-plugin/config.json"
LOCK_HELD = "/run/apply-lock-held"
WAIT_SECONDS = 1200.0  # TCG on a shared machine: the daemon's imports alone take minutes
HOLD_LOCK = (
    "import fcntl, os, time\n"
    f"fd = os.open('/{LOCK_FILE}', os.O_RDWR | os.O_CREAT, 0o600)\n"
    "fcntl.flock(fd, fcntl.LOCK_EX)\n"
    f"open('{LOCK_HELD}', 'w').close()\n"
    "time.sleep(3600)\n"
)


def vf_policy(namespace: str, node: str) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "SriovNetworkNodePolicy",
        "metadata": {"name": "igbvfs", "namespace": namespace},
        "spec": {
            "resourceName": "igbvfs",
            "numVfs": NUM_VFS,
            "deviceType": "netdevice",
            "nicSelector": {"rootDevices": [PF]},
            "nodeSelector": {HOSTNAME: node},
        },
    }


async def guest(worker: VmWorker, argv: list[str], timeout: float = 300.0) -> GuestResult:
    return await asyncio.to_thread(worker.run, argv, timeout=timeout)


async def num_vfs(worker: VmWorker) -> int:
    result = await guest(worker, ["cat", f"/sys/bus/pci/devices/{PF}/sriov_numvfs"])
    assert result.returncode == 0, str(result)
    return int(result.stdout)


async def plugin_file(worker: VmWorker) -> str | None:
    result = await guest(worker, ["cat", PLUGIN_FILE])
    return result.stdout if result.returncode == 0 else None


async def boot_id(worker: VmWorker) -> str:
    return (await guest(worker, ["cat", "/proc/sys/kernel/random/boot_id"])).stdout.strip()


async def until(worker: VmWorker, check: Callable[[], Awaitable[T | None]], what: str) -> T:
    """Wait for ``check`` (a watch's record or the API), failing early with the guest's console if it died."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        if result := await check():
            return result
        dead = not (worker.machine and worker.machine.alive())
        if dead or time.monotonic() > deadline:
            report = await asyncio.to_thread(worker.diagnosis) if not dead else worker.run_dir
            pytest.fail(
                f"waiting for {what}: {'QEMU exited' if dead else 'timed out'}\n{report}", pytrace=False
            )
        await asyncio.sleep(1)


@dataclass
class Rig:
    """The bare-metal worker, its objects, and what the watches saw."""

    worker: VmWorker
    objects: KubeObjects
    namespace: str
    node: str
    handed: list[str | None] = field(default_factory=list)  # the ConfigMap's handed-over annotation
    requests: list[str] = field(default_factory=list)  # the Node's drain request annotation


@contextlib.asynccontextmanager
async def bare_metal_worker(
    plane: ControlPlane, api: client.ApiClient, bundle: Bundle, accel: str, work: Path
) -> AsyncIterator[Rig]:
    """The operator, a bare-metal worker's Node with a 2-VF policy, watches, and the booted worker."""
    objects = kube_objects(api)
    namespace = f"vmr-{uuid.uuid4().hex[:6]}"
    node = f"bm-worker-{namespace}"
    await client.CoreV1Api(api).create_namespace({"metadata": {"name": namespace}})
    operator = start_operator(namespace, plane.kubeconfig, work / "operator.log")
    watches: list[asyncio.Task[None]] = []
    worker: VmWorker | None = None
    try:
        await objects.create(NODES, node_manifest(node, {HOSTNAME: node}, platform="baremetal"))
        await objects.create(SRIOV_NETWORK_NODE_POLICIES, vf_policy(namespace, node), namespace)
        token = await daemon_token(objects, namespace)
        access = ApiServerAccess.with_token(plane.api_url, plane.pki.ca.cert.read_bytes(), token)
        worker = VmWorker(
            node, namespace, access, bundle, work / "vm", REPO_ROOT,
            accel=accel, rediscover_seconds=5, platform="baremetal",
        )  # fmt: skip
        rig = Rig(worker, objects, namespace, node)
        watches += [
            asyncio.create_task(
                record_changes(
                    objects, CONFIG_MAPS, namespace, device_plugin_configmap_name(node),
                    lambda c: annotations_of(c).get("sriovnetwork.openshift.io/handed-over"), rig.handed,
                )
            ),
            asyncio.create_task(
                record_changes(
                    objects, NODES, None, node,
                    lambda n: annotations_of(n).get("sriovnetwork.openshift.io/state", "Idle"), rig.requests,
                )
            ),
        ]  # fmt: skip
        try:
            await asyncio.to_thread(worker.start)
        except SriovOperatorError as error:
            pytest.fail(str(error), pytrace=False)
        yield rig
        for watch in watches:  # a watch that died saw nothing: fail with its error, not with a short list
            if watch.done():
                watch.result()
    finally:
        for watch in watches:
            watch.cancel()
        await asyncio.gather(*watches, return_exceptions=True)
        await stop_worker_and_operator(worker, operator, objects, node)


async def hold_apply_lock(worker: VmWorker) -> str:
    """Hold the guest's apply lock from a process of its own (as another applier would); its pid."""
    script = f"python3 -c {shlex.quote(HOLD_LOCK)} </dev/null >/dev/null 2>&1 & echo $!"
    holder = await guest(worker, ["sh", "-c", script])
    assert holder.returncode == 0, str(holder)
    held = await guest(worker, ["sh", "-c", f"while [ ! -e {LOCK_HELD} ]; do sleep 0.1; done"], timeout=120)
    assert held.returncode == 0, str(held)
    return holder.stdout.strip()


async def test_after_a_reboot_the_hand_off_returns_only_once_the_vfs_exist_again_without_a_drain(
    control_plane: ControlPlane,  # noqa: F811
    kube: client.ApiClient,  # noqa: F811
    vm_bundle: Bundle,
    vm_accel: str,
    tmp_path: Path,
) -> None:
    async with bare_metal_worker(control_plane, kube, vm_bundle, vm_accel, tmp_path) as rig:
        worker, handed = rig.worker, rig.handed
        started = time.monotonic()

        async def configured() -> str | None:
            configmap = await rig.objects.get(
                CONFIG_MAPS, device_plugin_configmap_name(rig.node), rig.namespace
            )
            text: str | None = ((configmap or {}).get("data") or {}).get("config.json")
            idle = rig.requests[-1:] == ["Idle"]  # the drain of the first configuration is over
            return text if text and idle and handed and handed[-1] == digest(text) else None

        text = await until(worker, configured, "the first hand-off, the drain request back to Idle")
        first_seconds = time.monotonic() - started
        assert await num_vfs(worker) == NUM_VFS
        assert await plugin_file(worker) == text
        before, requests_before = await boot_id(worker), len(rig.requests)

        await asyncio.to_thread(worker.reboot)
        rebooted = time.monotonic()
        assert await boot_id(worker) not in ("", before)
        assert await num_vfs(worker) == 0  # the kernel forgot the VFs
        assert await plugin_file(worker) == text  # the disk did not forget the old boot's config

        holder = await hold_apply_lock(worker)
        await asyncio.to_thread(worker.start_daemon)  # as the DaemonSet's Pod comes back
        await until(worker, lambda: _is(handed, None), "the hand-off withdrawn after the reboot")
        assert await plugin_file(worker) is None
        assert await num_vfs(worker) == 0  # withdrawn while no VF exists
        released = await guest(worker, ["sh", "-c", f"kill {holder}"])  # the shell's kill: no procps
        assert released.returncode == 0, str(released)

        await until(worker, lambda: _is(handed, digest(text)), "the hand-off given back")
        assert await num_vfs(worker) == NUM_VFS  # the VFs existed when it came back
        assert await plugin_file(worker) == text

        async def succeeded() -> dict[str, Any] | None:
            state = await rig.objects.get(SRIOV_NETWORK_NODE_STATES, rig.node, rig.namespace)
            return (
                await synced(rig.objects, rig.namespace, rig.node, state["metadata"]["generation"])
                if state
                else None
            )

        await until(worker, succeeded, "Succeeded after the reboot")
        assert handed[-3:] == [digest(text), None, digest(text)], handed
        after_reboot = rig.requests[requests_before:]
        assert after_reboot == [], f"a reboot must not drain: {after_reboot}"
        booted = worker.machine.boot_seconds if worker.machine else 0.0
        control_plane_report.append(
            f"VM bare-metal worker ({vm_accel}): first hand-off {first_seconds:.1f}s after QEMU started; "
            f"rebooted in {booted:.1f}s, hand-off back {time.monotonic() - rebooted:.1f}s after the reboot"
        )


async def _is(values: list[Any], wanted: Any) -> bool:
    return bool(values) and values[-1] == wanted
