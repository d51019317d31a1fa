"""The progress table and the "synced yet?" verdict are functions of the objects alone."""

from __future__ import annotations

import io

from sriov_operator.sandbox.convergence import policy_waits_for, waiting_for
from sriov_operator.sandbox.display import Display
from sriov_operator.sandbox.snapshot import Snapshot
from sriov_operator.sandbox.table import render, rows
from tests.unit.sandbox.objects import PUBLISHED, configmap, node, node_state, pod, policy

RESOURCES = frozenset({"dpdk1", "hwoffload1"})


def _converged(**changes: object) -> Snapshot:
    fields: dict[str, object] = {
        "workers": ["worker-0", "worker-1"],
        "nodes": {n: node(n, PUBLISHED) for n in ("worker-0", "worker-1")},
        "states": {n: node_state(n) for n in ("worker-0", "worker-1")},
        "configmaps": {n: configmap(n) for n in ("worker-0", "worker-1")},
        "policies": [policy("dpdk1", 2, 2), policy("hwoffload1", 2, 2)],
        "pod": pod(PUBLISHED),
    }
    fields.update(changes)
    return Snapshot(**fields)  # type: ignore[arg-type]


def _waiting(snapshot: Snapshot) -> list[str]:
    return waiting_for(snapshot, resources=RESOURCES, expect_pod=True, prefix="openshift.io")


def test_table_rows_show_sync_devices_drivers_and_published_resources() -> None:
    snapshot = _converged(states={"worker-0": node_state("worker-0", sync="InProgress")})
    assert rows(snapshot, "openshift.io") == [
        (
            "worker-0",
            "InProgress",
            "4 (2 configured)",
            "0000:00:04.0=vfio-pci ens7=mlx5_core",
            "dpdk1=1 hwoffload1=1",
        ),
        ("worker-1", "-", "-", "-", "dpdk1=1 hwoffload1=1"),
    ]
    assert render(rows(snapshot, "openshift.io"))[0].split() == [
        "NODE",
        "SYNC",
        "DEVICES",
        "DRIVERS",
        "RESOURCES",
    ]


def test_vf_drivers_are_counted_per_pf() -> None:
    state = node_state("bm")
    vfs = [
        {"pciAddress": f"0000:3b:02.{i}", "driver": "iavf" if i < 3 else "vfio-pci", "vfID": i}
        for i in range(4)
    ]
    state["status"]["interfaces"] = [{"pciAddress": "0000:00:04.0", "name": "ens1f0", "Vfs": vfs}]
    snapshot = Snapshot(["bm"], states={"bm": state})
    assert rows(snapshot, "openshift.io")[0][3] == "ens1f0=3xiavf+1xvfio-pci"


def test_converged_when_every_node_applied_its_generation_and_the_pod_got_its_resources() -> None:
    assert _waiting(_converged()) == []


def test_a_failed_node_is_named_with_its_error_and_the_degraded_condition() -> None:
    failed = node_state(
        "worker-1",
        sync="Failed",
        lastSyncError="rememberDevice 0000:00:04.0: /etc/sriov-operator/pci: Not a directory",
        conditions=[  # Degraded explains a failure better than Progressing, whatever the order
            {"type": "Progressing", "status": "True", "reason": "SyncFailed", "message": "retrying"},
            {"type": "Degraded", "status": "True", "reason": "ApplyFailed", "message": "see lastSyncError"},
        ],
    )
    snapshot = _converged(states={"worker-0": node_state("worker-0"), "worker-1": failed})
    assert _waiting(snapshot) == [
        "worker-1: syncStatus Failed: rememberDevice 0000:00:04.0: /etc/sriov-operator/pci: Not a directory; "
        "Degraded ApplyFailed: see lastSyncError"
    ]


