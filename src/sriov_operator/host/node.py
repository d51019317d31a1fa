"""One node's host, wired for use: root, platform, metadata sources and the I/O apply needs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sriov_operator.host.apply import HostAccess
from sriov_operator.host.discovery import Discovery, discover
from sriov_operator.host.links import SysfsLinkControl
from sriov_operator.host.netlink import NetlinkLinkControl
from sriov_operator.host.openstack.ports import MetadataSettings, save_checkpoint
from sriov_operator.host.platform import Platform, PlatformChoice, detect_platform
from sriov_operator.host.programs import HostCommandRunner
from sriov_operator.host.root import HostRoot
from sriov_operator.host.simulator.host_io import SimulatedCommandRunner, SimulatedWriter
from sriov_operator.host.state import HostState, read_host_state
from sriov_operator.host.writer import HostWriter


@dataclass(frozen=True)
class NodeHost:
    access: HostAccess
    platform: Platform
    metadata: MetadataSettings

    @classmethod
    def open(
        cls,
        root: Path,
        *,
        simulate: bool = False,
        platform: PlatformChoice = "auto",
        provider_id: str | None = None,
        metadata: MetadataSettings | None = None,
    ) -> NodeHost:
        """FileNotFoundError for a missing root, or (``simulate``) a root that is no simulator tree."""
        if not root.is_dir():
            raise FileNotFoundError(f"host root {root}: no such directory")
        host = HostRoot(root)
        if simulate:
            writer: HostWriter = SimulatedWriter(root)
            access = HostAccess(host, writer, SimulatedCommandRunner(root), SysfsLinkControl(host, writer))
        else:
            access = HostAccess(host, HostWriter(), HostCommandRunner(root), NetlinkLinkControl())
        return cls(access, detect_platform(host, platform, provider_id), metadata or MetadataSettings())

    @property
    def host(self) -> HostRoot:
        return self.access.host

    def discover(self, *, checkpoint: bool) -> Discovery:
        """With ``checkpoint``, persist what OpenStack metadata told us (only if it changed)."""
        found = discover(self.host, self.platform, self.metadata)
        if checkpoint and found.ports is not None:
            save_checkpoint(self.host, self.access.writer, found.ports)
        return found

    def observe(self, *, checkpoint: bool = True) -> HostState:
        return read_host_state(self.host, self.platform, self.discover(checkpoint=checkpoint).interfaces)
