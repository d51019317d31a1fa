"""Link MTU and admin state: one interface, two ways (netlink on a real host, sysfs attributes)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sriov_operator.host.pci import IFF_UP
from sriov_operator.host.root import CLASS_NET, HostRoot
from sriov_operator.host.writer import HostWriter


class LinkControl(Protocol):
    def set_mtu(self, ifname: str, mtu: int) -> None: ...

    def set_up(self, ifname: str) -> None: ...


@dataclass(frozen=True)
class SysfsLinkControl:
    """Writes ``/sys/class/net/<if>/{mtu,flags}`` (both writable on Linux) through the host writer.

    Used with the simulator, where netlink has no kernel to talk to.
    """

    host: HostRoot
    writer: HostWriter

    def set_mtu(self, ifname: str, mtu: int) -> None:
        self.writer.write_attribute(self.host.path(CLASS_NET, ifname, "mtu"), str(mtu))

    def set_up(self, ifname: str) -> None:
        flags = self.host.read_int(self.host.path(CLASS_NET, ifname, "flags"), 16) or 0
        self.writer.write_attribute(self.host.path(CLASS_NET, ifname, "flags"), f"0x{flags | IFF_UP:x}")
