"""Which Neutron network each PCI port of this VM is on, read once and re-read when the NICs change.

The result is checkpointed on the host (``etc/sriov-operator/openstack-ports.json``
under the host root) with the boot id and the set of PCI network functions it
was built from.  Upstream reads metadata once per boot, so a hot-plugged NIC is
invisible until reboot; we re-read whenever that set changes.  The checkpoint
also remembers a port's netFilter while it is bound to vfio-pci (no netdev, no
MAC to match).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from sriov_operator.host.openstack.configdrive import find_config_drive, read_config_drive
from sriov_operator.host.openstack.metadata import MetadataError, OpenStackMetadata
from sriov_operator.host.openstack.metadata_service import MetadataServiceSettings, read_metadata_service
from sriov_operator.host.openstack.netfilter import DeviceInfo, build_device_info
from sriov_operator.host.root import OPERATOR_STATE_DIR, HostRoot
from sriov_operator.host.writer import HostWriter

MetadataSource = Literal["configDrive", "metadataService", "none"]
CHECKPOINT_FILE = f"{OPERATOR_STATE_DIR}/openstack-ports.json"
BOOT_ID = "proc/sys/kernel/random/boot_id"


@dataclass(frozen=True)
class MetadataSettings:
    config_drive: Path | None = None  # a device or image file; found by label when None
    service: MetadataServiceSettings = field(default_factory=MetadataServiceSettings)


@dataclass(frozen=True)
class PortCheckpoint:
    source: MetadataSource
    boot_id: str | None
    nics: tuple[str, ...]
    devices: dict[str, DeviceInfo]

    def to_json(self) -> str:
        devices = {pci: {"mac": d.mac, "netFilter": d.net_filter} for pci, d in sorted(self.devices.items())}
        body = {"source": self.source, "bootID": self.boot_id, "nics": list(self.nics), "devices": devices}
        return json.dumps(body, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> PortCheckpoint | None:
        """None for a checkpoint we cannot read (it is rebuilt from the metadata then)."""
        try:
            body = json.loads(text)
            devices = {
                pci: DeviceInfo(str(d["mac"]), d["netFilter"]) for pci, d in dict(body["devices"]).items()
            }
            return cls(body["source"], body["bootID"], tuple(body["nics"]), devices)
        except (ValueError, KeyError, TypeError):
            return None


def load_metadata(host: HostRoot, settings: MetadataSettings) -> tuple[MetadataSource, OpenStackMetadata]:
    """Config drive first (given, or found by label), else the metadata service."""
    device = settings.config_drive or find_config_drive(host)
    if device is not None:
        return "configDrive", read_config_drive(device)
    try:
        return "metadataService", read_metadata_service(settings.service)
    except MetadataError as error:
        raise MetadataError(
            f"no OpenStack metadata: no config drive labelled config-2 under {host.root}, and {error}"
        ) from None


def read_checkpoint(host: HostRoot) -> PortCheckpoint | None:
    text = host.read(host.path(CHECKPOINT_FILE))
    return PortCheckpoint.from_json(text) if text else None


def resolve_ports(
    host: HostRoot, settings: MetadataSettings, nics: Mapping[str, str | None]
) -> PortCheckpoint:
    """``nics``: PCI address -> MAC of its netdev (None without one)."""
    previous = read_checkpoint(host)
    boot_id = host.read(host.path(BOOT_ID))
    nic_set = tuple(sorted(nics))
    if previous is not None and previous.nics == nic_set and previous.boot_id == boot_id:
        return previous
    source, metadata = load_metadata(host, settings)
    devices = build_device_info(metadata, nics, previous.devices if previous else {})
    return PortCheckpoint(source, boot_id, nic_set, devices)


def save_checkpoint(host: HostRoot, writer: HostWriter, checkpoint: PortCheckpoint) -> bool:
    """Write the checkpoint if it changed; True if it was written."""
    text = checkpoint.to_json()
    if host.read(host.path(CHECKPOINT_FILE)) == text.strip():
        return False
    writer.write_file(host.path(CHECKPOINT_FILE), text)
    return True
