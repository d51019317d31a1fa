"""One executor per action kind: look at the host first, change it only if it differs.

An executor takes the host's I/O (`HostAccess`) and its own action type, and
returns True if it changed the host, False if the host already was as wanted.
`executes(Kind)` registers it; `execute` dispatches on the action's type, so
nothing else in the host layer knows the kinds.

All writes go through the HostWriter, all programs through the CommandRunner
and link changes through the LinkControl, so the same code drives a real host
and the simulator.
"""

from __future__ import annotations

import errno
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Any, TypeVar

from sriov_operator.errors import HostError
from sriov_operator.host.actions import (
    DEFAULT_DRIVER,
    Action,
    AddKernelArgs,
    BindDriver,
    BindVfs,
    CreateOvsBridge,
    CreateVdpaDevice,
    DeleteVdpaDevice,
    ForgetDevice,
    HostAction,
    LinkUp,
    LoadModule,
    Reboot,
    RememberDevice,
    RemoveKernelArgs,
    RemoveOvsBridge,
    RemoveUdevRules,
    RemoveVfs,
    ResetFirmware,
    RestoreEswitchMode,
    RestoreFlowSteeringMode,
    RestorePfMtu,
    SetEswitchMode,
    SetEswitchModeWithVfs,
    SetFirmwareConfig,
    SetFlowSteeringMode,
    SetHwTcOffload,
    SetModuleParameter,
    SetNumVfs,
    SetPfMtu,
    SetRdmaMode,
    SetVfAdminMac,
    SetVfGuid,
    SetVfMtu,
    UnbindVfs,
    UpdateOvsBridge,
    WriteUdevRules,
)
from sriov_operator.host.boot import clear_mark, mark_this_boot, read_boot_marks
from sriov_operator.host.bootconfig import (
    ARGS_WRITTEN,
    DEFAULT_GRUB,
    NO_BOOT_CONFIG,
    REALLOC_ARG,
    REBOOT_REQUESTED,
    BootConfig,
    bls_entries,
    detect_boot_config,
    read_cmdline,
    read_record,
    with_bls_options,
    with_grub_cmdline,
    without_bls_options,
    without_grub_cmdline,
    write_record,
)
from sriov_operator.host.infiniband import read_vf_guid
from sriov_operator.host.io import HostIO
from sriov_operator.host.mellanox import (
    FirmwareQueryError,
    Setting,
    parse_query,
    query_command,
    record_asked,
    reset_command,
    set_command,
)
from sriov_operator.host.offload import (
    FLOW_STEERING_MODE,
    HW_TC_OFFLOAD,
    pci_handle,
    read_devlink_param,
    read_tc_offload,
    set_devlink_param,
    set_tc_offload,
)
from sriov_operator.host.ovs import OvsState, normalized
from sriov_operator.host.pci import DPDK_DRIVERS, read_pci_function, virtfns
from sriov_operator.host.plan import lacks_noiommu_message
from sriov_operator.host.programs import failure
from sriov_operator.host.root import (
    PCI_DEVICES,
    PCI_DRIVERS,
    PCI_DRIVERS_PROBE,
    VFIO_NOIOMMU_PARAMETER,
    HostRoot,
)
from sriov_operator.host.state import configured_record_path, read_kernel_modules, read_rdma_mode
from sriov_operator.host.udev import rules_path
from sriov_operator.host.vdpa import (
    DRIVER_OF_TYPE,
    bind_vdpa,
    create_vdpa,
    delete_vdpa,
    read_vdpa_type,
    vdpa_exists,
    vdpa_name,
)

log = logging.getLogger(__name__)

CLEAR_OVERRIDE = "\x00"
MISSING_PROGRAM = 127  # the shell's and chroot's exit status for a program that is not there
NUMVFS_TIMEOUT_SECONDS = 120.0  # i40e has been seen to hang in sriov_numvfs
LOCK_TIMEOUT_SECONDS = 60.0


class ApplyError(HostError):
    """An action failed; the message names the action, the device and what to do."""


@dataclass(frozen=True, kw_only=True)
class HostAccess(HostIO):
    """What an executor acts through: the host's I/O channels, the host root, and how long to wait."""

    host: HostRoot
    numvfs_timeout_seconds: float = NUMVFS_TIMEOUT_SECONDS
    lock_timeout_seconds: float = LOCK_TIMEOUT_SECONDS
    parallel_nics: bool = True  # cards configured side by side (apply.apply_plan)

    @classmethod
    def on(cls, host: HostRoot, io: HostIO) -> HostAccess:
        """Every channel of ``io`` (a channel added to HostIO arrives here without a change)."""
        return cls(**{channel.name: getattr(io, channel.name) for channel in fields(io)}, host=host)


