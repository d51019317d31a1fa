"""Link MTU, admin state, and which links carry the node's own traffic: the interface apply and plan use.

Production uses netlink (`host/netlink.py`); the simulator provides its own.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Protocol


class LinkControl(Protocol):
    def set_mtu(self, ifname: str, mtu: int) -> None: ...

    def set_up(self, ifname: str) -> None: ...

    def node_links(self, node_ips: Collection[str]) -> Mapping[str, str]:
        """Interface name -> why it carries the node's connectivity (default route, a node IP)."""
        ...
