"""Which kernel arguments the spec needs, and the loop guard: pure rules over the host's boot state.

Needed (as upstream): ``intel_iommu=on iommu=pt`` for vfio-pci on bare metal
without an IOMMU, ``pci=realloc`` after creating VFs failed with ENOMEM, and
``ib_core.netns_mode=0`` for RDMA exclusive mode (taken out again, if we added
it, for shared mode; an argument we did not add is never taken out).  An argument missing from
``/proc/cmdline`` is written into the boot configuration and the node reboots;
nothing else is planned until then (the reboot undoes it anyway).

Loop guard: an argument written in an earlier boot and still missing from
``/proc/cmdline`` means the boot loader did not use what we wrote: another
reboot would not help, so the plan is refused, naming the argument and where
it was written.
"""

from __future__ import annotations

from sriov_operator.api.models import SriovNetworkNodeStateSpec
from sriov_operator.api.platforms import is_virtual
from sriov_operator.errors import BadInputError
from sriov_operator.host.actions import Action, AddKernelArgs, Reboot, RemoveKernelArgs, SetRdmaMode
from sriov_operator.host.bootconfig import NO_BOOT_CONFIG, REALLOC_ARG, BootState
from sriov_operator.host.state import HostState

VFIO_DRIVER = "vfio-pci"
INTEL_IOMMU_ARGS = ("intel_iommu=on", "iommu=pt")
AMD_VENDOR = "AuthenticAMD"
RDMA_EXCLUSIVE_ARG = (
    "ib_core.netns_mode=0"  # ib_core reads it when it loads; changing it later fails with EBUSY
)


class KernelArgsNotAppliedError(BadInputError):
    """Arguments written before the last reboot are not on the command line: no second reboot."""


def _vfio_needs_iommu(desired: SriovNetworkNodeStateSpec, host: HostState) -> str | None:
    """Why the IOMMU arguments are needed, or None (a VM, no vfio group, IOMMU on, no-IOMMU mode chosen, AMD:
    its IOMMU is on by default, so a missing one is the BIOS's, not the command line's)."""
    if is_virtual(host.platform) or host.iommu_enabled or host.modules.noiommu_enabled:
        return None
    if host.boot.cpu_vendor == AMD_VENDOR:
        return None
    for index, interface in enumerate(desired.interfaces or []):
        for number, group in enumerate(interface.vf_groups or []):
            if group.device_type == VFIO_DRIVER:
                return f"spec.interfaces[{index}].vfGroups[{number}] wants vfio-pci and the IOMMU is off"
    return None


def needed_kernel_args(desired: SriovNetworkNodeStateSpec, host: HostState) -> dict[str, str]:
    """Argument -> why, for every argument the spec needs on this host (on the command line or not)."""
    needed: dict[str, str] = {}
    if why := _vfio_needs_iommu(desired, host):
        needed |= dict.fromkeys(INTEL_IOMMU_ARGS, why)
    requested = dict(host.boot.requested)
    if REALLOC_ARG in requested:
        needed[REALLOC_ARG] = requested[REALLOC_ARG]
    if desired.system is not None and desired.system.rdma_mode == "exclusive":
        needed[RDMA_EXCLUSIVE_ARG] = "system.rdmaMode exclusive (kept across reboots by ib_core.netns_mode)"
    return needed


def unwanted_kernel_args(desired: SriovNetworkNodeStateSpec) -> dict[str, str]:
    """Argument -> why, for arguments the spec contradicts (taken out only if we added them)."""
    if desired.system is not None and desired.system.rdma_mode == "shared":
        return {RDMA_EXCLUSIVE_ARG: "system.rdmaMode shared"}
    return {}


def _guard(missing: dict[str, str], extra: dict[str, str], boot: BootState) -> None:
    """The loop guard, then arguments we may not take out."""
    written = boot.written
    if written is not None and not written.in_this_boot:
        stuck = [(a, "still lacks it") for a in missing if a in written.args]
        stuck += [(a, "still has it") for a in extra if a in written.removed]
        if stuck:
            arg, how = stuck[0]
            raise KernelArgsNotAppliedError(
                f"kernel argument {arg} was written to {written.where} before the last reboot, but "
                f"/proc/cmdline {how}: the boot loader did not use that entry; not rebooting again "
                "(fix the boot loader's default entry and reboot, or remove "
                "/etc/sriov-operator/kernel-args.json to let the operator write it again)"
            )
    if others := [a for a in extra if a not in boot.added]:
        raise KernelArgsNotAppliedError(
            f"{extra[others[0]]}: kernel argument {others[0]} is on the command line but was not added by "
            "the operator, which never removes one it did not add: remove it yourself and reboot"
        )
    if boot.config is None:
        changes = " ".join([*missing, *(f"without {a}" for a in extra)])
        raise KernelArgsNotAppliedError(
            f"{next(iter({**missing, **extra}.values()))}: the kernel needs {changes}, but {NO_BOOT_CONFIG}; "
            "change the kernel command line yourself, then reboot"
        )


def kernel_arg_actions(desired: SriovNetworkNodeStateSpec, host: HostState) -> list[Action]:
    """The boot-configuration writes and the reboot, or nothing when the command line is as needed."""
    boot = host.boot
    missing = {arg: why for arg, why in needed_kernel_args(desired, host).items() if arg not in boot.cmdline}
    extra = {arg: why for arg, why in unwanted_kernel_args(desired).items() if arg in boot.cmdline}
    if not missing and not extra:
        return []
    _guard(missing, extra, boot)
    assert boot.config is not None  # _guard refused otherwise
    written = boot.written if boot.written is not None and boot.written.in_this_boot else None
    to_add = tuple(a for a in missing if written is None or a not in written.args)
    to_remove = tuple(a for a in extra if written is None or a not in written.removed)
    where = f"({boot.config.loader} boot configuration)"
    actions: list[Action] = []
    if to_add:
        why = "; ".join(sorted({missing[arg] for arg in to_add}))
        reason = f"{why}: {' '.join(to_add)} not on /proc/cmdline {where}"
        actions.append(AddKernelArgs(args=to_add, where=boot.config.where, reason=reason))
    if to_remove:
        why = "; ".join(sorted({extra[arg] for arg in to_remove}))
        reason = f"{why}: {' '.join(to_remove)} (added by the operator) is on /proc/cmdline {where}"
        actions.append(RemoveKernelArgs(args=to_remove, where=boot.config.where, reason=reason))
    note = "requested in this boot: waiting for it" if boot.reboot_requested else "the rest follows after it"
    changes = " ".join([*missing, *(f"without {a}" for a in extra)])
    reason = f"the command line changes ({changes}) only at boot; {note}"
    actions.append(Reboot(args=tuple(missing), without=tuple(extra), reason=reason))
    return actions


def rdma_mode_actions(desired: SriovNetworkNodeStateSpec, host: HostState) -> list[Action]:
    """The mode set at run time when the command line already is as needed (ib_core loaded)."""
    wanted = desired.system.rdma_mode if desired.system is not None else None
    if wanted is None or host.rdma_mode is None or host.rdma_mode == wanted:
        return []
    reason = f"system.rdmaMode {wanted}; the RDMA subsystem is in {host.rdma_mode} mode"
    return [SetRdmaMode(wanted, reason=reason)]
