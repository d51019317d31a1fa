"""The host's I/O, injected the way an HTTP client takes a transport.

`HostIO` bundles the ways the host layer changes a host: file writes,
programs, links, the eSwitch and Open vSwitch.  `real_host_io` is the default and acts on the real kernel;
the simulator (`host/simulator/`) provides its own HostIO, and production code
never imports it.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from sriov_operator.host.devlink import EswitchControl, NetlinkEswitch
from sriov_operator.host.links import LinkControl
from sriov_operator.host.netlink import NetlinkLinkControl
from sriov_operator.host.netns import netns_required, resolve_netns
from sriov_operator.host.ovs import OvsBridges, OvsdbBridges
from sriov_operator.host.programs import CommandRunner, HostCommandRunner
from sriov_operator.host.writer import HostWriter


@dataclass(frozen=True)
class HostIO:
    writer: HostWriter
    run: CommandRunner
    links: LinkControl
    eswitch: EswitchControl
    ovs: OvsBridges  # the host's Open vSwitch, over its OVSDB socket under the host root


@dataclass(frozen=True)
class NamespaceRequired:
    """Stands in for netlink when the host root is not ``/`` and no namespace was given: refuses.

    Links are found by name and devlink devices by PCI address, so netlink would
    act on this machine's devices instead of the tree's.  Reads that need
    neither (``discover`` of a bare-metal tree reads the eSwitch as unknown) work.
    """

    root: Path

    def _refuse(self) -> NoReturn:
        raise netns_required(
            self.root,
            "use netlink",
            "netlink finds links by name and devlink devices by PCI address in its network namespace",
        )

    def set_mtu(self, ifname: str, mtu: int) -> None:
        self._refuse()

    def set_up(self, ifname: str) -> None:
        self._refuse()

    def node_links(self, node_ips: Collection[str]) -> Mapping[str, str]:
        self._refuse()

    def vf_macs(self, pf_ifname: str) -> Mapping[int, str]:
        return {}

    def set_vf_mac(self, pf_ifname: str, vf_id: int, mac: str) -> None:
        self._refuse()

    def set_vf_guid(self, pf_ifname: str, vf_id: int, guid: str) -> None:
        self._refuse()

    def mode(self, pci: str) -> str | None:
        return None

    def set_mode(self, pci: str, mode: str) -> None:
        self._refuse()


def real_host_io(root: Path, netns: str | None = None) -> HostIO:
    """Plain writes under ``root``; programs and netlink in the network namespace ``netns`` names.

    ``netns``: a name under /run/netns, a path, or ``current`` (this process's), resolved once
    (`resolve_netns`) for both; without one, netlink and the programs that act on network
    devices (`host/placement.py`) run only when ``root`` is ``/``.  Programs run under ``chroot``
    when ``root`` is not ``/``.
    """
    resolved = Path(os.path.realpath(root))
    chosen = resolve_netns(netns)
    writer, runner = HostWriter(root), HostCommandRunner(resolved, chosen)
    if chosen is None and resolved != Path("/"):
        refuse = NamespaceRequired(resolved)
        return HostIO(writer, runner, refuse, refuse, OvsdbBridges(root))
    path = chosen.path if chosen else None
    return HostIO(writer, runner, NetlinkLinkControl(path), NetlinkEswitch(path), OvsdbBridges(root))
