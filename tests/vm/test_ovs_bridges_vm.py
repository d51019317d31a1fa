"""OVS bridges (manageSoftwareBridges) on a real kernel: Debian's Open vSwitch in the bare-metal igb guest.

One guest boots once (the igb PF, no vIOMMU) and starts ovsdb-server and ovs-vswitchd on the kernel's
openvswitch module (``guest/services.sh ovs``; a guest where they do not start fails every test with
their log).  An administrator's bridge is made by hand first.  Then ``sriov-operator apply`` in the
guest, with a NodeState whose ``spec.bridges`` puts the PF (2 VFs, real igbvf functions) on the bridge
``br-0000_01_00.0``: created, applied again (nothing to do), updated (fail mode, external_ids, the uplink's
MTU), and removed by a spec without bridges.  Everything is read back with ``ovs-vsctl``, ``ip -d link``
and ``tc`` (``guest/ovs_facts.py``), not with the operator's own client: the database, and the kernel's
datapath ovs-vswitchd built from it.

What the guest cannot show: igb has no eSwitch, so the PF stays in legacy mode and a policy's
``bridge`` (which needs ``eSwitchMode: switchdev``) is written here as the NodeState it renders to;
switchdev itself is shown on netdevsim (`test_switchdev_vm.py`), which is not a PCI device and so
cannot be a bridge's uplink by PCI address.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import yaml

from sriov_operator.host.ovs import OWNER, OWNER_KEY, UPLINK_KEY
from sriov_vmtest.bundle import Bundle
from sriov_vmtest.machine import GuestResult
from sriov_vmtest.profiles import IGB_PF_ADDRESS, baremetal_host
from tests.doc_runner import output_matches
from tests.docs_examples import example
from tests.vm.support import GUEST_TOOLS, Scenario, booted

pytestmark = [pytest.mark.vm, pytest.mark.timeout(1200)]  # the first test pays for the boot and scenario

PF = IGB_PF_ADDRESS
BRIDGE = "br-" + PF.replace(":", "_")  # as engine.bridges names a policy's bridge
HAND_MADE = "br-admin"
STATE_FILE = "/root/state.yaml"
APPLY = ["sriov-operator", "apply", "--host-root", "/", "--state", STATE_FILE]
CLI_SECONDS = 900.0  # one `sriov-operator` call: its Python imports under TCG on a loaded machine
FACTS = ["python3", f"{GUEST_TOOLS}/ovs_facts.py"]
JUMBO = 9000
WALKTHROUGH = example("bm-offload-ovs-vsctl")  # the bare-metal walkthrough's ovs-vsctl session, run here
WALKTHROUGH_PF = "0000:5e:00.1"  # the walkthrough's PF (its netdev: ens2f1np1)


def walkthrough_session(pf_netdev: str) -> list[tuple[str, str]]:
    """The walkthrough's (command, shown output) pairs; its PF's address, name and bridge: this guest's."""
    names = {"br-" + WALKTHROUGH_PF.replace(":", "_"): BRIDGE, WALKTHROUGH_PF: PF, "ens2f1np1": pf_netdev}

    def ours(text: str) -> str:
        for theirs, mine in names.items():
            text = text.replace(theirs, mine)
        return text

    return [(ours(command), ours(shown)) for command, shown in WALKTHROUGH.transcript()]


def state_yaml(bridge: dict[str, Any] | None) -> str:
    """The PF with 2 netdevice VFs and, if given, ``bridge`` as the one entry of ``spec.bridges.ovs``."""
    group = {"resourceName": "ovs", "deviceType": "netdevice", "vfRange": "0-1", "policyName": "ovs"}
    spec: dict[str, Any] = {"interfaces": [{"pciAddress": PF, "numVfs": 2, "vfGroups": [group]}]}
    if bridge is not None:
        spec["bridges"] = {"ovs": [bridge]}
    document = {
        "apiVersion": "sriovnetwork.openshift.io/v1",
        "kind": "SriovNetworkNodeState",
        "metadata": {"name": "sriov-test-host"},
        "spec": spec,
    }
    return yaml.safe_dump(document)


