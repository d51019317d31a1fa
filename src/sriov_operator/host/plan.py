"""Decide what to change on the host: ``plan(desired spec, host state)`` -> ordered actions.

Pure: no I/O, so the same plan can be shown to a person (CLI, events) before
anything is written, and an empty plan means no host write at all.  Each action
says whether it needs a drain or a reboot, and why.

Bare metal creates VFs, raises PF MTU, sets links up, switches the eswitch (in
the order the PF's driver needs, with hw-tc-offload and flow steering for
switchdev), binds VF drivers and gives switchdev VFs their vDPA devices.  VFs
that do not exist yet (their count is changing) are planned in a later round,
once the kernel has created them (``apply.converge``).
On a virtual platform each port is one PCI function: numVfs must be 1, the MTU
belongs to Neutron, nothing needs a reboot, and a port we configured that
leaves the spec goes back to its default driver.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sriov_operator.api.models import (
    ESwitchMode,
    Interface,
    InterfaceExt,
    OVSConfigExt,
    SriovNetworkNodeStateSpec,
    VfGroup,
    VirtualFunction,
)
from sriov_operator.api.platforms import is_virtual
from sriov_operator.errors import BadInputError, HostError
from sriov_operator.host.actions import (
    DEFAULT_DRIVER,
    Action,
    BindDriver,
    BindVfs,
    CreateOvsBridge,
    CreateVdpaDevice,
    DeleteVdpaDevice,
    ForgetDevice,
    LinkUp,
    LoadModule,
    RememberDevice,
    RemoveOvsBridge,
    RemoveUdevRules,
    RemoveVfs,
    Requirement,
    RestoreEswitchMode,
    RestoreFlowSteeringMode,
    RestorePfMtu,
    SetEswitchMode,
    SetEswitchModeWithVfs,
    SetFlowSteeringMode,
    SetHwTcOffload,
    SetModuleParameter,
    SetNumVfs,
    SetPfMtu,
    SetVfAdminMac,
    SetVfMtu,
    UnbindVfs,
    UpdateOvsBridge,
    WriteUdevRules,
    device_of,
    in_run_order,
)
from sriov_operator.host.guid_pool import GuidPoolError
from sriov_operator.host.infiniband import link_type_warnings, vf_guid_actions
from sriov_operator.host.kernel_args import VFIO_DRIVER, kernel_arg_actions, rdma_mode_actions
from sriov_operator.host.mellanox_plan import firmware_plan, with_firmware_reboot
from sriov_operator.host.offload import SWITCHDEV_FLOW_STEERING
from sriov_operator.host.ovs import OvsState, normalized
from sriov_operator.host.pci import DPDK_DRIVERS, PCI_ADDRESS_FORM, is_pci_address
from sriov_operator.host.state import DeviceRecord, HostState
from sriov_operator.host.udev import pf_rules
from sriov_operator.host.vdpa import DRIVER_OF_TYPE

NOIOMMU_OPTION = "enable_unsafe_noiommu_mode=1"
RDMA_MODULES = {"mlx5_core": "mlx5_ib"}
NOIOMMU_ADVICE = (
    "use a kernel built with CONFIG_VFIO_NOIOMMU=y (RHCOS/RHEL and Ubuntu kernels are), "
    "or give the VM a vIOMMU and use vfio-pci with it"
)


class PlanError(BadInputError):
    """The desired spec cannot be applied to this host; the message says why."""


class HostLacksSupportError(HostError):
    """The host's kernel cannot do what the spec needs; the message says what to change."""


def lacks_noiommu_message(what: str) -> str:
    """``what`` needed no-IOMMU mode; the kernel cannot give it; what to do instead."""
    return (
        f"{what}, but this kernel lacks no-IOMMU support "
        "(vfio has no enable_unsafe_noiommu_mode parameter: built without CONFIG_VFIO_NOIOMMU): "
        + NOIOMMU_ADVICE
    )


@dataclass(frozen=True)
class Plan:
    actions: tuple[Action, ...]
    warnings: tuple[str, ...] = ()
    cards: Mapping[str, str] = field(default_factory=dict, compare=False)  # device -> its card (`card_of`)
    unusable: Mapping[str, str] = field(default_factory=dict, compare=False)
    """Policy -> the warning saying why the device plugin cannot use its devices (one of ``warnings``)."""

    def by_card(
        self,
    ) -> tuple[tuple[Action, ...], tuple[tuple[Action, ...], ...], tuple[Action, ...]]:
        """What runs before every card (modules), each card's own actions, and what runs after them all.

        Cards share nothing the plan changes, so their parts may run side by side; the
        functions of one card (its PFs and their VFs) stay in one part, in run order.
        Actions of no device that the run order puts after devices (the RDMA mode, kernel
        arguments, the reboot) wait until every card has finished.
        """
        first_device = next(
            (i for i, action in enumerate(self.actions) if device_of(action) is not None), len(self.actions)
        )
        before = self.actions[:first_device]
        after = tuple(a for a in self.actions[first_device:] if device_of(a) is None)
        parts: dict[str, list[Action]] = {}
        for action in self.actions:
            if (device := device_of(action)) is not None:
                parts.setdefault(self.cards.get(device, card_of(device)), []).append(action)
        return before, tuple(tuple(part) for part in parts.values()), after

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
            "warnings": list(self.warnings),
        }


