"""Link MTU and admin state over netlink (pyroute2), optionally inside a named network namespace.

pyroute2 is imported on first use: importing it loads the whole library (about
a second of CPU), which every CLI start would otherwise pay, even for commands
that never touch a link.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyroute2 import IPRoute


@dataclass(frozen=True)
class LinkStatus:
    mtu: int
    up: bool


@dataclass(frozen=True)
class NetlinkLinkControl:
    netns: str | None = None

    def _index(self, ipr: IPRoute, ifname: str) -> int:
        indexes = ipr.link_lookup(ifname=ifname)
        if not indexes:
            raise OSError(
                f"{ifname}: no such network interface" + (f" in netns {self.netns}" if self.netns else "")
            )
        return int(indexes[0])

    def _set(self, ifname: str, **changes: object) -> None:
        from pyroute2 import IPRoute
        from pyroute2.netlink.exceptions import NetlinkError

        with IPRoute(netns=self.netns) as ipr:
            try:
                ipr.link("set", index=self._index(ipr, ifname), **changes)
            except NetlinkError as error:
                raise OSError(error.code, f"{ifname}: netlink refused {changes}: {error}") from None

    def set_mtu(self, ifname: str, mtu: int) -> None:
        self._set(ifname, mtu=mtu)

    def set_up(self, ifname: str) -> None:
        self._set(ifname, state="up")

    def status(self, ifname: str) -> LinkStatus:
        from pyroute2 import IPRoute

        with IPRoute(netns=self.netns) as ipr:
            link = ipr.get_links(self._index(ipr, ifname))[0]
            return LinkStatus(mtu=int(link.get("IFLA_MTU")), up=bool(link["flags"] & 1))
