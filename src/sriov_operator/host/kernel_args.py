"""Which kernel arguments the spec needs, and the loop guard: pure rules over the host's boot state.

Needed (as upstream): ``intel_iommu=on iommu=pt`` for vfio-pci on bare metal
without an IOMMU, and ``pci=realloc`` after creating VFs failed with ENOMEM.  An argument missing from
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
from sriov_operator.host.actions import Action, AddKernelArgs, Reboot
from sriov_operator.host.bootconfig import NO_BOOT_CONFIG, REALLOC_ARG
from sriov_operator.host.state import HostState

VFIO_DRIVER = "vfio-pci"
INTEL_IOMMU_ARGS = ("intel_iommu=on", "iommu=pt")
AMD_VENDOR = "AuthenticAMD"


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
    return needed


def kernel_arg_actions(desired: SriovNetworkNodeStateSpec, host: HostState) -> list[Action]:
    """The boot-configuration write and the reboot, or nothing when the command line has all it needs."""
    boot = host.boot
    missing = {arg: why for arg, why in needed_kernel_args(desired, host).items() if arg not in boot.cmdline}
    if not missing:
        return []
    written = boot.written
    pending = set(written.args) if written is not None and written.in_this_boot else set()
    stuck = [arg for arg in missing if written is not None and arg in written.args and arg not in pending]
    if stuck and written is not None:
        raise KernelArgsNotAppliedError(
            f"kernel argument {stuck[0]} was written to {written.where} before the last reboot, but "
            f"/proc/cmdline still lacks it: the boot loader did not use that entry; not rebooting again "
            "(fix the boot loader's default entry and reboot, or remove /etc/sriov-operator/kernel-args.json "
            "to let the operator write it again)"
        )
    if boot.config is None:
        wanted = " ".join(missing)
        raise KernelArgsNotAppliedError(
            f"{next(iter(missing.values()))}: the kernel needs {wanted}, but {NO_BOOT_CONFIG}; "
            f"add {wanted} to the kernel command line yourself, then reboot"
        )
    to_write = tuple(arg for arg in missing if arg not in pending)
    actions: list[Action] = []
    if to_write:
        why = "; ".join(sorted({missing[arg] for arg in to_write}))
        reason = f"{why}: {' '.join(to_write)} not on /proc/cmdline ({boot.config.loader} boot configuration)"
        actions.append(AddKernelArgs(args=to_write, where=boot.config.where, reason=reason))
    waiting = " ".join(missing)
    note = "requested in this boot: waiting for it" if boot.reboot_requested else "the rest follows after it"
    reason = f"{waiting} take effect only at boot; {note}"
    actions.append(Reboot(args=tuple(missing), reason=reason))
    return actions
