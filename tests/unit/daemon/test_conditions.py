"""Conditions follow the decision; transition times move only when a status changes."""

from __future__ import annotations

from datetime import UTC, datetime

from sriov_operator.api.conditions import merged_all
from sriov_operator.api.models import OVSConfigExt
from sriov_operator.daemon.status import bridges_status, daemon_conditions, daemon_status, status_changed
from sriov_operator.daemon.sync import Decision, Failure
from sriov_operator.host.ovs import FoundBridge, OvsState

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = datetime(2026, 1, 1, 0, 5, tzinfo=UTC)


def _by_type(
    decision: Decision, failure: Failure | None = None, no_iommu: bool = False
) -> dict[str, tuple[str, str]]:
    return {c.type: (c.status, c.reason) for c in daemon_conditions(decision, failure, no_iommu)}


def test_succeeded() -> None:
    got = _by_type(Decision("idle", "Succeeded", "", "generation 3 applied"))
    assert got == {
        "Ready": ("True", "Synced"),
        "Progressing": ("False", "Synced"),
        "Degraded": ("False", "AsExpected"),
        "NoIOMMU": ("False", "NotInUse"),
    }


def test_waiting_for_drain_is_progress_not_degraded() -> None:
    got = _by_type(Decision("wait-drain", "InProgress", "", "waiting"))
    assert got["Ready"] == ("False", "WaitingForDrain")
    assert got["Progressing"] == ("True", "WaitingForDrain")
    assert got["Degraded"] == ("False", "AsExpected")


def test_failed_apply_is_degraded_with_the_error() -> None:
    failure = Failure(3, "ApplyFailed", "bindDriver 0000:00:04.0: Permission denied")
    conditions = daemon_conditions(Decision("apply", "Failed", failure.message, "retrying"), failure, False)
    degraded = next(c for c in conditions if c.type == "Degraded")
    assert (degraded.status, degraded.reason, degraded.message) == ("True", "ApplyFailed", failure.message)


def test_plan_rejected() -> None:
    assert _by_type(Decision("fail", "Failed", "cannot", "retrying"))["Degraded"] == ("True", "PlanRejected")
    rejected = Failure(3, "PlanRejected", "spec.interfaces[0].pciAddress: …")
    assert _by_type(Decision("fail", "Failed", "cannot", "retrying"), rejected)["Degraded"] == (
        "True",
        "PlanRejected",
    )


def test_a_host_that_cannot_be_read_is_degraded_as_discovery_failed() -> None:
    failure = Failure(3, "DiscoveryFailed", "cannot read the host: --netns: required with --host-root /host")
    got = _by_type(Decision("fail", "Failed", failure.message, "retrying"), failure)
    assert got["Degraded"] == ("True", "DiscoveryFailed")


def test_no_iommu_condition() -> None:
    assert _by_type(Decision("idle", "Succeeded", "", "ok"), no_iommu=True)["NoIOMMU"] == (
        "True",
        "UnsafeNoIOMMUMode",
    )


def test_plan_warnings_end_the_ready_message_only() -> None:
    warning = "0000:00:07.0 (ens7): vfGroup hwoffload1 has isRdma but the device has no RDMA device"
    synced = Decision("idle", "Succeeded", "", "generation 3 applied")
    conditions = daemon_conditions(synced, None, False, (warning,))
    messages = {c.type: c.message for c in conditions}
    assert messages["Ready"] == f"generation 3 applied (plan warnings: {warning})"
    assert messages["Progressing"] == "generation 3 applied"


def test_transition_time_kept_while_status_holds() -> None:
    wanted = daemon_conditions(Decision("apply", "InProgress", "", "will bind"), None, False)
    first = merged_all([], wanted, T0, 3)
    again = merged_all(first, wanted, T1, 3)
    assert again == first
    done = merged_all(first, daemon_conditions(Decision("idle", "Succeeded", "", "ok"), None, False), T1, 3)
    times = {c["type"]: c["lastTransitionTime"] for c in done}
    assert times == {
        "Ready": "2026-01-01T00:05:00Z",
        "Progressing": "2026-01-01T00:05:00Z",
        "Degraded": "2026-01-01T00:00:00Z",
        "NoIOMMU": "2026-01-01T00:00:00Z",
    }


def test_the_rdma_mode_read_from_the_host_is_published_and_a_change_is_a_status_change() -> None:
    decision = Decision("idle", "Succeeded", "", "generation 1 applied")
    conditions = daemon_conditions(decision, None, no_iommu=False)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    exclusive = daemon_status({}, [], decision, conditions, now, system={"rdmaMode": "exclusive"})
    assert exclusive["system"] == {"rdmaMode": "exclusive"}
    current = {"status": exclusive}
    assert not status_changed(current, exclusive)
    shared = daemon_status(current, [], decision, conditions, now, system={"rdmaMode": "shared"})
    assert status_changed(current, shared)


def test_status_bridges_are_our_ovs_bridges_only_and_a_change_is_a_status_change() -> None:
    ours = OVSConfigExt.model_validate(
        {"name": "br-0000_5e_00.0", "uplinks": [{"pciAddress": "0000:5e:00.0"}]}
    )
    theirs = OVSConfigExt(name="br-ex")
    found = OvsState((FoundBridge(ours, ours=True), FoundBridge(theirs, ours=False)), hw_offload=True)
    assert bridges_status(found) == {"ovs": [ours.to_k8s()]}
    assert bridges_status(None) == bridges_status(OvsState()) == {}
    decision = Decision("idle", "Succeeded", "", "generation 1 applied")
    conditions = daemon_conditions(decision, None, no_iommu=False)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    with_bridge = daemon_status({}, [], decision, conditions, now, bridges=bridges_status(found))
    current = {"status": with_bridge}
    assert not status_changed(current, with_bridge)
    assert status_changed(current, daemon_status(current, [], decision, conditions, now, bridges={}))
