"""The SriovOperatorConfig Ready condition: the config accepted and its workloads rolled out."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from sriov_operator.api.conditions import Condition
from sriov_operator.operator.workloads.render import operator_log_level
from sriov_operator.operator.workloads.status import Rollout, component_states, rollout, with_rollouts
from tests.docs_examples import example

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


def test_injector_and_operator_webhook_states_follow_the_webhook_rollout() -> None:
    """status.injector and status.operatorWebhook were never written."""
    rolled = [Rollout("Deployment", "sriov-operator-webhook", ready=1, wanted=1, observed=True)]
    starting = [Rollout("Deployment", "sriov-operator-webhook", ready=0, wanted=1, observed=True)]
    assert component_states(True, True, rolled) == {"injector": "Running", "operatorWebhook": "Running"}
    assert component_states(True, False, starting) == {"injector": "Starting", "operatorWebhook": "Disabled"}
    assert component_states(False, True, []) == {"injector": "Disabled", "operatorWebhook": "Starting"}


def test_the_operator_s_own_log_level_follows_the_config() -> None:
    assert operator_log_level({"logLevel": 0}) == "INFO"
    assert operator_log_level({"logLevel": 2}) == "DEBUG"
    assert operator_log_level({}) is None  # --log-level stands
    assert operator_log_level({"logLevel": 7}) is None  # refused by the schema; Ready says why
    assert operator_log_level({"logLevel": True}) is None


def test_the_documented_operator_config_status_is_what_the_operator_writes() -> None:
    shown = yaml.safe_load(example("operator-config-status").text)["status"]
    rollouts = [
        Rollout("DaemonSet", "sriov-network-config-daemon", ready=2, wanted=2, observed=True),
        Rollout("DaemonSet", "sriov-device-plugin", ready=2, wanted=2, observed=True),
        Rollout("Deployment", "sriov-operator-webhook", ready=1, wanted=1, observed=True),
    ]
    ready = with_rollouts(ACCEPTED, rollouts)
    assert {k: shown[k] for k in ("injector", "operatorWebhook")} == component_states(False, True, rollouts)
    [condition] = shown["conditions"]
    assert condition == {
        "type": "Ready",
        "status": ready.status,
        "reason": ready.reason,
        "message": ready.message,
    }
