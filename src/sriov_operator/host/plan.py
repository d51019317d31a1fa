"""Decide what to change on the host: ``plan(desired spec, host state)`` -> ordered actions.

Pure: no I/O, so the same plan can be shown to a person (CLI, events) before
anything is written, and an empty plan means no host write at all.  Each action
says whether it needs a drain or a reboot, and why.

Bare metal creates VFs, raises PF MTU, sets links up, switches the eswitch and
binds VF drivers.  VFs that do not exist yet (their count is changing) are
planned in a later round, once the kernel has created them (``apply.converge``).
On a virtual platform each port is one PCI function: numVfs must be 1, the MTU
belongs to Neutron, nothing needs a reboot, and a port we configured that
leaves the spec goes back to its default driver.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

from sriov_operator.api.models import (
    Interface,
    InterfaceExt,
    SriovNetworkNodeStateSpec,
    VfGroup,
    VirtualFunction,
)
from sriov_operator.errors import BadInputError
from sriov_operator.host.pci import DPDK_DRIVERS
from sriov_operator.host.state import HostState

Requirement = Literal["none", "drain", "reboot"]
ActionKind = Literal[
    "loadModule",
    "setModuleParameter",
    "setESwitchMode",
    "setNumVfs",
    "setPfMtu",
    "linkUp",
    "rememberDevice",
    "bindDriver",
    "setVfMtu",
    "forgetDevice",
]
ACTION_ORDER: tuple[ActionKind, ...] = get_args(ActionKind)
DEFAULT_DRIVER = "default"  # bindDriver value: whatever driver the kernel picks (drivers_probe)
VFIO_DRIVER = "vfio-pci"
NOIOMMU_OPTION = "enable_unsafe_noiommu_mode=1"


class PlanError(BadInputError):
    """The desired spec cannot be applied to this host; the message says why."""


@dataclass(frozen=True)
class Action:
    action: ActionKind
    target: str
    value: str | int | dict[str, Any] | None
    requires: Requirement
    reason: str

    def to_output(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "target": self.target,
            "value": self.value,
            "requires": self.requires,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Plan:
    actions: tuple[Action, ...]

    @property
    def requires_drain(self) -> bool:
        return any(a.requires in {"drain", "reboot"} for a in self.actions)

    @property
    def requires_reboot(self) -> bool:
        return any(a.requires == "reboot" for a in self.actions)

    def to_output(self) -> dict[str, Any]:
        return {
            "actions": [a.to_output() for a in self.actions],
            "requiresDrain": self.requires_drain,
            "requiresReboot": self.requires_reboot,
        }


def _vf_range(group: VfGroup, where: str) -> range:
    text = group.vf_range or "0"
    first, _, last = text.partition("-")
    try:
        return range(int(first), int(last or first) + 1)
    except ValueError:
        raise PlanError(f"{where}: vfRange {text!r} is not 'a-b'") from None


def _label(interface: InterfaceExt | VirtualFunction) -> str:
    return f"{interface.pci_address} ({interface.name})" if interface.name else interface.pci_address


def _group_name(group: VfGroup) -> str:
    policy = f", policy {group.policy_name}" if group.policy_name else ""
    return f"vfGroup {group.resource_name or '?'}{policy}"


def _driver_actions(
    device: InterfaceExt | VirtualFunction, group: VfGroup, to_dpdk: Requirement
) -> list[Action]:
    """Bind ``device`` to what ``group`` wants; taking a device back from DPDK users needs a drain."""
    now = f"{_label(device)} is on {device.driver or 'no driver'}"
    if group.device_type == VFIO_DRIVER:
        if device.driver == VFIO_DRIVER:
            return []
        reason = f"{_group_name(group)} wants vfio-pci (DPDK); {now}"
        return [Action("bindDriver", device.pci_address, VFIO_DRIVER, to_dpdk, reason)]
    if device.driver is None or device.driver in DPDK_DRIVERS:
        reason = f"{_group_name(group)} wants a netdevice; {now}"
        requires: Requirement = "drain" if device.driver else "none"
        return [Action("bindDriver", device.pci_address, DEFAULT_DRIVER, requires, reason)]
    return []


def _remember(interface: Interface, host: HostState) -> list[Action]:
    record = interface.to_k8s()
    known = host.configured.get(interface.pci_address)
    if known is not None and known.to_k8s() == record:
        return []
    reason = "remember what we configure, to give the device back when it leaves the spec"
    return [Action("rememberDevice", interface.pci_address, record, "none", reason)]


def _module_actions(desired: SriovNetworkNodeStateSpec, host: HostState) -> list[Action]:
    groups = [g for i in desired.interfaces or [] for g in i.vf_groups or []]
    users = [g for g in groups if g.device_type == VFIO_DRIVER]
    if not users:
        return []
    who = _group_name(users[0])
    actions: list[Action] = []
    if host.platform == "openstack":
        if not host.modules.vfio_loaded:
            reason = f"{who} wants vfio-pci; a VM has no IOMMU Nova can use, so vfio runs in no-IOMMU mode"
            actions.append(Action("loadModule", "vfio", NOIOMMU_OPTION, "none", reason))
        elif not host.modules.noiommu_enabled:
            reason = f"{who} wants vfio-pci; vfio is loaded without no-IOMMU mode: set it at run time"
            actions.append(Action("setModuleParameter", "vfio", NOIOMMU_OPTION, "none", reason))
    elif not host.iommu_enabled and not host.modules.noiommu_enabled:
        # vfio already in no-IOMMU mode on bare metal is the administrator's explicit choice: honour it
        raise PlanError(
            f"{who} wants vfio-pci but the IOMMU is not enabled on this host: enable VT-d/AMD-Vi in the BIOS "
            "and add intel_iommu=on iommu=pt (or amd_iommu=on) to the kernel command line, then reboot "
            "(or load vfio with enable_unsafe_noiommu_mode=1 yourself, accepting DMA without isolation)"
        )
    if not host.modules.vfio_pci_loaded:
        actions.append(Action("loadModule", "vfio_pci", None, "none", f"{who} wants the vfio-pci driver"))
    return actions


def _port_actions(interface: Interface, port: InterfaceExt, host: HostState) -> list[Action]:
    where = f"{port.pci_address}: virtual platform"
    if interface.num_vfs not in (None, 1):
        raise PlanError(f"{where}: numVfs must be 1 (a VM port is one PCI function), not {interface.num_vfs}")
    if interface.e_switch_mode:
        raise PlanError(f"{where}: eSwitchMode is set on the hypervisor, not in the VM")
    groups = interface.vf_groups or []
    if len(groups) > 1:
        raise PlanError(f"{where}: a port has one function, so one vfGroup, not {len(groups)}")
    if groups and _vf_range(groups[0], where) != range(1):
        raise PlanError(f"{where}: vfRange must be 0-0, not {groups[0].vf_range}")
    # a port we never configured is in no pod's use yet: binding it for DPDK takes nothing away
    to_dpdk: Requirement = "drain" if interface.pci_address in host.configured else "none"
    drivers = _driver_actions(port, groups[0], to_dpdk) if groups else []
    return _remember(interface, host) + drivers


def _pf_actions(interface: Interface, pf: InterfaceExt, host: HostState) -> list[Action]:
    label = _label(pf)
    wanted_vfs, current_vfs = interface.num_vfs or 0, pf.num_vfs or 0
    actions: list[Action] = []
    if wanted_vfs > (pf.totalvfs or 0):
        raise PlanError(f"{label}: numVfs {wanted_vfs} is more than the device's {pf.totalvfs or 0}")
    if interface.e_switch_mode and interface.e_switch_mode != (pf.e_switch_mode or "legacy"):
        reason = f"{label}: eswitch {pf.e_switch_mode or 'legacy'} -> {interface.e_switch_mode}"
        actions.append(Action("setESwitchMode", pf.pci_address, interface.e_switch_mode, "drain", reason))
    if wanted_vfs != current_vfs:
        if interface.externally_managed:
            raise PlanError(
                f"{label}: externally managed with {current_vfs} VFs but the spec wants {wanted_vfs}; "
                "create them outside the operator or drop externallyManaged"
            )
        note = " (0 is written first)" if current_vfs and wanted_vfs else ""
        reason = f"{label}: {current_vfs} -> {wanted_vfs} VFs{note}; VF drivers follow once the VFs exist"
        actions.append(Action("setNumVfs", pf.pci_address, wanted_vfs, "drain", reason))
    if interface.mtu and pf.mtu and interface.mtu > pf.mtu and not interface.externally_managed:
        reason = f"{label}: MTU {pf.mtu} -> {interface.mtu} (a PF MTU is only ever raised)"
        actions.append(Action("setPfMtu", pf.pci_address, interface.mtu, "none", reason))
    if pf.link_admin_state != "up":
        reason = f"{label}: carries VFs, so it must be up"
        actions.append(Action("linkUp", pf.pci_address, None, "none", reason))
    if wanted_vfs == current_vfs:
        for vf in pf.vfs or []:
            actions += _vf_actions(interface, vf)
    return _remember(interface, host) + actions


def _vf_actions(interface: Interface, vf: VirtualFunction) -> list[Action]:
    where = f"{interface.pci_address}"
    group = next((g for g in interface.vf_groups or [] if vf.vf_id in _vf_range(g, where)), None)
    if group is None:
        return []
    actions = _driver_actions(vf, group, "drain")
    on_netdev = group.device_type != VFIO_DRIVER and vf.driver not in DPDK_DRIVERS and vf.driver is not None
    if on_netdev and group.mtu and vf.mtu and vf.mtu != group.mtu:
        reason = f"{_label(vf)}: MTU {vf.mtu} -> {group.mtu} for {_group_name(group)}"
        actions.append(Action("setVfMtu", vf.pci_address, group.mtu, "none", reason))
    return actions


def _reset_actions(desired: set[str], found: dict[str, InterfaceExt], host: HostState) -> list[Action]:
    actions: list[Action] = []
    for pci in sorted(set(host.configured) - desired):
        current = found.get(pci)
        left = f"{pci} left the spec"
        if current is not None and host.platform == "openstack" and current.driver in DPDK_DRIVERS:
            reason = f"{left}; we bound it to {current.driver}: give it back to its default driver"
            actions.append(Action("bindDriver", pci, DEFAULT_DRIVER, "drain", reason))
        if current is not None and host.platform == "baremetal" and current.num_vfs:
            reason = f"{left}; we created its {current.num_vfs} VFs: remove them"
            actions.append(Action("setNumVfs", pci, 0, "drain", reason))
        actions.append(Action("forgetDevice", pci, None, "none", f"{left}; nothing more to give back"))
    return actions


def plan(desired: SriovNetworkNodeStateSpec, host: HostState) -> Plan:
    """Raises PlanError when the spec cannot be applied here (unknown device, invalid for the platform)."""
    found = {interface.pci_address: interface for interface in host.interfaces}
    actions = _module_actions(desired, host)
    for interface in desired.interfaces or []:
        current = found.get(interface.pci_address)
        if current is None:
            raise PlanError(f"{interface.pci_address}: in the desired spec but not found on this host")
        if host.platform == "openstack":
            actions += _port_actions(interface, current, host)
        else:
            actions += _pf_actions(interface, current, host)
    actions += _reset_actions({i.pci_address for i in desired.interfaces or []}, found, host)
    return Plan(tuple(sorted(actions, key=lambda action: ACTION_ORDER.index(action.action))))