def card_of(pf_address: str) -> str:
    """The card a PCI function sits on (``domain:bus:device``): the PFs of a multi-port NIC share it."""
    return pf_address.rpartition(".")[0]


def _cards(host: HostState) -> dict[str, str]:
    """Every PF and VF found -> its PF's card."""
    cards: dict[str, str] = {}
    for interface in host.interfaces:
        card = card_of(interface.pci_address)
        cards[interface.pci_address] = card
        cards.update({vf.pci_address: card for vf in interface.vfs or []})
    return cards


def vf_ids(group: VfGroup) -> range:
    """The VF ids of a group (checked by `_check_spec` before any plan is made)."""
    first, _, last = (group.vf_range or "0").partition("-")
    return range(int(first), int(last or first) + 1)


def _parse_vf_range(text: str, where: str, num_vfs: int) -> range:
    accepted = f"accepted: 'a-b' or 'a' with 0 <= a <= b < numVfs ({num_vfs})"
    first, dash, last = text.partition("-")
    if not (first.isdigit() and (last.isdigit() or not dash) and len(text) <= 16):
        raise PlanError(f"{where}.vfRange: {text[:40]!r} is not a VF range; {accepted}")
    ids = range(int(first), int(last or first) + 1)
    if not ids or ids[-1] >= num_vfs:
        raise PlanError(f"{where}.vfRange: {text!r} is outside the VFs of this PF; {accepted}")
    return ids


def _check_interface(index: int, interface: Interface) -> None:
    where = f"spec.interfaces[{index}]"
    seen: dict[int, str] = {}
    vf_count = 1 if interface.num_vfs is None else interface.num_vfs  # None: a VM port, one function
    for number, group in enumerate(interface.vf_groups or []):
        group_where = f"{where}.vfGroups[{number}]"
        for vf_id in _parse_vf_range(group.vf_range or "0", group_where, vf_count):
            if vf_id in seen:
                raise PlanError(f"{group_where}.vfRange: VF {vf_id} is also in {seen[vf_id]}")
            seen[vf_id] = group_where


def _check_spec(desired: SriovNetworkNodeStateSpec) -> None:
    """Everything about the spec alone, before any action: addresses, duplicates, VF ranges."""
    interfaces = desired.interfaces or []
    counts = Counter(i.pci_address for i in interfaces)
    for index, interface in enumerate(interfaces):
        address = interface.pci_address
        if not is_pci_address(address):
            raise PlanError(
                f"spec.interfaces[{index}].pciAddress: {address[:40]!r} is not a PCI address; "
                f"accepted: {PCI_ADDRESS_FORM}"
            )
        if counts[address] > 1:
            raise PlanError(
                f"spec.interfaces[{index}].pciAddress: {address} is listed {counts[address]} times"
            )
        _check_interface(index, interface)


def _ignored_fields(desired: SriovNetworkNodeStateSpec, host: HostState) -> list[str]:
    """Spec fields this layer does not act on: said out loud, never silently dropped."""
    warnings = []
    if desired.system is not None and desired.system.rdma_mode and host.rdma_mode is None:
        warnings.append(
            f"system.rdmaMode {desired.system.rdma_mode!r}: ib_core is not loaded, so there is no RDMA "
            "subsystem to set at run time (an ib_core.netns_mode argument applies when it loads)"
        )
    warnings += link_type_warnings(desired, host)
    for index, interface in enumerate(desired.interfaces or []):
        for number, group in enumerate(interface.vf_groups or []):
            where = f"spec.interfaces[{index}].vfGroups[{number}]"
            if group.vdpa_type and interface.e_switch_mode != "switchdev":
                warnings.append(
                    f"{where}: vdpaType {group.vdpa_type!r} needs eSwitchMode switchdev: not applied"
                )
            elif group.vdpa_type and group.device_type == VFIO_DRIVER:
                warnings.append(f"{where}: vdpaType {group.vdpa_type!r} needs a netdevice VF, not vfio-pci")
    return warnings


def _rdma_warnings(desired: SriovNetworkNodeStateSpec, host: HostState) -> list[tuple[str, str]]:
    """isRdma on a device without an RDMA device: the device plugin would expose nothing for it.
    Each warning with the policy of its VF group ("" when the group names none)."""
    found_by_pci = {interface.pci_address: interface for interface in host.interfaces}
    warnings = []
    for interface in desired.interfaces or []:
        found = found_by_pci.get(interface.pci_address)
        for group in interface.vf_groups or []:
            if not group.is_rdma or found is None:
                continue
            for vf in found.vfs or []:
                if vf.vf_id in vf_ids(group) and vf.pci_address not in host.rdma_devices:
                    module = RDMA_MODULES.get(vf.driver or "", f"the RDMA driver for {vf.driver or 'it'}")
                    text = (
                        f"{_label(vf)}: {_group_name(group)} has isRdma but the device has no RDMA device "
                        f"(nothing under its infiniband/): load {module}"
                    )
                    warnings.append((group.policy_name or "", text))
    return warnings


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
        return [BindDriver(device.pci_address, VFIO_DRIVER, requires=to_dpdk, reason=reason)]
    if device.driver is None or device.driver in DPDK_DRIVERS:
        reason = f"{_group_name(group)} wants a netdevice; {now}"
        requires: Requirement = "drain" if device.driver else "none"
        return [BindDriver(device.pci_address, DEFAULT_DRIVER, requires=requires, reason=reason)]
    return []


