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

from sriov_operator.errors import BadInputError
from sriov_operator.host.devlink import EswitchControl, NetlinkEswitch
from sriov_operator.host.links import LinkControl
from sriov_operator.host.netlink import NetlinkLinkControl
from sriov_operator.host.ovs import OvsBridges, OvsdbBridges
from sriov_operator.host.programs import CommandRunner, HostCommandRunner
from sriov_operator.host.writer import HostWriter

CURRENT_NETNS = "current"  # the process's own network namespace (a pod with hostNetwork: true)


class NetnsRequiredError(BadInputError):
    """Netlink would act on this machine's links while the host root is some other tree."""


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
        raise NetnsRequiredError(
            f"--netns: required with --host-root {self.root} (not /), since netlink acts on links by name: "
            "give the host's network namespace (a name under /run/netns, a path such as /proc/1/ns/net, "
            f"or '{CURRENT_NETNS}' when this process shares the host's network)"
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
    """Plain writes under ``root``, programs (chrooted unless ``root`` is ``/``), netlink in ``netns``.

    ``netns``: a name under /run/netns, a path, or ``current`` (this process's);
    without one, netlink is used only when ``root`` is ``/``.
    """
    writer, runner = HostWriter(root), HostCommandRunner(root)
    if netns is None and os.path.realpath(root) != "/":
        refuse = NamespaceRequired(root)
        return HostIO(writer, runner, refuse, refuse, OvsdbBridges(root))
    namespace = None if netns in (None, CURRENT_NETNS) else netns
    links, eswitch = NetlinkLinkControl(namespace), NetlinkEswitch(namespace)
    return HostIO(writer, runner, links, eswitch, OvsdbBridges(root))
