"""Kernel arguments on the simulator: the boot configuration written, the reboot, what the next boot has.

The simulated boot loader is no kinder than a real one: the next boot gets what
the boot loader reads (a BLS entry, grub.cfg, the rpm-ostree deployment), and
the IOMMU turns on only when the kernel boots with ``intel_iommu=on``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sriov_operator.api.models import SriovNetworkNodeStateSpec
from sriov_operator.host.actions import AddKernelArgs, Reboot
from sriov_operator.host.apply import apply_plan, converge
from sriov_operator.host.boot import read_boot_marks
from sriov_operator.host.bootconfig import KERNEL_ARGS_FILE, bls_entries, read_cmdline
from sriov_operator.host.executors import ApplyError
from sriov_operator.host.kernel_args import KernelArgsNotAppliedError
from sriov_operator.host.node import NodeHost
from sriov_operator.host.plan import Plan, plan
from sriov_operator.host.root import HostRoot
from sriov_operator.host.simulator.boot_loader import GRUB_CFG, boot_args
from sriov_operator.host.simulator.builder import create_host, load_profile
from sriov_operator.host.simulator.kernel import SimulatedKernel
from tests.unit.host.conftest import sim_node

PF = "0000:3b:00.1"
WITHOUT_IOMMU = "BOOT_IMAGE=/vmlinuz root=/dev/sda2 ro"
IOMMU_ARGS = ("intel_iommu=on", "iommu=pt")


def host_of(tmp_path: Path, name: str = "baremetal-intel", **update: Any) -> NodeHost:
    profile = load_profile(name).model_copy(update={"cmdline": WITHOUT_IOMMU, **update})
    create_host(profile, tmp_path / "host")
    return sim_node(HostRoot(tmp_path / "host"))


def dpdk(num_vfs: int = 2, device_type: str = "vfio-pci") -> SriovNetworkNodeStateSpec:
    group = {"resourceName": "dpdk", "deviceType": device_type, "vfRange": f"0-{num_vfs - 1}"}
    return SriovNetworkNodeStateSpec.model_validate(
        {"interfaces": [{"pciAddress": PF, "numVfs": num_vfs, "vfGroups": [group]}]}
    )


def boot_id(node: NodeHost) -> str | None:
    return read_boot_marks(node.host).boot_id


def record(node: NodeHost) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(node.host.path(KERNEL_ARGS_FILE).read_text())
    return body


def test_dpdk_on_a_host_booted_without_an_iommu_writes_bls_reboots_then_binds_vfio(tmp_path: Path) -> None:
    node = host_of(tmp_path)
    assert not node.observe(checkpoint=False).iommu_enabled
    first = boot_id(node)

    outcomes = converge(node.access, dpdk(), node.observe)

    assert [o.action.kind for o in outcomes] == ["addKernelArgs", "reboot"]  # nothing else before the boot
    (entry,) = bls_entries(node.host)
    assert "options root=/dev/sda2 ro intel_iommu=on iommu=pt" in entry.read_text()
    assert boot_id(node) != first and set(IOMMU_ARGS) <= read_cmdline(node.host)
    assert record(node)["added"] == sorted(IOMMU_ARGS)

    converge(node.access, dpdk(), node.observe)  # the next boot: the rest of the plan
    vfs = node.observe(checkpoint=False).interfaces
    bound = [vf.driver for i in vfs if i.pci_address == PF for vf in i.vfs or []]
    assert bound == ["vfio-pci", "vfio-pci"]
    vf = next(vf.pci_address for i in vfs if i.pci_address == PF for vf in i.vfs or [])
    assert node.host.path("sys/bus/pci/devices", vf, "iommu_group").is_symlink()  # a real IOMMU group
    again = boot_id(node)
    assert converge(node.access, dpdk(), node.observe) == [] and boot_id(node) == again  # writes nothing


def test_an_argument_already_in_the_boot_entry_is_not_recorded_as_ours(tmp_path: Path) -> None:
    node = host_of(tmp_path, cmdline=f"{WITHOUT_IOMMU} iommu=pt")
    converge(node.access, dpdk(), node.observe)
    assert record(node)["added"] == ["intel_iommu=on"]  # iommu=pt was the administrator's


def test_loop_guard_an_argument_the_boot_loader_dropped_fails_without_a_second_reboot(tmp_path: Path) -> None:
    node = host_of(tmp_path)
    add, reboot = plan(dpdk(), node.observe(checkpoint=False)).actions
    apply_plan(node.access, Plan((add,)))
    (entry,) = bls_entries(node.host)
    entry.write_text(entry.read_text().replace(" intel_iommu=on", ""))  # e.g. a kernel update rewrote it
    apply_plan(node.access, Plan((reboot,)))
    after = boot_id(node)

    with pytest.raises(KernelArgsNotAppliedError) as caught:
        converge(node.access, dpdk(), node.observe)
    assert "intel_iommu=on" in str(caught.value) and "/boot/loader/entries/" in str(caught.value)
    assert boot_id(node) == after  # no reboot


def test_default_grub_is_written_and_update_grub_regenerates_what_the_next_boot_reads(tmp_path: Path) -> None:
    node = host_of(tmp_path, "baremetal-mellanox")
    pf = "0000:5e:00.0"
    spec = dpdk().model_copy(
        update={"interfaces": [dpdk().interfaces[0].model_copy(update={"pci_address": pf})]}
    )  # type: ignore[index]
    converge(node.access, spec, node.observe)
    assert 'GRUB_CMDLINE_LINUX="root=/dev/sda2 ro intel_iommu=on iommu=pt"' in (
        node.host.path("etc/default/grub").read_text()
    )
    assert set(IOMMU_ARGS) <= read_cmdline(node.host)


def test_the_simulated_boot_loader_ignores_default_grub_until_update_grub(tmp_path: Path) -> None:
    node = host_of(tmp_path, "baremetal-mellanox")
    grub = node.host.path("etc/default/grub")
    grub.write_text(grub.read_text().replace('ro"', 'ro pci=realloc"'))
    kernel = SimulatedKernel.load(node.host.root)
    assert "pci=realloc" not in boot_args(node.host.root, kernel.state)
    assert node.access.run(["update-grub"]).returncode == 0
    assert "pci=realloc" in node.host.path(GRUB_CFG).read_text()


def test_rpm_ostree_kargs_are_appended_to_the_pending_deployment(tmp_path: Path) -> None:
    node = host_of(tmp_path, boot_loader="rpm-ostree")
    converge(node.access, dpdk(), node.observe)
    assert set(IOMMU_ARGS) <= read_cmdline(node.host)
    assert record(node)["written"] == {"args": list(IOMMU_ARGS), "removed": [], "where": "rpm-ostree kargs"}


def test_no_boot_configuration_is_said_and_nothing_is_written(tmp_path: Path) -> None:
    node = host_of(tmp_path, boot_loader=None)
    with pytest.raises(KernelArgsNotAppliedError, match="no boot configuration found"):
        converge(node.access, dpdk(), node.observe)
    assert not node.host.path(KERNEL_ARGS_FILE).exists()


def test_enomem_creating_vfs_leads_to_pci_realloc_and_then_the_vfs(tmp_path: Path) -> None:
    profile = load_profile("baremetal-intel")
    devices = [
        d.model_copy(update={"sriov": d.sriov.model_copy(update={"bar_vfs": 4})}) if d.sriov else d
        for d in profile.devices
    ]
    create_host(profile.model_copy(update={"devices": devices}), tmp_path / "host")
    node = sim_node(HostRoot(tmp_path / "host"))
    spec = dpdk(8, "netdevice")
    with pytest.raises(ApplyError, match=r"ENOMEM.*pci=realloc"):
        converge(node.access, spec, node.observe)
    assert [type(a) for a in plan(spec, node.observe(checkpoint=False)).actions] == [AddKernelArgs, Reboot]
    converge(node.access, spec, node.observe)  # writes pci=realloc and reboots
    assert "pci=realloc" in read_cmdline(node.host)
    converge(node.access, spec, node.observe)
    pf = next(i for i in node.observe(checkpoint=False).interfaces if i.pci_address == PF)
    assert pf.num_vfs == 8
