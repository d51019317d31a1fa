"""The sandbox's kubelet stand-in: the operator's own workload pods reported Running and Ready, and pods
going away from the sandbox's nodes ended at the end of their grace period, as a kubelet would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sriov_operator.sandbox.kubelet import running_status, termination

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def _pod(app: str, node: str | None = "worker-0", **status: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "main", "image": "img:1"}]}
    if node is not None:
        spec["nodeName"] = node
    return {"metadata": {"name": f"{app}-x", "labels": {"app": app}}, "spec": spec, "status": status}


def test_the_operator_s_workload_pods_are_reported_running_and_ready() -> None:
    """SriovOperatorConfig stayed READY False forever in the sandbox: its pods never ran."""
    patch = running_status(_pod("sriov-network-config-daemon"), NOW)
    assert patch is not None
    status = patch["status"]
    assert status["phase"] == "Running"
    assert {c["type"]: c["status"] for c in status["conditions"]}["Ready"] == "True"
    assert status["containerStatuses"][0]["name"] == "main"
    assert status["containerStatuses"][0]["ready"] is True
    assert running_status(_pod("sriov-device-plugin"), NOW) is not None
    assert running_status(_pod("sriov-operator-webhook"), NOW) is not None


def test_other_pods_unbound_pods_and_ready_pods_are_left_alone() -> None:
    assert running_status(_pod("dpdk-app"), NOW) is None  # the example's pod stays Pending
    assert running_status(_pod("sriov-network-config-daemon", node=None), NOW) is None
    ready = _pod("sriov-device-plugin", conditions=[{"type": "Ready", "status": "True"}])
    assert running_status(ready, NOW) is None
    going = _pod("sriov-device-plugin")
    going["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert running_status(going, NOW) is None


# ------------------------------------------------------------------ pods going away
NODES = frozenset({"worker-0", "worker-1"})
ASKED = "2026-01-01T12:00:00Z"  # deletionTimestamp: the deletion asked for at 11:59:30 with 30s of grace
DUE = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def _going(
    node: str | None = "worker-0", grace: int = 30, deletion: str | None = ASKED, **status: Any
) -> dict[str, Any]:
    """A user's pod (the example's, Pending: nothing ran it) as the API server shows it once deleted."""
    spec: dict[str, Any] = {"containers": [{"name": "app", "image": "app:1"}]}
    if node is not None:
        spec["nodeName"] = node
    metadata: dict[str, Any] = {
        "name": "dpdk-app",
        "namespace": "default",
        "uid": "uid-1",
        "resourceVersion": "42",
    }
    if deletion is not None:
        metadata |= {"deletionTimestamp": deletion, "deletionGracePeriodSeconds": grace}
    return {"metadata": metadata, "spec": spec, "status": {"phase": "Pending", **status}}


@pytest.mark.parametrize(
    ("pod", "why"),
    [
        (_going(deletion=None), "not going away: a user's pod stays Pending"),
        (_going(node="elsewhere"), "bound to a node that is not the sandbox's"),
        (_going(node=None), "bound to no node (the API server deletes those itself)"),
        (_going(grace=0, phase="Failed"), "already ended and deleted at once: only finalizers keep it"),
    ],
)
def test_pods_the_stand_in_leaves_alone(pod: dict[str, Any], why: str) -> None:
    assert termination(pod, NODES) is None, why


@pytest.mark.parametrize(
    ("pod", "now", "due"),
    [
        (_going(), DUE - SECOND, False),  # a second of its grace period left
        (_going(), DUE, True),  # the grace period is over
        (_going(), DUE + 10 * SECOND, True),  # a late tick still ends it
        # a second deletion with a shorter grace period moved deletionTimestamp earlier: that counts
        (_going(grace=0, deletion="2026-01-01T11:59:30Z"), DUE - 30 * SECOND, True),
    ],
)
def test_a_pod_going_away_from_a_sandbox_node_ends_at_the_end_of_its_grace_period(
    pod: dict[str, Any], now: datetime, due: bool
) -> None:
    ending = termination(pod, NODES)
    assert ending is not None
    assert (ending.ref, ending.uid, ending.node) == ("default/dpdk-app", "uid-1", "worker-0")
    assert ending.grace_seconds == pod["metadata"]["deletionGracePeriodSeconds"]
    assert ending.is_due(now) is due


def test_the_stopped_pod_is_failed_with_every_container_terminated_and_not_ready() -> None:
    """What ``kubectl get pod`` shows between the report and the deletion; written over the pod as
    listed (its resourceVersion and UID make the update a compare-and-swap)."""
    pod = _going(
        conditions=[
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": "2026-01-01T11:00:00Z"},
            {"type": "DisruptionTarget", "status": "True", "reason": "EvictionByEvictionAPI"},
        ]
    )
    ending = termination(pod, NODES)
    assert ending is not None and ending.stopped is not None
    assert ending.stopped["metadata"] == pod["metadata"]
    status = ending.stopped["status"]
    assert status["phase"] == "Failed"
    [container] = status["containerStatuses"]
    assert (container["name"], container["ready"]) == ("app", False)
    terminated = container["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (137, "ContainerStatusUnknown")
    assert terminated["finishedAt"] == ASKED
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["PodScheduled"]["status"] == "True"
    assert conditions["DisruptionTarget"]["reason"] == "EvictionByEvictionAPI"
    assert (conditions["Ready"]["status"], conditions["Ready"]["reason"]) == ("False", "PodFailed")
    assert conditions["ContainersReady"]["status"] == "False"


def test_a_running_workload_pod_keeps_when_it_started_and_ended_containers_keep_their_end() -> None:
    running = _pod("sriov-device-plugin")
    reported = running_status(running, NOW)
    assert reported is not None
    done = {"name": "init", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
    running["status"] = reported["status"] | {"initContainerStatuses": [done]}
    running["spec"]["initContainers"] = [{"name": "init", "image": "img:1"}]
    deleted = "2026-01-01T12:05:00Z"
    running["metadata"] |= {"namespace": "ns", "uid": "u"}
    running["metadata"] |= {"deletionTimestamp": deleted, "deletionGracePeriodSeconds": 30}
    ending = termination(running, NODES)
    assert ending is not None and ending.stopped is not None
    status = ending.stopped["status"]
    main = status["containerStatuses"][0]["state"]["terminated"]
    assert (main["startedAt"], main["finishedAt"]) == (reported["status"]["startTime"], deleted)
    assert status["initContainerStatuses"][0]["state"]["terminated"] == done["state"]["terminated"]
    ready = {c["type"]: c for c in status["conditions"]}["Ready"]
    assert (ready["status"], ready["lastTransitionTime"]) == ("False", deleted)


def test_a_pod_already_reported_ended_is_only_deleted() -> None:
    ending = termination(_going(phase="Failed"), NODES)
    assert ending is not None and ending.stopped is None
