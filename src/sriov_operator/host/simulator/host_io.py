"""The simulator's HostIO: writes, programs and links with the simulated kernel's reactions.

Production code runs unchanged against it: pass ``simulated_io(root)`` to
``NodeHost.open(root, io=...)``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sriov_operator.host.io import HostIO
from sriov_operator.host.pci import IFF_UP
from sriov_operator.host.programs import CommandResult
from sriov_operator.host.root import (
    CLASS_NET,
    PCI_DRIVERS,
    PCI_DRIVERS_PROBE,
    VFIO_NOIOMMU_PARAMETER,
    HostRoot,
)
from sriov_operator.host.simulator.boot_loader import rpm_ostree, update_grub
from sriov_operator.host.simulator.firmware import FIRMWARE_PROGRAMS
from sriov_operator.host.simulator.kernel import DEVICES_DIR, STATE_FILE, VDPA_BUS, SimulatedKernel
from sriov_operator.host.simulator.ovs import SimulatedOvs
from sriov_operator.host.simulator.programs import SWITCHDEV_PROGRAMS, switchdev_program
from sriov_operator.host.writer import HostWriter, naming

_DEVICES = tuple(DEVICES_DIR.split("/"))
_DRIVERS = tuple(PCI_DRIVERS.split("/"))
_VDPA_DRIVERS = tuple(f"{VDPA_BUS}/drivers".split("/"))


class SimulatedWriter(HostWriter):
    """Writes under a simulator tree; kernel attributes get the kernel's reactions."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.root = root
        SimulatedKernel.load(root)  # fail early on a tree that is not a simulated host

    def write_attribute(self, path: Path, value: str) -> None:
        real = self.host.inside(path)
        with naming(path), SimulatedKernel.transaction(self.root) as kernel:
            if not self._react(kernel, real, value):
                kernel.before_plain_write(real)
                super().write_attribute(path, value)

    def _react(self, kernel: SimulatedKernel, real: Path, value: str) -> bool:
        parts = real.relative_to(self.host.inside(self.root)).parts
        if parts[:3] == _DEVICES and len(parts) == 5 and parts[4] == "sriov_numvfs":
            kernel.set_numvfs(parts[3], _count(value, real))
        elif parts[:3] == _DEVICES and len(parts) == 5 and parts[4] == "driver_override":
            kernel.set_driver_override(parts[3], value)
        elif parts[:4] == _DRIVERS and len(parts) == 6 and parts[5] == "bind":
            kernel.bind(value.strip(), parts[4])
        elif parts[:4] == _DRIVERS and len(parts) == 6 and parts[5] == "unbind":
            kernel.unbind(value.strip(), parts[4])
        elif "/".join(parts) == PCI_DRIVERS_PROBE:
            kernel.probe(value.strip())
        elif len(parts) >= 3 and parts[-3] == "net" and parts[-1] in {"mtu", "flags"}:
            kernel.set_netdev_attribute(real.parent, parts[-1], value)
        elif "/".join(parts) == VFIO_NOIOMMU_PARAMETER:
            kernel.set_noiommu_parameter(value)
        elif parts[:4] == _VDPA_DRIVERS and len(parts) == 6 and parts[5] in {"bind", "unbind"}:
            bind = kernel.bind_vdpa if parts[5] == "bind" else kernel.unbind_vdpa
            bind(value.strip(), parts[4])
        else:
            return False
        return True


def _count(value: str, path: Path) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise OSError(22, "Invalid argument", str(path)) from None


@dataclass(frozen=True)
class SimulatedCommandRunner:
    """``modprobe <module> [param=value…]``, ``systemctl reboot``, ``rdma system set netns``, udevadm's reload
    and net trigger, the boot loader's tools the host has (``rpm-ostree kargs``, ``update-grub``), and the
    switchdev ones (`simulator/programs.py`: ethtool, devlink params, vdpa), and on a host with Mellanox
    cards mstconfig and mstfwreset (`simulator/firmware.py`); nothing else is installed."""

    root: Path

    def __call__(self, argv: Sequence[str]) -> CommandResult:
        with SimulatedKernel.transaction(self.root) as kernel:
            return self._run(kernel, list(argv))

    @staticmethod
    def _run(kernel: SimulatedKernel, argv: list[str]) -> CommandResult:
        if argv in (
            ["udevadm", "control", "--reload-rules"],
            ["udevadm", "trigger", "--subsystem-match=net"],
        ):
            if argv[1] == "trigger":
                kernel.udev_trigger()
            return CommandResult(0)
        if len(argv) >= 2 and argv[0] == "modprobe":
            parameters = dict(arg.split("=", 1) for arg in argv[2:] if "=" in arg)
            if kernel.load_module(argv[1], parameters):
                return CommandResult(0)
            return CommandResult(1, "", f"modprobe: FATAL: Module {argv[1]} not found.")
        if argv == ["systemctl", "reboot"]:
            kernel.reboot()  # at once: the caller sees the new boot on its next look, as after a real one
            return CommandResult(0)
        if argv[:2] == ["rpm-ostree", "kargs"]:
            return rpm_ostree(kernel.root, kernel.state, argv[2:])
        if argv == ["update-grub"]:
            return update_grub(kernel.root)
        if argv[:4] == ["rdma", "system", "set", "netns"] and len(argv) == 5:
            return kernel.set_rdma_netns(argv[4])
        if argv and argv[0] in SWITCHDEV_PROGRAMS:
            return switchdev_program(kernel, argv)
        if argv and argv[0] in FIRMWARE_PROGRAMS and kernel.state.firmware:
            return kernel.firmware_program(argv)
        return CommandResult(127, "", f"{argv[0] if argv else ''}: not available on the simulated host")