ESWITCH_MODES = ("legacy", "switchdev")
NO_MAC = "00:00:00:00:00:00"


ORIGINALS = (
    "original_mtu",
    "original_e_switch_mode",
    "original_hw_tc_offload",
    "original_flow_steering_mode",
)


def _originals(known: DeviceRecord | None, pf: InterfaceExt, host: HostState) -> dict[str, Any]:
    """How the PF was before we touched it: from our first record, else as it is now (nothing touched yet).

    A record written before records kept this has none: nothing is then known to give back.
    """
    if known is not None:
        return {name: getattr(known, name) for name in ORIGINALS}
    mode = pf.e_switch_mode if pf.e_switch_mode in ESWITCH_MODES else None
    return {
        "original_mtu": pf.mtu,
        "original_e_switch_mode": mode,
        "original_hw_tc_offload": _on_off(host.tc_offload.get(pf.name or "")),
        "original_flow_steering_mode": host.flow_steering.get(pf.pci_address),
    }


def _on_off(state: bool | None) -> str | None:
    return None if state is None else ("on" if state else "off")


def _remember(
    interface: Interface, device: InterfaceExt, host: HostState, *, keep_originals: bool = False
) -> list[Action]:
    known = host.configured.get(interface.pci_address)
    mac = device.mac or (known.mac if known else None)
    originals = _originals(known, device, host) if keep_originals else {}
    record = DeviceRecord.model_validate({**interface.model_dump(), "mac": mac, **originals})
    if known is not None and known.to_k8s() == record.to_k8s():
        return []
    reason = "remember what we configure, to give the device back when it leaves the spec"
    return [RememberDevice(interface.pci_address, record, reason=reason)]


def _module_actions(desired: SriovNetworkNodeStateSpec, host: HostState) -> list[Action]:
    groups = [g for i in desired.interfaces or [] for g in i.vf_groups or []]
    users = [g for g in groups if g.device_type == VFIO_DRIVER]
    if not users:
        return []
    who = _group_name(users[0])
    actions: list[Action] = []
    if is_virtual(host.platform):
        if host.modules.vfio_loaded and not host.modules.noiommu_supported:
            raise HostLacksSupportError(lacks_noiommu_message(f"{who} wants vfio-pci in no-IOMMU mode"))
        if not host.modules.vfio_loaded:
            reason = f"{who} wants vfio-pci; a VM has no IOMMU Nova can use, so vfio runs in no-IOMMU mode"
            actions.append(LoadModule("vfio", NOIOMMU_OPTION, reason=reason))
        elif not host.modules.noiommu_enabled:
            reason = f"{who} wants vfio-pci; vfio is loaded without no-IOMMU mode: set it at run time"
            actions.append(SetModuleParameter("vfio", NOIOMMU_OPTION, reason=reason))
    elif not host.iommu_enabled and not host.modules.noiommu_enabled:
        # vfio already in no-IOMMU mode on bare metal is the administrator's explicit choice: honour it
        raise PlanError(
            f"{who} wants vfio-pci but the IOMMU is not enabled on this host: enable VT-d/AMD-Vi in the BIOS "
            "and add intel_iommu=on iommu=pt (or amd_iommu=on) to the kernel command line, then reboot "
            "(or load vfio with enable_unsafe_noiommu_mode=1 yourself, accepting DMA without isolation)"
        )
    if not host.modules.vfio_pci_loaded:
        actions.append(LoadModule("vfio_pci", reason=f"{who} wants the vfio-pci driver"))
    return actions


def _vhost_net_actions(desired: SriovNetworkNodeStateSpec, host: HostState) -> list[Action]:
    """tun and vhost_net for pods of a group with needVhostNet (their /dev nodes are mounted into them)."""
    users = [g for i in desired.interfaces or [] for g in i.vf_groups or [] if g.need_vhost_net]
    if not users or host.modules.vhost_net_ready:
        return []
    why = f"{_group_name(users[0])} has needVhostNet: its pods get /dev/net/tun and /dev/vhost-net"
    return [LoadModule("tun", reason=why), LoadModule("vhost_net", reason=why)]


def _port_actions(interface: Interface, port: InterfaceExt, host: HostState) -> list[Action]:
    where = f"{port.pci_address}: virtual platform"
    if interface.num_vfs not in (None, 1):
        raise PlanError(f"{where}: numVfs must be 1 (a VM port is one PCI function), not {interface.num_vfs}")
    if interface.e_switch_mode:
        raise PlanError(f"{where}: eSwitchMode is set on the hypervisor, not in the VM")
    groups = interface.vf_groups or []  # at most one, VF 0: `_check_interface` refused the rest
    # a port we never configured is in no pod's use yet: binding it for DPDK takes nothing away
    to_dpdk: Requirement = "drain" if interface.pci_address in host.configured else "none"
    drivers = _driver_actions(port, groups[0], to_dpdk) if groups else []
    return _remember(interface, port, host) + drivers


