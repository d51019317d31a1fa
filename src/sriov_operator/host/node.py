"""One node's host, wired for use: root, platform, metadata sources and the I/O apply needs."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from sriov_operator.api.models import InterfaceExt
from sriov_operator.api.platforms import is_virtual
from sriov_operator.errors import BadInputError
from sriov_operator.host.discovery import Discovery, discover
from sriov_operator.host.executors import HostAccess
from sriov_operator.host.guid_pool import DEFAULT_GUID_FILE
from sriov_operator.host.infiniband import read_guid_source
from sriov_operator.host.io import HostIO, real_host_io
from sriov_operator.host.mellanox import (
    FirmwareFacts,
    lockdown_mode,
    mellanox_cards,
    read_asked,
    read_firmware,
)
from sriov_operator.host.offload import Offloads, read_offloads
from sriov_operator.host.openstack.ports import MetadataSettings, save_checkpoint
from sriov_operator.host.ovs import OvsState
from sriov_operator.host.ovsdb import OvsdbError
from sriov_operator.host.platform import Platform, PlatformChoice, detect_platform
from sriov_operator.host.root import HostRoot
from sriov_operator.host.state import HostState, read_host_state

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NodeHost:
    access: HostAccess
    platform: Platform
    metadata: MetadataSettings
    node_ips: tuple[str, ...] = ()  # the Node's InternalIPs: their links are guarded like the default route
    allow_node_links: frozenset[str] = frozenset()  # node links the operator may change all the same
    firmware_reset: bool = False  # mellanoxFirmwareReset gate: mstfwreset before a firmware reboot
    ib_guid_file: str = DEFAULT_GUID_FILE  # InfiniBand VF GUIDs (`host/guid_pool.py`), under the host root

    @classmethod
    def open(
        cls,
        root: Path,
        *,
        io: HostIO | None = None,
        netns: str | None = None,
        platform: PlatformChoice = "auto",
        provider_id: str | None = None,
        metadata: MetadataSettings | None = None,
        node_ips: Collection[str] = (),
        allow_node_links: Collection[str] = (),
        parallel_nics: bool = True,
        firmware_reset: bool = False,
        ib_guid_file: str = DEFAULT_GUID_FILE,
    ) -> NodeHost:
        """``io`` defaults to the real host's (`real_host_io(root, netns)`); the simulator passes its own.

        BadInputError for a missing root, or a root other than ``/`` without ``netns`` (real I/O only).
        """
        if not root.is_dir():
            raise BadInputError(f"--host-root {root}: no such directory")
        host = HostRoot(root)
        chosen = io or real_host_io(root, netns)
        access = dataclasses.replace(HostAccess.on(host, chosen), parallel_nics=parallel_nics)
        platform_ = detect_platform(host, platform, provider_id)
        settings = metadata or MetadataSettings()
        links = frozenset(allow_node_links)
        return cls(access, platform_, settings, tuple(node_ips), links, firmware_reset, ib_guid_file)

    @property
    def host(self) -> HostRoot:
        return self.access.host

    def discover(self, *, checkpoint: bool) -> Discovery:
        """With ``checkpoint``, persist what OpenStack metadata told us (only if it changed)."""
        found = discover(self.host, self.platform, self.metadata, self.access.eswitch)
        if checkpoint and found.ports is not None:
            save_checkpoint(self.host, self.access.writer, found.ports)
        return found

    def survey(self, *, checkpoint: bool = True) -> tuple[Discovery, HostState]:
        """Discovery (with the metadata source it used) and the state ``plan`` needs, from one look."""
        found = self.discover(checkpoint=checkpoint)
        links = self.access.links.node_links(self.node_ips)
        guarded = {name: why for name, why in links.items() if name not in self.allow_node_links}
        virtual = is_virtual(self.platform)
        admin_macs = {} if virtual else self._vf_admin_macs(found.interfaces)
        offloads = Offloads() if virtual else read_offloads(self.access.run, found.interfaces)
        ovs, ovs_problem = self._ovs()
        state = read_host_state(
            self.host,
            self.platform,
            found.interfaces,
            guarded,
            admin_macs,
            offloads=offloads,
            ovs=ovs,
            ovs_problem=ovs_problem,
            firmware=None if virtual else self._firmware(found.interfaces),
            ib_guids=None if virtual else read_guid_source(self.host, self.ib_guid_file),
        )
        return found, state

    def _firmware(self, interfaces: list[InterfaceExt]) -> FirmwareFacts:
        """Each Mellanox card's firmware settings (mstconfig, one query per card) and what we asked of it."""
        cards = mellanox_cards((pf.pci_address, pf.vendor) for pf in interfaces)
        if not cards:
            return FirmwareFacts(reset_allowed=self.firmware_reset)
        lockdown = lockdown_mode(self.host)
        found = {first: read_firmware(self.access.run, first, lockdown) for first in cards}
        return FirmwareFacts(found, read_asked(self.host), self.firmware_reset)

    def _ovs(self) -> tuple[OvsState | None, str | None]:
        """Open vSwitch as OVSDB has it; an unreadable OVSDB matters only to a spec with bridges (plan)."""
        try:
            return self.access.ovs.read(), None
        except OvsdbError as error:
            log.info("Open vSwitch not readable: %s", error)
            return None, str(error)

    def _vf_admin_macs(self, interfaces: list[InterfaceExt]) -> dict[str, str]:
        """VF PCI address -> the admin MAC its PF reports; a PF that cannot say is left out (logged)."""
        found: dict[str, str] = {}
        for pf in interfaces:
            if not pf.vfs or not pf.name:
                continue
            try:
                macs = self.access.links.vf_macs(pf.name)
            except OSError as error:
                log.info("%s: VF admin MACs not readable: %s", pf.name, error.strerror or error)
                continue
            found.update({vf.pci_address: macs[vf.vf_id] for vf in pf.vfs if vf.vf_id in macs})
        return found

    def observe(self, *, checkpoint: bool = True) -> HostState:
        return self.survey(checkpoint=checkpoint)[1]
