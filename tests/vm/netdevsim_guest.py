"""Run inside the QEMU guest (``python3 /project/tests/vm/netdevsim_guest.py``): the host layer's switchdev
and vDPA parts against netdevsim and vdpa_sim_net on the guest's real kernel.  Prints one JSON object.

netdevsim devices are not PCI functions, so what the host layer does by PCI address (sriov_numvfs under
/sys/bus/pci, virtfn links, unbinding VFs) is not what runs here: the parts that are the same for every
bus do: devlink's eSwitch over netlink, devlink parameters, representors by phys_port_name, ethtool's
hw-tc-offload, and vDPA devices on a management device and their bus drivers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sriov_operator.host.devlink import NetlinkEswitch
from sriov_operator.host.offload import (
    FLOW_STEERING_MODE,
    read_devlink_param,
    read_tc_offload,
    set_tc_offload,
)
from sriov_operator.host.pci import read_device
from sriov_operator.host.programs import HostCommandRunner
from sriov_operator.host.root import HostRoot
from sriov_operator.host.vdpa import bind_vdpa, create_vdpa, delete_vdpa, read_vdpa_type, vdpa_exists
from sriov_operator.host.writer import HostWriter

ROOT = Path("/")
DEVICE = "netdevsim/netdevsim1"
SYSFS = Path("/sys/bus/netdevsim/devices/netdevsim1")
VDPA = "vdpa:sim0"


def ports(host: HostRoot) -> dict[str, Any]:
    device = read_device(host, SYSFS)
    uplink = device.netdev.name if device.netdev else None
    names = [uplink, *device.representors.values()]
    return {
        "uplink": uplink,
        "representors": {str(vf): name for vf, name in device.representors.items()},
        "portNames": {n: host.read(SYSFS / "net" / n / "phys_port_name") for n in names if n},
    }


def main() -> dict[str, Any]:
    host, writer, run, eswitch = HostRoot(ROOT), HostWriter(ROOT), HostCommandRunner(ROOT), NetlinkEswitch()
    seen: dict[str, Any] = {"modprobe netdevsim": run(["modprobe", "netdevsim"]).returncode}
    writer.write_attribute(Path("/sys/bus/netdevsim/new_device"), "1 1")  # device 1, one port
    seen["mode at first"] = eswitch.mode(DEVICE)
    seen["flow_steering_mode"] = read_devlink_param(run, DEVICE, FLOW_STEERING_MODE)
    writer.write_attribute(SYSFS / "sriov_numvfs", "2")  # in legacy mode, as mlx5's order creates them
    seen["legacy with VFs"] = ports(host)
    eswitch.set_mode(DEVICE, "switchdev")  # with the VFs there: the order mlx5 (and upstream's fallback) use
    seen["mode after set"] = eswitch.mode(DEVICE)
    switchdev = ports(host)
    seen["switchdev"] = switchdev
    names = [switchdev["uplink"], *switchdev["representors"].values()]
    seen["hw-tc-offload before"] = {name: read_tc_offload(run, name) for name in names}
    for name in names:
        set_tc_offload(run, name, True)
    seen["hw-tc-offload after"] = {name: read_tc_offload(run, name) for name in names}
    eswitch.set_mode(DEVICE, "legacy")
    seen["mode back"] = eswitch.mode(DEVICE)
    seen["legacy again"] = ports(host)
    seen["vdpa modules"] = run(["modprobe", "-a", "vdpa_sim_net", "virtio_vdpa", "vhost_vdpa"]).stderr
    create_vdpa(run, VDPA, "vdpasim_net")  # max_vqp is refused by the simulator: created again without
    seen["vdpa created"] = vdpa_exists(host, VDPA)
    bind_vdpa(host, writer, VDPA, "vhost_vdpa")
    seen["vdpa type vhost"] = read_vdpa_type(host, VDPA)
    seen["vhost-vdpa nodes"] = sorted(p.name for p in Path("/dev").glob("vhost-vdpa-*"))
    bind_vdpa(host, writer, VDPA, "virtio_vdpa")
    seen["vdpa type virtio"] = read_vdpa_type(host, VDPA)
    delete_vdpa(run, VDPA)
    seen["vdpa after delete"] = vdpa_exists(host, VDPA)
    return seen


if __name__ == "__main__":
    print(json.dumps(main()))
