"""The daemon's state machine: what it sees -> the one next step and the status to show for it.

Every input is observed afresh on each pass (NodeState, Node, device-plugin
ConfigMap, the host's plan), so a daemon restarted at any point picks up where
the cluster and the host say it is, and a step already done is never done
again: an applied spec plans to nothing.

Order for a new spec generation: publish the plan, request a drain if the plan
needs one and wait for ``DrainComplete``, apply, hand the device plugin its
config, ask for ``Idle``, remember the generation.  A plan that needs a reboot
(kernel arguments) asks for ``Reboot_Required`` instead; its last action asks
the host's systemd for the reboot, and the daemon then waits for the new boot.

After a reboot the device plugin's config from the earlier boot is withdrawn
first of all, and the host is configured again without a drain: until the
config is handed over in this boot, no pod on the node can hold one of our
devices, so there is nothing to drain (upstream likewise skips the drain for a
PF that has no VFs, which is every PF after a reboot).  A failed step shows
``Failed`` with the error until a later attempt succeeds (no InProgress/Failed
flapping while retrying), and is retried with capped exponential backoff.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sriov_operator.api.constants import (
    DRAIN_COMPLETE,
    DRAIN_IDLE,
    DRAIN_REQUIRED,
    REBOOT_REQUIRED,
    SYNC_FAILED,
    SYNC_IN_PROGRESS,
    SYNC_SUCCEEDED,
)
from sriov_operator.daemon.explain import drain_request, summarize
from sriov_operator.daemon.handoff import (
    DevicePluginConfig,
    HostHandOff,
    hand_over_needed,
    withdraw_needed,
)
from sriov_operator.host.bootconfig import REBOOT_REQUESTED
from sriov_operator.host.plan import Plan

Step = Literal[
    "withdraw",  # a new boot: remove the device plugin's config from the earlier boot, restart the plugin
    "apply",  # run the plan on the host
    "request-drain",  # set the Node's state annotation to Drain_Required / Reboot_Required
    "wait-drain",  # the drain controller has not answered DrainComplete yet
    "wait-reboot",  # the reboot was asked of systemd in this boot: nothing more until the next one
    "hand-over",  # write the device plugin's config file, annotate the ConfigMap
    "request-idle",  # set the Node's state annotation back to Idle
    "record-generation",  # remember the applied generation on the NodeState
    "fail",  # the spec cannot be planned on this host: report, retry later
    "idle",  # nothing to do
]
FailureReason = Literal["PlanRejected", "ApplyFailed", "HandOverFailed", "DiscoveryFailed"]

RETRY_MESSAGE = "retrying with backoff, or at once when the spec or host changes"
RETRY_BASE_SECONDS = 5.0
RETRY_CAP_SECONDS = 300.0


@dataclass(frozen=True)
class Failure:
    """The last failed attempt for one spec generation."""

    generation: int
    reason: FailureReason
    message: str
    attempts: int = 1
    at: float = 0.0  # monotonic time of the failure

    @property
    def retry_after(self) -> float:
        return retry_delay(self.attempts)

    def wait_before_retry(self, generation: int, now: float) -> float:
        """Seconds until the next attempt may run; 0 once due, or at once for a new spec generation."""
        if generation != self.generation:
            return 0.0
        return max(self.at + self.retry_after - now, 0.0)


def retry_delay(attempts: int) -> float:
    """5 s, 10 s, 20 s, ... capped at 5 minutes."""
    return min(RETRY_BASE_SECONDS * float(2 ** max(attempts - 1, 0)), RETRY_CAP_SECONDS)


def record_failure(
    previous: Failure | None, generation: int, reason: FailureReason, message: str, at: float
) -> Failure:
    """Count attempts per generation: a new spec starts the backoff again."""
    attempts = previous.attempts + 1 if previous and previous.generation == generation else 1
    return Failure(generation, reason, message, attempts, at)


@dataclass(frozen=True)
class Observation:
    generation: int  # NodeState metadata.generation
    applied_generation: int | None
    plan: Plan | None  # None when the spec cannot be planned on this host (see plan_error)
    plan_error: str | None
    explanation: tuple[str, ...]  # explain_plan(plan): one line per action
    drain_request: str  # the Node's state annotation (Idle when absent)
    drain_current: str  # the NodeState's current-state annotation from the drain controller
    device_plugin: DevicePluginConfig | None
    host_handoff: HostHandOff  # the device plugin's config file on the host, and its boot
    failure: Failure | None  # the last failed attempt, if any


@dataclass(frozen=True)
class Decision:
    step: Step
    sync_status: str
    last_sync_error: str
    progress: str  # what the daemon is doing or waiting for, for the Progressing condition
    drain_request: str | None = None  # the annotation value for request-drain / request-idle


AFTER_BOOT = "after a reboot, nothing of ours is advertised yet, so no drain"


def _next_step(seen: Observation) -> tuple[Step, str, str | None]:
    plan = seen.plan
    if withdraw_needed(seen.host_handoff, seen.device_plugin):
        return (
            "withdraw",
            "new boot: withdrawing the device plugin's config until the devices are configured again",
            None,
        )
    if plan is None:
        return "fail", f"generation {seen.generation} cannot be applied on this host: {seen.plan_error}", None
    plan_text = summarize(seen.explanation)
    if plan.requires_reboot and seen.host_handoff.boot.in_this_boot(REBOOT_REQUESTED):
        return "wait-reboot", f"waiting for the reboot asked of systemd: {plan_text}", None
    if plan.actions:
        after_boot = seen.host_handoff.after_boot and not plan.requires_reboot
        wanted = REBOOT_REQUIRED if plan.requires_reboot else DRAIN_REQUIRED
        # DrainComplete answers the request standing now; after a release (a failed apply) ask again
        drained = seen.drain_current == DRAIN_COMPLETE and seen.drain_request == wanted
        if plan.requires_drain and not after_boot and not drained:
            if seen.drain_request != wanted:
                return "request-drain", drain_request(wanted, plan_text), wanted
            return "wait-drain", f"waiting for the drain (now {seen.drain_current}) before: {plan_text}", None
        if plan.requires_drain and after_boot:
            return "apply", f"{AFTER_BOOT}: {plan_text}", None
        return "apply", plan_text, None
    config = seen.device_plugin
    if config is not None and hand_over_needed(seen.host_handoff, config, seen.generation):
        return (
            "hand-over",
            f"handing the device plugin its config for generation {config.for_generation}",
            None,
        )
    if seen.drain_request != DRAIN_IDLE:
        return (
            "request-idle",
            f"host configured; requesting {DRAIN_IDLE} (was {seen.drain_request})",
            DRAIN_IDLE,
        )
    if seen.applied_generation != seen.generation:
        return "record-generation", f"host matches generation {seen.generation}; recording it", None
    return "idle", f"generation {seen.generation} applied", None


def decide(seen: Observation) -> Decision:
    """The next step, and the syncStatus/lastSyncError/progress to publish before taking it."""
    step, progress, drain_request = _next_step(seen)
    failure = seen.failure if seen.failure and seen.failure.generation == seen.generation else None
    if step == "idle":
        return Decision(step, SYNC_SUCCEEDED, "", progress)
    if step == "fail":
        return Decision(
            step, SYNC_FAILED, progress, "retrying with backoff, or at once when the spec or host changes"
        )
    if failure is not None:
        retrying = f"retrying (attempt {failure.attempts + 1}): {progress}"
        return Decision(step, SYNC_FAILED, failure.message, retrying, drain_request)
    return Decision(step, SYNC_IN_PROGRESS, "", progress, drain_request)
