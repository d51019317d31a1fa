"""vDPA devices on switchdev VFs, as upstream makes them: one per VF, named ``vdpa:<vf pci>``.

Created with iproute2's ``vdpa`` program on the VF's management device
(``pci/<vf>``, offered by the VF's vDPA driver, e.g. mlx5_vdpa), then bound to
the bus driver of its type: ``virtio_vdpa`` (a virtio-net netdev in the kernel)
or ``vhost_vdpa`` (``/dev/vhost-vdpa-N`` for a VM or DPDK).  What exists is read
from sysfs (``/sys/bus/vdpa/devices/<name>/driver``).
"""

from __future__ import annotations

from sriov_operator.host.programs import CommandRunner, failure
from sriov_operator.host.root import HostRoot
from sriov_operator.host.writer import HostWriter

VDPA_DEVICES = "sys/bus/vdpa/devices"
VDPA_DRIVERS = "sys/bus/vdpa/drivers"
DRIVER_OF_TYPE = {"virtio": "virtio_vdpa", "vhost": "vhost_vdpa"}
MAX_QUEUE_PAIRS = "32"  # upstream asks for 32 and retries without when the device does not take it


class VdpaError(OSError):
    """The vdpa program or the vDPA bus refused; the message quotes it."""


def vdpa_name(pci: str) -> str:
    return f"vdpa:{pci}"


def read_vdpa_type(host: HostRoot, name: str) -> str | None:
    """``virtio``/``vhost`` from the driver the device is bound to; None: no device or another driver."""
    driver = host.link_name(host.path(VDPA_DEVICES, name, "driver"))
    return next((kind for kind, bound in DRIVER_OF_TYPE.items() if bound == driver), None)


def vdpa_exists(host: HostRoot, name: str) -> bool:
    return host.path(VDPA_DEVICES, name).is_dir()


def loaded_vdpa_drivers(host: HostRoot) -> frozenset[str]:
    return frozenset(host.names(host.path(VDPA_DRIVERS)))


def create_vdpa(run: CommandRunner, name: str, management_device: str) -> None:
    """``vdpa dev add``; ``management_device`` is ``pci/<vf>`` on a NIC (``vdpasim_net`` for vdpa_sim)."""
    base = ["vdpa", "dev", "add", "name", name, "mgmtdev", management_device]
    result = run([*base, "max_vqp", MAX_QUEUE_PAIRS])
    if result.returncode != 0 and "not supported" in result.stderr:
        result = run(base)
    if result.returncode != 0:
        raise VdpaError(failure(base, result))


def delete_vdpa(run: CommandRunner, name: str) -> None:
    result = run(["vdpa", "dev", "del", name])
    if result.returncode != 0:
        raise VdpaError(
            f"vdpa dev del {name} failed (exit {result.returncode}): {result.stderr.strip()[:200]}"
        )


def bind_vdpa(host: HostRoot, writer: HostWriter, name: str, driver: str) -> None:
    """Off the driver the bus picked (whichever vDPA driver loaded first), onto ``driver``."""
    current = host.link_name(host.path(VDPA_DEVICES, name, "driver"))
    if current == driver:
        return
    if current is not None:
        writer.write_attribute(host.path(VDPA_DRIVERS, current, "unbind"), name)
    writer.write_attribute(host.path(VDPA_DRIVERS, driver, "bind"), name)