A = TypeVar("A", bound=HostAction)
Executor = Callable[[HostAccess, A], bool]
EXECUTORS: dict[type[HostAction], Executor[Any]] = {}


def executes(kind: type[A]) -> Callable[[Executor[A]], Executor[A]]:
    """Register the decorated function as the executor of ``kind`` (one per kind)."""

    def register(executor: Executor[A]) -> Executor[A]:
        if kind in EXECUTORS:
            raise TypeError(f"{kind.__name__} already has an executor")
        EXECUTORS[kind] = executor
        return executor

    return register


def execute(access: HostAccess, action: Action) -> bool:
    """True if the host was changed, False if it already was as wanted."""
    return EXECUTORS[type(action)](access, action)


def _write_with_timeout(access: HostAccess, relative: str, value: str) -> None:
    errors: list[BaseException] = []

    def write() -> None:
        try:
            access.writer.write_attribute(access.host.path(relative), value)
        except BaseException as error:  # handed to the waiting thread
            errors.append(error)

    worker = threading.Thread(target=write, daemon=True)
    worker.start()
    worker.join(access.numvfs_timeout_seconds)
    if worker.is_alive():
        raise ApplyError(
            f"/{relative}: writing {value} did not finish in {access.numvfs_timeout_seconds:g} s; "
            "the PF driver may be hung (check dmesg)"
        )
    if errors:
        raise errors[0]


@executes(RemoveVfs)
@executes(SetNumVfs)
def _set_numvfs(access: HostAccess, action: SetNumVfs) -> bool:
    relative = f"{PCI_DEVICES}/{action.pci}/sriov_numvfs"
    current = access.host.read_int(access.host.path(relative)) or 0
    if current == action.count:
        return False
    if current and action.count:
        _write_with_timeout(access, relative, "0")
    try:
        _write_with_timeout(access, relative, str(action.count))
    except OSError as error:
        if error.errno != errno.ENOMEM:
            raise
        why = f"creating {action.count} VFs on {action.pci} failed with ENOMEM (no room in the PF's BARs)"
        record = read_record(access.host)
        requested = dict(record.requested) | {REALLOC_ARG: why}
        write_record(access.host, access.writer, replace(record, requested=tuple(sorted(requested.items()))))
        raise ApplyError(
            f"{why}: the kernel needs {REALLOC_ARG}; it is planned next, with a reboot"
        ) from None
    return True


@executes(BindDriver)
def _bind(access: HostAccess, action: BindDriver) -> bool:
    host, write = access.host, access.writer.write_attribute
    pci, driver = action.pci, action.driver
    current = read_pci_function(host, pci).driver
    to_default = driver == DEFAULT_DRIVER
    if (to_default and current is not None and current not in DPDK_DRIVERS) or current == driver:
        return False
    if current is not None:
        write(host.path(PCI_DRIVERS, current, "unbind"), pci)
    override = host.path(PCI_DEVICES, pci, "driver_override")
    if to_default:
        write(override, CLEAR_OVERRIDE)
        write(host.path(PCI_DRIVERS_PROBE), pci)
        if read_pci_function(host, pci).driver is None:
            raise ApplyError(
                f"{pci}: no driver bound after drivers_probe (is its default driver loaded?); "
                "its record is kept and the restore is retried"
            )
        return True
    write(override, driver)
    try:
        write(host.path(PCI_DRIVERS, driver, "bind"), pci)
    except OSError as error:
        if not host.path(PCI_DEVICES, pci, "iommu_group").exists():
            raise ApplyError(
                f"{pci}: binding to {driver} failed ({error.strerror}): IOMMU not enabled; enable it in the "
                "BIOS and kernel (intel_iommu=on iommu=pt), or use no-IOMMU mode on a VM"
            ) from None
        raise
    finally:
        write(override, CLEAR_OVERRIDE)
    return True