def bridge(pf_netdev: str, **changed: Any) -> dict[str, Any]:
    """``spec.bridges.ovs[0]`` as the operator renders a policy's ``bridge`` for the PF (the bare-metal
    walkthrough's); ``changed``: bridge settings added, ``uplinkMtu`` the uplink's ``mtuRequest``."""
    uplink: dict[str, Any] = {"pciAddress": PF, "name": pf_netdev}
    if mtu := changed.pop("uplinkMtu", None):
        uplink["interface"] = {"mtuRequest": mtu}
    return {"name": BRIDGE, "bridge": {"datapathType": "system", **changed}, "uplinks": [uplink]}


def pf_netdev(discovered: GuestResult) -> str:
    """The PF's netdev, from ``sriov-operator discover`` in the guest."""
    assert discovered.returncode == 0, str(discovered)
    [pf] = [i for i in discovered.json()["interfaces"] if i["pciAddress"] == PF]
    return str(pf["name"])


def run_scenario(run: Scenario) -> None:
    started = run.run("start Open vSwitch", ["sh", f"{GUEST_TOOLS}/services.sh", "ovs"], timeout=CLI_SECONDS)
    if started.returncode != 0:
        pytest.fail(f"Open vSwitch did not start in the guest:\n{started}", pytrace=False)
    discover = ["sriov-operator", "discover", "--host-root", "/"]
    netdev = pf_netdev(run.run("discover", discover, timeout=CLI_SECONDS))
    made = ["ovs-vsctl", "add-br", HAND_MADE, "--", "br-set-external-id", HAND_MADE, "owner", "admin"]
    assert run.run("a bridge made by hand", made).returncode == 0, str(run["a bridge made by hand"])
    run.run("before", FACTS)
    run.write(STATE_FILE, state_yaml(bridge(netdev)))
    run.run("apply with the bridge", APPLY, timeout=CLI_SECONDS)
    run.run("after create", FACTS)
    for command, _ in walkthrough_session(netdev):
        run.shell(f"walkthrough: {command}", command)
    run.run("apply again", APPLY, timeout=CLI_SECONDS)
    changed = {"failMode": "secure", "externalIDs": {"team": "net"}, "uplinkMtu": JUMBO}
    run.write(STATE_FILE, state_yaml(bridge(netdev, **changed)))
    run.run("apply the changed bridge", APPLY, timeout=CLI_SECONDS)
    run.run("after update", FACTS)
    run.write(STATE_FILE, state_yaml(None))
    run.run("apply without bridges", APPLY, timeout=CLI_SECONDS)
    run.run("after removal", FACTS)


