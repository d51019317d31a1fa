"""The host actions a plan is made of: one small frozen dataclass per kind, in run order.

Pure data, no I/O: the planner (`plan.py`) builds them, `executors.py` carries
each kind out, and everything that shows a plan (the CLI's JSON, the daemon's
condition and Events, ``diff``) reads them through `describe()` and
`to_output()`.  An action carries what it needs (a drain or a reboot, set by the
planner where it depends on the device) and why (``reason``); two actions are
equal when they change the same thing the same way, whatever the reason.

Run order is `ACTION_ORDER`, not the order the planner found them in: modules
before devices, the record of a device before anything changes it (it keeps
what the device was like before we touched it), our udev rules before the VFs
or a re-probe they name appear, an OVS bridge of ours that goes before its
uplink changes; then the eSwitch in the order the PF's driver
needs: VFs removed first, back to legacy (mlx5 found in switchdev), the flow
steering mode while in legacy, the mode before VFs exist (ice), or VFs created,
unbound, the mode changed and the VFs bound again (mlx5 and the rest); a PF given back its eSwitch mode, flow
steering and MTU once its VFs are gone, hw-tc-offload once the mode is set,
a VF's admin MAC (or InfiniBand GUID) before its driver changes, its vDPA device after it, OVS
bridges made or updated once their uplink is ready, forgetting
a device after that, then the RDMA mode, and kernel arguments and the reboot last.
See docs/architecture.md ("Recipe: add a host action").
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from sriov_operator.api.models import ESwitchMode, OVSConfigExt, RdmaMode
from sriov_operator.host.state import DeviceRecord

Requirement = Literal["none", "drain", "reboot"]
DEFAULT_DRIVER = "default"  # BindDriver.driver: whatever driver the kernel picks (drivers_probe)


@dataclass(frozen=True, kw_only=True)
class HostAction(ABC):
    """What every action has; subclasses add what they change and say it in words."""

    kind: ClassVar[str]  # the name users see (plan output, apply errors, docs/host.md)
    cuts_node_link: ClassVar[bool] = False  # may take a netdev away: refused on the node's own link

    reason: str = field(compare=False)
    requires: Requirement = "none"

    @property
    @abstractmethod
    def target(self) -> str:
        """The device (PCI address) or kernel module acted on."""

    @abstractmethod
    def describe(self) -> str:
        """What it will do, as a person reads it: ``create 8 VFs on 0000:3b:00.0``."""

    def shown_value(self) -> Any:
        """The value in the plan's output (``value``): JSON, ``None`` when the action sets none."""
        return None

    def to_output(self) -> dict[str, Any]:
        return {
            "action": self.kind,
            "target": self.target,
            "value": self.shown_value(),
            "requires": self.requires,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class _ModuleAction(HostAction):
    module: str

    @property
    def target(self) -> str:
        return self.module


@dataclass(frozen=True)
class _DeviceAction(HostAction):
    pci: str

    @property
    def target(self) -> str:
        return self.pci


@dataclass(frozen=True)
class LoadModule(_ModuleAction):
    kind = "loadModule"
    option: str | None = None  # ``name=value`` given to modprobe, and verified once loaded

    def describe(self) -> str:
        return f"load {self.module}" + (f" with {self.option}" if self.option else "")

    def shown_value(self) -> str | None:
        return self.option


@dataclass(frozen=True)
class SetModuleParameter(_ModuleAction):
    kind = "setModuleParameter"
    option: str  # ``name=value``, set at run time on a module already loaded

    def describe(self) -> str:
        return f"set {self.module} {self.option}"

    def shown_value(self) -> str:
        return self.option


@dataclass(frozen=True)
class SetEswitchMode(_DeviceAction):
    kind = "setESwitchMode"
    cuts_node_link = True
    mode: ESwitchMode
    requires: Requirement = field(default="drain", kw_only=True)

    def describe(self) -> str:
        return f"switch {self.pci} to eswitch mode {self.mode}"

    def shown_value(self) -> str:
        return self.mode


@dataclass(frozen=True)
class RestoreEswitchMode(SetEswitchMode):
    """A PF leaving the spec gets the mode it had before we configured it, once its VFs are gone."""

    kind = "restoreESwitchMode"

    def describe(self) -> str:
        return f"give {self.pci} back its eswitch mode {self.mode}"


@dataclass(frozen=True)
class SetNumVfs(_DeviceAction):
    kind = "setNumVfs"
    cuts_node_link = True
    count: int
    requires: Requirement = field(default="drain", kw_only=True)

    def describe(self) -> str:
        if self.count == 0:
            return f"remove the VFs of {self.pci}"
        return f"create {self.count} VFs on {self.pci}"

    def shown_value(self) -> int:
        return self.count


@dataclass(frozen=True)
class RemoveVfs(SetNumVfs):
    """VFs removed before the eSwitch mode or flow steering changes (drivers that refuse it with VFs)."""

    kind = "removeVFs"
    count: int = 0

    def describe(self) -> str:
        return f"remove the VFs of {self.pci} first"


@dataclass(frozen=True)
class SetFlowSteeringMode(_DeviceAction):
    """devlink parameter ``flow_steering_mode`` (mlx5: ``dmfs``/``smfs``), changed only in legacy mode."""

    kind = "setFlowSteeringMode"
    mode: str

    def describe(self) -> str:
        return f"set the flow steering mode of {self.pci} to {self.mode}"

    def shown_value(self) -> str:
        return self.mode


@dataclass(frozen=True)
class RestoreFlowSteeringMode(SetFlowSteeringMode):
    """A PF leaving the spec gets its flow steering mode back once its eSwitch is legacy again."""

    kind = "restoreFlowSteeringMode"

    def describe(self) -> str:
        return f"give {self.pci} back its flow steering mode {self.mode}"


@dataclass(frozen=True)
class UnbindVfs(_DeviceAction):
    """Every VF of a PF off its driver, so the eSwitch mode can change under them (mlx5's order)."""

    kind = "unbindVFs"
    cuts_node_link = True
    requires: Requirement = field(default="drain", kw_only=True)

    def describe(self) -> str:
        return f"unbind the VFs of {self.pci} from their driver"


@dataclass(frozen=True)
class SetEswitchModeWithVfs(SetEswitchMode):
    """The eSwitch mode changed after the VFs were created (and unbound), for drivers that need that order."""

    kind = "setESwitchModeWithVFs"

    def describe(self) -> str:
        return f"switch {self.pci} to eswitch mode {self.mode} with its VFs created"


@dataclass(frozen=True)
class BindVfs(_DeviceAction):
    """The VFs `UnbindVfs` took off their driver go back to their default one (``drivers_probe``)."""

    kind = "bindVFs"

    def describe(self) -> str:
        return f"give the VFs of {self.pci} back to their default driver"


@dataclass(frozen=True)
class SetHwTcOffload(_DeviceAction):
    """``ethtool -K <netdev> hw-tc-offload on|off`` on a PF's uplink or one VF's representor.

    ``pci`` is the function the netdev stands for (the PF, or the VF of the
    representor); ``pf`` finds the netdev when it runs (a representor exists only
    in switchdev, its name only once udev named it).
    """

    kind = "setHwTcOffload"
    pf: str
    vf_id: int | None  # None: the PF's uplink
    enabled: bool = True

    def describe(self) -> str:
        state = "on" if self.enabled else "off"
        if self.vf_id is None:
            return f"turn hw-tc-offload {state} on {self.pf}"
        return f"turn hw-tc-offload {state} on the representor of VF {self.vf_id} of {self.pf}"

    def shown_value(self) -> str:
        return "on" if self.enabled else "off"


@dataclass(frozen=True)
class _MtuAction(_DeviceAction):
    mtu: int

    def describe(self) -> str:
        return f"set the MTU of {self.pci} to {self.mtu}"

    def shown_value(self) -> int:
        return self.mtu


@dataclass(frozen=True)
class SetPfMtu(_MtuAction):
    """Only ever raises the MTU: the PF may carry other traffic that set it higher."""

    kind = "setPfMtu"


@dataclass(frozen=True)
class RestorePfMtu(_MtuAction):
    """A PF leaving the spec gets the MTU it had before we configured it (lowered or raised)."""

    kind = "restorePfMtu"

    def describe(self) -> str:
        return f"give {self.pci} back its MTU {self.mtu}"


@dataclass(frozen=True)
class LinkUp(_DeviceAction):
    kind = "linkUp"

    def describe(self) -> str:
        return f"bring {self.pci} up"


@dataclass(frozen=True)
class SetVfAdminMac(_DeviceAction):
    """The PF's admin MAC for a VF (``ip link set <pf> vf <n> mac``), set to the MAC the VF has.

    Without one a VF driver picks a random MAC at every probe, so a VF moved to
    vfio-pci and back, or rebound, would come back with another MAC.
    """

    kind = "setVfAdminMac"
    pf: str  # the PF's PCI address: the admin MAC is set through its netdev
    vf_id: int
    mac: str

    def describe(self) -> str:
        return f"pin the MAC of {self.pci} (VF {self.vf_id} of {self.pf}) to {self.mac}"

    def shown_value(self) -> str:
        return self.mac


@dataclass(frozen=True)
class SetVfGuid(_DeviceAction):
    """An InfiniBand VF's node and port GUID, set through its PF (``ip link set <pf> vf <n> node_guid``,
    ``port_guid``); the VF's driver then probes it again, since it reads its GUID only then."""

    kind = "setVfGuid"
    cuts_node_link = True  # the VF's netdev goes and comes back
    pf: str  # the PF's PCI address: the GUIDs are set through its netdev
    vf_id: int
    guid: str  # ``xx:xx:xx:xx:xx:xx:xx:xx``
    requires: Requirement = field(default="drain", kw_only=True)

    def describe(self) -> str:
        return f"give {self.pci} (VF {self.vf_id} of {self.pf}) the InfiniBand GUID {self.guid}"

    def shown_value(self) -> str:
        return self.guid


@dataclass(frozen=True)
class RememberDevice(_DeviceAction):
    """Keep on the host what we configure, so it can be given back when it leaves the spec."""

    kind = "rememberDevice"
    record: DeviceRecord

    def describe(self) -> str:
        return f"record {self.pci} as configured"

    def shown_value(self) -> dict[str, Any]:
        return self.record.to_k8s()


@dataclass(frozen=True)
class WriteUdevRules(_DeviceAction):
    """Our udev rules for a PF (`host/udev.py`), in place before its VFs or a switchdev re-probe appear."""

    kind = "writeUdevRules"
    rules: str

    def describe(self) -> str:
        return f"write the udev rules for {self.pci} (NetworkManager leaves its VFs alone; stable names)"

    def shown_value(self) -> str:
        return self.rules


@dataclass(frozen=True)
class RemoveUdevRules(_DeviceAction):
    kind = "removeUdevRules"

    def describe(self) -> str:
        return f"remove the udev rules for {self.pci}"


@dataclass(frozen=True)
class BindDriver(_DeviceAction):
    kind = "bindDriver"
    cuts_node_link = True
    driver: str  # a driver name, or DEFAULT_DRIVER: back to the one the kernel picks
    requires: Requirement = field(default="drain", kw_only=True)

    def describe(self) -> str:
        if self.driver == DEFAULT_DRIVER:
            return f"give {self.pci} back to its default driver"
        return f"bind {self.pci} to {self.driver}"

    def shown_value(self) -> str:
        return self.driver


@dataclass(frozen=True)
class DeleteVdpaDevice(_DeviceAction):
    """A VF whose group no longer has ``vdpaType`` loses the vDPA device we named after it."""

    kind = "deleteVdpaDevice"
    requires: Requirement = field(default="drain", kw_only=True)

    def describe(self) -> str:
        return f"delete the vDPA device of {self.pci}"


@dataclass(frozen=True)
class CreateVdpaDevice(_DeviceAction):
    """``vdpa dev add name vdpa:<vf> mgmtdev pci/<vf>``, then its driver: virtio_vdpa or vhost_vdpa."""

    kind = "createVdpaDevice"
    vdpa_type: str  # virtio | vhost
    requires: Requirement = field(default="drain", kw_only=True)

    def describe(self) -> str:
        return f"give {self.pci} a vDPA device of type {self.vdpa_type}"

    def shown_value(self) -> str:
        return self.vdpa_type


@dataclass(frozen=True)
class SetVfMtu(_MtuAction):
    kind = "setVfMtu"


# ---- OVS bridges (manageSoftwareBridges; `host/ovs.py`): the device is the bridge's uplink PF


@dataclass(frozen=True)
class CreateOvsBridge(_DeviceAction):
    """A bridge of ours with the PF as uplink, and ``other_config:hw-offload=true`` on Open vSwitch."""

    kind = "createOvsBridge"
    cuts_node_link = True  # the PF's traffic goes through the bridge from then on
    bridge: OVSConfigExt

    def describe(self) -> str:
        uplink = (self.bridge.uplinks or [])[0].name if self.bridge.uplinks else self.pci
        return f"create OVS bridge {self.bridge.name} with uplink {uplink} ({self.pci}), hw-offload on"

    def shown_value(self) -> dict[str, Any]:
        return self.bridge.to_k8s()


@dataclass(frozen=True)
class UpdateOvsBridge(CreateOvsBridge):
    """Our bridge brought to the spec in place; the pods' ports on it may blink, hence the drain."""

    kind = "updateOvsBridge"
    requires: Requirement = field(default="drain", kw_only=True)

    def describe(self) -> str:
        return f"update OVS bridge {self.bridge.name} (uplink {self.pci}) to the spec, hw-offload on"


@dataclass(frozen=True)
class RemoveOvsBridge(_DeviceAction):
    """Only a bridge we created (marked in its external_ids); its ports, pods' ones too, go with it."""

    kind = "removeOvsBridge"
    name: str
    requires: Requirement = field(default="drain", kw_only=True)

    def describe(self) -> str:
        return f"remove OVS bridge {self.name} (ours, uplink {self.pci})"

    def shown_value(self) -> str:
        return self.name


@dataclass(frozen=True)
class ForgetDevice(_DeviceAction):
    kind = "forgetDevice"

    def describe(self) -> str:
        return f"forget {self.pci}"


# ---- Mellanox firmware (`host/mellanox.py`, docs/host.md "Mellanox firmware"): per card, by its first PF


@dataclass(frozen=True)
class SetFirmwareConfig(_DeviceAction):
    """``mstconfig -y -d <pf> set NAME=VALUE…``: the values the card's firmware takes at its next load.

    ``requires`` is the reboot when the firmware runs with other values now; none when only the
    next-boot values are brought back to what the firmware already runs with.
    """

    kind = "setFirmwareConfig"
    values: tuple[tuple[str, str], ...]  # (setting, value), e.g. ("NUM_OF_VFS", "16")
    requires: Requirement = field(default="reboot", kw_only=True)

    def describe(self) -> str:
        changes = " ".join(f"{name}={value}" for name, value in self.values)
        return f"set the firmware of {self.pci} to {changes} from its next load"

    def shown_value(self) -> dict[str, str]:
        return dict(self.values)


@dataclass(frozen=True)
class ResetFirmware(_DeviceAction):
    """``mstfwreset`` (the mellanoxFirmwareReset feature gate): the firmware reloaded before the reboot,
    its PFs' VFs removed first; a warm reboot alone may leave the old firmware running."""

    kind = "resetFirmware"
    ports: tuple[str, ...]  # the card's PFs (their VFs go first)
    requires: Requirement = field(default="reboot", kw_only=True)

    def describe(self) -> str:
        return f"reload the firmware of {self.pci} (mstfwreset) before the reboot"


@dataclass(frozen=True)
class SetRdmaMode(HostAction):
    """``rdma system set netns <mode>`` at run time (the kernel refuses while other namespaces exist)."""

    kind = "setRdmaMode"
    mode: RdmaMode
    requires: Requirement = field(default="drain", kw_only=True)

    @property
    def target(self) -> str:
        return "rdma subsystem"

    def describe(self) -> str:
        return f"set the RDMA subsystem's network namespace mode to {self.mode}"

    def shown_value(self) -> str:
        return self.mode


# ---- kernel arguments and the reboot (docs/host.md "Kernel arguments and reboots"): run last


@dataclass(frozen=True)
class _KernelArgsAction(HostAction):
    args: tuple[str, ...]
    where: str  # the boot configuration written (files, or ``rpm-ostree kargs``)
    requires: Requirement = field(default="reboot", kw_only=True)  # they take effect at the next boot

    @property
    def target(self) -> str:
        return "kernel command line"

    def shown_value(self) -> list[str]:
        return list(self.args)


@dataclass(frozen=True)
class AddKernelArgs(_KernelArgsAction):
    """Append arguments to the boot configuration (never removes one)."""

    kind = "addKernelArgs"

    def describe(self) -> str:
        return f"add kernel arguments {' '.join(self.args)} to {self.where}"


@dataclass(frozen=True)
class RemoveKernelArgs(_KernelArgsAction):
    """Take arguments we added out of the boot configuration (never one we did not add)."""

    kind = "removeKernelArgs"

    def describe(self) -> str:
        return f"remove kernel arguments {' '.join(self.args)} (ours) from {self.where}"


@dataclass(frozen=True)
class Reboot(HostAction):
    """Reboot through the host's systemd; the daemon runs it only once the node is drained."""

    kind = "reboot"
    args: tuple[str, ...]  # the kernel arguments the next boot must have
    without: tuple[str, ...] = ()  # and must not have
    firmware: tuple[str, ...] = ()  # firmware settings the next boot loads: ``<pf> NUM_OF_VFS=16``
    requires: Requirement = field(default="reboot", kw_only=True)

    @property
    def target(self) -> str:
        return "node"

    def describe(self) -> str:
        changes = [*self.args, *(f"without {arg}" for arg in self.without)]
        changes += [f"the firmware of {setting}" for setting in self.firmware]
        return f"reboot the node (systemctl reboot) to boot with {', '.join(changes)}"

    def shown_value(self) -> list[str]:
        return [*self.args, *(f"-{arg}" for arg in self.without), *self.firmware]


Action = (
    LoadModule
    | SetModuleParameter
    | RememberDevice
    | WriteUdevRules
    | RemoveOvsBridge
    | RemoveVfs
    | SetFlowSteeringMode
    | SetEswitchMode
    | SetNumVfs
    | UnbindVfs
    | SetEswitchModeWithVfs
    | BindVfs
    | RestoreEswitchMode
    | RestoreFlowSteeringMode
    | SetPfMtu
    | RestorePfMtu
    | LinkUp
    | SetHwTcOffload
    | SetVfAdminMac
    | SetVfGuid
    | DeleteVdpaDevice
    | BindDriver
    | CreateVdpaDevice
    | SetVfMtu
    | CreateOvsBridge
    | UpdateOvsBridge
    | RemoveUdevRules
    | ForgetDevice
    | SetFirmwareConfig
    | ResetFirmware
    | SetRdmaMode
    | AddKernelArgs
    | RemoveKernelArgs
    | Reboot
)

ACTION_ORDER: tuple[type[Action], ...] = (
    LoadModule,
    SetModuleParameter,
    RememberDevice,
    WriteUdevRules,
    RemoveOvsBridge,
    RemoveVfs,
    SetFlowSteeringMode,
    SetEswitchMode,
    SetNumVfs,
    UnbindVfs,
    SetEswitchModeWithVfs,
    BindVfs,
    RestoreEswitchMode,
    RestoreFlowSteeringMode,
    SetPfMtu,
    RestorePfMtu,
    LinkUp,
    SetHwTcOffload,
    SetVfAdminMac,
    SetVfGuid,
    DeleteVdpaDevice,
    BindDriver,
    CreateVdpaDevice,
    SetVfMtu,
    CreateOvsBridge,
    UpdateOvsBridge,
    RemoveUdevRules,
    ForgetDevice,
    SetFirmwareConfig,
    ResetFirmware,
    SetRdmaMode,
    AddKernelArgs,
    RemoveKernelArgs,
    Reboot,
)
_RANK: dict[type[HostAction], int] = {kind: rank for rank, kind in enumerate(ACTION_ORDER)}


def device_of(action: HostAction) -> str | None:
    """The PCI function an action changes; None for a kernel module (which every device may need)."""
    return action.pci if isinstance(action, _DeviceAction) else None


def _run_rank(action: Action) -> float:
    """An action's place in `ACTION_ORDER`; a PF leaving switchdev for legacy goes before the flow
    steering change, which mlx5 takes only in legacy (entering switchdev comes after it)."""
    if type(action) is SetEswitchMode and action.mode == "legacy":
        return _RANK[SetFlowSteeringMode] - 0.5
    return _RANK[type(action)]


def in_run_order(actions: Iterable[Action]) -> tuple[Action, ...]:
    """Sorted by `ACTION_ORDER`; actions of one kind keep the planner's order (devices in spec order)."""
    return tuple(sorted(actions, key=_run_rank))