def _ensure_noiommu(access: HostAccess) -> bool:
    """vfio in no-IOMMU mode, verified: a kernel without the parameter silently ignores modprobe's option."""
    modules = read_kernel_modules(access.host)
    if not modules.noiommu_supported:
        raise ApplyError(lacks_noiommu_message("vfio is loaded but ignored enable_unsafe_noiommu_mode=1"))
    if modules.noiommu_enabled:
        return False
    access.writer.write_attribute(access.host.path(VFIO_NOIOMMU_PARAMETER), "1")
    if not read_kernel_modules(access.host).noiommu_enabled:
        raise ApplyError(f"/{VFIO_NOIOMMU_PARAMETER}: wrote 1 but it still reads as off")
    return True


def _load_module(access: HostAccess, module: str, option: str | None) -> bool:
    loaded = access.host.path("sys/module", module).is_dir()
    if not loaded:
        result = access.run(["modprobe", module, *([option] if option else [])])
        if result.returncode != 0:
            raise ApplyError(f"modprobe {module} failed (exit {result.returncode}): {result.stderr.strip()}")
    # vfio loaded earlier without the option: modprobe ignored it, so set it at run time
    parameter_set = module == "vfio" and option is not None and _ensure_noiommu(access)
    return not loaded or parameter_set


@executes(LoadModule)
def _load(access: HostAccess, action: LoadModule) -> bool:
    try:
        return _load_module(access, action.module, action.option)
    except ApplyError as error:
        raise ApplyError(f"{error}; needed because {action.reason}") from None


@executes(SetModuleParameter)
def _set_parameter(access: HostAccess, action: SetModuleParameter) -> bool:
    return _load_module(access, action.module, action.option)


def _netdev_name(access: HostAccess, pci: str) -> str:
    netdev = read_pci_function(access.host, pci).netdev
    if netdev is None:
        raise ApplyError(f"{pci}: has no network interface (is a driver bound?)")
    return netdev.name


def _set_mtu(access: HostAccess, pci: str, mtu: int, only_raise: bool) -> bool:
    netdev = read_pci_function(access.host, pci).netdev
    current = netdev.mtu if netdev else None
    if current == mtu or (only_raise and current is not None and current > mtu):
        return False
    access.links.set_mtu(_netdev_name(access, pci), mtu)
    return True


@executes(SetPfMtu)
def _set_pf_mtu(access: HostAccess, action: SetPfMtu) -> bool:
    return _set_mtu(access, action.pci, action.mtu, only_raise=True)


@executes(RestorePfMtu)
def _restore_pf_mtu(access: HostAccess, action: RestorePfMtu) -> bool:
    return _set_mtu(access, action.pci, action.mtu, only_raise=False)


@executes(SetVfMtu)
def _set_vf_mtu(access: HostAccess, action: SetVfMtu) -> bool:
    return _set_mtu(access, action.pci, action.mtu, only_raise=False)


@executes(LinkUp)
def _link_up(access: HostAccess, action: LinkUp) -> bool:
    netdev = read_pci_function(access.host, action.pci).netdev
    if netdev is not None and netdev.admin_up:
        return False
    access.links.set_up(_netdev_name(access, action.pci))
    return True


def _switch_eswitch(access: HostAccess, pci: str, mode: str) -> bool:
    if access.eswitch.mode(pci) == mode:
        return False
    access.eswitch.set_mode(pci, mode)
    return True


@executes(RestoreEswitchMode)
@executes(SetEswitchMode)
def _set_eswitch(access: HostAccess, action: SetEswitchMode) -> bool:
    return _switch_eswitch(access, action.pci, action.mode)


@executes(SetEswitchModeWithVfs)
def _set_eswitch_with_vfs(access: HostAccess, action: SetEswitchModeWithVfs) -> bool:
    return _switch_eswitch(access, action.pci, action.mode)


@executes(RestoreFlowSteeringMode)
@executes(SetFlowSteeringMode)
def _set_flow_steering(access: HostAccess, action: SetFlowSteeringMode) -> bool:
    handle = pci_handle(action.pci)
    if read_devlink_param(access.run, handle, FLOW_STEERING_MODE) == action.mode:
        return False
    set_devlink_param(access.run, handle, FLOW_STEERING_MODE, action.mode)
    return True


@executes(UnbindVfs)
def _unbind_vfs(access: HostAccess, action: UnbindVfs) -> bool:
    host, changed = access.host, False
    for vf in virtfns(host, action.pci).values():
        if (driver := read_pci_function(host, vf).driver) is not None:
            access.writer.write_attribute(host.path(PCI_DRIVERS, driver, "unbind"), vf)
            changed = True
    return changed