def _check_externally_managed(interface: Interface, pf: InterfaceExt) -> None:
    if not interface.externally_managed:
        return
    label, current_vfs, wanted_vfs = _label(pf), pf.num_vfs or 0, interface.num_vfs or 0
    if interface.e_switch_mode and interface.e_switch_mode != (pf.e_switch_mode or "legacy"):
        raise PlanError(
            f"{label}: externally managed in eswitch mode {pf.e_switch_mode or 'legacy'} but the "
            f"spec wants {interface.e_switch_mode}; set the mode outside the operator or drop "
            "externallyManaged"
        )
    if wanted_vfs != current_vfs:
        raise PlanError(
            f"{label}: externally managed with {current_vfs} VFs but the spec wants {wanted_vfs}; "
            "create them outside the operator or drop externallyManaged"
        )


def _pf_actions(interface: Interface, pf: InterfaceExt, host: HostState) -> list[Action]:
    label = _label(pf)
    wanted_vfs = interface.num_vfs or 0
    if wanted_vfs > (pf.totalvfs or 0):
        raise PlanError(f"{label}: numVfs {wanted_vfs} is more than the device's {pf.totalvfs or 0}")
    _check_externally_managed(interface, pf)
    eswitch = [] if interface.externally_managed else _eswitch_actions(interface, pf, host)
    actions = list(eswitch)
    if interface.mtu and pf.mtu and interface.mtu > pf.mtu and not interface.externally_managed:
        reason = f"{label}: MTU {pf.mtu} -> {interface.mtu} (a PF MTU is only ever raised)"
        actions.append(SetPfMtu(pf.pci_address, interface.mtu, reason=reason))
    if pf.link_admin_state != "up":
        reason = f"{label}: carries VFs, so it must be up"
        actions.append(LinkUp(pf.pci_address, reason=reason))
    mode_changes = any(isinstance(action, SetEswitchMode) for action in eswitch)
    actions += _tc_offload_actions(interface, pf, host, mode_changes)
    if not eswitch:  # its VF count is as wanted (else a count action, or refused if externally managed)
        for vf in pf.vfs or []:
            actions += _vf_actions(interface, pf, vf, host)
    return _remember(interface, pf, host, keep_originals=True) + _udev_actions(interface, pf, host) + actions


# Drivers that change the eSwitch mode only while the PF has no VFs ("allowed only if there is no VFs
# created"): the mode first, then the VFs.  Every other driver gets upstream's order, which mlx5 needs:
# VFs created in legacy mode, unbound, the mode changed, bound again.
MODE_FIRST_DRIVERS = frozenset({"ice"})


def _eswitch_actions(interface: Interface, pf: InterfaceExt, host: HostState) -> list[Action]:
    """The VF count, eSwitch mode and flow steering of a PF, in the order its driver needs."""
    current_mode: ESwitchMode = "switchdev" if pf.e_switch_mode == "switchdev" else "legacy"
    target_mode = interface.e_switch_mode or current_mode
    steering = _wanted_flow_steering(interface, pf, host)
    wanted_vfs, current_vfs = interface.num_vfs or 0, pf.num_vfs or 0
    count_only = target_mode == current_mode and steering is None
    if count_only and (current_mode == "legacy" or pf.driver in MODE_FIRST_DRIVERS):  # no order to keep
        return [] if wanted_vfs == current_vfs else [_count_action(pf, wanted_vfs, current_vfs, "")]
    if count_only and wanted_vfs == current_vfs:
        return []
    if pf.e_switch_mode is None:  # devlink had no answer: no eSwitch, or none we can see
        return _unknown_eswitch(pf, target_mode, wanted_vfs)
    if pf.driver in MODE_FIRST_DRIVERS:
        return _mode_first(interface, pf, target_mode, steering, host)
    return _vfs_first(interface, pf, target_mode, steering, host)


def _unknown_eswitch(pf: InterfaceExt, target: ESwitchMode, wanted_vfs: int) -> list[Action]:
    """The mode first, before anything else changes: a device without an eSwitch refuses it at once."""
    reason = (
        f"{_label(pf)}: eswitch mode unknown (devlink has no answer) -> {target}; set first, so a device "
        "without an eSwitch refuses before its VFs change"
    )
    actions: list[Action] = [SetEswitchMode(pf.pci_address, target, reason=reason)]
    if wanted_vfs != (pf.num_vfs or 0):
        actions.append(_count_action(pf, wanted_vfs, pf.num_vfs or 0, ""))
    return actions


def _wanted_flow_steering(interface: Interface, pf: InterfaceExt, host: HostState) -> str | None:
    """``smfs`` for a PF going to switchdev whose device has the devlink parameter set otherwise."""
    current = host.flow_steering.get(pf.pci_address)
    if interface.e_switch_mode != "switchdev" or current in (None, SWITCHDEV_FLOW_STEERING):
        return None
    return SWITCHDEV_FLOW_STEERING


