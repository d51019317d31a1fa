"""Plans in words, from real plans of simulated hosts."""

from __future__ import annotations

from pathlib import Path

from sriov_operator.api.models import Interface, SriovNetworkNodeStateSpec, VfGroup
from sriov_operator.daemon.explain import MAX_LINES, explain_plan, summarize
from sriov_operator.host.node import NodeHost
from sriov_operator.host.plan import plan
from sriov_operator.host.simulator.builder import create_host, load_profile
from sriov_operator.host.simulator.host_io import simulated_io


def _host(tmp_path: Path, profile: str) -> NodeHost:
    create_host(load_profile(profile), tmp_path / profile)
    return NodeHost.open(tmp_path / profile, io=simulated_io(tmp_path / profile))


def _group(policy: str, device_type: str, vf_range: str) -> VfGroup:
    return VfGroup.model_validate(
        {"resourceName": policy, "deviceType": device_type, "vfRange": vf_range, "policyName": policy}
    )


def test_dpdk_port_on_a_vm(tmp_path: Path) -> None:
    node = _host(tmp_path, "openstack-vm")
    spec = SriovNetworkNodeStateSpec(
        interfaces=[
            Interface(pci_address="0000:00:04.0", num_vfs=1, vf_groups=[_group("dpdk1", "vfio-pci", "0-0")])
        ]
    )
    state = node.observe(checkpoint=False)
    lines = explain_plan(plan(spec, state), spec, state.interfaces)
    assert "will bind 0000:00:04.0 to vfio-pci (no drain): policy dpdk1" in lines
    assert any(
        line.startswith("will load vfio with enable_unsafe_noiommu_mode=1 (no drain): ") for line in lines
    )


def test_bare_metal_vfs_name_their_policy_and_drain(tmp_path: Path) -> None:
    node = _host(tmp_path, "baremetal-intel")
    pf = node.observe().interfaces[0].pci_address
    spec = SriovNetworkNodeStateSpec(
        interfaces=[Interface(pci_address=pf, num_vfs=4, vf_groups=[_group("intelnics", "netdevice", "0-3")])]
    )
    state = node.observe()
    assert f"will create 4 VFs on {pf} (drain): policy intelnics" in explain_plan(
        plan(spec, state), spec, state.interfaces
    )


def test_long_plans_are_cut_for_the_condition() -> None:
    lines = tuple(f"line {n}" for n in range(MAX_LINES + 3))
    assert summarize(lines).endswith("line 9; and 3 more")
    assert summarize(lines[:2]) == "line 0; line 1"
