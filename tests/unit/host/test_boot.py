"""Boot marks on a host root: read against the kernel's boot id, kept across a (simulated) reboot."""

from __future__ import annotations

from pathlib import Path

import pytest

from sriov_operator.host.boot import BOOT_ID, BOOT_MARKS_FILE, BootMarks, mark_this_boot, read_boot_marks
from sriov_operator.host.root import HostFileError, HostRoot
from sriov_operator.host.simulator.builder import create_host, load_profile
from sriov_operator.host.simulator.host_io import SimulatedWriter
from sriov_operator.host.simulator.kernel import SimulatedKernel


def test_a_mark_holds_in_its_boot_and_not_after_a_reboot(tmp_path: Path) -> None:
    create_host(load_profile("baremetal-intel"), tmp_path)
    host = HostRoot(tmp_path)
    marks = read_boot_marks(host)
    assert marks.boot_id == (tmp_path / BOOT_ID).read_text().strip()
    assert marks.marks == {}
    mark_this_boot(host, SimulatedWriter(tmp_path), "devicePluginHandedOver")
    assert read_boot_marks(host).in_this_boot("devicePluginHandedOver")
    written = (tmp_path / BOOT_MARKS_FILE).stat().st_mtime_ns
    mark_this_boot(host, SimulatedWriter(tmp_path), "devicePluginHandedOver")
    assert (tmp_path / BOOT_MARKS_FILE).stat().st_mtime_ns == written  # already marked: not written again
    with SimulatedKernel.transaction(tmp_path) as kernel:
        kernel.reboot()
    after = read_boot_marks(host)
    assert after.marks == {"devicePluginHandedOver": marks.boot_id}  # the file under etc/ survives
    assert not after.in_this_boot("devicePluginHandedOver")


def test_unknown_boot_sets_and_matches_nothing() -> None:
    unknown = BootMarks(None, {"devicePluginWithdrawn": "x"})
    assert unknown.with_mark("devicePluginHandedOver") == unknown
    assert not unknown.in_this_boot("devicePluginWithdrawn")


@pytest.mark.parametrize("text", ["not json", '["a"]', '{"devicePluginWithdrawn": 3}'])
def test_marks_we_did_not_write_are_refused_naming_the_file(tmp_path: Path, text: str) -> None:
    (tmp_path / BOOT_MARKS_FILE).parent.mkdir(parents=True)
    (tmp_path / BOOT_MARKS_FILE).write_text(text)
    with pytest.raises(HostFileError, match=r"^/etc/sriov-operator/boot-marks\.json: not our boot marks"):
        read_boot_marks(HostRoot(tmp_path))


def test_a_reboot_brings_a_pf_back_with_its_boot_mtu_and_link_state(tmp_path: Path) -> None:
    """Run-time settings of a PF that stays on its driver are not kept either: no kinder than a kernel."""
    create_host(load_profile("baremetal-intel"), tmp_path)
    netdev = tmp_path / "sys/class/net/ens1f0"
    booted = (netdev / "mtu").read_text(), (netdev / "flags").read_text()
    writer = SimulatedWriter(tmp_path)
    writer.write_attribute(netdev / "mtu", "9000")
    writer.write_attribute(netdev / "flags", "0x1002")
    assert ((netdev / "mtu").read_text(), (netdev / "flags").read_text()) != booted
    with SimulatedKernel.transaction(tmp_path) as kernel:
        kernel.reboot()
    assert ((netdev / "mtu").read_text(), (netdev / "flags").read_text()) == booted
