"""The sandbox reports the operator's own workload pods Running and Ready, as a kubelet would."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sriov_operator.sandbox.kubelet import running_status

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