def _steering_action(pf: InterfaceExt, mode: str, host: HostState) -> Action:
    now = host.flow_steering.get(pf.pci_address)
    reason = (
        f"{_label(pf)}: flow_steering_mode {now} -> {mode}, the steering switchdev offload wants "
        "(the device changes it only in legacy mode)"
    )
    return SetFlowSteeringMode(pf.pci_address, mode, reason=reason)


def _count_action(pf: InterfaceExt, wanted: int, now: int, why: str) -> Action:
    note = " (0 is written first)" if now and wanted else ""
    reason = f"{_label(pf)}: {now} -> {wanted} VFs{note}{why}; VF drivers follow once the VFs exist"
    return SetNumVfs(pf.pci_address, wanted, reason=reason)


def _mode_first(
    interface: Interface, pf: InterfaceExt, target: ESwitchMode, steering: str | None, host: HostState
) -> list[Action]:
    """ice: the VFs go, the mode changes, the VFs come back (devlink told its mode: `_eswitch_actions`)."""
    label, pci, driver = _label(pf), pf.pci_address, pf.driver
    current, wanted_vfs, vfs_now = pf.e_switch_mode, interface.num_vfs or 0, pf.num_vfs or 0
    actions: list[Action] = []
    if target != current and vfs_now:
        why = f"{label}: {driver} changes its eswitch mode only without VFs: its VFs ({vfs_now}) go first"
        actions.append(RemoveVfs(pci, reason=why))
        vfs_now = 0
    if steering is not None and current == "legacy":
        actions.append(_steering_action(pf, steering, host))
    if target != current:
        reason = f"{label}: eswitch {current} -> {target}, before its VFs are created ({driver}'s order)"
        actions.append(SetEswitchMode(pci, target, reason=reason))
    if wanted_vfs != vfs_now:
        actions.append(_count_action(pf, wanted_vfs, vfs_now, f" in {target} mode"))
    return actions


def _vfs_first(
    interface: Interface, pf: InterfaceExt, target: ESwitchMode, steering: str | None, host: HostState
) -> list[Action]:
    """mlx5 and the rest (upstream's order): legacy, create the VFs, unbind them, the mode, bind them."""
    label, pci = _label(pf), pf.pci_address
    order = (
        f"{pf.driver} creates VFs in legacy mode and changes the eswitch with them unbound"
        if pf.driver == "mlx5_core"
        else f"{pf.driver or 'its driver'} has no order of its own: upstream's, VFs created in legacy mode"
    )
    mode_now: ESwitchMode = "switchdev" if pf.e_switch_mode == "switchdev" else "legacy"
    wanted_vfs, vfs_now = interface.num_vfs or 0, pf.num_vfs or 0
    actions: list[Action] = []
    if mode_now == "switchdev" and (wanted_vfs != vfs_now or steering is not None):
        if vfs_now:
            why = f"{label}: its VFs change in legacy mode ({order}): its VFs ({vfs_now}) go first"
            actions.append(RemoveVfs(pci, reason=why))
            vfs_now = 0
        why = f"{label}: eswitch switchdev -> legacy, to change its VFs and flow steering there ({order})"
        actions.append(SetEswitchMode(pci, "legacy", reason=why))
        mode_now = "legacy"
    if steering is not None:
        actions.append(_steering_action(pf, steering, host))
    if wanted_vfs != vfs_now:
        actions.append(_count_action(pf, wanted_vfs, vfs_now, f" in {mode_now} mode"))
    if target != mode_now:
        if wanted_vfs:
            why = f"{label}: its VFs ({wanted_vfs}) are unbound before the eswitch changes ({order})"
            actions.append(UnbindVfs(pci, reason=why))
        why = f"{label}: eswitch {mode_now} -> {target} once its VFs exist ({order})"
        actions.append(SetEswitchModeWithVfs(pci, target, reason=why))
        if wanted_vfs:
            why = f"{label}: its VFs go back to their default driver, now in {target} mode"
            actions.append(BindVfs(pci, reason=why))
    return actions


def _tc_offload_actions(
    interface: Interface, pf: InterfaceExt, host: HostState, mode_changes: bool
) -> list[Action]:
    """hw-tc-offload on the uplink (once the mode is set) and on each representor that exists.

    Not on an externally managed PF: whoever manages it sets its offloads (as upstream leaves it).
    """
    if interface.e_switch_mode != "switchdev" or interface.externally_managed:
        return []
    why = "in switchdev, tc flower rules (OVS hardware offload) reach the NIC only with hw-tc-offload on"
    actions: list[Action] = []
    if mode_changes or host.tc_offload.get(pf.name or "") is False:
        reason = f"{_label(pf)}: {why}"
        actions.append(SetHwTcOffload(pf.pci_address, pf.pci_address, None, reason=reason))
    if mode_changes:
        return actions  # its representors appear with the mode: the next round sees them
    for vf in pf.vfs or []:
        if vf.representor_name and host.tc_offload.get(vf.representor_name) is False:
            reason = f"{vf.representor_name} (representor of VF {vf.vf_id} of {pf.pci_address}): {why}"
            actions.append(SetHwTcOffload(vf.pci_address, pf.pci_address, vf.vf_id, reason=reason))
    return actions