@executes(BindVfs)
def _bind_vfs(access: HostAccess, action: BindVfs) -> bool:
    """Each VF without a driver is probed again; one that stays without is an error (the VFs are kept)."""
    host, changed = access.host, False
    for vf in virtfns(host, action.pci).values():
        if read_pci_function(host, vf).driver is None:
            access.writer.write_attribute(host.path(PCI_DRIVERS_PROBE), vf)
            if read_pci_function(host, vf).driver is None:
                raise ApplyError(f"{vf}: no driver bound after drivers_probe (is the VF driver loaded?)")
            changed = True
    return changed


def _offload_netdev(access: HostAccess, action: SetHwTcOffload) -> str:
    function = read_pci_function(access.host, action.pf)
    if action.vf_id is None:
        return _netdev_name(access, action.pf)
    name = function.representors.get(action.vf_id)
    if name is None:
        raise ApplyError(f"{action.pf}: VF {action.vf_id} has no representor (is the eswitch in switchdev?)")
    return name


@executes(SetHwTcOffload)
def _set_hw_tc_offload(access: HostAccess, action: SetHwTcOffload) -> bool:
    netdev = _offload_netdev(access, action)
    state = read_tc_offload(access.run, netdev)
    if state is None:
        raise ApplyError(
            f"{netdev}: `ethtool -k {netdev}` shows no {HW_TC_OFFLOAD} it can change "
            "(fixed by the driver, or no ethtool on the host)"
        )
    if state is action.enabled:
        return False
    set_tc_offload(access.run, netdev, action.enabled)
    return True


@executes(DeleteVdpaDevice)
def _delete_vdpa(access: HostAccess, action: DeleteVdpaDevice) -> bool:
    name = vdpa_name(action.pci)
    if not vdpa_exists(access.host, name):
        return False
    delete_vdpa(access.run, name)
    return True


@executes(CreateVdpaDevice)
def _create_vdpa(access: HostAccess, action: CreateVdpaDevice) -> bool:
    """Upstream's steps: the device on the VF's management device, then the bus driver of its type."""
    name = vdpa_name(action.pci)
    if read_vdpa_type(access.host, name) == action.vdpa_type:
        return False
    if not vdpa_exists(access.host, name):
        create_vdpa(access.run, name, pci_handle(action.pci))
    bind_vdpa(access.host, access.writer, name, DRIVER_OF_TYPE[action.vdpa_type])
    return True


@executes(SetVfAdminMac)
def _set_vf_admin_mac(access: HostAccess, action: SetVfAdminMac) -> bool:
    pf = _netdev_name(access, action.pf)
    if access.links.vf_macs(pf).get(action.vf_id, "").lower() == action.mac:
        return False
    access.links.set_vf_mac(pf, action.vf_id, action.mac)
    return True


@executes(SetVfGuid)
def _set_vf_guid(access: HostAccess, action: SetVfGuid) -> bool:
    """Node and port GUID through the PF, then the VF probed again: its driver reads them only at probe."""
    host, write = access.host, access.writer.write_attribute
    if read_vf_guid(host, action.pci) == action.guid:
        return False
    pf = _netdev_name(access, action.pf)
    access.links.set_vf_guid(pf, action.vf_id, action.guid)
    driver = read_pci_function(host, action.pci).driver
    if driver is not None and driver not in DPDK_DRIVERS:
        write(host.path(PCI_DRIVERS, driver, "unbind"), action.pci)
        write(host.path(PCI_DRIVERS_PROBE), action.pci)
    now = read_vf_guid(host, action.pci)
    if now != action.guid:
        raise ApplyError(
            f"{action.pci}: GUID {action.guid} set on {pf} vf {action.vf_id}, but after its driver probed it "
            f"again the VF reports {now or 'no RDMA device'}"
        )
    return True


@executes(RememberDevice)
def _remember(access: HostAccess, action: RememberDevice) -> bool:
    path = configured_record_path(access.host, action.pci)
    text = json.dumps(action.record.to_k8s(), indent=2, sort_keys=True) + "\n"
    if access.host.read_state_file(path) == text:
        return False
    access.writer.write_file(path, text)
    return True


def _reload_udev(access: HostAccess) -> None:
    """udev reads the rules again and replays the network devices' events (NM_UNMANAGED on VFs that exist).

    The file is what lasts: a host without udevadm, or without a running udevd, gets the
    rules when udev next starts (a warning says which and why); nothing else depends on it.
    """
    for argv in (["udevadm", "control", "--reload-rules"], ["udevadm", "trigger", "--subsystem-match=net"]):
        result = access.run(argv)
        if result.returncode != 0:
            why = "not installed" if result.returncode == MISSING_PROGRAM else result.stderr.strip()[:200]
            log.warning("%s failed (%s): udev gets the rules when it next starts", " ".join(argv), why)
            return


