"""RDMA subsystem mode from spec.system.rdmaMode: the rules (pure) and the simulated kernel.

The kernel changes the netns mode at run time only while no other network
namespace exists; a node with pods has some, so exclusive mode is made
persistent with ``ib_core.netns_mode=0`` and a reboot, and shared mode takes
that argument out again, but only if the operator added it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sriov_operator.api.models import SriovNetworkNodeStateSpec, System
from sriov_operator.host.apply import converge
from sriov_operator.host.bootconfig import BLS_ENTRIES, BootConfig, BootState, WrittenArgs, read_cmdline
from sriov_operator.host.executors import ApplyError
from sriov_operator.host.kernel_args import KernelArgsNotAppliedError
from sriov_operator.host.plan import plan
from sriov_operator.host.root import HostRoot
from sriov_operator.host.simulator.builder import create_host, load_profile
from sriov_operator.host.simulator.kernel import SimulatedKernel
from sriov_operator.host.state import HostState, read_rdma_mode
from tests.unit.host.conftest import sim_node

ARG = "ib_core.netns_mode=0"
GRUB = BootConfig("grub", "/etc/default/grub (then update-grub)")


def spec(mode: str) -> SriovNetworkNodeStateSpec:
    return SriovNetworkNodeStateSpec(system=System(rdma_mode=mode))  # type: ignore[arg-type]


def host(rdma_mode: str | None = "shared", **boot: Any) -> HostState:
    return HostState("baremetal", [], rdma_mode=rdma_mode, boot=BootState(**{"config": GRUB, **boot}))  # type: ignore[arg-type]


def shown(desired: SriovNetworkNodeStateSpec, state: HostState) -> list[tuple[str, Any]]:
    return [(a.kind, a.shown_value()) for a in plan(desired, state).actions]


def test_exclusive_writes_the_ib_core_argument_and_reboots() -> None:
    assert shown(spec("exclusive"), host()) == [("addKernelArgs", [ARG]), ("reboot", [ARG])]


def test_exclusive_booted_with_the_argument_but_switched_back_at_run_time_is_set_at_run_time() -> None:
    assert shown(spec("exclusive"), host(cmdline=frozenset({ARG}))) == [("setRdmaMode", "exclusive")]
    assert shown(spec("exclusive"), host("exclusive", cmdline=frozenset({ARG}))) == []


def test_shared_takes_out_only_an_argument_we_added() -> None:
    ours = host("exclusive", cmdline=frozenset({ARG}), added=(ARG,))
    assert shown(spec("shared"), ours) == [("removeKernelArgs", [ARG]), ("reboot", [f"-{ARG}"])]
    with pytest.raises(KernelArgsNotAppliedError, match="not added by the operator"):
        plan(spec("shared"), host("exclusive", cmdline=frozenset({ARG})))


def test_shared_without_the_argument_is_set_at_run_time() -> None:
    assert shown(spec("shared"), host("exclusive")) == [("setRdmaMode", "shared")]


def test_loop_guard_an_argument_taken_out_but_still_booted_is_not_rebooted_for_again() -> None:
    written = WrittenArgs((), GRUB.where, in_this_boot=False, removed=(ARG,))
    with pytest.raises(KernelArgsNotAppliedError, match=r"ib_core\.netns_mode=0 .*still has it"):
        plan(spec("shared"), host("exclusive", cmdline=frozenset({ARG}), written=written))


def test_on_the_simulator_exclusive_then_shared_goes_through_grub_and_two_reboots(tmp_path: Path) -> None:
    root = tmp_path / "host"
    create_host(load_profile("baremetal-mellanox"), root)
    node = sim_node(HostRoot(root))
    assert read_rdma_mode(node.host) == "shared"

    converge(node.access, spec("exclusive"), node.observe)
    assert ARG in read_cmdline(node.host) and read_rdma_mode(node.host) == "exclusive"
    assert ARG in node.host.path("etc/default/grub").read_text()

    converge(node.access, spec("shared"), node.observe)
    assert ARG not in read_cmdline(node.host) and read_rdma_mode(node.host) == "shared"
    assert ARG not in node.host.path("etc/default/grub").read_text()
    assert not node.host.path(BLS_ENTRIES).exists()


def test_on_the_simulator_a_run_time_change_with_pods_fails_naming_the_cause(tmp_path: Path) -> None:
    profile = load_profile("baremetal-mellanox")
    create_host(profile.model_copy(update={"cmdline": f"{profile.cmdline} {ARG}"}), tmp_path / "host")
    with SimulatedKernel.transaction(tmp_path / "host") as kernel:
        kernel.state.other_netns = 3  # pods
        kernel.set_ib_core_mode("shared")  # an administrator switched it at run time before the pods came
    node = sim_node(HostRoot(tmp_path / "host"))
    with pytest.raises(
        ApplyError, match="Device or resource busy: the kernel changes it only while no other net"
    ):
        converge(node.access, spec("exclusive"), node.observe)