def _udev_actions(interface: Interface, pf: InterfaceExt, host: HostState) -> list[Action]:
    """Our udev rules for the PF (`host/udev.py`): NetworkManager off its VFs; in switchdev, stable names."""
    pci, count = pf.pci_address, interface.num_vfs or 0
    switchdev = interface.e_switch_mode == "switchdev"
    rules = pf_rules(pci, pf.name, count, host.vf_layouts.get(pci), switchdev)
    if not rules:
        return _udev_removal(pci, f"{_label(pf)} needs no udev rules (no VFs, no switchdev)", host)
    if host.udev_rules.get(pci) == rules:
        return []
    names = "; in switchdev the PF keeps its name and each representor is <pf>_<vf id>" if switchdev else ""
    reason = f"{_label(pf)}: NetworkManager must leave its {count} VFs unmanaged (no DHCP on them){names}"
    return [WriteUdevRules(pci, rules, reason=reason)]


def _udev_removal(pci: str, why: str, host: HostState) -> list[Action]:
    if pci not in host.udev_rules:
        return []
    return [RemoveUdevRules(pci, reason=f"{why}: our udev rules for it go")]


def _admin_mac_actions(pf: InterfaceExt, vf: VirtualFunction, host: HostState) -> list[Action]:
    """Pin a VF's MAC as its PF's admin MAC while a kernel driver shows it (upstream does so too).

    Only where the PF reports the VF's admin MAC, so the change can be seen to hold.
    """
    admin = host.vf_admin_macs.get(vf.pci_address)
    on_kernel_driver = vf.driver is not None and vf.driver not in DPDK_DRIVERS
    if admin is None or not vf.mac or not on_kernel_driver or admin.lower() == vf.mac.lower():
        return []
    if pf.link_type and pf.link_type.upper() == "IB":
        return []
    now = "none" if admin == NO_MAC else admin
    reason = (
        f"{_label(vf)}: admin MAC {now} -> {vf.mac}, so the VF keeps its MAC when its driver changes "
        "(a VF driver picks a new random one at every probe otherwise)"
    )
    return [SetVfAdminMac(vf.pci_address, pf.pci_address, vf.vf_id, vf.mac.lower(), reason=reason)]


def _vf_actions(interface: Interface, pf: InterfaceExt, vf: VirtualFunction, host: HostState) -> list[Action]:
    group = next((g for g in interface.vf_groups or [] if vf.vf_id in vf_ids(g)), None)
    if group is None:
        return []
    actions = _admin_mac_actions(pf, vf, host) + _driver_actions(vf, group, "drain")
    actions += _vdpa_actions(interface, vf, group)
    on_netdev = group.device_type != VFIO_DRIVER and vf.driver not in DPDK_DRIVERS and vf.driver is not None
    if on_netdev and group.mtu and vf.mtu and vf.mtu != group.mtu:
        reason = f"{_label(vf)}: MTU {vf.mtu} -> {group.mtu} for {_group_name(group)}"
        actions.append(SetVfMtu(vf.pci_address, group.mtu, reason=reason))
    return actions


def _vdpa_actions(interface: Interface, vf: VirtualFunction, group: VfGroup) -> list[Action]:
    """A vDPA device of the group's type on a switchdev VF (upstream's rule); gone when the group has none."""
    if interface.e_switch_mode != "switchdev" or group.device_type == VFIO_DRIVER:
        return []
    if group.vdpa_type and vf.vdpa_type != group.vdpa_type:
        now = f"has a {vf.vdpa_type} one" if vf.vdpa_type else "has none"
        reason = f"{_label(vf)}: {_group_name(group)} wants a {group.vdpa_type} vDPA device; the VF {now}"
        return [CreateVdpaDevice(vf.pci_address, group.vdpa_type, reason=reason)]
    if not group.vdpa_type and vf.vdpa_type:
        reason = (
            f"{_label(vf)}: {_group_name(group)} has no vdpaType; the VF has a {vf.vdpa_type} vDPA device"
        )
        return [DeleteVdpaDevice(vf.pci_address, reason=reason)]
    return []


def _vdpa_module_actions(desired: SriovNetworkNodeStateSpec, host: HostState) -> list[Action]:
    """The vDPA bus driver of each type a switchdev group wants (module and driver share the name)."""
    actions: list[Action] = []
    for interface in desired.interfaces or []:
        for group in interface.vf_groups or []:
            driver = DRIVER_OF_TYPE.get(group.vdpa_type or "")
            if interface.e_switch_mode != "switchdev" or driver is None or driver in host.vdpa_drivers:
                continue
            if all(action.target != driver for action in actions):
                reason = f"{_group_name(group)} wants {group.vdpa_type} vDPA devices, bound to {driver}"
                actions.append(LoadModule(driver, reason=reason))
    return actions


