"""Host facts the planner needs besides the interfaces: kernel modules, IOMMU, what we configured."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import ValidationError

from sriov_operator.api.models import ESwitchMode, Interface, InterfaceExt, RdmaMode
from sriov_operator.host.bootconfig import BootState, read_boot_state
from sriov_operator.host.guid_pool import GuidSource
from sriov_operator.host.mellanox import FirmwareFacts
from sriov_operator.host.offload import Offloads
from sriov_operator.host.ovs import OvsState
from sriov_operator.host.pci import PCI_ADDRESS_FORM, is_pci_address
from sriov_operator.host.platform import Platform
from sriov_operator.host.root import (
    IOMMU_GROUPS,
    MODULES,
    OPERATOR_STATE_DIR,
    PCI_DEVICES,
    VFIO_NOIOMMU_PARAMETER,
    HostFileError,
    HostRoot,
)
from sriov_operator.host.udev import UDEV_RULES_DIR, VfLayout, pf_of_rules_file
from sriov_operator.host.vdpa import loaded_vdpa_drivers

CONFIGURED_DIR = f"{OPERATOR_STATE_DIR}/pci"
VHOST_NET_DEVICES = ("dev/net/tun", "dev/vhost-net")
IB_CORE_NETNS_MODE = "sys/module/ib_core/parameters/netns_mode"


class DeviceRecord(Interface):
    """What we applied to a device (its spec entry), its MAC then, and how a PF was before we touched it.

    A port bound to vfio-pci has no netdev to ask for its MAC; the record keeps
    it, so the port can still be matched to Nova's metadata (its netFilter).
    The first record of a bare-metal PF keeps its MTU and eSwitch mode as they
    were; later records carry them on, and they are given back when the PF
    leaves the spec.
    """

    mac: str | None = None
    original_mtu: int | None = None
    """The PF's MTU before we first configured it."""
    original_e_switch_mode: ESwitchMode | None = None
    """The PF's eSwitch mode before we first configured it (none: the PF has no eSwitch)."""
    original_hw_tc_offload: Literal["on", "off"] | None = None
    """The PF's ``hw-tc-offload`` before we first configured it (none: unknown, or it has none)."""
    original_flow_steering_mode: str | None = None
    """The PF's devlink ``flow_steering_mode`` before we first configured it (none: it has no such param)."""


@dataclass(frozen=True)
class KernelModules:
    vfio_loaded: bool = False
    vfio_pci_loaded: bool = False
    noiommu_enabled: bool = False
    noiommu_supported: bool = True  # vfio has the parameter (kernel built with CONFIG_VFIO_NOIOMMU)
    vhost_net_ready: bool = False  # /dev/net/tun and /dev/vhost-net exist (loaded or built in)


@dataclass(frozen=True)
class HostState:
    """Everything ``plan`` looks at, as plain data."""

    platform: Platform
    interfaces: list[InterfaceExt]
    modules: KernelModules = field(default_factory=KernelModules)
    iommu_enabled: bool = False
    configured: dict[str, DeviceRecord] = field(default_factory=dict)  # PCI address -> what we applied
    node_links: Mapping[str, str] = field(default_factory=dict)  # netdev -> why it carries the node's traffic
    rdma_devices: frozenset[str] = frozenset()  # PCI functions with an RDMA device (``infiniband/``)
    boot: BootState = field(default_factory=BootState)  # command line, boot configuration, our record
    rdma_mode: RdmaMode | None = None  # the RDMA subsystem's netns mode; None while ib_core is not loaded
    vf_admin_macs: Mapping[str, str] = field(default_factory=dict)  # VF PCI address -> its admin MAC
    vf_layouts: Mapping[str, VfLayout] = field(default_factory=dict)  # PF -> where its VFs appear
    udev_rules: Mapping[str, str] = field(default_factory=dict)  # PF -> our udev rules file for it, as it is
    tc_offload: Mapping[str, bool] = field(default_factory=dict)  # netdev -> hw-tc-offload on
    flow_steering: Mapping[str, str] = field(default_factory=dict)  # PF -> its devlink flow_steering_mode
    vdpa_drivers: frozenset[str] = frozenset()  # vDPA bus drivers loaded (virtio_vdpa, vhost_vdpa)
    ovs: OvsState | None = None  # the host's Open vSwitch; None: none running (or unreadable: ovs_problem)
    ovs_problem: str | None = None  # why OVSDB could not be read
    firmware: FirmwareFacts = field(default_factory=FirmwareFacts)  # Mellanox cards' firmware settings
    ib_guids: GuidSource | None = (
        None  # where InfiniBand VF GUIDs come from; None: unknown (no GUIDs planned)
    )


def configured_record_path(host: HostRoot, pci_address: str) -> Path:
    if not is_pci_address(pci_address):
        raise HostFileError(
            f"{pci_address!r} is not a PCI address ({PCI_ADDRESS_FORM}); no record path for it"
        )
    return host.path(CONFIGURED_DIR, f"{pci_address}.json")


