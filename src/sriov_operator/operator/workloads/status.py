"""Are the rendered workloads running? The SriovOperatorConfig ``Ready`` condition, as pure data."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sriov_operator.api.conditions import WORKLOADS_NOT_READY, Condition
from sriov_operator.api.constants import WEBHOOK_SERVICE_NAME

Object = Mapping[str, Any]


@dataclass(frozen=True)
class Rollout:
    kind: str
    name: str
    ready: int
    wanted: int
    observed: bool
    """The workload's controller has seen its latest generation."""

    @property
    def done(self) -> bool:
        return self.observed and self.ready >= self.wanted

    def describe(self) -> str:
        if not self.observed:
            return f"{self.kind} {self.name}: latest spec not yet rolled out"
        return f"{self.kind} {self.name}: {self.ready}/{self.wanted} ready"


def _observed(obj: Object) -> bool:
    generation = obj.get("metadata", {}).get("generation")
    observed = obj.get("status", {}).get("observedGeneration")
    return generation is not None and observed is not None and observed >= generation


def rollout(kind: str, name: str, live: Object | None) -> Rollout:
    """How far a DaemonSet or Deployment is; a missing one has nothing ready."""
    if live is None:
        return Rollout(kind, name, ready=0, wanted=1, observed=False)
    status = live.get("status") or {}
    if kind == "DaemonSet":
        wanted = int(status.get("desiredNumberScheduled") or 0)
        ready = min(int(status.get("numberAvailable") or 0), int(status.get("updatedNumberScheduled") or 0))
    else:
        wanted = int((live.get("spec") or {}).get("replicas", 1))
        ready = min(int(status.get("availableReplicas") or 0), int(status.get("updatedReplicas") or 0))
    return Rollout(kind, name, ready=ready, wanted=wanted, observed=_observed(live))


def with_rollouts(accepted: Condition, rollouts: Sequence[Rollout]) -> Condition:
    """The SriovOperatorConfig ``Ready``: the config is accepted *and* its workloads run.

    A config that is not accepted says why (``accepted`` as is); an accepted one is
    Ready only once every DaemonSet and Deployment has rolled out its latest spec.
    """
    if accepted.status != "True" or not rollouts:
        return accepted
    text = "; ".join(r.describe() for r in rollouts)
    if all(r.done for r in rollouts):
        return Condition(accepted.type, "True", accepted.reason, f"{accepted.message}; {text}")
    return Condition(accepted.type, "False", WORKLOADS_NOT_READY, text)


def pods_of(objects: Sequence[Object]) -> list[tuple[str, str]]:
    """(kind, name) of the rendered objects that run pods."""
    return [(o["kind"], o["metadata"]["name"]) for o in objects if o["kind"] in ("DaemonSet", "Deployment")]


DISABLED, RUNNING, STARTING = "Disabled", "Running", "Starting"


def component_states(
    enable_injector: bool, enable_operator_webhook: bool, rollouts: Sequence[Rollout]
) -> dict[str, str]:
    """``status.injector`` and ``status.operatorWebhook``: ``Disabled``, or whether the webhook
    Deployment that serves both has rolled out (``Running``) or not yet (``Starting``)."""
    serving = any(r.kind == "Deployment" and r.name == WEBHOOK_SERVICE_NAME and r.done for r in rollouts)
    state = RUNNING if serving else STARTING
    return {
        "injector": state if enable_injector else DISABLED,
        "operatorWebhook": state if enable_operator_webhook else DISABLED,
    }