def _reset_actions(desired: set[str], found: dict[str, InterfaceExt], host: HostState) -> list[Action]:
    actions: list[Action] = []
    for pci in sorted(set(host.udev_rules) - desired):
        actions += _udev_removal(pci, f"{pci} left the spec", host)
    for pci in sorted(set(host.configured) - desired):
        current = found.get(pci)
        left = f"{pci} left the spec"
        if current is not None and is_virtual(host.platform) and current.driver in {*DPDK_DRIVERS, None}:
            reason = f"{left}; it is on {current.driver or 'no driver'}: give it back to its default driver"
            actions.append(BindDriver(pci, DEFAULT_DRIVER, reason=reason))
        record = host.configured[pci]
        if current is not None and not is_virtual(host.platform) and not record.externally_managed:
            actions += _pf_reset_actions(current, record, host)
        actions.append(ForgetDevice(pci, reason=f"{left}; nothing more to give back"))
    return actions


def _pf_reset_actions(pf: InterfaceExt, record: DeviceRecord, host: HostState) -> list[Action]:
    """A bare-metal PF we configured leaves the spec: remove its VFs, give back what the record kept."""
    pci, left = pf.pci_address, f"{pf.pci_address} left the spec"
    actions: list[Action] = []
    if pf.num_vfs:
        reason = f"{left}; we created its {pf.num_vfs} VFs: remove them"
        actions.append(SetNumVfs(pci, 0, reason=reason))
    mode, was_mode = pf.e_switch_mode, record.original_e_switch_mode
    if was_mode is not None and mode in ESWITCH_MODES and mode != was_mode:
        reason = f"{left}; its eswitch was {was_mode} before we configured it (now {mode})"
        actions.append(RestoreEswitchMode(pci, was_mode, reason=reason))
    if record.original_mtu and pf.mtu and pf.mtu != record.original_mtu:
        reason = f"{left}; its MTU was {record.original_mtu} before we configured it (now {pf.mtu})"
        actions.append(RestorePfMtu(pci, record.original_mtu, reason=reason))
    steering, was_steering = host.flow_steering.get(pci), record.original_flow_steering_mode
    if was_steering is not None and steering is not None and steering != was_steering:
        reason = f"{left}; its flow_steering_mode was {was_steering} before we configured it (now {steering})"
        actions.append(RestoreFlowSteeringMode(pci, was_steering, reason=reason))
    if record.original_hw_tc_offload == "off" and host.tc_offload.get(pf.name or "") is True:
        reason = f"{left}; hw-tc-offload was off before we configured it"
        actions.append(SetHwTcOffload(pci, pci, None, enabled=False, reason=reason))
    return actions


def _wanted_bridge(index: int, bridge: OVSConfigExt, found: dict[str, InterfaceExt]) -> InterfaceExt:
    """The uplink PF of ``spec.bridges.ovs[index]``, checked: one uplink, found here, with a netdev."""
    where = f"spec.bridges.ovs[{index}] ({bridge.name})"
    uplinks = bridge.uplinks or []
    if len(uplinks) != 1:
        raise PlanError(f"{where}.uplinks: {len(uplinks)} uplinks; accepted: exactly one (the PF)")
    pf = found.get(uplinks[0].pci_address)
    if pf is None:
        raise PlanError(
            f"{where}.uplinks[0].pciAddress: {uplinks[0].pci_address[:40]!r} not found on this host"
        )
    if not pf.name:
        raise PlanError(f"{where}: uplink {pf.pci_address} has no network interface (is its driver bound?)")
    return pf


def _bridge_actions(
    desired: SriovNetworkNodeStateSpec, found: dict[str, InterfaceExt], host: HostState
) -> list[Action]:
    """OVS bridges of the spec (manageSoftwareBridges) made, updated, and ours that left it removed.

    A bridge waits for its uplink: while the PF's eSwitch mode or VF count is still changing
    it is planned in a later round, like the VFs' drivers.
    """
    wanted = (desired.bridges.ovs or []) if desired.bridges else []
    names = Counter(bridge.name for bridge in wanted)
    ovs = host.ovs
    if wanted and ovs is None:
        why = host.ovs_problem or "no OVSDB socket (/var/run/openvswitch/db.sock)"
        raise HostLacksSupportError(
            f"spec.bridges.ovs ({wanted[0].name}): {why}; install Open vSwitch on the node and start it"
        )
    ovs = ovs or OvsState()
    interfaces = {i.pci_address: i for i in desired.interfaces or []}
    actions: list[Action] = []
    for index, bridge in enumerate(wanted):
        if names[bridge.name] > 1:
            raise PlanError(
                f"spec.bridges.ovs[{index}].name: {bridge.name} is listed {names[bridge.name]} times"
            )
        pf = _wanted_bridge(index, bridge, found)
        actions += _one_bridge(bridge, pf, interfaces.get(pf.pci_address), ovs)
    kept = set(names)
    for gone in ovs.bridges:
        if gone.ours and gone.uplink_pci and gone.config.name not in kept:
            reason = f"OVS bridge {gone.config.name} is ours and no longer in spec.bridges"
            actions.append(RemoveOvsBridge(gone.uplink_pci, gone.config.name, reason=reason))
    return actions


