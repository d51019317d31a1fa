"""Which Neutron network each PCI port of this VM is on, read once and re-read when the ports change.

The result is checkpointed on the host (``etc/sriov-operator/openstack-ports.json``
under the host root) with the boot id, the metadata source it came from and
every port's PCI address and MAC.  Upstream reads metadata once per boot, so a
hot-plugged NIC is invisible until reboot; we re-read whenever a port appears,
leaves or changes MAC, and whenever the user names a different source.  When
the metadata cannot be read, the ports the checkpoint knows keep their
netFilter and a new port is reported without one; the node does not fail.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from sriov_operator.host.boot import BOOT_ID
from sriov_operator.host.openstack.configdrive import find_config_drive, read_config_drive
from sriov_operator.host.openstack.metadata import MetadataError, OpenStackMetadata
from sriov_operator.host.openstack.metadata_service import MetadataServiceSettings, read_metadata_service
from sriov_operator.host.openstack.netfilter import DeviceInfo, build_device_info
from sriov_operator.host.pci import is_pci_address
from sriov_operator.host.root import OPERATOR_STATE_DIR, HostFileError, HostRoot
from sriov_operator.host.writer import HostWriter

MetadataSource = Literal["configDrive", "metadataService", "none"]
CHECKPOINT_FILE = f"{OPERATOR_STATE_DIR}/openstack-ports.json"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MetadataSettings:
    config_drive: Path | None = None  # a device or image file; found by label when None
    service: MetadataServiceSettings = field(default_factory=MetadataServiceSettings)
    use_service: bool = False  # the user named the service URL: no config drive search

    @property
    def chosen_origin(self) -> str | None:
        """The source the user named, or None when any source will do."""
        if self.config_drive is not None:
            return f"configDrive:{self.config_drive}"
        return f"metadataService:{self.service.base_url}" if self.use_service else None


class _CheckpointDevice(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mac: str
    netFilter: str | None  # noqa: N815 (the JSON key)


class _CheckpointFile(BaseModel):
    """The checkpoint's JSON shape; anything else is not ours and is read again from the metadata."""

    model_config = ConfigDict(extra="forbid")
    source: MetadataSource
    origin: str
    bootID: str | None  # noqa: N815 (the JSON key)
    complete: bool
    nics: dict[str, str | None]
    devices: dict[str, _CheckpointDevice]

    @field_validator("nics", "devices")
    @classmethod
    def _pci_keys(cls, value: dict[str, object]) -> dict[str, object]:
        bad = next((key for key in value if not is_pci_address(key)), None)
        if bad is not None:
            raise ValueError(f"{bad[:40]!r} is not a PCI address")
        return value


@dataclass(frozen=True)
class PortCheckpoint:
    source: MetadataSource
    origin: str  # ``configDrive:<device>`` or ``metadataService:<url>``
    boot_id: str | None
    nics: dict[str, str | None]  # PCI address -> MAC seen (None: no netdev and no record)
    devices: dict[str, DeviceInfo]
    complete: bool = True  # False: built from an older checkpoint while the metadata was unreachable

    def to_json(self) -> str:
        devices = {pci: {"mac": d.mac, "netFilter": d.net_filter} for pci, d in sorted(self.devices.items())}
        body = {
            "source": self.source,
            "origin": self.origin,
            "bootID": self.boot_id,
            "complete": self.complete,
            "nics": dict(sorted(self.nics.items())),
            "devices": devices,
        }
        return json.dumps(body, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str, where: str) -> PortCheckpoint | None:
        """None (with a warning) for a checkpoint we cannot read: it is rebuilt from the metadata then."""
        try:
            body = _CheckpointFile.model_validate_json(text)
        except ValidationError as error:
            log.warning(
                "%s: not a checkpoint we wrote, reading the metadata again: %s", where, str(error)[:200]
            )
            return None
        devices = {pci: DeviceInfo(d.mac, d.netFilter) for pci, d in body.devices.items()}
        return cls(body.source, body.origin, body.bootID, body.nics, devices, body.complete)

    def knows(self, nics: Mapping[str, str | None]) -> bool:
        """The same ports as now: same PCI addresses, and no port with a different MAC."""
        if set(nics) != set(self.nics):
            return False
        for pci, mac in nics.items():
            known = self.nics[pci] or (self.devices[pci].mac if pci in self.devices else None)
            if mac is not None and (known is None or known.lower() != mac.lower()):
                return False
        return True


