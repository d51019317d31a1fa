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

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sriov_operator.api.models import (
    Interface,
    InterfaceExt,
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
    ForgetDevice,
    LinkUp,
    LoadModule,
    RememberDevice,
    RemoveUdevRules,
    Requirement,
    RestoreEswitchMode,
    RestorePfMtu,
    SetEswitchMode,
    SetModuleParameter,
    SetNumVfs,
    SetPfMtu,
    SetVfAdminMac,
    SetVfMtu,
    WriteUdevRules,
    device_of,
    in_run_order,
)
from sriov_operator.host.kernel_args import VFIO_DRIVER, kernel_arg_actions, rdma_mode_actions
from sriov_operator.host.pci import DPDK_DRIVERS, PCI_ADDRESS_FORM, is_pci_address
from sriov_operator.host.state import DeviceRecord, HostState
from sriov_operator.host.udev import pf_rules

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
    if desired.bridges is not None and desired.bridges.ovs:
        warnings.append("bridges (OVS hardware offload bridges) are not configured by this host layer")
    for index, interface in enumerate(desired.interfaces or []):
        if interface.link_type and interface.link_type.upper() == "IB":
            warnings.append(f"spec.interfaces[{index}] ({interface.pci_address}): linkType IB is not applied")
        for number, group in enumerate(interface.vf_groups or []):
            if group.vdpa_type:
                where = f"spec.interfaces[{index}].vfGroups[{number}]"
                warnings.append(f"{where}: vdpaType {group.vdpa_type!r} is not applied")
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


def _originals(known: DeviceRecord | None, pf: InterfaceExt) -> dict[str, Any]:
    """How the PF was before we touched it: from our first record, else as it is now (nothing touched yet).

    A record written before records kept this has none: nothing is then known to give back.
    """
    if known is not None:
        return {"original_mtu": known.original_mtu, "original_e_switch_mode": known.original_e_switch_mode}
    mode = pf.e_switch_mode if pf.e_switch_mode in ESWITCH_MODES else None
    return {"original_mtu": pf.mtu, "original_e_switch_mode": mode}


def _remember(
    interface: Interface, device: InterfaceExt, host: HostState, *, keep_originals: bool = False
) -> list[Action]:
    known = host.configured.get(interface.pci_address)
    mac = device.mac or (known.mac if known else None)
    originals = _originals(known, device) if keep_originals else {}
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
    groups = interface.vf_groups or []
    if len(groups) > 1:
        raise PlanError(f"{where}: a port has one function, so one vfGroup, not {len(groups)}")
    if groups and vf_ids(groups[0]) != range(1):
        raise PlanError(f"{where}: vfRange must be 0-0, not {groups[0].vf_range}")
    # a port we never configured is in no pod's use yet: binding it for DPDK takes nothing away
    to_dpdk: Requirement = "drain" if interface.pci_address in host.configured else "none"
    drivers = _driver_actions(port, groups[0], to_dpdk) if groups else []
    return _remember(interface, port, host) + drivers


def _pf_actions(interface: Interface, pf: InterfaceExt, host: HostState) -> list[Action]:
    label = _label(pf)
    wanted_vfs, current_vfs = interface.num_vfs or 0, pf.num_vfs or 0
    actions: list[Action] = []
    if wanted_vfs > (pf.totalvfs or 0):
        raise PlanError(f"{label}: numVfs {wanted_vfs} is more than the device's {pf.totalvfs or 0}")
    if interface.e_switch_mode and interface.e_switch_mode != (pf.e_switch_mode or "legacy"):
        if interface.externally_managed:
            raise PlanError(
                f"{label}: externally managed in eswitch mode {pf.e_switch_mode or 'legacy'} but the "
                f"spec wants {interface.e_switch_mode}; set the mode outside the operator or drop "
                "externallyManaged"
            )
        reason = f"{label}: eswitch {pf.e_switch_mode or 'legacy'} -> {interface.e_switch_mode}"
        actions.append(SetEswitchMode(pf.pci_address, interface.e_switch_mode, reason=reason))
    if wanted_vfs != current_vfs:
        if interface.externally_managed:
            raise PlanError(
                f"{label}: externally managed with {current_vfs} VFs but the spec wants {wanted_vfs}; "
                "create them outside the operator or drop externallyManaged"
            )
        note = " (0 is written first)" if current_vfs and wanted_vfs else ""
        reason = f"{label}: {current_vfs} -> {wanted_vfs} VFs{note}; VF drivers follow once the VFs exist"
        actions.append(SetNumVfs(pf.pci_address, wanted_vfs, reason=reason))
    if interface.mtu and pf.mtu and interface.mtu > pf.mtu and not interface.externally_managed:
        reason = f"{label}: MTU {pf.mtu} -> {interface.mtu} (a PF MTU is only ever raised)"
        actions.append(SetPfMtu(pf.pci_address, interface.mtu, reason=reason))
    if pf.link_admin_state != "up":
        reason = f"{label}: carries VFs, so it must be up"
        actions.append(LinkUp(pf.pci_address, reason=reason))
    if wanted_vfs == current_vfs:
        for vf in pf.vfs or []:
            actions += _vf_actions(interface, pf, vf, host)
    return _remember(interface, pf, host, keep_originals=True) + _udev_actions(interface, pf, host) + actions


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
    on_netdev = group.device_type != VFIO_DRIVER and vf.driver not in DPDK_DRIVERS and vf.driver is not None
    if on_netdev and group.mtu and vf.mtu and vf.mtu != group.mtu:
        reason = f"{_label(vf)}: MTU {vf.mtu} -> {group.mtu} for {_group_name(group)}"
        actions.append(SetVfMtu(vf.pci_address, group.mtu, reason=reason))
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
            actions += _pf_reset_actions(current, record)
        actions.append(ForgetDevice(pci, reason=f"{left}; nothing more to give back"))
    return actions


def _pf_reset_actions(pf: InterfaceExt, record: DeviceRecord) -> list[Action]:
    """A bare-metal PF we configured leaves the spec: remove its VFs, give back its eSwitch mode and MTU."""
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
    return actions


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
    if boot_actions := kernel_arg_actions(desired, host):  # the rest is planned in the next boot
        return Plan(in_run_order(boot_actions), tuple(_ignored_fields(desired, host)))
    found = {interface.pci_address: interface for interface in host.interfaces}
    actions = _module_actions(desired, host) + _vhost_net_actions(desired, host)
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
    _guard_node_links(actions, host)
    rdma = _rdma_warnings(desired, host)
    unusable: dict[str, str] = {}
    for policy, text in rdma:
        if policy:
            unusable.setdefault(policy, text)
    warnings = tuple(_ignored_fields(desired, host) + [text for _, text in rdma])
    return Plan(in_run_order(actions), warnings, _cards(host), unusable)