def _read_record(host: HostRoot, path: Path) -> DeviceRecord:
    """One record; HostFileError (naming the file and the fix) for anything we did not write."""
    text = host.read_state_file(path) or ""
    expected = path.name.removesuffix(".json")
    fix = "remove it if you know the device is no longer configured"
    try:
        interface = DeviceRecord.model_validate(json.loads(text))
    except (ValueError, RecursionError, ValidationError) as error:
        problem = error.errors()[0]["msg"] if isinstance(error, ValidationError) else str(error)
        raise HostFileError(f"{path}: not a device record ({problem[:200]}); {fix}") from None
    if not is_pci_address(expected) or interface.pci_address != expected:
        raise HostFileError(
            f"{path}: pciAddress {interface.pci_address[:100]!r} does not match the file name "
            f"(a record is <pci address>.json, {PCI_ADDRESS_FORM}); {fix}"
        )
    return interface


def read_configured(host: HostRoot) -> dict[str, DeviceRecord]:
    """Records of devices we configured (``<pci>.json``); a record we cannot trust is an error."""
    directory = host.path(CONFIGURED_DIR)
    names = [name for name in host.names(directory) if name.endswith(".json") and not name.startswith(".")]
    records = (_read_record(host, directory / name) for name in names)
    return {record.pci_address: record for record in records}


def read_kernel_modules(host: HostRoot) -> KernelModules:
    return KernelModules(
        vfio_loaded=host.path(MODULES, "vfio").is_dir(),
        vfio_pci_loaded=host.path(MODULES, "vfio_pci").is_dir(),
        noiommu_enabled=host.read(host.path(VFIO_NOIOMMU_PARAMETER)) in {"Y", "1"},
        noiommu_supported=host.path(VFIO_NOIOMMU_PARAMETER).is_file(),
        vhost_net_ready=all(host.path(device).exists() for device in VHOST_NET_DEVICES),
    )


def _rdma_devices(host: HostRoot, interfaces: list[InterfaceExt]) -> frozenset[str]:
    functions = {vf.pci_address for interface in interfaces for vf in interface.vfs or []}
    return frozenset(pci for pci in functions if host.names(host.path(PCI_DEVICES, pci, "infiniband")))


def _vf_layouts(host: HostRoot, interfaces: list[InterfaceExt]) -> dict[str, VfLayout]:
    layouts = {}
    for interface in interfaces:
        device = host.path(PCI_DEVICES, interface.pci_address)
        offset, stride = host.read_int(device / "sriov_offset"), host.read_int(device / "sriov_stride")
        if interface.totalvfs and offset is not None and stride is not None:
            layouts[interface.pci_address] = VfLayout(offset, stride)
    return layouts


def read_udev_rules(host: HostRoot) -> dict[str, str]:
    """PF -> the content of our rules file for it (``10-sriov-operator-<pci>.rules``)."""
    directory = host.path(UDEV_RULES_DIR)
    found = {}
    for name in host.names(directory):
        if (pf := pf_of_rules_file(name)) is not None:
            found[pf] = host.read_state_file(directory / name) or ""
    return found


def read_host_state(
    host: HostRoot,
    platform: Platform,
    interfaces: list[InterfaceExt],
    node_links: Mapping[str, str] | None = None,
    vf_admin_macs: Mapping[str, str] | None = None,
    *,
    offloads: Offloads | None = None,
    ovs: OvsState | None = None,
    ovs_problem: str | None = None,
    firmware: FirmwareFacts | None = None,
    ib_guids: GuidSource | None = None,
) -> HostState:
    offloads = offloads or Offloads()
    return HostState(
        platform=platform,
        interfaces=interfaces,
        modules=read_kernel_modules(host),
        iommu_enabled=bool(host.names(host.path(IOMMU_GROUPS))),
        configured=read_configured(host),
        node_links=dict(node_links or {}),
        rdma_devices=_rdma_devices(host, interfaces),
        boot=read_boot_state(host),
        rdma_mode=read_rdma_mode(host),
        vf_admin_macs=dict(vf_admin_macs or {}),
        vf_layouts=_vf_layouts(host, interfaces),
        udev_rules=read_udev_rules(host),
        tc_offload=dict(offloads.tc_offload),
        flow_steering=dict(offloads.flow_steering),
        vdpa_drivers=loaded_vdpa_drivers(host),
        ovs=ovs,
        ovs_problem=ovs_problem,
        firmware=firmware or FirmwareFacts(),
        ib_guids=ib_guids,
    )


def read_rdma_mode(host: HostRoot) -> RdmaMode | None:
    """ib_core's ``netns_mode`` parameter is the live setting (``rdma system set`` changes it); Y: shared."""
    value = host.read(host.path(IB_CORE_NETNS_MODE))
    if value is None:
        return None
    return "shared" if value in {"Y", "1"} else "exclusive"
