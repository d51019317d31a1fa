"""Kernel arguments, pure: the planner's rules, the loop guard, and the boot-configuration edits."""

from __future__ import annotations

from typing import Any

import pytest

from sriov_operator.api.models import SriovNetworkNodeStateSpec
from sriov_operator.host.bootconfig import (
    BootConfig,
    BootConfigError,
    BootState,
    WrittenArgs,
    with_bls_options,
    with_grub_cmdline,
)
from sriov_operator.host.kernel_args import KernelArgsNotAppliedError
from sriov_operator.host.plan import PlanError, plan
from sriov_operator.host.state import HostState, KernelModules
from tests.unit.host.test_plan_requirements import group, pf, wanted

BLS = BootConfig("bls", "/boot/loader/entries/a.conf")
IOMMU_ARGS = ["intel_iommu=on", "iommu=pt"]


def dpdk_spec() -> SriovNetworkNodeStateSpec:
    return SriovNetworkNodeStateSpec(interfaces=[wanted(groups=[group("vfio-pci")])])


def no_iommu_host(**boot: Any) -> HostState:
    state = BootState(**{"config": BLS, "cpu_vendor": "GenuineIntel", **boot})
    return HostState("baremetal", [pf()], modules=KernelModules(), iommu_enabled=False, boot=state)


def shown(spec: SriovNetworkNodeStateSpec, host: HostState) -> list[tuple[str, Any, str]]:
    return [(a.kind, a.shown_value(), a.requires) for a in plan(spec, host).actions]


def test_vfio_without_an_iommu_writes_the_iommu_arguments_and_reboots_and_plans_nothing_else() -> None:
    result = plan(dpdk_spec(), no_iommu_host())
    assert [(a.kind, a.shown_value(), a.requires) for a in result.actions] == [
        ("addKernelArgs", IOMMU_ARGS, "reboot"),
        ("reboot", IOMMU_ARGS, "reboot"),
    ]
    assert result.requires_reboot and result.requires_drain
    assert "vfGroups[0] wants vfio-pci" in result.actions[0].reason
    assert "/boot/loader/entries/a.conf" in result.actions[0].describe()


def test_arguments_written_in_this_boot_are_not_written_again_only_the_reboot_is_planned() -> None:
    host = no_iommu_host(written=WrittenArgs(tuple(IOMMU_ARGS), BLS.where, in_this_boot=True))
    assert shown(dpdk_spec(), host) == [("reboot", IOMMU_ARGS, "reboot")]


def test_loop_guard_an_argument_written_before_the_last_reboot_and_still_missing_is_refused() -> None:
    host = no_iommu_host(
        cmdline=frozenset({"iommu=pt"}), written=WrittenArgs(tuple(IOMMU_ARGS), BLS.where, in_this_boot=False)
    )
    with pytest.raises(KernelArgsNotAppliedError) as caught:
        plan(dpdk_spec(), host)
    message = str(caught.value)
    assert "intel_iommu=on" in message and BLS.where in message and "not rebooting again" in message
    assert "iommu=pt was" not in message  # only what is missing is named


def test_arguments_on_the_command_line_need_nothing_and_the_iommu_missing_then_is_the_bios() -> None:
    host = no_iommu_host(cmdline=frozenset(IOMMU_ARGS))
    with pytest.raises(PlanError, match="enable VT-d/AMD-Vi in the BIOS"):
        plan(dpdk_spec(), host)


def test_no_boot_configuration_is_said_with_the_arguments_to_add() -> None:
    with pytest.raises(KernelArgsNotAppliedError) as caught:
        plan(dpdk_spec(), no_iommu_host(config=None))
    assert "no boot configuration found" in str(caught.value)
    assert "intel_iommu=on iommu=pt" in str(caught.value)


def test_an_amd_host_gets_no_intel_arguments() -> None:
    with pytest.raises(PlanError, match="IOMMU is not enabled"):
        plan(dpdk_spec(), no_iommu_host(cpu_vendor="AuthenticAMD"))


def test_netdevice_groups_need_no_iommu_argument() -> None:
    spec = SriovNetworkNodeStateSpec(interfaces=[wanted(groups=[group()])])
    assert "addKernelArgs" not in [kind for kind, _, _ in shown(spec, no_iommu_host())]


def test_enomem_from_vf_creation_asks_for_pci_realloc() -> None:
    spec = SriovNetworkNodeStateSpec(interfaces=[wanted(groups=[group()])])
    host = no_iommu_host(requested=(("pci=realloc", "creating 2 VFs failed with ENOMEM"),))
    assert shown(spec, host) == [
        ("addKernelArgs", ["pci=realloc"], "reboot"),
        ("reboot", ["pci=realloc"], "reboot"),
    ]
    booted = no_iommu_host(requested=host.boot.requested, cmdline=frozenset({"pci=realloc"}))
    assert "addKernelArgs" not in [kind for kind, _, _ in shown(spec, booted)]


def test_a_bls_entry_gets_only_the_arguments_it_lacks() -> None:
    text = "title Linux\nlinux /vmlinuz\noptions root=/dev/sda2 iommu=pt\n"
    edited, missing = with_bls_options(text, ("intel_iommu=on", "iommu=pt"), "e.conf")
    assert edited == "title Linux\nlinux /vmlinuz\noptions root=/dev/sda2 iommu=pt intel_iommu=on\n"
    assert missing == ("intel_iommu=on",)
    assert with_bls_options(edited, ("intel_iommu=on",), "e.conf") == (edited, ())


def test_a_bls_entry_with_grubenv_options_is_refused_naming_it() -> None:
    with pytest.raises(BootConfigError, match=r"e\.conf: options '\$kernelopts'"):
        with_bls_options("options $kernelopts\n", ("pci=realloc",), "e.conf")


def test_default_grub_keeps_its_arguments_and_adds_ours_to_the_last_cmdline_line() -> None:
    text = 'GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT="quiet"\nGRUB_CMDLINE_LINUX="console=ttyS0"\n'
    edited, missing = with_grub_cmdline(text, ("pci=realloc",), "/etc/default/grub")
    assert edited.splitlines() == [
        "GRUB_DEFAULT=0",
        'GRUB_CMDLINE_LINUX_DEFAULT="quiet"',
        'GRUB_CMDLINE_LINUX="console=ttyS0 pci=realloc"',
    ]
    assert missing == ("pci=realloc",)
    added = with_grub_cmdline("GRUB_DEFAULT=0\n", ("a=1",), "g")[0]
    assert added == 'GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX="a=1"\n'


def test_default_grub_with_shell_expansions_is_refused() -> None:
    with pytest.raises(BootConfigError, match="not a plain quoted list"):
        with_grub_cmdline('GRUB_CMDLINE_LINUX="$EXTRA quiet"\n', ("pci=realloc",), "/etc/default/grub")