@executes(WriteUdevRules)
def _write_udev_rules(access: HostAccess, action: WriteUdevRules) -> bool:
    path = rules_path(access.host, action.pci)
    if access.host.read_state_file(path) == action.rules:
        return False
    access.writer.write_file(path, action.rules)
    _reload_udev(access)
    return True


@executes(RemoveUdevRules)
def _remove_udev_rules(access: HostAccess, action: RemoveUdevRules) -> bool:
    path = rules_path(access.host, action.pci)
    if not path.exists():
        return False
    access.writer.remove_file(path)
    _reload_udev(access)
    return True


@executes(ForgetDevice)
def _forget(access: HostAccess, action: ForgetDevice) -> bool:
    path = configured_record_path(access.host, action.pci)
    if not path.exists():
        return False
    access.writer.remove_file(path)
    return True


@executes(SetRdmaMode)
def _set_rdma_mode(access: HostAccess, action: SetRdmaMode) -> bool:
    if read_rdma_mode(access.host) == action.mode:
        return False
    result = access.run(["rdma", "system", "set", "netns", action.mode])
    if result.returncode != 0:
        busy = "busy" in result.stderr.lower()
        hint = (
            ": the kernel changes it only while no other network namespace exists; "
            "it is applied at boot through ib_core.netns_mode"
            if busy
            else ""
        )
        raise ApplyError(
            f"rdma system set netns {action.mode} failed (exit {result.returncode}): "
            f"{result.stderr.strip()}{hint}"
        )
    return True


def _ovs_state(access: HostAccess) -> OvsState:
    state = access.ovs.read()
    if state is None:
        raise ApplyError("no OVSDB socket on the host (var/run/openvswitch/db.sock): is OVS running?")
    return state


@executes(UpdateOvsBridge)
@executes(CreateOvsBridge)
def _ensure_ovs_bridge(access: HostAccess, action: CreateOvsBridge) -> bool:
    state = _ovs_state(access)
    found = state.bridge(action.bridge.name)
    matches = found is not None and found.ours and normalized(found.config) == normalized(action.bridge)
    if matches and state.hw_offload:
        return False
    access.ovs.ensure(action.bridge)
    return True


@executes(RemoveOvsBridge)
def _remove_ovs_bridge(access: HostAccess, action: RemoveOvsBridge) -> bool:
    if _ovs_state(access).bridge(action.name) is None:
        return False
    access.ovs.remove(action.name)
    return True


# ---- Mellanox firmware (docs/host.md "Mellanox firmware")


def _firmware_settings(access: HostAccess, pci: str) -> dict[str, Setting]:
    argv = query_command(pci)
    result = access.run(argv)
    if result.returncode != 0:
        raise ApplyError(failure(argv, result))
    try:
        return dict(parse_query(result.stdout, pci).settings)
    except FirmwareQueryError as error:
        raise ApplyError(str(error)) from None


def _firmware_next_boot(access: HostAccess, pci: str) -> dict[str, str]:
    return {name: setting.next_boot for name, setting in _firmware_settings(access, pci).items()}


@executes(SetFirmwareConfig)
def _set_firmware(access: HostAccess, action: SetFirmwareConfig) -> bool:
    """Set what differs, read it back, and record it (with this boot) for the loop guard."""
    wanted = dict(action.values)
    changing = [(n, v) for n, v in action.values if _firmware_next_boot(access, action.pci).get(n) != v]
    if changing:
        argv = set_command(action.pci, changing)
        result = access.run(argv)
        if result.returncode != 0:
            raise ApplyError(failure(argv, result))
        now = _firmware_next_boot(access, action.pci)
        if lost := [f"{n}={now.get(n)}" for n, v in changing if now.get(n) != v]:
            raise ApplyError(f"{' '.join(argv)} exited 0 but the next boot still has {', '.join(lost)}")
    record_asked(access.host, access.writer, action.pci, wanted)
    return bool(changing)


