"""Parallel NIC configuration: cards side by side, each card's actions in run order, modules first.

The split is pure (`Plan.by_card`); that cards really run at the same time is
shown on the simulated kernel with a barrier both cards must reach (sequential
runs never would), never with a clock.
"""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import pytest

from sriov_operator.api.models import SriovNetworkNodeStateSpec
from sriov_operator.host.actions import (
    BindDriver,
    LinkUp,
    LoadModule,
    Reboot,
    SetNumVfs,
    SetRdmaMode,
    SetVfMtu,
)
from sriov_operator.host.apply import apply_plan, converge
from sriov_operator.host.executors import ApplyError
from sriov_operator.host.node import NodeHost
from sriov_operator.host.plan import Plan, plan
from sriov_operator.host.root import HostRoot
from sriov_operator.host.simulator.builder import create_host
from sriov_operator.host.simulator.host_io import SimulatedWriter
from sriov_operator.host.simulator.model import Profile, SimDevice, SimNetdev, SimSriov
from tests.unit.host.conftest import sim_node

CARD_A = ("0000:3b:00.0", "0000:3b:00.1")  # a dual-port NIC
CARD_B = "0000:5e:00.0"
VF_OF_A = "0000:3b:02.0"


def test_modules_first_then_one_part_per_card_with_its_vfs_in_run_order() -> None:
    actions = (
        LoadModule("vfio_pci", reason=""),
        SetNumVfs(CARD_A[0], 4, reason=""),
        SetNumVfs(CARD_B, 4, reason=""),
        LinkUp(CARD_A[1], reason=""),
        BindDriver(VF_OF_A, "vfio-pci", reason=""),
        SetVfMtu("0000:5f:00.2", 9000, reason=""),
        SetRdmaMode("exclusive", reason=""),
        Reboot(("intel_iommu=on",), reason=""),
    )
    cards = {VF_OF_A: "0000:3b:00", "0000:5f:00.2": "0000:5e:00"}
    before, parts, after = Plan(actions, cards=cards).by_card()
    assert before == (actions[0],)
    assert parts == ((actions[1], actions[3], actions[4]), (actions[2], actions[5]))
    assert after == (actions[6], actions[7])  # the RDMA mode and the reboot wait for every card


def test_a_plan_without_device_actions_runs_them_once_before_any_card() -> None:
    actions = (LoadModule("vfio_pci", reason=""), Reboot(("intel_iommu=on",), reason=""))
    assert Plan(actions).by_card() == (actions, (), ())


def _profile() -> Profile:
    def pf(address: str, name: str, offset: int) -> SimDevice:
        sriov = SimSriov(totalvfs=8, offset=offset, vf_device="154c", vf_driver="iavf")
        netdev = SimNetdev(name=name, mac=f"3c:fd:fe:a1:00:{offset:02x}")
        return SimDevice(
            address=address, vendor="8086", device="158b", driver="i40e", netdev=netdev, sriov=sriov
        )

    devices = [pf(CARD_A[0], "ens1f0", 16), pf(CARD_A[1], "ens1f1", 32), pf(CARD_B, "ens2f0", 16)]
    return Profile(
        description="two NICs", platform="baremetal", iommu=True, modules=["i40e", "iavf"], devices=devices
    )


@pytest.fixture
def two_nics(tmp_path: Path) -> HostRoot:
    create_host(_profile(), tmp_path / "host")
    return HostRoot(tmp_path / "host")


def _vfs_everywhere() -> SriovNetworkNodeStateSpec:
    interfaces = [{"pciAddress": pci, "numVfs": 4} for pci in (*CARD_A, CARD_B)]
    return SriovNetworkNodeStateSpec.model_validate({"interfaces": interfaces})


class MeetingWriter(SimulatedWriter):
    """Each card's first ``sriov_numvfs`` write waits until the other card's has started too."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.meeting = threading.Barrier(2, timeout=30)  # broken (failing the write) if no other card comes
        self.order: list[str] = []
        self.met: set[str] = set()

    def write_attribute(self, path: Path, value: str) -> None:
        if path.name == "sriov_numvfs":
            device = path.parent.name
            self.order.append(device)
            card = device.rpartition(".")[0]
            if card not in self.met:
                self.met.add(card)
                self.meeting.wait()
        super().write_attribute(path, value)


def _with(node: NodeHost, writer: SimulatedWriter, parallel: bool) -> NodeHost:
    return dataclasses.replace(
        node, access=dataclasses.replace(node.access, writer=writer, parallel_nics=parallel)
    )


def test_two_cards_are_configured_at_the_same_time_and_a_cards_ports_one_after_another(
    two_nics: HostRoot,
) -> None:
    node = sim_node(two_nics)
    writer = MeetingWriter(two_nics.root)
    parallel = _with(node, writer, parallel=True)
    converge(parallel.access, _vfs_everywhere(), parallel.observe)
    assert {i.pci_address: i.num_vfs for i in node.discover(checkpoint=False).interfaces} == {
        CARD_A[0]: 4,
        CARD_A[1]: 4,
        CARD_B: 4,
    }
    ports_of_a = [device for device in writer.order if device in CARD_A]
    assert ports_of_a == list(CARD_A)  # one card's ports in plan order, in one thread


class CountingWriter(SimulatedWriter):
    """How many kernel-attribute writes were under way at once, at most."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.lock = threading.Lock()
        self.now = self.most = 0

    def write_attribute(self, path: Path, value: str) -> None:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            super().write_attribute(path, value)
        finally:
            with self.lock:
                self.now -= 1


def test_with_parallel_nics_off_one_write_at_a_time(two_nics: HostRoot) -> None:
    node = sim_node(two_nics)
    writer = CountingWriter(two_nics.root)
    sequential = _with(node, writer, parallel=False)
    converge(sequential.access, _vfs_everywhere(), sequential.observe)
    assert {i.num_vfs for i in node.discover(checkpoint=False).interfaces} == {4}
    assert writer.most == 1


class FailingWriter(SimulatedWriter):
    def write_attribute(self, path: Path, value: str) -> None:
        if path.name == "sriov_numvfs" and path.parent.name == CARD_B:
            raise OSError(5, "Input/output error", str(path))
        super().write_attribute(path, value)


def test_a_failing_card_does_not_stop_the_others_and_is_named(two_nics: HostRoot) -> None:
    node = _with(sim_node(two_nics), FailingWriter(two_nics.root), parallel=True)
    steps = plan(_vfs_everywhere(), node.observe())
    with pytest.raises(ApplyError, match=f"setNumVfs {CARD_B}: .*Input/output error"):
        apply_plan(node.access, steps)
    found = {i.pci_address: i.num_vfs for i in node.discover(checkpoint=False).interfaces}
    assert found == {CARD_A[0]: 4, CARD_A[1]: 4, CARD_B: 0}


def test_outcomes_are_listed_in_plan_order_whichever_card_finished_first(two_nics: HostRoot) -> None:
    node = sim_node(two_nics)
    steps = plan(_vfs_everywhere(), node.observe())
    outcomes = apply_plan(node.access, steps)
    assert [o.action for o in outcomes] == list(steps.actions)
    assert {o.result for o in outcomes} == {"done"}