def load_metadata(
    host: HostRoot, settings: MetadataSettings
) -> tuple[MetadataSource, str, OpenStackMetadata]:
    """The drive the user named; else the service if its URL was named; else a drive labelled
    config-2 (one that cannot be read falls through, the reason logged); else the service."""
    if settings.config_drive is not None:
        return "configDrive", f"configDrive:{settings.config_drive}", read_config_drive(settings.config_drive)
    found = None if settings.use_service else find_config_drive(host)
    if found is not None:
        try:
            return "configDrive", f"configDrive:{host.display(found)}", read_config_drive(found)
        except MetadataError as error:
            log.warning("config drive unusable, trying the metadata service: %s", error)
    try:
        origin = f"metadataService:{settings.service.base_url}"
        return "metadataService", origin, read_metadata_service(settings.service)
    except MetadataError as error:
        drive = (
            "an unreadable config drive" if found else f"no config drive labelled config-2 under {host.root}"
        )
        raise MetadataError(f"no OpenStack metadata: {drive}, and {error}") from None


def read_checkpoint(host: HostRoot) -> PortCheckpoint | None:
    path = host.path(CHECKPOINT_FILE)
    try:
        text = host.read_state_file(path)
    except HostFileError as error:
        log.warning("%s", error)
        return None
    return PortCheckpoint.from_json(text, str(path)) if text else None


def _from_checkpoint(
    previous: PortCheckpoint, nics: Mapping[str, str | None], boot_id: str | None
) -> PortCheckpoint:
    """Ports the checkpoint knows (same MAC) keep their netFilter; others are reported without one."""
    devices: dict[str, DeviceInfo] = {}
    for pci, mac in nics.items():
        known = previous.devices.get(pci)
        if known is not None and (mac is None or mac.lower() == known.mac.lower()):
            devices[pci] = known
        else:
            devices[pci] = DeviceInfo((mac or "").lower(), None)
    return PortCheckpoint(previous.source, previous.origin, boot_id, dict(nics), devices, complete=False)


def resolve_ports(
    host: HostRoot, settings: MetadataSettings, nics: Mapping[str, str | None]
) -> PortCheckpoint:
    """``nics``: PCI address -> MAC of the port (its netdev's, or our record's; None if neither knows)."""
    previous = read_checkpoint(host)
    boot_id = host.read(host.path(BOOT_ID))
    chosen = settings.chosen_origin
    if (
        previous is not None
        and previous.complete
        and previous.boot_id == boot_id
        and previous.knows(nics)
        and chosen in (None, previous.origin)
    ):
        return previous
    try:
        source, origin, metadata = load_metadata(host, settings)
    except MetadataError as error:
        if previous is None:
            raise
        log.warning("%s; using the last checkpoint for the ports it knows", error)
        return _from_checkpoint(previous, nics, boot_id)
    devices = build_device_info(metadata, nics, previous.devices if previous else {})
    return PortCheckpoint(source, origin, boot_id, dict(nics), devices)


def save_checkpoint(host: HostRoot, writer: HostWriter, checkpoint: PortCheckpoint) -> bool:
    """Write the checkpoint if it changed; True if it was written."""
    if read_checkpoint(host) == checkpoint:
        return False
    writer.write_file(host.path(CHECKPOINT_FILE), checkpoint.to_json())
    return True