@executes(ResetFirmware)
def _reset_firmware(access: HostAccess, action: ResetFirmware) -> bool:
    """The card's VFs go first (as upstream); a failed reset is logged, not fatal: the reboot follows, and the
    loop guard tells in the next boot whether the firmware took the settings."""
    if all(s.current == s.next_boot for s in _firmware_settings(access, action.pci).values()):
        return False  # nothing waits for a firmware load
    for port in action.ports:
        relative = f"{PCI_DEVICES}/{port}/sriov_numvfs"
        if access.host.read_int(access.host.path(relative)):
            _write_with_timeout(access, relative, "0")
    argv = reset_command(action.pci)
    result = access.run(argv)
    if result.returncode != 0:
        log.warning("%s; rebooting all the same", failure(argv, result))
    return True


# ---- kernel arguments and the reboot (docs/host.md "Kernel arguments and reboots")


def _rpm_ostree(access: HostAccess, *options: str) -> str:
    result = access.run(["rpm-ostree", "kargs", *options])
    if result.returncode != 0:
        raise ApplyError(f"rpm-ostree kargs failed (exit {result.returncode}): {result.stderr.strip()}")
    return result.stdout


def _edit_kernel_args(access: HostAccess, config: BootConfig, args: tuple[str, ...], add: bool) -> set[str]:
    """Add ``args`` to (or take them out of) the boot configuration; those that changed."""
    host = access.host
    if config.loader == "rpm-ostree":
        present = _rpm_ostree(access).split()
        changing = tuple(a for a in args if (a not in present) == add)
        if changing:
            option = "--append-if-missing" if add else "--delete-if-present"
            _rpm_ostree(access, *(f"{option}={a}" for a in changing))
        return set(changing)
    files = bls_entries(host) if config.loader == "bls" else [host.path(DEFAULT_GRUB)]
    if config.loader == "bls":
        edit = with_bls_options if add else without_bls_options
    else:
        edit = with_grub_cmdline if add else without_grub_cmdline
    edits = {path: edit(host.read_state_file(path) or "", args, host.display(path)) for path in files}
    changed: set[str] = set()
    for path, (text, changing) in edits.items():  # all checked before the first write
        if changing:
            changed.update(changing)
            access.writer.write_file(path, text)
    if config.loader == "grub":
        result = access.run(["update-grub"])
        if result.returncode != 0:
            raise ApplyError(
                f"update-grub failed (exit {result.returncode}): {result.stderr.strip()}; "
                f"/{DEFAULT_GRUB} was edited ({' '.join(args)}) but grub.cfg was not regenerated"
            )
    return changed


def _change_kernel_args(access: HostAccess, args: tuple[str, ...], add: bool) -> bool:
    config = detect_boot_config(access.host)
    if config is None:
        verb = "add" if add else "remove"
        raise ApplyError(f"{NO_BOOT_CONFIG}; {verb} {' '.join(args)} yourself and reboot")
    changed = _edit_kernel_args(access, config, args, add)
    record = read_record(access.host)
    requested = tuple((arg, why) for arg, why in record.requested if arg not in args)
    if add:  # the other list is kept: a plan may add some arguments and remove others
        new = replace(record, added=tuple(sorted({*record.added, *changed})), written=args)
    else:
        new = replace(record, added=tuple(a for a in record.added if a not in args), removed=args)
    new = replace(new, where=config.where, requested=requested)
    rewritten = write_record(access.host, access.writer, new)
    mark_this_boot(access.host, access.writer, ARGS_WRITTEN)
    return bool(changed) or rewritten


@executes(AddKernelArgs)
def _add_kernel_args(access: HostAccess, action: AddKernelArgs) -> bool:
    return _change_kernel_args(access, action.args, add=True)


@executes(RemoveKernelArgs)
def _remove_kernel_args(access: HostAccess, action: RemoveKernelArgs) -> bool:
    return _change_kernel_args(access, action.args, add=False)


@executes(Reboot)
def _reboot(access: HostAccess, action: Reboot) -> bool:
    """Nothing to do once booted with the arguments, or asked for in this boot already.

    Marked before asking: once systemd has the job, this process may not get to write anything.
    """
    cmdline = read_cmdline(access.host)
    booted = not action.firmware and set(action.args) <= cmdline and not set(action.without) & cmdline
    if booted or read_boot_marks(access.host).in_this_boot(REBOOT_REQUESTED):
        return False
    mark_this_boot(access.host, access.writer, REBOOT_REQUESTED)
    result = access.run(["systemctl", "reboot"])
    if result.returncode != 0:
        clear_mark(access.host, access.writer, REBOOT_REQUESTED)
        raise ApplyError(f"systemctl reboot failed (exit {result.returncode}): {result.stderr.strip()}")
    return True