@dataclass(frozen=True)
class SimulatedLinkControl:
    """Writes ``/sys/class/net/<if>/{mtu,flags}`` (both writable on Linux) through the simulated writer;
    VF admin MACs and GUIDs on the simulated kernel."""

    writer: SimulatedWriter

    @property
    def host(self) -> HostRoot:
        return self.writer.host

    def set_mtu(self, ifname: str, mtu: int) -> None:
        self.writer.write_attribute(self.host.path(CLASS_NET, ifname, "mtu"), str(mtu))

    def set_up(self, ifname: str) -> None:
        flags = self.host.read_int(self.host.path(CLASS_NET, ifname, "flags"), 16) or 0
        self.writer.write_attribute(self.host.path(CLASS_NET, ifname, "flags"), f"0x{flags | IFF_UP:x}")

    def vf_macs(self, pf_ifname: str) -> Mapping[int, str]:
        return SimulatedKernel.load(self.writer.root).vf_admin_macs(pf_ifname)

    def set_vf_mac(self, pf_ifname: str, vf_id: int, mac: str) -> None:
        with SimulatedKernel.transaction(self.writer.root) as kernel:
            kernel.set_vf_admin_mac(pf_ifname, vf_id, mac)

    def set_vf_guid(self, pf_ifname: str, vf_id: int, guid: str) -> None:
        for which in ("node", "port"):  # two netlink messages, as the real one sends
            with SimulatedKernel.transaction(self.writer.root) as kernel:
                kernel.set_vf_guid(pf_ifname, vf_id, which, guid)

    def node_links(self, node_ips: Collection[str]) -> Mapping[str, str]:
        """Netdevs that exist now and have the default route or one of ``node_ips`` (from the profile)."""
        kernel = SimulatedKernel.load(self.writer.root)
        found: dict[str, str] = {}
        for device in kernel.state.devices.values():
            netdev = device.netdev
            if netdev is None or not self.host.path(CLASS_NET, netdev.name).exists():
                continue
            if netdev.default_route:
                found[netdev.name] = "it carries the default route"
            elif ip := next((ip for ip in netdev.addresses if ip in node_ips), None):
                found[netdev.name] = f"it has the node's IP {ip}"
        return found


@dataclass(frozen=True)
class SimulatedEswitch:
    """Devlink's eSwitch get/set on the simulated kernel (EOPNOTSUPP without an eSwitch, as devlink)."""

    root: Path
    _seen: dict[tuple[int, int], dict[str, str | None]] = field(default_factory=dict, compare=False)

    def mode(self, pci: str) -> str | None:
        """From the kernel's state file, parsed again only when it changed (discovery asks per PF).

        Safe from several threads (cards applied side by side): each reads the cache once.
        """
        status = (self.root / STATE_FILE).stat()
        key = (status.st_mtime_ns, status.st_ino)
        modes = self._seen.get(key)
        if modes is None:
            devices = SimulatedKernel.load(self.root).state.devices.items()
            modes = {a: d.netdev.eswitch if d.netdev else None for a, d in devices}
            self._seen.clear()
            self._seen[key] = modes
        return modes.get(pci)

    def set_mode(self, pci: str, mode: str) -> None:
        with SimulatedKernel.transaction(self.root) as kernel:
            kernel.set_eswitch_mode(pci, mode)


def simulated_io(root: Path) -> HostIO:
    """The HostIO of a simulator tree; FileNotFoundError if ``root`` is not one."""
    writer = SimulatedWriter(root)
    return HostIO(
        writer,
        SimulatedCommandRunner(root),
        SimulatedLinkControl(writer),
        SimulatedEswitch(root),
        SimulatedOvs(root),
    )
