"""A bare-metal SR-IOV host on a real kernel: QEMU's igb (82576) PF on q35 creates real igbvf VFs.

Two machines, with and without a virtual IOMMU (``intel-iommu`` +
``intel_iommu=on``); each boots once and runs the whole scenario.  The spec asks
for 3 VFs: 0-1 on vfio-pci, 2 a netdevice with MTU 9000.  Everything is checked
inside the guest, from sysfs and ``ip -j link``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from sriov_vmtest.bundle import Bundle
from sriov_vmtest.profiles import IGB_PF_ADDRESS, baremetal_host
from tests.vm.support import GUEST_TOOLS, Scenario, booted

pytestmark = [pytest.mark.vm, pytest.mark.timeout(1800)]  # the first test pays for the boot and scenario

PF = IGB_PF_ADDRESS
STATE_FILE = "/tmp/state.yaml"
JUMBO = 9000


def state_yaml(num_vfs: int | None) -> str:
    """The PF with ``num_vfs`` VFs; None: the PF left the spec (its policy went away)."""
    groups = [
        {"resourceName": "dpdk", "deviceType": "vfio-pci", "vfRange": "0-1", "policyName": "dpdk"},
        {
            "resourceName": "net",
            "deviceType": "netdevice",
            "vfRange": "2-2",
            "mtu": JUMBO,
            "policyName": "net",
        },
    ]
    interface = {"pciAddress": PF, "numVfs": num_vfs, "mtu": JUMBO, "vfGroups": groups if num_vfs else []}
    return yaml.safe_dump(
        {
            "apiVersion": "sriovnetwork.openshift.io/v1",
            "kind": "SriovNetworkNodeState",
            "metadata": {"name": "sriov-test-host"},
            "spec": {"interfaces": [] if num_vfs is None else [interface]},
        }
    )


def run_scenario(run: Scenario, viommu: bool) -> None:
    facts = ["python3", f"{GUEST_TOOLS}/sriov_facts.py", PF]
    state = ["--host-root", "/", "--state", STATE_FILE]
    run.run("discover", ["sriov-operator", "discover", "--host-root", "/"])
    run.write(STATE_FILE, state_yaml(3))
    if not viommu:
        run.run("plan without an IOMMU", ["sriov-operator", "plan", *state])
        # the administrator's choice: vfio in no-IOMMU mode (the operator never turns it on for bare metal)
        run.run("load vfio in no-IOMMU mode", ["modprobe", "vfio", "enable_unsafe_noiommu_mode=1"])
    run.run("apply 3 VFs", ["sriov-operator", "apply", *state])
    run.run("VFs", facts)
    run.run("links", ["ip", "-j", "link", "show"])
    run.run(
        "vfio ioctls on VF 0",
        [
            "sh",
            "-c",
            f"python3 {GUEST_TOOLS}/vfio_probe.py $(basename $(readlink /sys/bus/pci/devices/{PF}/virtfn0))",
        ],
    )
    run.write(STATE_FILE, state_yaml(0))
    run.run("apply 0 VFs", ["sriov-operator", "apply", *state])
    run.run("VFs after 0", facts)
    pf_mtu = ["sh", "-c", f"cat /sys/bus/pci/devices/{PF}/net/*/mtu"]
    run.run("PF MTU before the reset", pf_mtu)
    run.write(STATE_FILE, state_yaml(None))
    run.run("apply without the PF", ["sriov-operator", "apply", *state])
    run.run("PF MTU after the reset", pf_mtu)


def _scenario(viommu: bool, bundle: Bundle, accel: str, tmp: pytest.TempPathFactory) -> Iterator[Scenario]:
    spec = baremetal_host(viommu)
    with booted(spec, bundle, accel, tmp.mktemp(spec.name)) as vm:
        scenario = Scenario(vm)
        run_scenario(scenario, viommu)
        scenario.report()
        yield scenario


@pytest.fixture(scope="module")
def baremetal_viommu(
    vm_bundle: Bundle, vm_accel: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Scenario]:
    yield from _scenario(True, vm_bundle, vm_accel, tmp_path_factory)


@pytest.fixture(scope="module")
def baremetal_noiommu(
    vm_bundle: Bundle, vm_accel: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Scenario]:
    yield from _scenario(False, vm_bundle, vm_accel, tmp_path_factory)


@pytest.fixture(params=["baremetal_viommu", "baremetal_noiommu"], ids=["viommu", "noiommu"])
def baremetal(request: pytest.FixtureRequest) -> Scenario:
    scenario: Scenario = request.getfixturevalue(request.param)
    return scenario


def _vfs(result_json: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {vf["vfId"]: vf for vf in result_json["vfs"]}


def test_discovery_sees_the_pf_with_its_sriov_capacity(baremetal: Scenario) -> None:
    result = baremetal["discover"]
    assert result.returncode == 0, str(result)
    output = result.json()
    assert output["platform"] == "baremetal"
    pfs = {i["pciAddress"]: i for i in output["interfaces"]}
    assert pfs[PF]["driver"] == "igb"
    assert pfs[PF]["totalvfs"] >= 3 and pfs[PF].get("numVfs", 0) == 0  # 0 is omitted, as upstream does


def test_spec_creates_the_vfs_and_binds_their_drivers(baremetal: Scenario) -> None:
    applied = baremetal["apply 3 VFs"]
    assert applied.returncode == 0, str(applied)
    facts = baremetal["VFs"].json()
    assert facts["numVfs"] == 3
    vfs = _vfs(facts)
    assert sorted(vfs) == [0, 1, 2]
    assert [vfs[i]["driver"] for i in (0, 1, 2)] == ["vfio-pci", "vfio-pci", "igbvf"]
    assert vfs[2]["netdevs"] and not vfs[0]["netdevs"] and not vfs[1]["netdevs"]


def test_vfio_vfs_get_their_group_device(baremetal: Scenario) -> None:
    facts = baremetal["VFs"].json()
    viommu = baremetal.vm.spec.viommu
    for vf_id in (0, 1):
        vf = _vfs(facts)[vf_id]
        expected = f"/dev/vfio/{vf['iommuGroup']}" if viommu else f"/dev/vfio/noiommu-{vf['iommuGroup']}"
        assert vf["vfioNodes"] == [expected]
    probe = baremetal["vfio ioctls on VF 0"]
    assert probe.returncode == 0, str(probe)
    assert probe.json()["regions"] > 0 and probe.json()["viable"]


def test_mtus_read_back(baremetal: Scenario) -> None:
    facts = baremetal["VFs"].json()
    netdev = _vfs(facts)[2]["netdevs"][0]
    links = {link["ifname"]: link for link in baremetal["links"].json()}
    assert links[netdev]["mtu"] == JUMBO


def test_numvfs_zero_removes_them(baremetal: Scenario) -> None:
    applied = baremetal["apply 0 VFs"]
    assert applied.returncode == 0, str(applied)
    facts = baremetal["VFs after 0"].json()
    assert facts["numVfs"] == 0 and facts["vfs"] == []


def test_a_pf_leaving_the_spec_gets_back_its_original_mtu(baremetal: Scenario) -> None:
    assert baremetal["PF MTU before the reset"].stdout.split() == [str(JUMBO)]
    reset = baremetal["apply without the PF"]
    assert reset.returncode == 0, str(reset)
    assert [a["action"] for a in reset.json()["applied"]] == ["restorePfMtu", "forgetDevice"]
    assert baremetal["PF MTU after the reset"].stdout.split() == ["1500"]


def test_with_a_viommu_each_vf_has_its_own_group(baremetal_viommu: Scenario) -> None:
    vfs = _vfs(baremetal_viommu["VFs"].json())
    assert len({vfs[i]["iommuGroup"] for i in (0, 1, 2)}) == 3


def test_without_an_iommu_vfio_needs_the_administrators_noiommu_choice(baremetal_noiommu: Scenario) -> None:
    refused = baremetal_noiommu["plan without an IOMMU"]
    assert refused.returncode == 2, str(refused)
    assert "intel_iommu=on" in refused.stderr
