"""Policy and operator-config status: matchedNodes, readyNodes and Ready with reasons."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sriov_operator.api.conditions import Condition, merged
from sriov_operator.api.refs import ObjectRef
from sriov_operator.engine.problems import error
from sriov_operator.operator.controllers.view import readiness_inputs
from sriov_operator.operator.status import (
    node_state_ready,
    operator_config_condition,
    policy_readiness,
    policy_status,
    readiness_note,
    status_needs_write,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _state(sync: str, generation: int = 1, applied: str | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"generation": generation}
    if applied is not None:
        metadata["annotations"] = {"sriovnetwork.openshift.io/applied-generation": applied}
    return {"metadata": metadata, "status": {"syncStatus": sync}}


def test_node_ready_needs_success_for_the_current_generation() -> None:
    assert node_state_ready(_state("Succeeded"))
    assert node_state_ready(_state("Succeeded", 2, "2"))
    assert not node_state_ready(_state("Succeeded", 2, "1"))
    assert not node_state_ready(_state("InProgress"))
    assert not node_state_ready(None)
    by_condition = _state("Succeeded", 3)
    by_condition["status"]["conditions"] = [{"type": "Ready", "status": "True", "observedGeneration": 2}]
    assert not node_state_ready(by_condition)


def test_policy_ready_when_every_selected_node_is() -> None:
    states = {"a": _state("Succeeded"), "b": _state("InProgress"), "c": _state("Failed")}
    all_ready = policy_readiness({"a"}, states, [])
    assert (all_ready.matched, all_ready.ready, all_ready.condition.status) == (1, 1, "True")
    assert all_ready.condition.reason == "AllNodesReady"
    waiting = policy_readiness({"a", "b"}, states, [])
    assert (waiting.matched, waiting.ready, waiting.condition.reason) == (2, 1, "NodesNotReady")
    assert waiting.condition.message == "1 of 2 nodes ready; waiting for b"
    failed = policy_readiness({"a", "b", "c"}, states, [])
    assert failed.condition.reason == "NodesFailed"
    assert "failed: c" in failed.condition.message
    assert policy_readiness(set(), states, []).condition.reason == "NoMatchingNodes"
    problem = error(
        ObjectRef(kind="SriovNetworkNodePolicy", namespace="ns", name="p"), "spec.numVfs", "too many"
    )
    invalid = policy_readiness({"a"}, states, [problem])
    assert (invalid.condition.reason, invalid.condition.message) == ("InvalidPolicy", "spec.numVfs: too many")


def test_policy_status_is_stable_when_nothing_changed() -> None:
    readiness = policy_readiness({"a"}, {"a": _state("Succeeded")}, [])
    first = policy_status(None, readiness, 4, NOW)
    again = policy_status(first, readiness, 4, NOW + timedelta(hours=1))
    assert not status_needs_write(first, again)
    assert first["conditions"][0]["observedGeneration"] == 4
    assert (first["matchedNodes"], first["readyNodes"]) == (1, 1)


def test_transition_time_moves_only_on_status_change() -> None:
    first = merged(None, Condition("Ready", "False", "X", "m"), NOW)
    later = NOW + timedelta(minutes=5)
    same = merged(first, Condition("Ready", "False", "Y", "other"), later)
    assert same[0]["lastTransitionTime"] == "2026-01-01T00:00:00Z"
    flipped = merged(same, Condition("Ready", "True", "Z"), later)
    assert flipped[0]["lastTransitionTime"] == "2026-01-01T00:05:00Z"
    others = merged([{"type": "Draining", "status": "True"}], Condition("Ready", "True", "Z"), NOW)
    assert [c["type"] for c in others] == ["Draining", "Ready"]


def test_operator_config_condition() -> None:
    assert operator_config_condition([], None).reason == "OperatorConfigReady"
    assert operator_config_condition([], "systemd").reason == "UnsupportedConfiguration"
    problem = error(
        ObjectRef(kind="SriovOperatorConfig", namespace="ns", name="default"), "spec.logLevel", "bad"
    )
    bad = operator_config_condition([problem], "daemon")
    assert (bad.status, bad.reason, bad.message) == (
        "False",
        "OperatorConfigSyncFailed",
        "spec.logLevel: bad",
    )


def _failed_by(*policies: str) -> dict[str, Any]:
    state = _state("Failed")
    state["metadata"]["annotations"] = {"sriovnetwork.openshift.io/failed-policies": ",".join(policies)}
    return state


def test_a_policy_blocked_by_another_policy_s_failure_names_it() -> None:
    """Every other policy on a node with a failing one showed READY 0 and no reason."""
    states = {"w0": _failed_by("jumbo"), "w1": _failed_by("jumbo", "dpdk"), "w2": _state("Succeeded")}
    blocked = policy_readiness({"w0", "w2"}, states, [], "dpdk")
    assert blocked.condition.reason == "BlockedByOtherPolicy"
    assert blocked.condition.message == (
        "1 of 2 nodes ready; another policy's failure blocks this one on w0 (by policy jumbo)"
    )
    own = policy_readiness({"w0"}, states, [], "jumbo")
    assert (own.condition.reason, own.condition.message) == ("NodesFailed", "0 of 1 nodes ready; failed: w0")
    both = policy_readiness({"w0", "w1"}, states, [], "dpdk")
    assert both.condition.reason == "NodesFailed"
    assert both.condition.message == (
        "0 of 2 nodes ready; failed: w1; blocked by another policy's failure on w0 (by policy jumbo)"
    )
    unknown = policy_readiness({"w3"}, {"w3": _state("Failed")}, [], "dpdk")
    assert unknown.condition.reason == "NodesFailed"


def test_a_policy_selecting_no_device_anywhere_is_not_ready() -> None:
    """dpdk1 on bare metal showed MATCHED 2 READY 2 and AllNodesReady while it configured nothing."""
    states = {"w0": _state("Succeeded"), "w1": _state("Succeeded")}
    configuring = {"w0": frozenset({"hwoffload1"}), "w1": frozenset[str]()}
    idle = policy_readiness({"w0", "w1"}, states, [], "dpdk1", configuring)
    assert (idle.matched, idle.ready, idle.condition.status) == (2, 0, "False")
    assert idle.condition.reason == "NoDeviceSelected"
    assert idle.condition.message.startswith(
        "configures nothing: selects no device on 2 of 2 nodes: w0, w1 (its nicSelector matches no interface"
    )
    assert idle.without_device == ("w0", "w1")


def test_nodes_without_a_device_are_named_not_counted_nor_waited_for() -> None:
    states = {"w0": _state("Succeeded"), "w1": _state("InProgress"), "w2": _state("Failed")}
    configuring: dict[str, frozenset[str] | None] = {
        "w0": frozenset({"p"}),
        "w1": frozenset(),
        "w2": frozenset(),
    }
    some = policy_readiness({"w0", "w1", "w2"}, states, [], "p", configuring)
    assert (some.matched, some.ready, some.condition.status) == (3, 1, "True")
    assert some.condition.reason == "NoDeviceOnSomeNodes"
    assert some.condition.message.startswith(
        "1 of 1 nodes ready; selects no device on 2 of 3 nodes: w1, w2 ("
    )
    undiscovered = policy_readiness({"w0", "w1"}, states, [], "p", {"w0": frozenset({"p"}), "w1": None})
    assert undiscovered.condition.reason == "NodesNotReady"  # not discovered yet: waited for, not named
    many = {f"n{i}": frozenset[str]() for i in range(7)}
    named = policy_readiness(many, {}, [], "p", many).condition.message
    assert "selects no device on 7 of 7 nodes: n0, n1, n2, n3, n4 and 2 more" in named


def _unusable(policies: dict[str, str]) -> dict[str, Any]:
    state = _state("Succeeded")
    state["metadata"]["annotations"] = {"sriovnetwork.openshift.io/unusable-policies": json.dumps(policies)}
    return state


def test_a_policy_whose_devices_the_daemon_reports_unusable_is_not_ready() -> None:
    """hwoffload1 was Ready and advertised while its plan warnings said to load mlx5_ib."""
    states = {
        "w0": _unusable({"hwoffload1": "0000:00:05.1 (ens7v0): ... load mlx5_ib"}),
        "w1": _state("Succeeded"),
    }
    unusable = policy_readiness({"w0", "w1"}, states, [], "hwoffload1")
    assert (unusable.ready, unusable.condition.status, unusable.condition.reason) == (
        1,
        "False",
        "ResourceUnusable",
    )
    assert unusable.condition.message == (
        "1 of 2 nodes ready; the device plugin cannot use its devices on w0: "
        "0000:00:05.1 (ens7v0): ... load mlx5_ib"
    )
    assert unusable.unusable == ("w0",)
    other = policy_readiness({"w0", "w1"}, states, [], "dpdk1")
    assert other.condition.reason == "AllNodesReady"
    broken = _state("Succeeded")
    broken["metadata"]["annotations"] = {"sriovnetwork.openshift.io/unusable-policies": "{not json"}
    assert policy_readiness({"w0"}, {"w0": broken}, [], "p").condition.reason == "AllNodesReady"


def test_policy_event_notes_are_words() -> None:
    states = {"a": _state("Succeeded")}
    assert readiness_note(policy_readiness({"a"}, states, []).condition) == "ready: 1 of 1 nodes ready"
    waiting = policy_readiness({"a", "b"}, states, []).condition
    assert readiness_note(waiting) == "not ready: 1 of 2 nodes ready; waiting for b"


def test_the_daemon_naming_the_failing_policy_moves_the_policy_status() -> None:
    """The failed-policies annotation comes after the Failed status; the other policies' status
    stayed NodesFailed without naming the culprit, because the annotation did not re-trigger it."""
    failed = _state("Failed")
    assert readiness_inputs(failed) != readiness_inputs(_failed_by("hwoffload1"))
    assert readiness_inputs(_state("Succeeded")) != readiness_inputs(_unusable({"p": "load mlx5_ib"}))