def test_each_missing_step_is_a_reason() -> None:
    stale = node_state("worker-0", generation=3, applied=2)
    no_state: dict[str, object] = {}
    assert _waiting(_converged(states={"worker-0": stale, **no_state})) == [
        "worker-0: spec generation 3 not applied yet (applied: 2)",
        "worker-1: no SriovNetworkNodeState yet (the operator creates it)",
    ]
    assert _waiting(_converged(configmaps={"worker-0": configmap("worker-0", handed_over=False)})) == [
        "worker-0: device-plugin config not handed over yet",
        "worker-1: device-plugin config not handed over yet",
    ]
    unpublished = {"worker-0": node("worker-0"), "worker-1": node("worker-1", PUBLISHED)}
    assert _waiting(_converged(nodes=unpublished)) == [
        "worker-0: resources {'openshift.io/dpdk1': 1, 'openshift.io/hwoffload1': 1} "
        "not published on the Node yet"
    ]
    assert _waiting(_converged(policies=[policy("dpdk1", 2, 1), policy("hwoffload1", None, None)])) == [
        "SriovNetworkNodePolicy dpdk1: 1 of 2 matched nodes ready",
        "SriovNetworkNodePolicy hwoffload1: 0 of ? matched nodes ready",
    ]
    assert _waiting(_converged(pod=None)) == [
        "the example pod is not created yet (the webhook must admit it)"
    ]
    assert _waiting(_converged(pod=pod(None))) == ["the example pod has no SR-IOV resources injected"]
    assert _waiting(_converged(pod=pod(PUBLISHED, node=None))) == [
        "the example pod is not scheduled yet (no node offers its resources)"
    ]


def test_a_spec_without_the_examples_resources_is_not_done() -> None:
    state = node_state("worker-0")
    state["spec"] = {}
    reasons = _waiting(_converged(states={"worker-0": state, "worker-1": node_state("worker-1")}))
    assert reasons == ["worker-0: spec does not configure dpdk1, hwoffload1 yet"]


def test_without_a_terminal_only_changed_rows_are_printed() -> None:
    out = io.StringIO()
    display = Display(out, tty=False)
    first = [("worker-0", "InProgress", "-", "-", "-"), ("worker-1", "InProgress", "-", "-", "-")]
    display.table(first)
    display.table(first)
    display.table([first[0], ("worker-1", "Succeeded", "-", "-", "-")])
    assert [line.split() for line in out.getvalue().splitlines()] == [
        ["NODE", "SYNC", "DEVICES", "DRIVERS", "RESOURCES"],
        ["worker-0", "InProgress", "-", "-", "-"],
        ["worker-1", "InProgress", "-", "-", "-"],
        ["worker-1", "Succeeded", "-", "-", "-"],
    ]


def test_on_a_terminal_the_table_is_redrawn_in_place_below_messages() -> None:
    out = io.StringIO()
    display = Display(out, tty=True)
    display.table([("worker-0", "InProgress", "-", "-", "-")])
    display.say("applied something")
    display.table([("worker-0", "Succeeded", "-", "-", "-")])
    text = out.getvalue()
    header_and_row = 2
    assert text.count(f"\x1b[{header_and_row}F\x1b[J") == 2  # erased before the message and before the redraw
    assert text.endswith("worker-0  Succeeded  -        -        -\n")
    assert text.index("applied something") > text.index("InProgress")


def test_on_a_terminal_messages_after_finish_stay_below_the_table_without_repeating_it() -> None:
    out = io.StringIO()
    display = Display(out, tty=True)
    row = ("worker-0", "Succeeded", "-", "-", "-")
    display.table([row])
    display.finish()
    display.say("summary line 1")
    display.say("summary line 2")
    display.table([row])  # the next tick, nothing changed
    assert out.getvalue().count("worker-0") == 1
    assert out.getvalue().endswith("summary line 1\nsummary line 2\n")
    display.table([("worker-0", "Failed", "-", "-", "-")])  # a change: drawn again, below
    assert out.getvalue().endswith("worker-0  Failed  -        -        -\n")


def test_a_policy_is_converged_by_its_ready_condition_not_by_counting_every_matched_node() -> None:
    """On bare metal a per-vendor policy selects no device on the other vendor's node: it is
    not counted ready there (NoDeviceOnSomeNodes), and the sandbox must not wait for it for ever."""
    partial = policy("intel-vfs", 2, 1)
    partial["status"]["conditions"] = [
        {
            "type": "Ready",
            "status": "True",
            "reason": "NoDeviceOnSomeNodes",
            "message": "selects no device on 1 of 2 nodes: worker-1",
        }
    ]
    assert policy_waits_for(partial) is None
    for settled in ("NoDeviceSelected", "ResourceUnusable"):  # only the user can change these
        partial["status"]["conditions"][0].update(status="False", reason=settled, message="m")
        assert policy_waits_for(partial) is None
    partial["status"]["conditions"][0].update(status="False", reason="NodesNotReady", message="1 of 2")
    assert policy_waits_for(partial) == "SriovNetworkNodePolicy intel-vfs: not ready (NodesNotReady): 1 of 2"
    assert policy_waits_for(policy("old", 2, 1)) == "SriovNetworkNodePolicy old: 1 of 2 matched nodes ready"
