"""Host facts the planner needs besides the interfaces: kernel modules, IOMMU, what we configured."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from sriov_operator.api.models import Interface, InterfaceExt
from sriov_operator.host.platform import Platform
from sriov_operator.host.root import (
    IOMMU_GROUPS,
    MODULES,
    OPERATOR_STATE_DIR,
    VFIO_NOIOMMU_PARAMETER,
    HostRoot,
)

CONFIGURED_DIR = f"{OPERATOR_STATE_DIR}/pci"


@dataclass(frozen=True)
class KernelModules:
    vfio_loaded: bool = False
    vfio_pci_loaded: bool = False
    noiommu_enabled: bool = False


@dataclass(frozen=True)
class HostState:
    """Everything ``plan`` looks at, as plain data."""

    platform: Platform
    interfaces: list[InterfaceExt]
    modules: KernelModules = field(default_factory=KernelModules)
    iommu_enabled: bool = False
    configured: dict[str, Interface] = field(default_factory=dict)  # PCI address -> what we applied


def configured_record_path(host: HostRoot, pci_address: str) -> Path:
    return host.path(CONFIGURED_DIR, f"{pci_address}.json")


def read_configured(host: HostRoot) -> dict[str, Interface]:
    """Records of devices we configured; an unreadable record is ignored rather than trusted."""
    records: dict[str, Interface] = {}
    for name in host.names(host.path(CONFIGURED_DIR)):
        text = host.read(host.path(CONFIGURED_DIR, name)) if name.endswith(".json") else None
        if not text:
            continue
        try:
            interface = Interface.model_validate(json.loads(text))
        except (ValueError, ValidationError):
            continue
        records[interface.pci_address] = interface
    return records


def read_kernel_modules(host: HostRoot) -> KernelModules:
    return KernelModules(
        vfio_loaded=host.path(MODULES, "vfio").is_dir(),
        vfio_pci_loaded=host.path(MODULES, "vfio_pci").is_dir(),
        noiommu_enabled=host.read(host.path(VFIO_NOIOMMU_PARAMETER)) in {"Y", "1"},
    )


def read_host_state(host: HostRoot, platform: Platform, interfaces: list[InterfaceExt]) -> HostState:
    return HostState(
        platform=platform,
        interfaces=interfaces,
        modules=read_kernel_modules(host),
        iommu_enabled=bool(host.names(host.path(IOMMU_GROUPS))),
        configured=read_configured(host),
    )
