"""A bare-metal SR-IOV host on a real kernel: QEMU's igb (82576) PF on q35 creates real igbvf VFs.

Two machines, with and without a virtual IOMMU (``intel-iommu``); each boots once, with a BLS boot
entry of its own and a disk that outlives reboots, and runs the whole scenario.  The spec asks for
3 VFs: 0-1 on vfio-pci, 2 a netdevice with MTU 9000 that needs vhost-net.  Everything is checked
inside the guest, from sysfs, ``ip -j link``, ``rdma`` and ``nmcli``.

- vIOMMU: booted without ``intel_iommu=on``; the spec (also RDMA exclusive mode) makes ``apply``
  write the IOMMU and ib_core arguments into the boot entry and ask systemd for a reboot; the harness
  boots what the entry says; vfio then has an IOMMU group per VF, soft-RoCE's ``rdma system`` says
  exclusive, and a second pass writes nothing.
- no IOMMU: the written arguments are lost on purpose at the reboot (``intel_iommu=on`` dropped), so
  the loop guard refuses a second reboot; the administrator then chooses vfio's no-IOMMU mode;
  udevd and NetworkManager run, and NetworkManager leaves the VFs alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from sriov_vmtest.bundle import Bundle
from sriov_vmtest.machine import BOOT_ENTRY, REBOOT_REQUESTED
from sriov_vmtest.profiles import IGB_PF_ADDRESS, baremetal_host
from tests.vm.support import GUEST_TOOLS, Scenario, booted

pytestmark = [pytest.mark.vm, pytest.mark.timeout(2400)]  # the first test pays for the boot and scenario

PF = IGB_PF_ADDRESS
STATE_FILE = "/root/state.yaml"  # on the disk: /tmp is a tmpfs, and the spec must outlive the reboot
APPLY = ["sriov-operator", "apply", "--host-root", "/", "--state", STATE_FILE]
CLI_SECONDS = 900.0  # one `sriov-operator` call: its Python imports under TCG on a loaded machine
JUMBO = 9000
IOMMU_ARGS = ("intel_iommu=on", "iommu=pt")
RDMA_ARG = "ib_core.netns_mode=0"
DROPPED = "intel_iommu=on"  # lost at the no-IOMMU machine's reboot, on purpose
# Debian's kernel turns a present Intel IOMMU on by default (CONFIG_INTEL_IOMMU_DEFAULT_ON_INTGPU_OFF);
# RHEL's and RHCOS's leave it off without intel_iommu=on. The vIOMMU machine plays the latter with
# intel_iommu=off on its first boot (the operator appends intel_iommu=on, which the kernel reads last).
# net.ifnames=0: udevd (no-IOMMU machine) keeps the kernel's names, as the other machine has them.
FIRST_BOOT_ARGS = {True: ("intel_iommu=off",), False: ("net.ifnames=0",)}
PF_NETDEV = f"$(ls /sys/bus/pci/devices/{PF}/net)"
VF2_NETDEV = f"$(ls /sys/bus/pci/devices/{PF}/virtfn2/net)"


def state_yaml(num_vfs: int | None, rdma_mode: str | None = None) -> str:
    """The PF with ``num_vfs`` VFs; None: the PF left the spec (its policy went away)."""
    groups = [
        {"resourceName": "dpdk", "deviceType": "vfio-pci", "vfRange": "0-1", "policyName": "dpdk"},
        {
            "resourceName": "net",
            "deviceType": "netdevice",
            "vfRange": "2-2",
            "mtu": JUMBO,
            "needVhostNet": True,
            "policyName": "net",
        },
    ]
    interface = {"pciAddress": PF, "numVfs": num_vfs, "mtu": JUMBO, "vfGroups": groups if num_vfs else []}
    spec: dict[str, Any] = {"interfaces": [] if num_vfs is None else [interface]}
    if rdma_mode:
        spec["system"] = {"rdmaMode": rdma_mode}
    return yaml.safe_dump(
        {
            "apiVersion": "sriovnetwork.openshift.io/v1",
            "kind": "SriovNetworkNodeState",
            "metadata": {"name": "sriov-test-host"},
            "spec": spec,
        }
    )


def nm_devices_once_the_vf_is_seen() -> str:
    """``nmcli``'s devices, once NetworkManager lists VF 2's netdev (it learns of it through udev)."""
    return (
        f"vf={VF2_NETDEV}; end=$(($(date +%s) + 180)); "
        'until nmcli -t -f DEVICE,STATE device | grep -q "^$vf:" || [ "$(date +%s)" -ge $end ]; '
        "do sleep 0.5; done; "
        f"echo pf={PF_NETDEV} vf=$vf; nmcli -t -f DEVICE,STATE device; "
        "udevadm info -q property -p /sys/class/net/$vf | grep NM_UNMANAGED"
    )


def kernel_args_until_the_reboot(run: Scenario, viommu: bool) -> None:
    """The first boot: no IOMMU argument; apply writes the arguments and asks for the reboot."""
    run.shell("IOMMU groups before", "ls /sys/kernel/iommu_groups | wc -l")
    run.write(STATE_FILE, state_yaml(3, "exclusive" if viommu else None))
    run.run("apply before the reboot", APPLY, timeout=CLI_SECONDS)
    run.run("reboot requested", ["cat", REBOOT_REQUESTED])
    run.run("boot entry after apply", ["cat", BOOT_ENTRY])


def run_scenario(run: Scenario, viommu: bool) -> None:
    facts = ["python3", f"{GUEST_TOOLS}/sriov_facts.py", PF]
    services = ["sh", f"{GUEST_TOOLS}/services.sh", "udev", "nm"]
    run.vm.install_boot_entry()
    run.run("discover", ["sriov-operator", "discover", "--host-root", "/"], timeout=CLI_SECONDS)
    kernel_args_until_the_reboot(run, viommu)
    if viommu:
        run.restart("reboot into the boot entry")
        run.shell("IOMMU groups after the reboot", "ls /sys/kernel/iommu_groups | wc -l")
        run.shell(
            "soft-RoCE device",
            f"modprobe rdma_rxe && rdma link add rxe0 type rxe netdev {PF_NETDEV} && rdma -j link show",
        )
    else:
        run.restart("reboot without intel_iommu=on", drop=(DROPPED,))
        run.run("start udevd and NetworkManager", services, timeout=CLI_SECONDS)  # before the VFs exist
        run.run("apply after a boot without the argument", APPLY, timeout=CLI_SECONDS)
        run.shell("reboot requested by the loop guard", f"test ! -e {REBOOT_REQUESTED}")
        # the administrator's choice: vfio in no-IOMMU mode (the operator never turns it on for bare metal)
        run.run("load vfio in no-IOMMU mode", ["modprobe", "vfio", "enable_unsafe_noiommu_mode=1"])
    run.run("apply 3 VFs", APPLY, timeout=CLI_SECONDS)
    if viommu:  # booted with what was written: the pass after it writes nothing
        run.run("second pass", APPLY, timeout=CLI_SECONDS)
        run.shell("no reboot asked after the second pass", f"test ! -e {REBOOT_REQUESTED}")
        run.run("boot entry after the second pass", ["cat", BOOT_ENTRY])
    run.run("VFs", facts)
    run.run("links", ["ip", "-j", "link", "show"])
    run.shell("vhost-net", "test -c /dev/vhost-net && test -c /dev/net/tun && test -d /sys/module/vhost_net")
    if viommu:
        run.run("rdma system", ["rdma", "system", "show"])
    else:
        run.shell("NetworkManager devices", nm_devices_once_the_vf_is_seen())
    run.run(
        "vfio ioctls on VF 0",
        [
            "sh",
            "-c",
            f"python3 {GUEST_TOOLS}/vfio_probe.py $(basename $(readlink /sys/bus/pci/devices/{PF}/virtfn0))",
        ],
    )
    run.write(STATE_FILE, state_yaml(0))
    run.run("apply 0 VFs", APPLY, timeout=CLI_SECONDS)
    run.run("VFs after 0", facts)
    pf_mtu = ["sh", "-c", f"cat /sys/bus/pci/devices/{PF}/net/*/mtu"]
    run.run("PF MTU before the reset", pf_mtu)
    run.write(STATE_FILE, state_yaml(None))
    run.run("apply without the PF", APPLY, timeout=CLI_SECONDS)
    run.run("PF MTU after the reset", pf_mtu)


def _scenario(viommu: bool, bundle: Bundle, accel: str, tmp: pytest.TempPathFactory) -> Iterator[Scenario]:
    spec = baremetal_host(viommu, reboots=True, kernel_args=FIRST_BOOT_ARGS[viommu])
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


def _applied(result_json: dict[str, Any]) -> list[str]:
    return [a["action"] for a in result_json["applied"]]


def test_booted_without_an_iommu_apply_writes_the_arguments_into_the_boot_entry_and_asks_for_a_reboot(
    baremetal: Scenario,
) -> None:
    assert baremetal["IOMMU groups before"].stdout.split() == ["0"]
    applied = baremetal["apply before the reboot"]
    assert applied.returncode == 0, str(applied)
    assert _applied(applied.json()) == ["addKernelArgs", "reboot"]  # nothing else before the reboot
    assert baremetal["reboot requested"].returncode == 0, "apply asked systemd for the reboot"
    options = bls_words(baremetal["boot entry after apply"].stdout)
    assert set(IOMMU_ARGS) <= set(options)
    if baremetal.vm.spec.viommu:
        assert RDMA_ARG in options


def bls_words(entry: str) -> list[str]:
    return next(line.split()[1:] for line in entry.splitlines() if line.startswith("options"))


def test_the_reboot_boots_the_written_arguments_and_vfio_gets_iommu_groups(
    baremetal_viommu: Scenario,
) -> None:
    booted_with = baremetal_viommu["reboot into the boot entry"].stdout.split()
    assert {*IOMMU_ARGS, RDMA_ARG} <= set(booted_with)
    assert int(baremetal_viommu["IOMMU groups after the reboot"].stdout) > 0
    facts = _vfs(baremetal_viommu["VFs"].json())
    assert all(facts[i]["vfioNodes"] == [f"/dev/vfio/{facts[i]['iommuGroup']}"] for i in (0, 1))


def test_a_second_pass_writes_nothing_and_asks_for_no_reboot(baremetal_viommu: Scenario) -> None:
    second = baremetal_viommu["second pass"]
    assert second.returncode == 0, str(second)
    assert _applied(second.json()) == []
    assert baremetal_viommu["no reboot asked after the second pass"].returncode == 0
    entry = baremetal_viommu["boot entry after the second pass"].stdout
    assert entry == baremetal_viommu["boot entry after apply"].stdout


def test_rdma_exclusive_mode_shows_on_a_soft_roce_device(baremetal_viommu: Scenario) -> None:
    rxe = baremetal_viommu["soft-RoCE device"]
    assert rxe.returncode == 0, str(rxe)
    assert [link["ifname"] for link in rxe.json()] == ["rxe0"]
    shown = baremetal_viommu["rdma system"]
    assert shown.returncode == 0, str(shown)
    assert "netns exclusive" in shown.stdout


def test_a_vf_group_needing_vhost_net_gets_dev_vhost_net(baremetal: Scenario) -> None:
    vhost = baremetal["vhost-net"]
    assert vhost.returncode == 0, str(vhost)


def test_loop_guard_a_boot_without_a_written_argument_is_refused_without_a_second_reboot(
    baremetal_noiommu: Scenario,
) -> None:
    restarted = baremetal_noiommu["reboot without intel_iommu=on"].stdout.split()
    assert DROPPED not in restarted and "iommu=pt" in restarted
    refused = baremetal_noiommu["apply after a boot without the argument"]
    assert refused.returncode == 2, str(refused)
    error = refused.stderr
    assert DROPPED in error and BOOT_ENTRY in error and "not rebooting again" in error
    assert baremetal_noiommu["reboot requested by the loop guard"].returncode == 0, "no second reboot asked"


def test_network_manager_leaves_the_vfs_unmanaged(baremetal_noiommu: Scenario) -> None:
    shown = baremetal_noiommu["NetworkManager devices"]
    assert shown.returncode == 0, str(shown)
    names = dict(word.split("=") for word in shown.stdout.splitlines()[0].split())
    states = dict(line.split(":", 1) for line in shown.stdout.splitlines()[1:] if ":" in line)
    assert states[names["vf"]] == "unmanaged", shown.stdout
    assert states[names["pf"]] != "unmanaged", shown.stdout  # NetworkManager manages the rest
    assert "NM_UNMANAGED=1" in shown.stdout
