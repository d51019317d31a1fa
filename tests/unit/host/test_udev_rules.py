"""udev rules: NetworkManager leaves our VFs alone, switchdev names stay, the rules go with the policy.

The rules and when to write them are pure; that NetworkManager would really leave
the VFs unmanaged is shown on the simulated udev, which (like udev) applies a rule
only to the events that follow it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import pytest

from sriov_operator.api.models import SriovNetworkNodeStateSpec
from sriov_operator.host.apply import converge
from sriov_operator.host.plan import plan
from sriov_operator.host.programs import CommandResult
from sriov_operator.host.root import PCI_DEVICES, HostRoot
from sriov_operator.host.simulator.host_io import SimulatedCommandRunner
from sriov_operator.host.simulator.kernel import SimulatedKernel
from sriov_operator.host.state import HostState, read_udev_rules
from sriov_operator.host.udev import VfLayout, pf_rules
from tests.unit.host.conftest import sim_node
from tests.unit.host.test_plan_requirements import PF, bare_metal, group, pf, wanted

INTEL_PF = "0000:3b:00.1"
LAYOUT = {PF: VfLayout(offset=16, stride=1)}


def udev_actions(interfaces: list[Any], host: HostState) -> list[tuple[str, str]]:
    actions = plan(SriovNetworkNodeStateSpec(interfaces=interfaces), host).actions
    return [(a.kind, a.target) for a in actions if "Udev" in a.kind]


def test_each_vf_of_the_pf_is_unmanaged_by_the_address_it_will_have() -> None:
    rules = pf_rules(PF, "ens1f0", 2, VfLayout(offset=16, stride=1), switchdev=False)
    body = [line for line in rules.splitlines() if not line.startswith("#")]
    assert body == [
        'SUBSYSTEM=="net", ACTION=="add|change|move", KERNELS=="0000:3b:02.0", ENV{NM_UNMANAGED}="1"',
        'SUBSYSTEM=="net", ACTION=="add|change|move", KERNELS=="0000:3b:02.1", ENV{NM_UNMANAGED}="1"',
    ]


def test_switchdev_keeps_the_pf_name_and_names_each_representor() -> None:
    rules = pf_rules(PF, "ens1f0np0", 2, None, switchdev=True)
    assert rules.splitlines()[1:] == [
        'SUBSYSTEM=="net", ACTION=="add", DRIVERS=="?*", KERNELS=="0000:3b:00.0", '
        'ATTR{phys_port_name}!="pf*vf*", NAME="ens1f0np0"',
        'SUBSYSTEM=="net", ACTION=="add|move", KERNELS=="0000:3b:00.0", ATTR{phys_port_name}=="pf*vf0", '
        'NAME="ens1f0np0_0"',
        'SUBSYSTEM=="net", ACTION=="add|move", KERNELS=="0000:3b:00.0", ATTR{phys_port_name}=="pf*vf1", '
        'NAME="ens1f0np0_1"',
    ]


def test_a_pf_name_that_could_change_a_rule_is_never_written_into_one() -> None:
    rules = pf_rules(PF, 'x", RUN+="/bin/sh', 2, None, switchdev=True)
    assert "NAME=" not in rules and "RUN" not in rules


def test_rules_are_written_before_the_vfs_and_only_when_they_differ() -> None:
    spec = [wanted(groups=[group()], numVfs=4)]
    fresh = plan(SriovNetworkNodeStateSpec(interfaces=spec), bare_metal(pf(), vf_layouts=LAYOUT))
    kinds = [a.kind for a in fresh.actions]
    assert kinds.index("writeUdevRules") < kinds.index("setNumVfs")
    written = next(a.shown_value() for a in fresh.actions if a.kind == "writeUdevRules")
    assert written.count("NM_UNMANAGED") == 4
    same = bare_metal(pf(), vf_layouts=LAYOUT, udev_rules={PF: written})
    assert udev_actions(spec, same) == []


def test_rules_go_when_the_pf_leaves_the_spec_or_keeps_no_vfs() -> None:
    ours = {PF: "# ours\n"}
    assert udev_actions([], bare_metal(pf(), udev_rules=ours)) == [("removeUdevRules", PF)]
    no_vfs = [wanted(numVfs=0)]
    assert udev_actions(no_vfs, bare_metal(pf(numVfs=0, Vfs=[]), udev_rules=ours)) == [
        ("removeUdevRules", PF)
    ]


def spec(num_vfs: int) -> SriovNetworkNodeStateSpec:
    groups = [{"resourceName": "net", "deviceType": "netdevice", "vfRange": f"0-{num_vfs - 1}"}]
    return SriovNetworkNodeStateSpec.model_validate(
        {"interfaces": [{"pciAddress": INTEL_PF, "numVfs": num_vfs, "vfGroups": groups}]}
    )


def vf_names(node: Any) -> list[str]:
    vfs = next(i for i in node.discover(checkpoint=False).interfaces if i.pci_address == INTEL_PF).vfs
    return [vf.name for vf in vfs or [] if vf.name]


def test_networkmanager_leaves_the_vfs_we_create_unmanaged(intel_host: HostRoot) -> None:
    node = sim_node(intel_host)
    converge(node.access, spec(4), node.observe)
    kernel = SimulatedKernel.load(intel_host.root)
    assert len(vf_names(node)) == 4
    assert [kernel.nm_managed(name) for name in vf_names(node)] == [False] * 4
    assert kernel.nm_managed("ens1f1")  # the PF itself stays NetworkManager's


def test_vfs_made_without_our_rules_are_managed_and_the_rules_go_with_the_policy(
    intel_host: HostRoot,
) -> None:
    node = sim_node(intel_host)
    numvfs = intel_host.path(PCI_DEVICES, INTEL_PF, "sriov_numvfs")
    node.access.writer.write_attribute(numvfs, "2")  # someone else's VFs: NetworkManager takes them
    assert all(SimulatedKernel.load(intel_host.root).nm_managed(name) for name in vf_names(node))
    converge(node.access, spec(2), node.observe)  # the VFs exist already: udevadm trigger reaches them
    assert not any(SimulatedKernel.load(intel_host.root).nm_managed(name) for name in vf_names(node))
    converge(node.access, SriovNetworkNodeStateSpec(), node.observe)
    assert not list(intel_host.path("etc/udev/rules.d").iterdir())
    node.access.writer.write_attribute(numvfs, "2")
    assert all(SimulatedKernel.load(intel_host.root).nm_managed(name) for name in vf_names(node))


class NoUdevRunner(SimulatedCommandRunner):
    def __call__(self, argv: Sequence[str]) -> CommandResult:
        if argv[0] == "udevadm":
            return CommandResult(1, "", "Failed to send reload request: No such file or directory")
        return super().__call__(argv)


def test_without_a_running_udevd_the_rules_are_still_written_and_a_warning_says_so(
    intel_host: HostRoot, caplog: pytest.LogCaptureFixture
) -> None:
    node = sim_node(intel_host)
    access = dataclasses.replace(node.access, run=NoUdevRunner(intel_host.root))
    converge(access, spec(2), node.observe)
    assert list(read_udev_rules(intel_host)) == [INTEL_PF]
    assert "udevadm control --reload-rules failed (Failed to send reload request" in caplog.text
