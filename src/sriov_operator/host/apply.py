"""Carry out a plan on the host, idempotently: each action checks the host first and skips what holds.

All writes go through the HostWriter, all programs through the CommandRunner
and link changes through the LinkControl, so the same code drives a real host
and the simulator.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from sriov_operator.api.models import SriovNetworkNodeStateSpec
from sriov_operator.errors import HostError
from sriov_operator.host.devlink import EswitchControl
from sriov_operator.host.links import LinkControl
from sriov_operator.host.lock import host_lock
from sriov_operator.host.pci import DPDK_DRIVERS, read_pci_function
from sriov_operator.host.plan import DEFAULT_DRIVER, Action, Plan, lacks_noiommu_message, plan
from sriov_operator.host.programs import CommandRunner
from sriov_operator.host.root import (
    PCI_DEVICES,
    PCI_DRIVERS,
    PCI_DRIVERS_PROBE,
    VFIO_NOIOMMU_PARAMETER,
    HostRoot,
)
from sriov_operator.host.state import HostState, configured_record_path, read_kernel_modules
from sriov_operator.host.writer import HostWriter

CLEAR_OVERRIDE = "\x00"
NUMVFS_TIMEOUT_SECONDS = 120.0  # i40e has been seen to hang in sriov_numvfs
MAX_ROUNDS = 3
LOCK_TIMEOUT_SECONDS = 60.0


class ApplyError(HostError):
    """An action failed; the message names the action, the device and what to do."""


@dataclass(frozen=True)
class HostAccess:
    host: HostRoot
    writer: HostWriter
    run: CommandRunner
    links: LinkControl
    eswitch: EswitchControl
    numvfs_timeout_seconds: float = NUMVFS_TIMEOUT_SECONDS
    lock_timeout_seconds: float = LOCK_TIMEOUT_SECONDS


@dataclass(frozen=True)
class Outcome:
    action: Action
    result: Literal["done", "already"]

    def to_output(self) -> dict[str, object]:
        return {**self.action.to_output(), "result": self.result}


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


def _set_numvfs(access: HostAccess, pci: str, count: int) -> bool:
    relative = f"{PCI_DEVICES}/{pci}/sriov_numvfs"
    current = access.host.read_int(access.host.path(relative)) or 0
    if current == count:
        return False
    if current and count:
        _write_with_timeout(access, relative, "0")
    _write_with_timeout(access, relative, str(count))
    return True


def _bind(access: HostAccess, pci: str, driver: str) -> bool:
    host, write = access.host, access.writer.write_attribute
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


def _link_up(access: HostAccess, pci: str) -> bool:
    netdev = read_pci_function(access.host, pci).netdev
    if netdev is not None and netdev.admin_up:
        return False
    access.links.set_up(_netdev_name(access, pci))
    return True


def _set_eswitch(access: HostAccess, pci: str, mode: str) -> bool:
    if access.eswitch.mode(pci) == mode:
        return False
    access.eswitch.set_mode(pci, mode)
    return True


def _remember(access: HostAccess, pci: str, record: object) -> bool:
    path = configured_record_path(access.host, pci)
    text = json.dumps(record, indent=2, sort_keys=True) + "\n"
    if access.host.read_state_file(path) == text:
        return False
    access.writer.write_file(path, text)
    return True


def _forget(access: HostAccess, pci: str) -> bool:
    path = configured_record_path(access.host, pci)
    if not path.exists():
        return False
    access.writer.remove_file(path)
    return True


def _execute(access: HostAccess, action: Action) -> bool:
    """True if the host was changed, False if it already was as wanted."""
    target, value = action.target, action.value
    match action.action:
        case "loadModule" | "setModuleParameter":
            return _load_module(access, target, value if isinstance(value, str) else None)
        case "setNumVfs":
            return _set_numvfs(access, target, int(str(value)))
        case "setPfMtu" | "setVfMtu":
            return _set_mtu(access, target, int(str(value)), only_raise=action.action == "setPfMtu")
        case "linkUp":
            return _link_up(access, target)
        case "setESwitchMode":
            return _set_eswitch(access, target, str(value))
        case "bindDriver":
            return _bind(access, target, str(value))
        case "rememberDevice":
            return _remember(access, target, value)
        case "forgetDevice":
            return _forget(access, target)


def _failure(access: HostAccess, action: Action, error: OSError) -> ApplyError:
    """``setModuleParameter vfio: /sys/module/…: No such file or directory``: action, host path, reason."""
    where = f"{access.host.display(error.filename)}: " if error.filename else ""
    return ApplyError(f"{action.action} {action.target}: {where}{error.strerror or error}")


def apply_plan(access: HostAccess, to_apply: Plan) -> list[Outcome]:
    outcomes = []
    for action in to_apply.actions:
        try:
            changed = _execute(access, action)
        except OSError as error:
            raise _failure(access, action, error) from None
        outcomes.append(Outcome(action, "done" if changed else "already"))
    return outcomes


def converge(
    access: HostAccess, desired: SriovNetworkNodeStateSpec, observe: Callable[[], HostState]
) -> list[Outcome]:
    """Plan, apply, look again, until the plan is empty: VFs created in one round get drivers in the next.

    Holds the host lock throughout, so two appliers never interleave.
    """
    with host_lock(access.host, access.writer, access.lock_timeout_seconds):
        return _converge(access, desired, observe)


def _converge(
    access: HostAccess, desired: SriovNetworkNodeStateSpec, observe: Callable[[], HostState]
) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for _ in range(MAX_ROUNDS):
        next_plan = plan(desired, observe())
        if not next_plan.actions:
            return outcomes
        outcomes += apply_plan(access, next_plan)
    remaining = plan(desired, observe())
    if remaining.actions:
        raise ApplyError(
            f"host still differs from the spec after {MAX_ROUNDS} rounds: "
            + "; ".join(a.reason for a in remaining.actions)
        )
    return outcomes
