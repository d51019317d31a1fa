"""Link MTU, admin state, VF admin MACs and GUIDs over netlink (pyroute2), in one chosen network namespace.

``netns`` is a name under ``/run/netns`` or a path such as ``/proc/1/ns/net``;
None means this process's own namespace.  A namespace that does not exist is
an error, never created.  pyroute2 is imported on first use: importing it costs
about a second of CPU, which commands that never touch a link should not pay.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

RT_TABLE_MAIN = 254
RTEXT_FILTER_VF = 1


@dataclass(frozen=True)
class LinkStatus:
    mtu: int
    up: bool


@dataclass(frozen=True)
class NetlinkLinkControl:
    netns: str | None = None

    def _open(self) -> Any:
        from pyroute2 import IPRoute

        if self.netns is None:
            return IPRoute()
        try:
            return IPRoute(netns=self.netns, flags=0)
        except OSError as error:
            raise OSError(error.errno, f"network namespace {self.netns}: {error.strerror or error}") from None

    def _index(self, ipr: Any, ifname: str) -> int:
        indexes = ipr.link_lookup(ifname=ifname)
        if not indexes:
            raise OSError(
                f"{ifname}: no such network interface" + (f" in netns {self.netns}" if self.netns else "")
            )
        return int(indexes[0])

    def _set(self, ifname: str, **changes: object) -> None:
        from pyroute2.netlink.exceptions import NetlinkError

        with self._open() as ipr:
            try:
                ipr.link("set", index=self._index(ipr, ifname), **changes)
            except NetlinkError as error:
                raise OSError(error.code, f"{ifname}: netlink refused {changes}: {error}") from None

    def set_mtu(self, ifname: str, mtu: int) -> None:
        self._set(ifname, mtu=mtu)

    def set_up(self, ifname: str) -> None:
        self._set(ifname, state="up")

    def vf_macs(self, pf_ifname: str) -> Mapping[int, str]:
        """From the PF's VF info (``ext_mask`` RTEXT_FILTER_VF), as ``ip link show <pf>`` lists it."""
        with self._open() as ipr:
            link = ipr.link("get", index=self._index(ipr, pf_ifname), ext_mask=RTEXT_FILTER_VF)[0]
            infos = link.get("IFLA_VFINFO_LIST")
            macs = (info.get("IFLA_VF_MAC") for info in (infos.get_attrs("IFLA_VF_INFO") if infos else []))
            return {int(mac["vf"]): str(mac["mac"]) for mac in macs if mac is not None}

    def set_vf_mac(self, pf_ifname: str, vf_id: int, mac: str) -> None:
        self._set(pf_ifname, vf={"vf": vf_id, "mac": mac})

    def set_vf_guid(self, pf_ifname: str, vf_id: int, guid: str) -> None:
        """One message per GUID: the kernel applies only the first GUID attribute of a VF's info."""
        for attribute in ("ib_node_guid", "ib_port_guid"):
            self._set(pf_ifname, vf={"vf": vf_id, attribute: guid})

    def status(self, ifname: str) -> LinkStatus:
        with self._open() as ipr:
            link = ipr.get_links(self._index(ipr, ifname))[0]
            return LinkStatus(mtu=int(link.get("IFLA_MTU")), up=bool(link["flags"] & 1))

    def node_links(self, node_ips: Collection[str]) -> Mapping[str, str]:
        wanted = {ipaddress.ip_address(ip) for ip in node_ips}
        with self._open() as ipr:
            names = {int(link["index"]): str(link.get("IFLA_IFNAME")) for link in ipr.get_links()}
            found: dict[str, str] = {}
            for family in (2, 10):  # AF_INET, AF_INET6
                for route in ipr.get_routes(family=family, table=RT_TABLE_MAIN):
                    hops = [route.get("RTA_OIF"), *(hop["oif"] for hop in route.get("RTA_MULTIPATH") or [])]
                    for oif in hops if route["dst_len"] == 0 else []:
                        if oif in names:
                            found.setdefault(names[oif], "it carries the default route")
            for address in ipr.get_addr():
                ip = ipaddress.ip_address(str(address.get("IFA_ADDRESS")))
                if ip in wanted and int(address["index"]) in names:
                    found.setdefault(names[int(address["index"])], f"it has the node's IP {ip}")
            return found
