"""Status that people and ``kubectl wait`` can use: policies and the operator config.

NodeState status is the config daemon's; the operator only reads it here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sriov_operator.api.conditions import (
    CONFIG_READY,
    CONFIG_SYNC_FAILED,
    CONFIG_UNSUPPORTED,
    POLICY_BLOCKED,
    POLICY_INVALID,
    POLICY_NO_DEVICE_ON_SOME_NODES,
    POLICY_NO_DEVICE_SELECTED,
    POLICY_NO_MATCHING_NODES,
    POLICY_NODES_FAILED,
    POLICY_NODES_NOT_READY,
    POLICY_READY,
    POLICY_RESOURCE_UNUSABLE,
    READY,
    Condition,
    find,
    merged,
)
from sriov_operator.api.constants import (
    APPLIED_GENERATION_ANNOTATION,
    FAILED_POLICIES_ANNOTATION,
    SYNC_FAILED,
    SYNC_SUCCEEDED,
    UNUSABLE_POLICIES_ANNOTATION,
)
from sriov_operator.api.meta import annotations_of, generation_of
from sriov_operator.engine.coverage import (
    NO_DEVICE_WHY,
    Configuring,
    named_nodes,
    no_device_phrase,
    nodes_without_device,
)
from sriov_operator.engine.problems import Problem


def appliedgeneration_of(state: Mapping[str, Any]) -> int | None:
    """The spec generation the config daemon says it applied (annotation or Ready's observedGeneration)."""
    text = annotations_of(state).get(APPLIED_GENERATION_ANNOTATION)
    if isinstance(text, str) and text.isdigit():
        return int(text)
    ready = find((state.get("status") or {}).get("conditions"), READY)
    observed = ready.get("observedGeneration") if ready is not None else None
    return observed if isinstance(observed, int) else None


def sync_status(state: Mapping[str, Any] | None) -> str:
    return str(((state or {}).get("status") or {}).get("syncStatus") or "")


def node_state_ready(state: Mapping[str, Any] | None) -> bool:
    """Succeeded, for the current spec when the daemon says which generation it applied."""
    if state is None or sync_status(state) != SYNC_SUCCEEDED:
        return False
    applied = appliedgeneration_of(state)
    return applied is None or applied == generation_of(state)


def failed_policies(state: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The policies the config daemon says failed on its node (none named: unknown)."""
    annotations = ((state or {}).get("metadata") or {}).get("annotations") or {}
    value = annotations.get(FAILED_POLICIES_ANNOTATION)
    return tuple(p for p in value.split(",") if p) if isinstance(value, str) else ()


def unusable_policies(state: Mapping[str, Any] | None) -> dict[str, str]:
    """Policy -> why the device plugin cannot use its devices on the node, as the config daemon says."""
    value = annotations_of(state or {}).get(UNUSABLE_POLICIES_ANNOTATION)
    try:
        parsed = json.loads(value) if isinstance(value, str) else {}
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in parsed.items()} if isinstance(parsed, dict) else {}


def _blocked_by(policy: str, states: Mapping[str, Mapping[str, Any]], nodes: list[str]) -> dict[str, str]:
    """Each failed node whose failure is other policies' alone -> those policies."""
    culprits = {node: failed_policies(states.get(node)) for node in nodes}
    return {node: ", ".join(names) for node, names in culprits.items() if names and policy not in names}


@dataclass(frozen=True)
class PolicyReadiness:
    matched: int
    ready: int
    condition: Condition
    without_device: tuple[str, ...] = ()
    """Selected, discovered nodes where the policy configures nothing."""
    unusable: tuple[str, ...] = ()
    """Nodes where it is configured but the device plugin cannot use its devices."""


def _unusable_text(unusable: Mapping[str, str]) -> str:
    nodes = sorted(unusable)
    return f"the device plugin cannot use its devices on {named_nodes(nodes)}: {unusable[nodes[0]]}"


def policy_readiness(
    selected: Iterable[str],
    states: Mapping[str, Mapping[str, Any]],
    errors: list[Problem],
    policy: str = "",
    configuring: Configuring | None = None,
) -> PolicyReadiness:
    """matchedNodes, readyNodes and the Ready condition of one policy.

    ``selected`` are the managed nodes the policy selects (empty for an invalid
    policy); ``states`` the NodeStates by node name; ``errors`` the policy's own;
    ``policy`` its name: a node failing for other policies alone blocks it, and says by which;
    ``configuring`` what the engine rendered per node (see ``engine.coverage``): a node where the
    policy configures no device neither counts as ready nor waits, and is named instead.
    """
    nodes = sorted(selected)
    if errors:
        first = errors[0]
        message = f"{first.field}: {first.message}" + (f" (and {len(errors) - 1} more)" if errors[1:] else "")
        return PolicyReadiness(0, 0, Condition(READY, "False", POLICY_INVALID, message))
    if not nodes:
        message = "its nodeSelector matches no node the operator manages"
        return PolicyReadiness(0, 0, Condition(READY, "False", POLICY_NO_MATCHING_NODES, message))
    without = nodes_without_device(nodes, configuring or {}, policy)
    idle = f"{no_device_phrase(without, len(nodes))} ({NO_DEVICE_WHY})" if without else ""
    active = [n for n in nodes if n not in set(without)]
    if not active:
        condition = Condition(READY, "False", POLICY_NO_DEVICE_SELECTED, f"configures nothing: {idle}")
        return PolicyReadiness(len(nodes), 0, condition, tuple(without))
    unusable = {n: why for n in active if (why := unusable_policies(states.get(n)).get(policy))}
    ready = [n for n in active if node_state_ready(states.get(n)) and n not in unusable]
    failed = [n for n in active if sync_status(states.get(n)) == SYNC_FAILED]
    blockers = _blocked_by(policy, states, failed)
    blocked = [f"{node} (by policy {names})" for node, names in blockers.items()]
    own = [n for n in failed if n not in blockers]
    count = f"{len(ready)} of {len(active)} nodes ready" + (f"; {idle}" if idle else "")
    if own:
        also = f"; blocked by another policy's failure on {named_nodes(blocked)}" if blocked else ""
        message = f"{count}; failed: {named_nodes(own)}{also}"
        condition = Condition(READY, "False", POLICY_NODES_FAILED, message)
    elif blocked:
        message = f"{count}; another policy's failure blocks this one on {named_nodes(blocked)}"
        condition = Condition(READY, "False", POLICY_BLOCKED, message)
    elif unusable:
        condition = Condition(
            READY, "False", POLICY_RESOURCE_UNUSABLE, f"{count}; {_unusable_text(unusable)}"
        )
    elif len(ready) < len(active):
        waiting = [n for n in active if n not in set(ready)]
        message = f"{count}; waiting for {named_nodes(waiting)}"
        condition = Condition(READY, "False", POLICY_NODES_NOT_READY, message)
    elif without:
        condition = Condition(READY, "True", POLICY_NO_DEVICE_ON_SOME_NODES, count)
    else:
        condition = Condition(READY, "True", POLICY_READY, count)
    return PolicyReadiness(len(nodes), len(ready), condition, tuple(without), tuple(sorted(unusable)))


def policy_status(
    current: Mapping[str, Any] | None, readiness: PolicyReadiness, generation: int | None, now: datetime
) -> dict[str, Any]:
    """The policy's new ``status`` (conditions merged with the current ones)."""
    conditions = merged((current or {}).get("conditions"), readiness.condition, now, generation)
    return {"matchedNodes": readiness.matched, "readyNodes": readiness.ready, "conditions": conditions}


def status_needs_write(current: Mapping[str, Any] | None, new: Mapping[str, Any]) -> bool:
    return dict(current or {}) != dict(new)


def operator_config_condition(errors: list[Problem], configuration_mode: str | None) -> Condition:
    """Ready of the ``default`` SriovOperatorConfig: accepted, or why not."""
    if configuration_mode == "systemd":
        return Condition(
            READY,
            "False",
            CONFIG_UNSUPPORTED,
            "configurationMode 'systemd' is not supported by this operator; use 'daemon' (the default)",
        )
    if errors:
        first = errors[0]
        return Condition(READY, "False", CONFIG_SYNC_FAILED, f"{first.field}: {first.message}")
    return Condition(READY, "True", CONFIG_READY, "configuration accepted")


def readiness_note(condition: Condition) -> str:
    """The policy Event's words: ready or not, and the condition's message (no reason token)."""
    return f"{'ready' if condition.status == 'True' else 'not ready'}: {condition.message}"
