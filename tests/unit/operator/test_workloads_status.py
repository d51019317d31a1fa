"""The SriovOperatorConfig Ready condition: the config accepted and its workloads rolled out."""

from __future__ import annotations

from typing import Any

import pytest

from sriov_operator.api.conditions import Condition
from sriov_operator.operator.workloads.status import rollout, with_rollouts

ACCEPTED = Condition("Ready", "True", "OperatorConfigReady", "configuration accepted")


def daemon_set(
    generation: int, observed: int | None, desired: int, available: int, updated: int
) -> dict[str, Any]:
    status: dict[str, Any] = {
        "desiredNumberScheduled": desired,
        "numberAvailable": available,
        "updatedNumberScheduled": updated,
    }
    if observed is not None:
        status["observedGeneration"] = observed
    return {"metadata": {"generation": generation}, "status": status}


@pytest.mark.parametrize(
    ("live", "done"),
    [
        (daemon_set(1, 1, 3, 3, 3), True),
        (daemon_set(1, 1, 0, 0, 0), True),  # no node selected yet: nothing to wait for
        (daemon_set(1, 1, 3, 2, 3), False),
        (daemon_set(2, 1, 3, 3, 3), False),  # new spec not seen by the DaemonSet controller yet
        (daemon_set(2, 2, 3, 3, 1), False),  # old pods still available, new ones not
        (daemon_set(1, None, 0, 0, 0), False),
        (None, False),
    ],
)
def test_daemon_set_rollout(live: dict[str, Any] | None, done: bool) -> None:
    assert rollout("DaemonSet", "ds", live).done is done


def test_deployment_rollout_counts_updated_available_replicas() -> None:
    live = {
        "metadata": {"generation": 4},
        "spec": {"replicas": 2},
        "status": {"observedGeneration": 4, "availableReplicas": 2, "updatedReplicas": 1},
    }
    assert rollout("Deployment", "web", live).describe() == "Deployment web: 1/2 ready"
    live["status"]["updatedReplicas"] = 2
    assert rollout("Deployment", "web", live).done


def test_ready_only_when_accepted_and_every_workload_is_rolled_out() -> None:
    ok = rollout("DaemonSet", "a", daemon_set(1, 1, 2, 2, 2))
    late = rollout("DaemonSet", "b", daemon_set(1, 1, 2, 1, 2))
    assert with_rollouts(ACCEPTED, [ok]) == Condition(
        "Ready", "True", "OperatorConfigReady", "configuration accepted; DaemonSet a: 2/2 ready"
    )
    assert with_rollouts(ACCEPTED, [ok, late]) == Condition(
        "Ready", "False", "WorkloadsNotReady", "DaemonSet a: 2/2 ready; DaemonSet b: 1/2 ready"
    )
    refused = Condition("Ready", "False", "UnsupportedConfiguration", "configurationMode 'systemd' ...")
    assert with_rollouts(refused, [ok]) == refused
