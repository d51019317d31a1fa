"""Real-kernel workers for the sandbox (``--vm-workers``): OpenStack VMs in QEMU, each with its daemon.

Each is a `sriov_vmtest.worker.VmWorker`: the VM toolkit's OpenStack
machine (three virtio ports with Neutron MACs, a config drive, vfio with
no-IOMMU mode) running ``sriov-operator daemon --host-root /`` against the
sandbox's API server through a relayed address (docs/vm.md).  The sandbox is the
only product module that imports the VM toolkit (test tooling, its own
distribution in tools/vmtest), and only when VM workers are asked for: the
guests run the project's checkout (the working directory, shared into them over
9p) and the toolkit builds its guest bundle into the cache on first use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sriov_operator.kube.objects import Object
from sriov_operator.sandbox.workers import DaemonContext, node_object
from sriov_vmtest.accel import choose_accel
from sriov_vmtest.build import ensure_bundle
from sriov_vmtest.bundle import Bundle
from sriov_vmtest.machine import GUEST_MANAGEMENT_ADDRESS, checkout
from sriov_vmtest.nova import provider_id
from sriov_vmtest.recipe import default_recipe
from sriov_vmtest.worker import ApiServerAccess, VmWorker, instance_uuid


def guest_bundle(run_dir: Path) -> tuple[Bundle, str]:
    """The guest bundle (built on first use) and the accelerator this machine boots it with."""
    project_checkout()
    bundle = ensure_bundle(default_recipe())
    return bundle, choose_accel(bundle.qemu_command(), bundle.kernel, run_dir)


def project_checkout() -> Path:
    """The checkout the VMs run (its src/, shared over 9p): the working directory, run from a clone."""
    return checkout(Path.cwd(), "--vm-workers (run from the project's clone)")


@dataclass
class VmSandboxWorker:
    """The sandbox's `Worker` protocol for a `VmWorker`; ``stop()`` ends its VM."""

    name: str
    bundle: Bundle
    accel: str
    run_dir: Path
    vm: VmWorker | None = field(default=None, init=False)

    def node(self) -> Object:
        uuid = instance_uuid(self.name)
        return node_object(self.name, "openstack", GUEST_MANAGEMENT_ADDRESS, provider_id(uuid))

    def describe(self) -> str:
        console = self.run_dir / "console.log"
        return f"{self.name}: OpenStack VM in QEMU ({self.accel}, real kernel), console {console}"

    def start(self, context: DaemonContext) -> None:
        """Boot the VM and start its daemon (a minute or more under TCG); QEMU dies with this thread."""
        access = ApiServerAccess.from_kubeconfig(context.kubeconfig)
        project = project_checkout()
        self.vm = VmWorker(
            self.name, context.namespace, access, self.bundle, self.run_dir, project, accel=self.accel
        )
        self.vm.start()

    def failure(self) -> str | None:
        """Why this worker is down (QEMU exited), with the console's tail; None while it runs."""
        machine = self.vm.machine if self.vm else None
        if machine is None or machine.alive():
            return None
        return machine.console_tail(10)

    def stop(self) -> None:
        if self.vm is not None:
            self.vm.stop()


def vm_workers(count: int, directory: Path) -> list[VmSandboxWorker]:
    """``count`` workers named ``vm-worker-<i>``, their VMs' files under ``directory``."""
    if count == 0:
        return []
    bundle, accel = guest_bundle(directory)
    return [
        VmSandboxWorker(f"vm-worker-{index}", bundle, accel, directory / f"vm-worker-{index}")
        for index in range(count)
    ]
