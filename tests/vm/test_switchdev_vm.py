"""Switchdev and vDPA on a real kernel: netdevsim and vdpa_sim_net, built out of tree into the bundle.

One guest with no NICs boots once and runs `netdevsim_guest.py`: the host layer's devlink eSwitch
(netlink), devlink parameters and ethtool (programs), representor discovery (sysfs) and vDPA
(``vdpa`` and the vDPA bus) against the kernel's own drivers.  What netdevsim cannot show is listed in
docs/vm.md ("Switchdev on netdevsim"): its VFs are not PCI functions (no ``virtfn`` links, nothing to
unbind or bind), it has no ``flow_steering_mode``, it lets the mode change with VFs (ice refuses;
the simulator's ``baremetal-ice`` does too), and the guest has no udev to rename representors.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sriov_vmtest.bundle import Bundle
from sriov_vmtest.machine import MachineSpec
from tests.vm.support import Scenario, booted

pytestmark = [pytest.mark.vm, pytest.mark.timeout(900)]

GUEST_SCRIPT = ["python3", "/project/tests/vm/netdevsim_guest.py"]


@pytest.fixture(scope="module")
def netdevsim(
    vm_bundle: Bundle, vm_accel: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Scenario]:
    spec = MachineSpec(name="netdevsim", nics=())
    with booted(spec, vm_bundle, vm_accel, tmp_path_factory.mktemp(spec.name)) as vm:
        scenario = Scenario(vm)
        scenario.run("switchdev and vDPA", GUEST_SCRIPT)
        scenario.report()
        yield scenario


@pytest.fixture(scope="module")
def seen(netdevsim: Scenario) -> dict[str, Any]:
    result = netdevsim["switchdev and vDPA"]
    assert result.returncode == 0, str(result)
    answer: dict[str, Any] = result.json()
    return answer


def test_vfs_created_in_legacy_mode_have_no_representors(seen: dict[str, Any]) -> None:
    assert seen["modprobe netdevsim"] == 0
    assert seen["mode at first"] == "legacy"
    assert seen["legacy with VFs"]["representors"] == {}


def test_switchdev_over_devlink_gives_each_vf_a_named_representor(seen: dict[str, Any]) -> None:
    assert seen["mode after set"] == "switchdev"
    switchdev = seen["switchdev"]
    representors = switchdev["representors"]
    assert sorted(representors) == ["0", "1"]
    assert {switchdev["portNames"][representors[vf]] for vf in representors} == {"pf0vf0", "pf0vf1"}
    assert switchdev["uplink"] not in representors.values()  # the uplink (p<n>) is the PF, not a representor


def test_hw_tc_offload_is_turned_on_on_the_uplink_and_each_representor(seen: dict[str, Any]) -> None:
    before, after = seen["hw-tc-offload before"], seen["hw-tc-offload after"]
    assert len(after) == 3
    assert set(before.values()) == {False} and set(after.values()) == {True}


def test_back_to_legacy_the_representors_go(seen: dict[str, Any]) -> None:
    assert seen["mode back"] == "legacy"
    assert seen["legacy again"]["representors"] == {}
    assert seen["legacy again"]["uplink"] == seen["switchdev"]["uplink"]


def test_a_device_without_flow_steering_mode_reads_as_having_none(seen: dict[str, Any]) -> None:
    assert seen["flow_steering_mode"] is None  # planned only where the device has the parameter


def test_vdpa_devices_are_created_bound_by_type_and_deleted(seen: dict[str, Any]) -> None:
    assert seen["vdpa modules"] == ""
    assert seen["vdpa created"] is True
    assert seen["vdpa type vhost"] == "vhost" and seen["vhost-vdpa nodes"] == ["vhost-vdpa-0"]
    assert seen["vdpa type virtio"] == "virtio"
    assert seen["vdpa after delete"] is False