def _one_bridge(
    bridge: OVSConfigExt, pf: InterfaceExt, entry: Interface | None, ovs: OvsState
) -> list[Action]:
    label = _label(pf)
    [uplink] = bridge.uplinks or []
    bridge = bridge.model_copy(update={"uplinks": [uplink.model_copy(update={"name": pf.name})]})
    current = ovs.bridge(bridge.name)
    if current is not None and not current.ours:
        raise PlanError(
            f"OVS bridge {bridge.name} exists on the host and was not created by the operator; "
            "remove or rename it, the operator never changes a bridge it did not make"
        )
    holder = ovs.bridge_of_port(pf.name or "")
    if holder is not None and holder.config.name != bridge.name and not holder.ours:
        raise PlanError(
            f"{label}: already a port of OVS bridge {holder.config.name}, which the operator did not create; "
            "take it off that bridge first"
        )
    if entry is not None and (
        (entry.e_switch_mode and entry.e_switch_mode != (pf.e_switch_mode or "legacy"))
        or (entry.num_vfs or 0) != (pf.num_vfs or 0)
    ):
        return []  # the uplink is still changing: planned once it is ready
    if current is None:
        reason = f"spec.bridges wants OVS bridge {bridge.name} with uplink {label}"
        return [CreateOvsBridge(pf.pci_address, bridge, reason=reason)]
    differs = [k for k, v in normalized(bridge).items() if normalized(current.config).get(k) != v]
    differs += [k for k in normalized(current.config) if k not in normalized(bridge)]
    if differs:
        reason = f"OVS bridge {bridge.name}: {', '.join(sorted(set(differs)))} differ from spec.bridges"
        return [UpdateOvsBridge(pf.pci_address, bridge, reason=reason)]
    if not ovs.hw_offload:
        reason = f"OVS bridge {bridge.name}: Open vSwitch other_config:hw-offload is not true"
        return [UpdateOvsBridge(pf.pci_address, bridge, reason=reason)]
    return []


def _guid_actions(desired: SriovNetworkNodeStateSpec, host: HostState) -> list[Action]:
    """InfiniBand VFs in a group get their GUIDs (`host/infiniband.py`); a pool that cannot is refused."""
    in_groups = {
        i.pci_address: frozenset(vf for g in i.vf_groups or [] for vf in vf_ids(g))
        for i in desired.interfaces or []
    }
    try:
        return vf_guid_actions(desired, host, in_groups)
    except GuidPoolError as error:
        raise PlanError(str(error)) from None


def _guard_node_links(actions: list[Action], host: HostState) -> None:
    """Refuse to take away the link the node itself talks through (default route, InternalIP)."""
    netdevs: dict[str, str] = {}
    for interface in host.interfaces:
        netdevs.update({vf.pci_address: vf.name for vf in interface.vfs or [] if vf.name})
        if interface.name:
            netdevs[interface.pci_address] = interface.name
    for action in actions:
        name = netdevs.get(action.target, "")
        if action.cuts_node_link and name in host.node_links:
            raise PlanError(
                f"{action.target} ({name}): refusing {action.kind} ({action.reason}): "
                f"{host.node_links[name]}, so the node would lose its connectivity; "
                "move the node's traffic to another interface, or allow it explicitly "
                f"(--allow-node-link {name})"
            )


def plan(desired: SriovNetworkNodeStateSpec, host: HostState) -> Plan:
    """Raises PlanError when the spec cannot be applied here (unknown device, invalid for the platform).

    The spec is checked whole before any action is planned, so a bad entry never
    leaves a half-applied host.
    """
    _check_spec(desired)
    firmware = firmware_plan(desired, host)
    boot_actions = with_firmware_reboot(
        kernel_arg_actions(desired, host), firmware, host.boot.reboot_requested
    )
    if boot_actions:  # the rest is planned in the next boot
        return Plan(in_run_order(boot_actions), tuple(_ignored_fields(desired, host)))
    found = {interface.pci_address: interface for interface in host.interfaces}
    actions = list(firmware.actions) + _module_actions(desired, host) + _vhost_net_actions(desired, host)
    actions += _vdpa_module_actions(desired, host)
    actions += rdma_mode_actions(desired, host)
    for interface in desired.interfaces or []:
        current = found.get(interface.pci_address)
        if current is None:
            raise PlanError(f"{interface.pci_address}: in the desired spec but not found on this host")
        if is_virtual(host.platform):
            actions += _port_actions(interface, current, host)
        else:
            actions += _pf_actions(interface, current, host)
    actions += _reset_actions({i.pci_address for i in desired.interfaces or []}, found, host)
    actions += _bridge_actions(desired, found, host)
    actions += _guid_actions(desired, host)
    _guard_node_links(actions, host)
    rdma = _rdma_warnings(desired, host)
    unusable: dict[str, str] = {}
    for policy, text in rdma:
        if policy:
            unusable.setdefault(policy, text)
    warnings = tuple(_ignored_fields(desired, host) + [text for _, text in rdma])
    return Plan(in_run_order(actions), warnings, _cards(host), unusable)
