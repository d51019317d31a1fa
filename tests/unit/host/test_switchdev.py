"""Switchdev per driver, hw-tc-offload, flow steering, representors and vDPA, on the simulated kernel.

The simulated kernel is no kinder than the real one: ice refuses an eSwitch change while VFs exist,
mlx5 refuses a flow steering change in switchdev, and ``vdpa dev add`` finds no management device on
a VF of a legacy PF.  So the order each plan takes is checked by the kernel, not only by the test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sriov_operator.api.models import InterfaceExt, SriovNetworkNodeStateSpec
from sriov_operator.errors import EXIT_CHANGES
from sriov_operator.host.actions import RemoveVfs, SetEswitchMode, SetNumVfs
from sriov_operator.host.apply import apply_plan, converge
from sriov_operator.host.executors import ApplyError
from sriov_operator.host.node import NodeHost
from sriov_operator.host.plan import Plan, plan
from tests.doc_runner import run_console
from tests.docs_examples import example
from tests.support import REPO_ROOT
from tests.unit.host.conftest import make_host, sim_node

MLX_PF, MLX_PF2 = "0000:5e:00.0", "0000:5e:00.1"
ICE_PF = "0000:51:00.0"


def spec(pci: str, num_vfs: int, mode: str | None = "switchdev", **group: Any) -> SriovNetworkNodeStateSpec:
    groups = [{"resourceName": "offload", "vfRange": f"0-{num_vfs - 1}", "policyName": "hwoffload1", **group}]
    interface = {
        "pciAddress": pci,
        "numVfs": num_vfs,
        "eSwitchMode": mode,
        "vfGroups": groups if num_vfs else [],
    }
    return SriovNetworkNodeStateSpec.model_validate({"interfaces": [interface]})


def kinds(node: NodeHost, desired: SriovNetworkNodeStateSpec) -> list[str]:
    return [action.kind for action in plan(desired, node.observe(checkpoint=False)).actions]


def pf_of(node: NodeHost, pci: str) -> InterfaceExt:
    return next(i for i in node.discover(checkpoint=False).interfaces if i.pci_address == pci)


@pytest.fixture
def mlx(tmp_path: Path) -> NodeHost:
    return sim_node(make_host(tmp_path, "baremetal-mellanox"))


@pytest.fixture
def ice(tmp_path: Path) -> NodeHost:
    return sim_node(make_host(tmp_path, "baremetal-ice"))


def test_mlx5_creates_vfs_in_legacy_then_unbinds_them_switches_and_binds_them(mlx: NodeHost) -> None:
    steps = kinds(mlx, spec(MLX_PF2, 4))
    assert steps == [
        "rememberDevice",
        "writeUdevRules",
        "setFlowSteeringMode",  # dmfs -> smfs while still legacy
        "setNumVfs",
        "unbindVFs",
        "setESwitchModeWithVFs",
        "bindVFs",
        "setHwTcOffload",
    ]


def test_mlx5_reasons_say_the_order_in_words(mlx: NodeHost) -> None:
    reasons = {a.kind: a.reason for a in plan(spec(MLX_PF2, 4), mlx.observe(checkpoint=False)).actions}
    assert (
        "mlx5_core creates VFs in legacy mode and changes the eswitch with them unbound"
        in reasons["setESwitchModeWithVFs"]
    )
    assert "eswitch legacy -> switchdev once its VFs exist" in reasons["setESwitchModeWithVFs"]
    assert "flow_steering_mode dmfs -> smfs" in reasons["setFlowSteeringMode"]
    assert "hw-tc-offload" in reasons["setHwTcOffload"]


def test_mlx5_switchdev_converges_with_offload_on_every_representor(mlx: NodeHost) -> None:
    converge(mlx.access, spec(MLX_PF2, 4), mlx.observe)
    pf = pf_of(mlx, MLX_PF2)
    state = mlx.observe(checkpoint=False)
    assert pf.e_switch_mode == "switchdev" and pf.num_vfs == 4
    assert pf.vfs and all(vf.driver == "mlx5_core" for vf in pf.vfs)
    representors = [vf.representor_name for vf in pf.vfs]
    assert representors == ["ens2f1np1_0", "ens2f1np1_1", "ens2f1np1_2", "ens2f1np1_3"]  # in status
    assert all(state.tc_offload[name] for name in [pf.name or "", *filter(None, representors)])
    assert state.flow_steering[MLX_PF2] == "smfs"
    assert plan(spec(MLX_PF2, 4), state).actions == ()


def test_mlx5_in_switchdev_changing_its_vf_count_goes_through_legacy(mlx: NodeHost) -> None:
    converge(mlx.access, spec(MLX_PF2, 4), mlx.observe)
    assert kinds(mlx, spec(MLX_PF2, 2)) == [
        "rememberDevice",
        "writeUdevRules",
        "removeVFs",
        "setESwitchMode",  # legacy
        "setNumVfs",
        "unbindVFs",
        "setESwitchModeWithVFs",  # switchdev again
        "bindVFs",
        "setHwTcOffload",
    ]
    converge(mlx.access, spec(MLX_PF2, 2), mlx.observe)
    assert (pf_of(mlx, MLX_PF2).e_switch_mode, pf_of(mlx, MLX_PF2).num_vfs) == ("switchdev", 2)


def test_mlx5_back_to_legacy_with_its_vfs_unbinds_them_first(mlx: NodeHost) -> None:
    converge(mlx.access, spec(MLX_PF2, 2), mlx.observe)
    steps = kinds(mlx, spec(MLX_PF2, 2, mode="legacy"))
    assert steps[-3:] == ["unbindVFs", "setESwitchModeWithVFs", "bindVFs"]
    converge(mlx.access, spec(MLX_PF2, 2, mode="legacy"), mlx.observe)
    pf = pf_of(mlx, MLX_PF2)
    assert pf.e_switch_mode == "legacy" and pf.vfs and all(vf.representor_name is None for vf in pf.vfs)


def test_a_pf_leaving_the_spec_gets_back_its_mode_flow_steering_and_offload(mlx: NodeHost) -> None:
    converge(mlx.access, spec(MLX_PF2, 2), mlx.observe)
    left = SriovNetworkNodeStateSpec()
    assert kinds(mlx, left) == [
        "setNumVfs",
        "restoreESwitchMode",
        "restoreFlowSteeringMode",
        "setHwTcOffload",
        "removeUdevRules",
        "forgetDevice",
    ]
    converge(mlx.access, left, mlx.observe)
    state, pf = mlx.observe(checkpoint=False), pf_of(mlx, MLX_PF2)
    assert (pf.e_switch_mode, pf.num_vfs, state.flow_steering[MLX_PF2]) == ("legacy", 0, "dmfs")
    assert state.tc_offload[pf.name or ""] is False


def test_ice_removes_its_vfs_switches_then_creates_them(ice: NodeHost) -> None:
    steps = kinds(ice, spec(ICE_PF, 4))
    assert steps == [
        "rememberDevice",
        "writeUdevRules",
        "removeVFs",
        "setESwitchMode",
        "setNumVfs",
        "setHwTcOffload",
    ]
    converge(ice.access, spec(ICE_PF, 4), ice.observe)
    pf = pf_of(ice, ICE_PF)
    assert pf.e_switch_mode == "switchdev" and pf.vfs and all(vf.representor_name for vf in pf.vfs)


def test_the_simulated_ice_refuses_a_mode_change_while_vfs_exist(ice: NodeHost) -> None:
    with pytest.raises(ApplyError, match=r"setESwitchMode 0000:51:00\.0: .*Operation not supported"):
        apply_plan(ice.access, Plan((SetEswitchMode(ICE_PF, "switchdev", reason="mlx5's order"),)))
    apply_plan(
        ice.access, Plan((RemoveVfs(ICE_PF, reason="t"), SetEswitchMode(ICE_PF, "switchdev", reason="t")))
    )
    assert pf_of(ice, ICE_PF).e_switch_mode == "switchdev"


def test_the_simulated_mlx5_refuses_a_flow_steering_change_in_switchdev(mlx: NodeHost) -> None:
    converge(mlx.access, spec(MLX_PF2, 2), mlx.observe)
    result = mlx.access.run(["devlink", "dev", "param", "set", f"pci/{MLX_PF2}", "name", "flow_steering_mode",
                             "value", "dmfs", "cmode", "runtime"])  # fmt: skip
    assert result.returncode == 1 and "Operation not supported" in result.stderr


def test_vdpa_devices_on_switchdev_vfs_are_reported_and_removed_with_the_type(mlx: NodeHost) -> None:
    converge(mlx.access, spec(MLX_PF2, 2, vdpaType="vhost"), mlx.observe)
    pf = pf_of(mlx, MLX_PF2)
    assert pf.vfs and [vf.vdpa_type for vf in pf.vfs] == ["vhost", "vhost"]
    assert mlx.host.path("sys/bus/vdpa/devices", f"vdpa:{pf.vfs[0].pci_address}").is_dir()
    converge(mlx.access, spec(MLX_PF2, 2, vdpaType="virtio"), mlx.observe)
    assert [vf.vdpa_type for vf in pf_of(mlx, MLX_PF2).vfs or []] == ["virtio", "virtio"]
    assert kinds(mlx, spec(MLX_PF2, 2)) == ["rememberDevice", "deleteVdpaDevice", "deleteVdpaDevice"]
    converge(mlx.access, spec(MLX_PF2, 2), mlx.observe)
    assert [vf.vdpa_type for vf in pf_of(mlx, MLX_PF2).vfs or []] == [None, None]


def test_vdpa_plan_loads_the_bus_driver_of_its_type(mlx: NodeHost) -> None:
    converge(mlx.access, spec(MLX_PF2, 1), mlx.observe)
    assert kinds(mlx, spec(MLX_PF2, 1, vdpaType="vhost")) == [
        "loadModule",
        "rememberDevice",
        "createVdpaDevice",
    ]


def test_vdpa_type_without_switchdev_is_a_warning_not_an_action(mlx: NodeHost) -> None:
    planned = plan(spec(MLX_PF2, 1, mode="legacy", vdpaType="virtio"), mlx.observe(checkpoint=False))
    assert "createVdpaDevice" not in [a.kind for a in planned.actions]
    assert planned.warnings == (
        "spec.interfaces[0].vfGroups[0]: vdpaType 'virtio' needs eSwitchMode switchdev: not applied",
    )


def test_a_representor_whose_offload_went_off_gets_it_back(mlx: NodeHost, tmp_path: Path) -> None:
    converge(mlx.access, spec(MLX_PF2, 2), mlx.observe)
    representor = (pf_of(mlx, MLX_PF2).vfs or [])[1].representor_name or ""
    assert mlx.access.run(["ethtool", "-K", representor, "hw-tc-offload", "off"]).returncode == 0
    planned = plan(spec(MLX_PF2, 2), mlx.observe(checkpoint=False)).actions
    assert [(a.kind, a.describe()) for a in planned] == [
        ("setHwTcOffload", f"turn hw-tc-offload on on the representor of VF 1 of {MLX_PF2}")
    ]


def test_a_vf_count_change_alone_keeps_its_driver_order(mlx: NodeHost) -> None:
    """Without an eSwitch wish the mode is left alone: only the count changes, as before."""
    assert kinds(mlx, spec(MLX_PF2, 2, mode=None))[-1:] == ["setNumVfs"]
    assert isinstance(plan(spec(MLX_PF2, 2, mode=None), mlx.observe(checkpoint=False)).actions[-1], SetNumVfs)


def test_the_documented_switchdev_plan_of_hwoffload1_runs(tmp_path: Path) -> None:
    steps = run_console(example("switchdev-plan"), tmp_path)
    assert [step.command.split()[1] for step in steps if step.command.startswith("sriov-operator")] == [
        "simulate-host",
        "plan",
        "apply",
        "discover",
    ]


def test_the_documented_switchdev_diff_shows_the_order_and_why() -> None:
    steps = run_console(example("switchdev-diff"), REPO_ROOT)
    assert steps[0].status == EXIT_CHANGES
    whys = [line.split(":")[1].strip() for line in steps[0].printed.splitlines() if "why:" in line]
    assert whys == ["setNumVfs", "unbindVFs", "setESwitchModeWithVFs"]


def test_an_externally_managed_switchdev_pf_keeps_its_offload_setting(mlx: NodeHost) -> None:
    converge(mlx.access, spec(MLX_PF2, 2), mlx.observe)
    uplink = pf_of(mlx, MLX_PF2).name or ""
    assert mlx.access.run(["ethtool", "-K", uplink, "hw-tc-offload", "off"]).returncode == 0
    managed = spec(MLX_PF2, 2).model_copy(deep=True)
    (interface,) = managed.interfaces or []
    interface.externally_managed = True
    assert "setHwTcOffload" not in kinds(mlx, managed)
    assert "setHwTcOffload" in kinds(mlx, spec(MLX_PF2, 2))
