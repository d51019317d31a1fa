"""Mellanox firmware on the simulator: mstconfig's three columns, the reboot, mstfwreset, the loop guard.

The simulated card keeps a default, a running and a next-boot value per setting:
``set`` changes the next boot only, a reboot that reloads the firmware (or
``mstfwreset``) makes it run, and the kernel offers as ``sriov_totalvfs`` what the
running firmware allows.  A card whose warm reboot keeps the old firmware is the
reboot loop upstream's users report: the loop guard stops it after one reboot.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sriov_operator.api.models import SriovNetworkNodeStateSpec
from sriov_operator.host.actions import Reboot, ResetFirmware, SetFirmwareConfig
from sriov_operator.host.apply import converge
from sriov_operator.host.boot import read_boot_marks
from sriov_operator.host.executors import ApplyError
from sriov_operator.host.mellanox import FirmwareConfig, FirmwareError, parse_query, query_command
from sriov_operator.host.node import NodeHost
from sriov_operator.host.plan import plan
from sriov_operator.host.root import HostRoot
from sriov_operator.host.simulator.builder import create_host, load_profile
from tests.doc_runner import run_console
from tests.docs_examples import example
from tests.unit.host.conftest import sim_node

PF0, PF1 = "0000:5e:00.0", "0000:5e:00.1"


def card_host(
    tmp_path: Path, *, lockdown: str = "none", firmware_reset: bool = False, **card: Any
) -> NodeHost:
    profile = load_profile("baremetal-mellanox")
    firmware = [profile.firmware[0].model_copy(update=card)]
    create_host(profile.model_copy(update={"firmware": firmware, "lockdown": lockdown}), tmp_path / "host")
    return sim_node(HostRoot(tmp_path / "host"), firmware_reset=firmware_reset)


def spec(num_vfs: int, pf: str = PF0, **extra: Any) -> SriovNetworkNodeStateSpec:
    return SriovNetworkNodeStateSpec.model_validate(
        {"interfaces": [{"pciAddress": pf, "numVfs": num_vfs, **extra}]}
    )


def firmware(node: NodeHost) -> FirmwareConfig:
    result = node.access.run(query_command(PF0))
    assert result.returncode == 0, result.stderr
    return parse_query(result.stdout, PF0)


def totalvfs(node: NodeHost, pf: str = PF0) -> int | None:
    return next(i.totalvfs for i in node.observe(checkpoint=False).interfaces if i.pci_address == pf)


def test_set_changes_the_next_boot_only_and_a_reboot_makes_it_run(tmp_path: Path) -> None:
    node = card_host(tmp_path)
    assert node.access.run(["mstconfig", "-y", "-d", PF1, "set", "NUM_OF_VFS=16"]).returncode == 0
    setting = firmware(node).settings["NUM_OF_VFS"]
    assert (setting.default, setting.current, setting.next_boot) == ("0", "8", "16")
    assert totalvfs(node) == 8  # the running firmware still offers 8
    asked = node.access.run(["mstconfig", "-d", PF0, "set", "NUM_OF_VFS=4"])  # no -y: the tool asks, and no
    assert asked.returncode == 1 and "Aborted" in asked.stderr
    assert node.access.run(["systemctl", "reboot"]).returncode == 0
    assert firmware(node).current("NUM_OF_VFS") == "16"
    assert totalvfs(node) == totalvfs(node, PF1) == 16
    refused = node.access.run(["mstconfig", "-y", "-d", PF0, "set", "NUM_OF_VFS=500"])
    assert refused.returncode == 1 and "out of range" in refused.stderr


def test_more_vfs_than_the_firmware_offers_sets_it_reboots_once_then_creates_them(tmp_path: Path) -> None:
    node = card_host(tmp_path)
    first = plan(spec(16), node.observe(checkpoint=False))
    assert [type(a) for a in first.actions] == [SetFirmwareConfig, Reboot]
    assert first.actions[0].to_output()["value"] == {"NUM_OF_VFS": "16"}
    assert first.actions[1].to_output()["value"] == [f"{PF0} NUM_OF_VFS=16"]
    boot = read_boot_marks(node.host).boot_id
    outcomes = converge(node.access, spec(16), lambda: node.observe(checkpoint=False))
    assert [o.action.kind for o in outcomes] == ["setFirmwareConfig", "reboot"]
    assert read_boot_marks(node.host).boot_id != boot
    converge(node.access, spec(16), lambda: node.observe(checkpoint=False))  # the next boot: the VFs
    pf = next(i for i in node.observe(checkpoint=False).interfaces if i.pci_address == PF0)
    assert (pf.totalvfs, pf.num_vfs) == (16, 16)
    assert not plan(spec(16), node.observe(checkpoint=False)).actions


def test_a_reboot_that_keeps_the_old_firmware_fails_with_the_values_and_never_reboots_again(
    tmp_path: Path,
) -> None:
    node = card_host(tmp_path, reloads_on_reboot=False)
    converge(node.access, spec(16), lambda: node.observe(checkpoint=False))  # set, reboot: firmware stays
    boot = read_boot_marks(node.host).boot_id
    with pytest.raises(FirmwareError) as raised:
        plan(spec(16), node.observe(checkpoint=False))
    assert str(raised.value).startswith(
        f"firmware of {PF0} still has NUM_OF_VFS=8 after a reboot that should have made it 16; "
        "not rebooting again"
    )
    with pytest.raises(FirmwareError):
        converge(node.access, spec(16), lambda: node.observe(checkpoint=False))
    assert read_boot_marks(node.host).boot_id == boot  # no second reboot


def test_the_reset_gate_reloads_the_firmware_a_warm_reboot_would_keep(tmp_path: Path) -> None:
    node = card_host(tmp_path, reloads_on_reboot=False, firmware_reset=True)
    outcomes = converge(node.access, spec(16), lambda: node.observe(checkpoint=False))
    assert [o.action.kind for o in outcomes] == ["setFirmwareConfig", "resetFirmware", "reboot"]
    assert isinstance(outcomes[1].action, ResetFirmware)
    converge(node.access, spec(16), lambda: node.observe(checkpoint=False))
    assert totalvfs(node) == 16
    assert not plan(spec(16), node.observe(checkpoint=False)).actions


def test_lockdown_refuses_what_needs_the_firmware_naming_the_pf_and_no_reboot(tmp_path: Path) -> None:
    node = card_host(tmp_path, lockdown="integrity")
    refused = node.access.run(query_command(PF0))  # the simulated tool is no kinder than the real one
    assert refused.returncode == 1 and "Operation not permitted" in refused.stderr
    with pytest.raises(
        FirmwareError, match=rf"^{PF0} \(ens2f0np0\): numVfs 16 is more than the 8 VFs .* lockdown"
    ):
        plan(spec(16), node.observe(checkpoint=False))
    assert plan(spec(4), node.observe(checkpoint=False)).actions  # within what the firmware offers: goes on
    assert not plan(spec(4), node.observe(checkpoint=False)).requires_reboot


def test_a_firmware_that_refuses_the_set_fails_the_apply_quoting_mstconfig(tmp_path: Path) -> None:
    node = card_host(tmp_path, fails="set")
    with pytest.raises(ApplyError, match=rf"mstconfig -y -d {PF0} set NUM_OF_VFS=16 failed \(exit 1\): -E- "):
        converge(node.access, spec(16), lambda: node.observe(checkpoint=False))
    assert firmware(node).next_boot("NUM_OF_VFS") == "8"
    broken = card_host(tmp_path / "other", fails="query")
    with pytest.raises(FirmwareError, match="Failed to query device current configuration"):
        plan(spec(16), broken.observe(checkpoint=False))


def test_sriov_off_in_the_firmware_means_no_sriov_files_until_it_is_on(tmp_path: Path) -> None:
    node = card_host(tmp_path)
    assert node.access.run(["mstconfig", "-y", "-d", PF0, "set", "SRIOV_EN=False"]).returncode == 0
    assert node.access.run(["systemctl", "reboot"]).returncode == 0
    assert not node.host.path("sys/bus/pci/devices", PF0, "sriov_totalvfs").exists()
    assert all(i.pci_address != PF0 for i in node.observe(checkpoint=False).interfaces)


def test_the_documented_firmware_plan_runs(tmp_path: Path) -> None:
    steps = run_console(example("mellanox-firmware-plan"), tmp_path)
    assert [step.command.split()[1] for step in steps if step.command.startswith("sriov-operator")] == [
        "simulate-host",
        "plan",
        "apply",
        "discover",
    ]
