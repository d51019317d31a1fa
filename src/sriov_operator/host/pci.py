"""What sysfs says about PCI functions and their network interfaces."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from sriov_operator.host.root import PCI_DEVICES, HostRoot

NETWORK_CLASS_PREFIX = "0x02"
IFF_UP = 0x1
ARPHRD_INFINIBAND = 32
DPDK_DRIVERS = frozenset({"vfio-pci", "igb_uio", "uio_pci_generic"})
# domain:bus:device.function as sysfs spells it; domains past ffff exist (Intel VMD: 10000:…)
PCI_ADDRESS = re.compile(r"[0-9a-f]{4,8}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]")
VF_REPRESENTOR = re.compile(r"(?:c\d+)?pf\d+vf(?P<vf>\d{1,5})")  # phys_port_name of a VF's representor
PCI_ADDRESS_FORM = "dddd:bb:dd.f in lower-case hex, e.g. 0000:3b:00.1"


def vf_address(pf_address: str, routing_offset: int) -> str:
    """PCI address ``routing_offset`` routing ids after the PF's (bus:device.function arithmetic).

    VF ``n`` of a PF is at ``sriov_offset + n * sriov_stride`` routing ids after it.
    """
    domain, bus, rest = pf_address.split(":")
    device, function = rest.split(".")
    rid = (int(bus, 16) << 8 | int(device, 16) << 3 | int(function, 16)) + routing_offset
    return f"{domain}:{rid >> 8:02x}:{(rid >> 3) & 0x1F:02x}.{rid & 0x7:x}"


def is_pci_address(text: object) -> bool:
    """True for a PCI address in sysfs form; anything else (``../x``, upper case) is refused.

    Addresses become paths under the host root, so everything that names one is
    checked: the spec, our records and checkpoint, Nova's metadata, sysfs links.
    """
    return isinstance(text, str) and PCI_ADDRESS.fullmatch(text) is not None


@dataclass(frozen=True)
class Netdev:
    name: str
    path: Path
    mac: str | None
    mtu: int | None
    speed_mbps: int | None
    admin_up: bool
    link_type: str
    eswitch_mode: str | None


@dataclass(frozen=True)
class PciFunction:
    address: str
    path: Path
    vendor: str | None
    device_id: str | None
    pci_class: str
    driver: str | None
    netdev: Netdev | None  # the uplink, when switchdev representors share the device
    representors: dict[int, str] = field(default_factory=dict)  # VF index -> its representor netdev

    @property
    def is_network(self) -> bool:
        return self.pci_class.startswith(NETWORK_CLASS_PREFIX)


def _hex_id(host: HostRoot, path: Path) -> str | None:
    text = host.read(path)
    return text.lower().removeprefix("0x") if text else None


def _netdev_dirs(device: Path) -> list[Path]:
    """``<dev>/net/<if>``, or ``<dev>/virtioN/net/<if>`` for virtio-net."""
    dirs = sorted(device.glob("net/*")) + sorted(device.glob("virtio*/net/*"))
    return [d for d in dirs if d.is_dir()]


def read_netdev(host: HostRoot, path: Path) -> Netdev:
    flags = host.read_int(path / "flags", 16) or 0
    speed = host.read_int(path / "speed")
    return Netdev(
        name=path.name,
        path=path,
        mac=host.read(path / "address"),
        mtu=host.read_int(path / "mtu"),
        speed_mbps=speed if speed is not None and speed > 0 else None,
        admin_up=bool(flags & IFF_UP),
        link_type="IB" if host.read_int(path / "type") == ARPHRD_INFINIBAND else "ETH",
        eswitch_mode=host.read(path / "compat/devlink/mode"),
    )


def read_pci_function(host: HostRoot, address: str) -> PciFunction:
    """A PCI function; in switchdev its VF representors share ``<dev>/net/``, told apart by phys_port_name."""
    return read_device(host, host.path(PCI_DEVICES, address))


def read_device(host: HostRoot, path: Path) -> PciFunction:
    """A device's directory in sysfs (``/sys/bus/<bus>/devices/<name>``), read as `read_pci_function` does."""
    address = path.name
    netdevs = _netdev_dirs(path)
    port_names = {netdev: host.read(netdev / "phys_port_name") or "" for netdev in netdevs}
    representors = {d: m for d in netdevs if (m := VF_REPRESENTOR.fullmatch(port_names[d])) is not None}
    uplinks = [netdev for netdev in netdevs if netdev not in representors]
    return PciFunction(
        address=address,
        path=path,
        vendor=_hex_id(host, path / "vendor"),
        device_id=_hex_id(host, path / "device"),
        pci_class=host.read(path / "class") or "",
        driver=host.link_name(path / "driver"),
        netdev=read_netdev(host, uplinks[0]) if uplinks else None,
        representors={int(match["vf"]): netdev.name for netdev, match in representors.items()},
    )


def network_functions(host: HostRoot) -> list[PciFunction]:
    """Every PCI function of network class (0x02xxxx), sorted by address."""
    addresses = (name for name in host.names(host.path(PCI_DEVICES)) if is_pci_address(name))
    functions = (read_pci_function(host, address) for address in addresses)
    return [function for function in functions if function.is_network]


def virtfns(host: HostRoot, pf_address: str) -> dict[int, str]:
    """VF id -> its PCI address, from the PF's ``virtfnN`` links (garbage ignored)."""
    device = host.path(PCI_DEVICES, pf_address)
    found: dict[int, str] = {}
    for link in host.names(device):
        index = link.removeprefix("virtfn")
        if link.startswith("virtfn") and index.isdigit() and len(index) < 6:
            address = host.link_name(device / link)
            if is_pci_address(address):
                found[int(index)] = str(address)
    return found
