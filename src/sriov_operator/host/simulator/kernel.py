"""The simulated kernel: how sysfs reacts to writes, and what modprobe and devlink do.

Behaviour reproduced (see docs/host.md): ``sriov_numvfs`` creates and removes VFs
(0 must be written before changing a non-zero count); ``bind``/``unbind``/
``drivers_probe`` honour ``driver_override``; a netdev exists only while a
network driver is bound; vfio-pci needs an IOMMU group or no-IOMMU mode and then
creates ``/dev/vfio/<group>`` (``/dev/vfio/noiommu-<n>``); ``modprobe vfio``
ignores its options when vfio is already loaded, like the real one.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path

from sriov_operator.host.boot import BOOT_ID
from sriov_operator.host.bootconfig import PROC_CMDLINE, REALLOC_ARG
from sriov_operator.host.guid_pool import format_guid, parse_guid
from sriov_operator.host.mellanox import LOCKDOWN
from sriov_operator.host.pci import ARPHRD_INFINIBAND, DPDK_DRIVERS, IFF_UP, vf_address
from sriov_operator.host.programs import CommandResult
from sriov_operator.host.root import (
    CLASS_NET,
    IOMMU_GROUPS,
    MODULES,
    PCI_DEVICES,
    PCI_DRIVERS,
    VFIO_NOIOMMU_PARAMETER,
)
from sriov_operator.host.simulator.boot_loader import KERNEL_IMAGE, boot_args
from sriov_operator.host.simulator.firmware import (
    is_locked_down,
    mstconfig,
    mstfwreset,
    offered_vfs,
    reload,
)
from sriov_operator.host.simulator.journal import JOURNAL_FILE, Journal, recover
from sriov_operator.host.simulator.model import KernelState, SimDevice, SimFirmware, SimNetdev
from sriov_operator.host.simulator.udev import name_by_rules, unmanaged_by_rules
from sriov_operator.host.state import IB_CORE_NETNS_MODE

STATE_FILE = ".simulator/kernel.json"
DEVICES_DIR = "sys/devices/pci0000:00"
LOCK_FILE = ".simulator/lock"
ALWAYS_AVAILABLE_MODULES = ("vfio", "vfio_pci", "ib_core")
IB_CORE = "ib_core"
MODULE_DRIVERS = {"vfio_pci": "vfio-pci"}
MODULE_DEVICES = {"tun": "dev/net/tun", "vhost_net": "dev/vhost-net"}  # the character device a module makes
VDPA_BUS = "sys/bus/vdpa"
VDPA_BUS_DRIVERS = ("virtio_vdpa", "vhost_vdpa")  # modules that register a vDPA bus driver of their name
VDPA_VF_DRIVERS = frozenset({"mlx5_core"})  # VF drivers whose VFs offer a vDPA management device (mlx5_vdpa)
FLOW_STEERING_MODES = ("dmfs", "smfs")
RDMA_MODULE = "mlx5_ib"
NO_OVERRIDE = "(null)"
NO_MAC = "00:00:00:00:00:00"
MAC_FORM = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
MIN_MTU = 68
SRIOV_FILES = ("sriov_totalvfs", "sriov_numvfs", "sriov_offset", "sriov_stride")
ARPHRD_ETHER = 1
IPOIB_MTU = 2044  # what ib_ipoib gives a datagram-mode netdev
IPOIB_ADDRESS_PREFIX = "00:00:10:49:fe:80:00:00:00:00:00:00"  # flags and QP number, then the GID prefix
UNSET_GUID = 0


def kernel_error(code: int, path: Path | str) -> OSError:
    return OSError(code, os.strerror(code), str(path))


def relative_symlink(link: Path, target: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink():
        link.unlink()
    link.symlink_to(os.path.relpath(target, link.parent))


def write_value(path: Path, value: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{value}\n")


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[None]:
    lock = root / LOCK_FILE
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        yield


class SimulatedKernel:
    def __init__(self, root: Path, state: KernelState, journal: Journal | None = None) -> None:
        self.root = root
        self.state = state
        self.journal = journal  # set inside a transaction: every tree change is undoable (journal.py)

    # ----------------------------------------------------------------- persistence
    @classmethod
    @contextlib.contextmanager
    def transaction(cls, root: Path) -> Iterator[SimulatedKernel]:
        """Load, change and save the kernel's state under an exclusive lock (one change at a time).

        All or nothing, like a kernel write: a change that raises is undone, and one whose
        process died is undone by whoever opens the host next (`recover`).
        """
        with _locked(root):
            recover(root, STATE_FILE)
            kernel = cls._read(root)
            kernel.journal = Journal(root, (root / STATE_FILE).read_text())
            try:
                yield kernel
                kernel.save()
            except BaseException:
                kernel.journal.abandon()
                raise
            kernel.journal.commit()

    @classmethod
    def recover(cls, root: Path) -> bool:
        """Undo a change a killed process left half-done; True when there was one."""
        with _locked(root):
            return recover(root, STATE_FILE)

    @classmethod
    def load(cls, root: Path) -> SimulatedKernel:
        """The kernel as last saved (a half-done change of a killed process undone first)."""
        if (root / JOURNAL_FILE).is_file():  # mid-change, or left by a killed process: wait, or undo
            cls.recover(root)
        return cls._read(root)

    @classmethod
    def _read(cls, root: Path) -> SimulatedKernel:
        path = root / STATE_FILE
        try:
            return cls(root, KernelState.model_validate_json(path.read_text()))
        except FileNotFoundError:
            raise FileNotFoundError(
                f"{root}: not a simulated host (no {STATE_FILE}); create one with "
                "`sriov-operator simulate-host`"
            ) from None

    def save(self) -> None:
        """Replace the state file atomically: a reader sees the old state or the new one, never half."""
        path = self.root / STATE_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        text = self.state.model_dump_json(by_alias=True, exclude_defaults=True, indent=1)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, prefix=".kernel.") as tmp:
            tmp.write(text)
        os.replace(tmp.name, path)

    # ------------------------------------------------- tree changes (journaled)
    def _before(self, path: Path) -> None:
        if self.journal is not None:
            self.journal.before_change(path)

    def _write(self, path: Path, value: object) -> None:
        self._before(path)
        write_value(path, value)

    def _link(self, link: Path, target: Path) -> None:
        self._before(link)
        relative_symlink(link, target)

    def _mkdir(self, path: Path) -> None:
        self._before(path)
        path.mkdir(parents=True, exist_ok=True)

    def _remove(self, path: Path) -> None:
        """unlink or rmtree; a path that is already gone is fine."""
        if not (path.exists() or path.is_symlink()):
            return
        self._before(path)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()

    def before_plain_write(self, path: Path) -> None:
        """A write the kernel does not react to (the writer makes it): undone with the rest."""
        self._before(path)

    # ---------------------------------------------------------------------- paths
    def device_dir(self, address: str) -> Path:
        """Where the device lives (``sys/devices/pci0000:00/<addr>``); ``bus/pci/devices`` links to it."""
        return self.root / DEVICES_DIR / address

    def driver_dir(self, driver: str) -> Path:
        return self.root / PCI_DRIVERS / driver

    def _netdev_dir(self, address: str, netdev: SimNetdev) -> Path:
        base = self.device_dir(address)
        return (base / netdev.virtio if netdev.virtio else base) / "net" / netdev.name

    def _device(self, address: str, path: Path | str) -> SimDevice:
        device = self.state.devices.get(address)
        if device is None:
            raise kernel_error(errno.ENODEV, path)
        return device

    def bound_driver(self, address: str) -> str | None:
        link = self.device_dir(address) / "driver"
        return os.path.basename(os.readlink(link)) if link.is_symlink() else None

    # -------------------------------------------------------------------- devices
    def add_device(self, device: SimDevice) -> None:
        path = self.device_dir(device.address)
        if path.exists():
            raise FileExistsError(path)
        self._mkdir(path)
        self._link(self.root / PCI_DEVICES / device.address, path)
        for name, value in (
            ("vendor", f"0x{device.vendor}"),
            ("device", f"0x{device.device}"),
            ("class", device.pci_class),
            ("subsystem_vendor", f"0x{device.vendor}"),
            ("subsystem_device", f"0x{device.device}"),
            ("driver_override", NO_OVERRIDE),
        ):
            self._write(path / name, value)
        if device.sriov:
            for name, number in (
                ("sriov_totalvfs", device.sriov.totalvfs),
                ("sriov_numvfs", 0),
                ("sriov_offset", device.sriov.offset),
                ("sriov_stride", device.sriov.stride),
            ):
                self._write(path / name, number)
        if device.physfn:
            self._link(path / "physfn", self.device_dir(device.physfn))
            self._link(self.device_dir(device.physfn) / f"virtfn{device.vf_index}", path)
        self.state.devices[device.address] = device
        if self.state.iommu:
            self._join_iommu_group(device.address)
        self.probe(device.address)
        if device.sriov and device.sriov.numvfs:
            self.set_numvfs(device.address, device.sriov.numvfs)

    def remove_device(self, address: str) -> None:
        device = self.state.devices.pop(address)
        if (driver := self.bound_driver(address)) is not None:
            self._detach(address, device, driver)
        group = self._iommu_group(address)
        if group is not None:
            self._remove(self.root / IOMMU_GROUPS / group)
        if device.physfn:
            self._remove(self.device_dir(device.physfn) / f"virtfn{device.vf_index}")
        self._remove(self.device_dir(address))
        self._remove(self.root / PCI_DEVICES / address)

    # ---------------------------------------------------------------------- SR-IOV
    def set_numvfs(self, address: str, count: int) -> None:
        pf = self._device(address, "sriov_numvfs")
        path = self.device_dir(address) / "sriov_numvfs"
        if pf.sriov is None:
            raise kernel_error(errno.ENOENT, path)
        current = int(path.read_text())
        if count < 0:
            raise kernel_error(errno.EINVAL, path)
        if count > pf.sriov.totalvfs:
            raise kernel_error(errno.ERANGE, path)
        if pf.sriov.bar_vfs is not None and count > pf.sriov.bar_vfs and not self._booted_with(REALLOC_ARG):
            raise kernel_error(errno.ENOMEM, path)  # the firmware left too little BAR space
        if count == current:
            return
        if current and count:
            raise kernel_error(errno.EBUSY, path)  # the kernel wants 0 first
        if count == 0:
            for vf in [d for d in self.state.devices.values() if d.physfn == address]:
                self.remove_device(vf.address)
        else:
            for index in range(count):
                vf_addr = vf_address(address, pf.sriov.offset + index * pf.sriov.stride)
                vf_name = f"{pf.netdev.name if pf.netdev else 'vf'}v{index}"
                self.add_device(
                    SimDevice(
                        address=vf_addr,
                        vendor=pf.vendor,
                        device=pf.sriov.vf_device,
                        pci_class=pf.pci_class,
                        driver=pf.sriov.vf_driver,
                        netdev=SimNetdev(  # the MAC comes at probe
                            name=vf_name,
                            mac=NO_MAC,
                            up=False,
                            link_type=pf.netdev.link_type if pf.netdev else "eth",
                            mtu=IPOIB_MTU if pf.netdev and pf.netdev.link_type == "ib" else 1500,
                        ),
                        physfn=address,
                        vf_index=index,
                    )
                )
        self._write(path, count)
        self._sync_representors(address)

    # --------------------------------------------------------------------- drivers
    def set_driver_override(self, address: str, value: str) -> None:
        self._device(address, "driver_override")
        name = value.strip().strip("\x00")
        self._write(self.device_dir(address) / "driver_override", name or NO_OVERRIDE)

    def _override(self, address: str) -> str | None:
        text = (self.device_dir(address) / "driver_override").read_text().strip()
        return None if text == NO_OVERRIDE else text

    def bind(self, address: str, driver: str) -> None:
        path = self.driver_dir(driver) / "bind"
        device = self._device(address, path)
        if self.bound_driver(address) is not None:
            raise kernel_error(errno.EBUSY, path)
        wanted = self._override(address) or device.driver
        if wanted != driver:
            raise kernel_error(errno.ENODEV, path)
        if driver == "vfio-pci":
            self._attach_vfio_group(address, path)
        self._link(self.device_dir(address) / "driver", self.driver_dir(driver))
        self._link(self.driver_dir(driver) / address, self.device_dir(address))
        self._add_rdma_device(address)
        if driver not in DPDK_DRIVERS and device.netdev is not None:
            self._bring_netdev(address, device, device.netdev)

    def _bring_netdev(self, address: str, device: SimDevice, netdev: SimNetdev) -> None:
        """The netdev a network driver registers: an InfiniBand port's is IPoIB, on its RDMA device (no
        RDMA device, no netdev), its address ending in the port GUID the function has at this probe."""
        if netdev.link_type == "ib":
            if not (self.device_dir(address) / "infiniband").is_dir():
                return
            port_guid = device.node_guid if device.physfn is None else device.admin_port_guid
            netdev.mac = f"{IPOIB_ADDRESS_PREFIX}:{port_guid or format_guid(UNSET_GUID)}"
        elif device.physfn is not None:
            netdev.mac = device.admin_mac or self._random_vf_mac()
        self._create_netdev(address, netdev)

    def _random_vf_mac(self) -> str:
        """A VF driver probed without an admin MAC picks a random one, another at every probe."""
        self.state.vf_macs_given += 1
        serial = self.state.vf_macs_given.to_bytes(4, "big")
        return ":".join(f"{octet:02x}" for octet in (0x02, 0xA0, *serial))

    def set_vf_admin_mac(self, pf_ifname: str, vf_id: int, mac: str) -> None:
        """``ip link set <pf> vf <n> mac``: ENODEV without the PF's netdev, EINVAL for no such VF or a MAC
        that is not unicast; a VF on a network driver is reset and comes back with it (as i40e does)."""
        where = f"netlink {pf_ifname} vf {vf_id}"
        pf = next((d for d in self.state.devices.values() if d.netdev and d.netdev.name == pf_ifname), None)
        if pf is None or self.bound_driver(pf.address) is None:
            raise kernel_error(errno.ENODEV, where)
        vfs = self.state.devices.values()
        vf = next((d for d in vfs if d.physfn == pf.address and d.vf_index == vf_id), None)
        if pf.netdev is not None and pf.netdev.link_type == "ib":
            raise kernel_error(errno.EOPNOTSUPP, where)  # IPoIB has no VF MACs: InfiniBand VFs have GUIDs
        unicast = MAC_FORM.match(mac.lower()) is not None and mac != NO_MAC and not int(mac[:2], 16) & 1
        if vf is None or not unicast:
            raise kernel_error(errno.EINVAL, where)
        vf.admin_mac = mac.lower()
        driver = self.bound_driver(vf.address)
        if driver is not None and driver not in DPDK_DRIVERS and vf.netdev is not None:
            self._detach(vf.address, vf, driver)
            self.bind(vf.address, driver)

    def set_vf_guid(self, pf_ifname: str, vf_id: int, which: str, guid: str) -> None:
        """``ip link set <pf> vf <n> node_guid|port_guid <guid>``: ENODEV without the PF's netdev,
        EOPNOTSUPP unless it is an InfiniBand netdev (rtnetlink takes VF GUIDs only there), EINVAL for no
        such VF.  Kept by the PF; the VF shows it only once its driver probes it again, as mlx5's VFs."""
        where = f"netlink {pf_ifname} vf {vf_id} {which}_guid"
        pf = next((d for d in self.state.devices.values() if d.netdev and d.netdev.name == pf_ifname), None)
        if pf is None or pf.netdev is None or not (self.root / CLASS_NET / pf_ifname).exists():
            raise kernel_error(errno.ENODEV, where)
        if pf.netdev.link_type != "ib":
            raise kernel_error(errno.EOPNOTSUPP, where)
        vfs = self.state.devices.values()
        vf = next((d for d in vfs if d.physfn == pf.address and d.vf_index == vf_id), None)
        value = parse_guid(guid)
        if vf is None or value is None or which not in ("node", "port"):
            raise kernel_error(errno.EINVAL, where)
        if which == "node":
            vf.admin_node_guid = format_guid(value)
        else:
            vf.admin_port_guid = format_guid(value)

    def vf_admin_macs(self, pf_ifname: str) -> dict[int, str]:
        pf = next((d for d in self.state.devices.values() if d.netdev and d.netdev.name == pf_ifname), None)
        if pf is None or self.bound_driver(pf.address) is None:
            raise kernel_error(errno.ENODEV, f"netlink {pf_ifname}")
        vfs = (d for d in self.state.devices.values() if d.physfn == pf.address and d.vf_index is not None)
        return {vf.vf_index: vf.admin_mac or NO_MAC for vf in vfs if vf.vf_index is not None}

    def _add_rdma_device(self, address: str) -> None:
        """mlx5_ib gives every mlx5_core function an RDMA device (``<dev>/infiniband/mlx5_<n>``) with its
        node GUID: a PF's from the firmware, a VF's as its PF assigned it before this probe (else unset)."""
        device = self.state.devices[address]
        if self.bound_driver(address) == "mlx5_core" and (self.root / MODULES / RDMA_MODULE).is_dir():
            index = sorted(self.state.devices).index(address)
            guid = parse_guid(device.node_guid if device.physfn is None else device.admin_node_guid)
            value = f"{guid or UNSET_GUID:016x}"
            sysfs = ":".join(value[i : i + 4] for i in range(0, 16, 4))
            rdma = self.device_dir(address) / "infiniband" / f"mlx5_{index}"
            self._mkdir(rdma)
            self._write(rdma / "node_guid", sysfs)

    def unbind(self, address: str, driver: str) -> None:
        path = self.driver_dir(driver) / "unbind"
        device = self._device(address, path)
        if self.bound_driver(address) != driver:
            raise kernel_error(errno.ENODEV, path)
        self._detach(address, device, driver)

    def probe(self, address: str) -> None:
        """``drivers_probe``: bind the override or the default driver, if it is loaded."""
        device = self._device(address, "drivers_probe")
        driver = self._override(address) or device.driver
        if self.bound_driver(address) is None and driver and self.driver_dir(driver).is_dir():
            self.bind(address, driver)

    def _detach(self, address: str, device: SimDevice, driver: str) -> None:
        self._remove(self.device_dir(address) / "driver")
        self._remove(self.device_dir(address) / "infiniband")
        self._remove(self.driver_dir(driver) / address)
        self._remove_vdpa(address)
        if device.netdev is not None:
            netdev_dir = self._netdev_dir(address, device.netdev)
            self._remove(netdev_dir.parent)
            self._remove(self.root / CLASS_NET / device.netdev.name)
            self._feature_gone(device.netdev.name)
            self.state.nm_unmanaged = [name for name in self.state.nm_unmanaged if name != device.netdev.name]
        if driver == "vfio-pci":
            self._release_vfio_group(address)

    def _create_netdev(self, address: str, netdev: SimNetdev) -> None:
        path = self._netdev_dir(address, netdev)
        self._write(path / "address", netdev.mac)
        self._write(path / "mtu", netdev.mtu)
        self._write(path / "type", ARPHRD_INFINIBAND if netdev.link_type == "ib" else ARPHRD_ETHER)
        self._set_flags(path, 0x1003 if netdev.up else 0x1002)
        if netdev.speed is not None:
            self._write(path / "speed", netdev.speed)
        if netdev.eswitch is not None and self.state.compat_devlink_mode:
            self._write(path / "compat/devlink/mode", netdev.eswitch)
        self._link(self.root / CLASS_NET / netdev.name, path)
        self._udev_event(address, netdev.name)
        self._sync_representors(address)

    def _udev_event(self, address: str, ifname: str) -> None:
        """udev processes the netdev's event: NetworkManager sees NM_UNMANAGED if a rule sets it."""
        marked = set(self.state.nm_unmanaged) - {ifname}
        if unmanaged_by_rules(self.root, address):
            marked.add(ifname)
        self.state.nm_unmanaged = sorted(marked)

    def udev_trigger(self) -> None:
        """``udevadm trigger --subsystem-match=net``: every existing netdev's event again."""
        for address, device in self.state.devices.items():
            if device.netdev is not None and (self.root / CLASS_NET / device.netdev.name).exists():
                self._udev_event(address, device.netdev.name)

    def nm_managed(self, ifname: str) -> bool:
        """Whether NetworkManager would manage the netdev (no NM_UNMANAGED in its udev data)."""
        return ifname not in self.state.nm_unmanaged

    def _set_flags(self, netdev_dir: Path, flags: int) -> None:
        self._write(netdev_dir / "flags", f"0x{flags:x}")
        self._write(netdev_dir / "operstate", "up" if flags & IFF_UP else "down")

    # ----------------------------------------------------------------------- IOMMU
    def _iommu_group(self, address: str) -> str | None:
        link = self.device_dir(address) / "iommu_group"
        return os.path.basename(os.readlink(link)) if link.is_symlink() else None

    def _join_iommu_group(self, address: str, noiommu: bool = False) -> str:
        group = str(self.state.next_iommu_group)
        self.state.next_iommu_group += 1
        group_dir = self.root / IOMMU_GROUPS / group
        self._link(group_dir / "devices" / address, self.device_dir(address))
        self._link(self.device_dir(address) / "iommu_group", group_dir)
        if noiommu:
            self._write(group_dir / "type", "noiommu")
        return group

    def _attach_vfio_group(self, address: str, bind_path: Path) -> None:
        group = self._iommu_group(address)
        if group is None:
            if not self._noiommu_enabled():
                raise kernel_error(errno.EINVAL, bind_path)
            group = self._join_iommu_group(address, noiommu=True)
        noiommu = (self.root / IOMMU_GROUPS / group / "type").is_file()
        self._write(self.root / "dev/vfio" / (f"noiommu-{group}" if noiommu else group), "")

    def _release_vfio_group(self, address: str) -> None:
        group = self._iommu_group(address)
        if group is None:
            return
        group_dir = self.root / IOMMU_GROUPS / group
        if (group_dir / "type").is_file():  # no-IOMMU groups exist only while vfio holds the device
            self._remove(self.root / "dev/vfio" / f"noiommu-{group}")
            self._remove(self.device_dir(address) / "iommu_group")
            self._remove(group_dir)
        else:
            self._remove(self.root / "dev/vfio" / group)

    def _noiommu_enabled(self) -> bool:
        parameter = self.root / VFIO_NOIOMMU_PARAMETER
        return parameter.is_file() and parameter.read_text().strip() == "Y"

    # ---------------------------------------------------------------------- reboot
    def new_boot_id(self) -> None:
        self._write(self.root / BOOT_ID, uuid.uuid4())

    def _booted_with(self, arg: str) -> bool:
        path = self.root / PROC_CMDLINE
        return path.is_file() and arg in path.read_text().split()

    def _boot_kernel_args(self) -> None:
        """The command line the boot loader gives, and the IOMMU it turns on (or off)."""
        self._write(
            self.root / PROC_CMDLINE,
            " ".join(
                [
                    f"BOOT_IMAGE={KERNEL_IMAGE}",
                    *(a for a in boot_args(self.root, self.state) if a not in self.state.boot_drops),
                ]
            ),
        )
        self.set_ib_core_mode()
        needs = self.state.iommu_needs_arg
        iommu = self.state.iommu_present and (needs is None or self._booted_with(needs))
        if iommu == self.state.iommu:
            return
        self.state.iommu = iommu
        for address in self.state.devices:
            if iommu:
                self._join_iommu_group(address)
            elif (group := self._iommu_group(address)) is not None:
                self._remove(self.device_dir(address) / "iommu_group")
                self._remove(self.root / IOMMU_GROUPS / group)

    def set_ib_core_mode(self, mode: str | None = None) -> None:
        """ib_core's netns_mode (Y: shared): ``mode``, else what the command line says, while it is loaded."""
        if not (self.root / MODULES / IB_CORE).is_dir():
            return
        shared = mode == "shared" if mode else not self._booted_with(f"{IB_CORE}.netns_mode=0")
        self._write(self.root / IB_CORE_NETNS_MODE, "Y" if shared else "N")

    def set_rdma_netns(self, mode: str) -> CommandResult:
        """``rdma system set netns <mode>``: EBUSY while another network namespace exists, as the kernel."""
        if not (self.root / MODULES / IB_CORE).is_dir():
            return CommandResult(1, "", "rdma: netlink RDMA family not found (ib_core not loaded)")
        if mode not in ("shared", "exclusive"):
            return CommandResult(255, "", f'rdma: unknown netns mode "{mode}"')
        current = (self.root / IB_CORE_NETNS_MODE).read_text().strip()
        if current != ("Y" if mode == "shared" else "N") and self.state.other_netns:
            return CommandResult(1, "", "error: Device or resource busy")
        self.set_ib_core_mode(mode)
        return CommandResult(0)

    def reboot(self) -> None:
        """What a reboot leaves: no VFs, every device probed afresh by its default driver (netdevs with
        their boot MTU and link state), only the boot modules loaded, eSwitches in legacy mode, the
        command line the boot loader reads (`boot_loader.boot_args`), a new boot id.  Files under
        ``etc/`` (ours) and ``boot/`` stay."""
        for pf in [d for d in self.state.devices.values() if d.sriov is not None]:
            if pf.address in self.state.devices:
                self.set_numvfs(pf.address, 0)
        for address, device in self.state.devices.items():
            if (driver := self.bound_driver(address)) is not None:
                self._detach(address, device, driver)
            self._write(self.device_dir(address) / "driver_override", NO_OVERRIDE)
            if device.netdev is not None and device.netdev.eswitch is not None:
                device.netdev.eswitch = "legacy"
                device.netdev.name = device.netdev.boot_name or device.netdev.name
                device.netdev.boot_name = None
            if device.netdev is not None and device.netdev.flow_steering_mode is not None:
                device.netdev.flow_steering_mode = "dmfs"
        for module in self.names(self.root / MODULES):
            if module not in self.state.boot_modules:
                self._remove(self.root / MODULES / module)
                if driver_name := MODULE_DRIVERS.get(module):
                    self._remove(self.driver_dir(driver_name))
                if module in VDPA_BUS_DRIVERS:
                    self._remove(self.root / VDPA_BUS / "drivers" / module)
                if node := MODULE_DEVICES.get(module):
                    self._remove(self.root / node)
        self._boot_kernel_args()
        for card in self.state.firmware:
            if card.reloads_on_reboot:
                reload(card)
                self.offer_vfs(card)
        for address in self.state.devices:
            self.probe(address)
        self.new_boot_id()

    # ------------------------------------------------------ Mellanox firmware (simulator/firmware.py)
    def firmware_program(self, argv: list[str]) -> CommandResult:
        """``mstconfig``/``mstfwreset`` on the card one of whose PFs ``-d`` names."""
        device = argv[argv.index("-d") + 1] if "-d" in argv[:-1] else ""
        card = next((card for card in self.state.firmware if device in card.ports), None)
        if card is None:
            return CommandResult(1, "", f"-E- Failed to open device: {device}, No such device\n")
        lockdown_file = self.root / LOCKDOWN
        lockdown = is_locked_down(lockdown_file.read_text() if lockdown_file.is_file() else "")
        if argv[0] == "mstconfig":
            return mstconfig(card, lockdown, argv)
        if failed := mstfwreset(card, lockdown, argv):
            return failed
        if with_vfs := [port for port in card.ports if self._numvfs(port)]:
            return CommandResult(1, "", f"-E- {with_vfs[0]} has VFs enabled: remove them before the reset\n")
        reload(card)
        self.offer_vfs(card)
        return CommandResult(0, "-I- FW was loaded successfully.\n")

    def _numvfs(self, address: str) -> int:
        path = self.device_dir(address) / "sriov_numvfs"
        return int(path.read_text()) if path.is_file() else 0

    def offer_vfs(self, card: SimFirmware) -> None:
        """The kernel's SR-IOV files of the card's PFs as the running firmware allows."""
        offered = offered_vfs(card)
        for port in card.ports:
            device = self.state.devices.get(port)
            if device is None or device.sriov is None:
                continue
            path = self.device_dir(port)
            if offered is None:
                for name in SRIOV_FILES:
                    self._remove(path / name)
                continue
            device.sriov.totalvfs = offered
            self._write(path / "sriov_totalvfs", offered)
            if not (path / "sriov_numvfs").is_file():
                self._write(path / "sriov_numvfs", 0)
                self._write(path / "sriov_offset", device.sriov.offset)
                self._write(path / "sriov_stride", device.sriov.stride)

    @staticmethod
    def names(path: Path) -> list[str]:
        return sorted(os.listdir(path)) if path.is_dir() else []

    # ---------------------------------------------------------------------- netdev
    def set_netdev_attribute(self, netdev_dir: Path, attribute: str, value: str) -> None:
        try:
            number = int(value.strip(), 0)
        except ValueError:
            raise kernel_error(errno.EINVAL, netdev_dir / attribute) from None
        if attribute == "flags":
            self._set_flags(netdev_dir, number)
            return
        device = next(
            (d for d in self.state.devices.values() if d.netdev and d.netdev.name == netdev_dir.name), None
        )
        max_mtu = device.netdev.max_mtu if device and device.netdev else 1500
        if not MIN_MTU <= number <= max_mtu:
            raise kernel_error(errno.EINVAL, netdev_dir / attribute)
        self._write(netdev_dir / "mtu", number)

    # --------------------------------------------------------------------- modules
    def load_module(self, name: str, parameters: Mapping[str, str]) -> bool:
        """False if modprobe would not find the module."""
        if name not in (
            *ALWAYS_AVAILABLE_MODULES,
            *self.state.loadable_modules,
            *self.state.available_modules,
        ):
            return False
        if name == "vfio_pci" and not (self.root / MODULES / "vfio").is_dir():
            self.load_module("vfio", {})
        if name == "vhost_net" and not self.load_module("tun", {}):
            return False  # modprobe loads its dependency first
        module_dir = self.root / MODULES / name
        if module_dir.is_dir():
            return True  # already loaded: modprobe silently ignores the parameters
        if name == RDMA_MODULE:
            self.load_module(IB_CORE, {})
        self._mkdir(module_dir)
        if name == IB_CORE:
            self.set_ib_core_mode()
        if node := MODULE_DEVICES.get(name):
            self._write(self.root / node, "")
        if name == "vfio" and self.state.vfio_noiommu:  # without it: no parameter, options ignored
            enabled = parameters.get("enable_unsafe_noiommu_mode", "0") in {"1", "Y", "y"}
            self._write(self.root / VFIO_NOIOMMU_PARAMETER, "Y" if enabled else "N")
        if name == RDMA_MODULE:
            for address, device in self.state.devices.items():
                self._add_rdma_device(address)
                if (
                    device.netdev is not None
                    and device.netdev.link_type == "ib"
                    and self.bound_driver(address)
                ):
                    self._bring_netdev(address, device, device.netdev)  # IPoIB comes with the RDMA device
        if driver := MODULE_DRIVERS.get(name):
            for name_ in ("bind", "unbind", "new_id"):
                self._write(self.driver_dir(driver) / name_, "")
        if name in VDPA_BUS_DRIVERS:
            for name_ in ("bind", "unbind"):
                self._write(self.root / VDPA_BUS / "drivers" / name / name_, "")
        return True

    def set_noiommu_parameter(self, value: str) -> None:
        if not self.state.vfio_noiommu or not (self.root / MODULES / "vfio").is_dir():
            raise kernel_error(errno.ENOENT, self.root / VFIO_NOIOMMU_PARAMETER)
        if value.strip() not in {"0", "1", "Y", "N", "y", "n"}:
            raise kernel_error(errno.EINVAL, self.root / VFIO_NOIOMMU_PARAMETER)
        self._write(self.root / VFIO_NOIOMMU_PARAMETER, "Y" if value.strip() in {"1", "Y", "y"} else "N")

    def set_eswitch_mode(self, address: str, mode: str) -> None:
        """devlink eswitch set: EOPNOTSUPP without an eSwitch, EINVAL for an unknown mode."""
        device = self.state.devices.get(address)
        if device is None or device.netdev is None or device.netdev.eswitch is None:
            raise kernel_error(errno.EOPNOTSUPP, f"devlink pci/{address}")
        if mode not in ("legacy", "switchdev"):
            raise kernel_error(errno.EINVAL, f"devlink pci/{address}")
        if mode == device.netdev.eswitch:
            return
        if device.netdev.eswitch_without_vfs and self._vfs_of(address):
            raise kernel_error(errno.EOPNOTSUPP, f"devlink pci/{address}")  # ice: "only if there is no VFs"
        if self.bound_driver(address) is not None and not device.netdev.eswitch_without_vfs:
            self._reprobe_uplink(address, device.netdev, mode == "switchdev")  # mlx5; ice keeps its netdev
        device.netdev.eswitch = "switchdev" if mode == "switchdev" else "legacy"
        if mode == "legacy":
            for vf in self._vfs_of(address):
                self._remove_vdpa(vf.address)
        if self.bound_driver(address) is not None and self.state.compat_devlink_mode:
            self._write(self._netdev_dir(address, device.netdev) / "compat/devlink/mode", mode)
        self._sync_representors(address)

    def _kernel_name(self, taken: set[str] | None = None) -> str:
        """The kernel's next ``eth<N>`` name: what a netdev keeps when no udev rule names it."""
        used = set(self.names(self.root / CLASS_NET)) | (taken or set())
        return next(f"eth{n}" for n in range(len(used) + 1) if f"eth{n}" not in used)

    def _reprobe_uplink(self, address: str, netdev: SimNetdev, switchdev: bool) -> None:
        """The driver re-registers the PF's netdev for an eSwitch mode change (mlx5 does): it comes back
        under the name a udev rule gives it, else under the kernel's next name, never kinder."""
        port = "p0" if switchdev else None
        for gone in self.names(self.device_dir(address) / "net"):  # representors first, then the uplink
            self._remove(self.device_dir(address) / "net" / gone)
            self._remove(self.root / CLASS_NET / gone)
        name = name_by_rules(self.root, address, port) or self._kernel_name()
        self.state.nm_unmanaged = [n for n in self.state.nm_unmanaged if n != netdev.name]
        if netdev.boot_name is None and name != netdev.name:
            netdev.boot_name = netdev.name
        netdev.name = name
        self._create_netdev(address, netdev)

    def _sync_representors(self, address: str) -> None:
        """In switchdev the PF's netdev is the uplink (phys_port_name p0) and each VF gets a representor
        netdev on the PF (``pf0vf<n>``); in legacy mode neither exists."""
        pf = self.state.devices.get(address)
        if pf is None or pf.netdev is None or pf.netdev.eswitch is None or self.bound_driver(address) is None:
            return
        net = self.device_dir(address) / "net"
        uplink = net / pf.netdev.name
        for stale in [d for d in net.iterdir() if d.name != pf.netdev.name]:
            self._remove(stale)
            self._remove(self.root / CLASS_NET / stale.name)
            self._feature_gone(stale.name)
        self._remove(uplink / "phys_port_name")
        if pf.netdev.eswitch != "switchdev":
            return
        switch_id = pf.netdev.mac.replace(":", "")
        self._write(uplink / "phys_port_name", "p0")
        self._write(uplink / "phys_switch_id", switch_id)
        taken: set[str] = set()
        for vf in self._vfs_of(address):
            port = f"pf0vf{vf.vf_index}"
            name = name_by_rules(self.root, address, port) or self._kernel_name(taken)
            taken.add(name)
            representor = net / name
            self._write(representor / "phys_port_name", port)
            self._write(representor / "phys_switch_id", switch_id)
            self._write(representor / "mtu", pf.netdev.mtu)
            self._write(representor / "type", 1)
            self._set_flags(representor, 0x1002)
            self._link(self.root / CLASS_NET / representor.name, representor)

    def _vfs_of(self, address: str) -> list[SimDevice]:
        return [d for d in self.state.devices.values() if d.physfn == address]

    # ------------------------------------------------ offload knobs: ethtool features, devlink params
    def _feature_gone(self, ifname: str) -> None:
        """A netdev that goes takes its features along: the next one of that name starts with them off."""
        self.state.tc_offload = [name for name in self.state.tc_offload if name != ifname]

    def _has_tc_offload(self, ifname: str) -> bool:
        """Uplinks of PFs with an eSwitch and representors can change hw-tc-offload; other netdevs cannot."""
        netdev = self.root / CLASS_NET / ifname
        if (netdev / "phys_port_name").is_file() and (netdev / "phys_switch_id").is_file():
            return True
        return any(
            d.netdev and d.netdev.name == ifname and d.netdev.eswitch for d in self.state.devices.values()
        )

    def ethtool_features(self, ifname: str) -> CommandResult:
        """``ethtool -k <if>`` (only the line we read), ``[fixed]`` where the netdev cannot change it."""
        if not (self.root / CLASS_NET / ifname).exists():
            return CommandResult(1, "", f"Cannot get device feature names: No such device ({ifname})")
        state = "on" if ifname in self.state.tc_offload else "off"
        fixed = "" if self._has_tc_offload(ifname) else " [fixed]"
        return CommandResult(0, f"Features for {ifname}:\nhw-tc-offload: {state}{fixed}\n")

    def set_tc_offload(self, ifname: str, enabled: bool) -> CommandResult:
        if not (self.root / CLASS_NET / ifname).exists():
            return CommandResult(1, "", f"Cannot get device feature names: No such device ({ifname})")
        if not self._has_tc_offload(ifname):
            return CommandResult(1, "", "Could not change any device features")
        names = set(self.state.tc_offload) - {ifname}
        self.state.tc_offload = sorted(names | ({ifname} if enabled else set()))
        return CommandResult(0)

    def _devlink_netdev(self, handle: str) -> SimNetdev | None:
        bus, _, address = handle.partition("/")
        device = self.state.devices.get(address) if bus == "pci" else None
        return device.netdev if device is not None and self.bound_driver(address) else None

    def flow_steering(self, handle: str) -> CommandResult:
        """``devlink -j dev param show <pci> name flow_steering_mode``: EINVAL where the device has none."""
        netdev = self._devlink_netdev(handle)
        if netdev is None:
            return CommandResult(1, "", "Error: devlink: kernel answers: No such device")
        if netdev.flow_steering_mode is None:
            return CommandResult(1, "", "kernel answers: Invalid argument")
        values = [{"cmode": "runtime", "value": netdev.flow_steering_mode}]
        param = {"name": "flow_steering_mode", "type": "driver-specific", "values": values}
        return CommandResult(0, json.dumps({"param": {handle: [param]}}))

    def set_flow_steering(self, handle: str, mode: str) -> CommandResult:
        """mlx5 changes it only in legacy mode ("not supported when eswitch offloads enabled")."""
        netdev = self._devlink_netdev(handle)
        if netdev is None:
            return CommandResult(1, "", "Error: devlink: kernel answers: No such device")
        if netdev.flow_steering_mode is None or mode not in FLOW_STEERING_MODES:
            return CommandResult(1, "", "kernel answers: Invalid argument")
        if netdev.eswitch == "switchdev":
            return CommandResult(
                1,
                "",
                "Error: mlx5_core: Changing fs mode is not supported when eswitch offloads enabled.\n"
                "kernel answers: Operation not supported",
            )
        netdev.flow_steering_mode = "smfs" if mode == "smfs" else "dmfs"
        return CommandResult(0)

    # ------------------------------------------------------------------------- vDPA
    def _vdpa_dir(self, name: str) -> Path:
        return self.root / VDPA_BUS / "devices" / name

    def _remove_vdpa(self, address: str) -> None:
        """A VF's vDPA devices go with its driver (and with switchdev mode)."""
        devices = self.root / VDPA_BUS / "devices"
        for name in self.names(devices):
            if (devices / name / "parent").read_text().strip() == address:
                if (driver := self._vdpa_driver(name)) is not None:
                    self._remove(self.root / VDPA_BUS / "drivers" / driver / name)
                self._remove(devices / name)

    def _vdpa_driver(self, name: str) -> str | None:
        link = self._vdpa_dir(name) / "driver"
        return os.readlink(link).rsplit("/", 1)[-1] if link.is_symlink() else None

    def add_vdpa(self, name: str, management: str) -> CommandResult:
        """``vdpa dev add``: the management device ``pci/<vf>`` exists only on a VF bound to a driver with
        vDPA support whose PF is in switchdev; the new device binds to the first vDPA bus driver loaded."""
        bus, _, address = management.partition("/")
        vf = self.state.devices.get(address) if bus == "pci" else None
        pf = self.state.devices.get(vf.physfn) if vf is not None and vf.physfn else None
        offered = (
            vf is not None
            and pf is not None
            and pf.netdev is not None
            and pf.netdev.eswitch == "switchdev"
            and self.bound_driver(address) in VDPA_VF_DRIVERS
        )
        if not offered:
            return CommandResult(1, "", "kernel answers: No such device")
        if self._vdpa_dir(name).exists():
            return CommandResult(1, "", "kernel answers: File exists")
        self._write(self._vdpa_dir(name) / "parent", address)
        loaded = [d for d in VDPA_BUS_DRIVERS if (self.root / VDPA_BUS / "drivers" / d).is_dir()]
        if loaded:
            self.bind_vdpa(name, loaded[0])
        return CommandResult(0)

    def delete_vdpa(self, name: str) -> CommandResult:
        if not self._vdpa_dir(name).exists():
            return CommandResult(1, "", "kernel answers: No such device")
        if (driver := self._vdpa_driver(name)) is not None:
            self._remove(self.root / VDPA_BUS / "drivers" / driver / name)
        self._remove(self._vdpa_dir(name))
        return CommandResult(0)

    def bind_vdpa(self, name: str, driver: str) -> None:
        path = self.root / VDPA_BUS / "drivers" / driver / "bind"
        if not path.parent.is_dir() or not self._vdpa_dir(name).is_dir():
            raise kernel_error(errno.ENODEV, path)
        if self._vdpa_driver(name) is not None:
            raise kernel_error(errno.EBUSY, path)
        self._link(self._vdpa_dir(name) / "driver", path.parent)
        self._link(path.parent / name, self._vdpa_dir(name))

    def unbind_vdpa(self, name: str, driver: str) -> None:
        path = self.root / VDPA_BUS / "drivers" / driver / "unbind"
        if self._vdpa_driver(name) != driver:
            raise kernel_error(errno.ENODEV, path)
        self._remove(self._vdpa_dir(name) / "driver")
        self._remove(path.parent / name)
