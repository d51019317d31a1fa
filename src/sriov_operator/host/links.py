"""Link MTU, admin state, VF admin MACs and GUIDs, and which links carry the node's own traffic.

The interface apply and plan use.

Production uses netlink (`host/netlink.py`); the simulator provides its own.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Protocol


class LinkControl(Protocol):
    def set_mtu(self, ifname: str, mtu: int) -> None: ...

    def set_up(self, ifname: str) -> None: ...

    def vf_macs(self, pf_ifname: str) -> Mapping[int, str]:
        """VF id -> the admin MAC the PF reports for it (``00:00:00:00:00:00``: none set)."""
        ...

    def set_vf_mac(self, pf_ifname: str, vf_id: int, mac: str) -> None: ...

    def set_vf_guid(self, pf_ifname: str, vf_id: int, guid: str) -> None:
        """A VF's InfiniBand node GUID, then its port GUID (``xx:…:xx``), through its PF's netdev."""
        ...

    def node_links(self, node_ips: Collection[str]) -> Mapping[str, str]:
        """Interface name -> why it carries the node's connectivity (default route, a node IP)."""
        ...
