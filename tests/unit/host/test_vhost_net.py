"""needVhostNet: tun and vhost_net are loaded so their /dev nodes exist; a clear error when they cannot be."""

from __future__ import annotations

import pytest

from sriov_operator.api.models import SriovNetworkNodeStateSpec
from sriov_operator.host.apply import converge
from sriov_operator.host.executors import ApplyError
from sriov_operator.host.plan import plan
from sriov_operator.host.root import HostRoot
from sriov_operator.host.simulator.kernel import SimulatedKernel
from tests.unit.host.conftest import sim_node

PF = "0000:3b:00.1"


def spec(need_vhost_net: bool) -> SriovNetworkNodeStateSpec:
    group = {"resourceName": "vhost", "vfRange": "0-1", "policyName": "p", "needVhostNet": need_vhost_net}
    return SriovNetworkNodeStateSpec.model_validate(
        {"interfaces": [{"pciAddress": PF, "numVfs": 2, "vfGroups": [group]}]}
    )


def test_need_vhost_net_loads_tun_and_vhost_net_and_their_devices_appear(intel_host: HostRoot) -> None:
    node = sim_node(intel_host)
    loads = [a.target for a in plan(spec(True), node.observe()).actions if a.kind == "loadModule"]
    assert loads == ["tun", "vhost_net"]
    assert not intel_host.path("dev/vhost-net").exists()
    converge(node.access, spec(True), node.observe)
    assert intel_host.path("dev/vhost-net").exists() and intel_host.path("dev/net/tun").exists()
    assert plan(spec(True), node.observe()).actions == ()


def test_without_need_vhost_net_nothing_is_loaded(intel_host: HostRoot) -> None:
    node = sim_node(intel_host)
    assert "loadModule" not in [a.kind for a in plan(spec(False), node.observe()).actions]


def test_a_kernel_without_the_modules_fails_naming_the_module_and_the_group(intel_host: HostRoot) -> None:
    with SimulatedKernel.transaction(intel_host.root) as kernel:
        kernel.state.loadable_modules = []
    node = sim_node(intel_host)
    with pytest.raises(ApplyError) as caught:
        converge(node.access, spec(True), node.observe)
    message = str(caught.value)
    assert "modprobe tun failed" in message and "Module tun not found" in message
    assert "vfGroup vhost, policy p has needVhostNet" in message


def test_the_modules_are_loaded_again_after_a_reboot(intel_host: HostRoot) -> None:
    node = sim_node(intel_host)
    converge(node.access, spec(True), node.observe)
    with SimulatedKernel.transaction(intel_host.root) as kernel:
        kernel.reboot()
    assert not intel_host.path("dev/vhost-net").exists()
    converge(node.access, spec(True), node.observe)
    assert intel_host.path("dev/vhost-net").exists()