@pytest.fixture(scope="module")
def ovs(vm_bundle: Bundle, vm_accel: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    spec = replace(baremetal_host(False), name="baremetal-ovs")
    with booted(spec, vm_bundle, vm_accel, tmp_path_factory.mktemp(spec.name)) as vm:
        scenario = Scenario(vm)
        run_scenario(scenario)
        scenario.report()
        yield scenario


def facts(ovs: Scenario, step: str) -> dict[str, Any]:
    result = ovs[step]
    assert result.returncode == 0, str(result)
    answer: dict[str, Any] = result.json()
    return answer


def applied(ovs: Scenario, step: str) -> list[str]:
    result = ovs[step]
    assert result.returncode == 0, str(result)
    return [action["action"] for action in result.json()["applied"]]


def uplink(ovs: Scenario) -> str:
    return pf_netdev(ovs["discover"])


def test_open_vswitch_runs_on_the_guest_kernel(ovs: Scenario) -> None:
    before = facts(ovs, "before")
    assert sorted(before["bridges"]) == [HAND_MADE]
    # the kernel's datapath (openvswitch.ko) and the bridge's internal port, made by ovs-vswitchd
    assert before["links"]["ovs-system"]["kind"] == "openvswitch"
    assert before["links"][HAND_MADE]["kind"] == "openvswitch"
    assert "hw-offload" not in before["otherConfig"]


def test_apply_creates_the_bridge_with_the_uplink_after_the_vfs(ovs: Scenario) -> None:
    actions = applied(ovs, "apply with the bridge")
    # in the same apply, after the VFs: the bridge waits for its uplink
    assert "setNumVfs" in actions and actions[-1] == "createOvsBridge", actions
    netdev = uplink(ovs)
    created = facts(ovs, "after create")
    ours = created["bridges"][BRIDGE]
    assert ours["ports"] == sorted([BRIDGE, netdev])
    assert ours["interfaces"][BRIDGE]["type"] == "internal" and ours["interfaces"][netdev]["type"] == ""
    assert ours["datapathType"] == "system" and ours["failMode"] is None
    assert created["otherConfig"]["hw-offload"] == "true"
    # ovs-vswitchd put the PF into the kernel's datapath, beside the bridge's internal port
    assert created["links"][netdev]["master"] == "ovs-system"
    assert created["links"][netdev]["slaveKind"] == "openvswitch"
    assert created["links"][BRIDGE]["kind"] == "openvswitch"  # the internal port's netdev
    # ovs-vswitchd took hw-offload=true: its flow API is tc, whose ingress qdisc it put on the uplink
    assert netdev in created["ingressQdiscs"] and netdev not in facts(ovs, "before")["ingressQdiscs"]


def test_the_bridge_is_marked_as_ours_and_the_hand_made_one_is_not(ovs: Scenario) -> None:
    created = facts(ovs, "after create")
    assert created["bridges"][BRIDGE]["externalIds"] == {OWNER_KEY: OWNER, UPLINK_KEY: PF}
    assert created["bridges"][HAND_MADE]["externalIds"] == {"owner": "admin"}


def test_a_second_apply_changes_nothing(ovs: Scenario) -> None:
    assert applied(ovs, "apply again") == []


def test_a_changed_bridge_is_updated_in_place(ovs: Scenario) -> None:
    assert applied(ovs, "apply the changed bridge") == ["updateOvsBridge"]
    netdev = uplink(ovs)
    updated = facts(ovs, "after update")
    ours = updated["bridges"][BRIDGE]
    assert ours["failMode"] == "secure"
    assert ours["externalIds"] == {OWNER_KEY: OWNER, UPLINK_KEY: PF, "team": "net"}  # the spec's, our marks
    assert ours["ports"] == sorted([BRIDGE, netdev])
    assert ours["interfaces"][netdev]["mtuRequest"] == JUMBO
    assert updated["links"][netdev]["mtu"] == JUMBO  # ovs-vswitchd applied the uplink's mtu_request
    assert updated["links"][netdev]["master"] == "ovs-system"


def test_a_spec_without_bridges_removes_only_ours(ovs: Scenario) -> None:
    assert applied(ovs, "apply without bridges") == ["removeOvsBridge"]
    netdev = uplink(ovs)
    after = facts(ovs, "after removal")
    assert sorted(after["bridges"]) == [HAND_MADE]
    assert after["bridges"][HAND_MADE] == facts(ovs, "before")["bridges"][HAND_MADE]
    assert after["links"][netdev]["master"] is None  # out of the datapath, a plain netdev again
    assert BRIDGE not in after["links"]
    assert after["otherConfig"]["hw-offload"] == "true"  # left on: other bridges may rely on it


def test_the_walkthroughs_ovs_vsctl_session_shows_what_the_real_open_vswitch_answers(ovs: Scenario) -> None:
    for command, shown in walkthrough_session(uplink(ovs)):
        result = ovs[f"walkthrough: {command}"]
        assert result.returncode == 0, str(result)
        assert output_matches(shown, result.stdout), f"{WALKTHROUGH.where}: {result}\nshown:\n{shown}"
