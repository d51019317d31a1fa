"""The drain state machine as pure functions: what to do next for one node.

Inputs are what the caches say about the node (its request, our bookkeeping,
whether we cordoned it) plus the time; outputs say what to write. The reconciler
(``controller.py``) only gathers the inputs, calls these and carries the result out.

    request Idle                -> release: uncordon if we cordoned, current-state Idle
    request Drain/Reboot_Required:
      drain disabled            -> DrainComplete at once, no cordon
      current DrainComplete     -> nothing (unless a reboot follows a smaller drain: start again)
      current Draining          -> drain: cordon, evict, then complete / continue / force / give up
      current Idle              -> pool conflict? waiting out a backoff? pool full? else start
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sriov_operator.api.constants import (
    DRAIN_COMPLETE,
    DRAIN_IDLE,
    DRAIN_REQUIRED,
    DRAINING,
    REBOOT_REQUIRED,
)
from sriov_operator.operator.drain.pools import Admission, PoolMembership

DRAIN_REQUESTS = frozenset({DRAIN_REQUIRED, REBOOT_REQUIRED})
REQUESTS = frozenset({DRAIN_IDLE, *DRAIN_REQUESTS})


class Step(StrEnum):
    NONE = "none"
    RELEASE = "release"
    SKIP = "skip"
    INVALID_REQUEST = "invalid-request"
    POOL_CONFLICT = "pool-conflict"
    WAIT_RETRY = "wait-retry"
    WAIT_POOL = "wait-pool"
    START = "start"
    DRAIN = "drain"


@dataclass(frozen=True)
class NodeDrainState:
    """What the caches say about one node's drain."""

    request: str
    """The daemon's request (Node annotation ``sriovnetwork.openshift.io/state``); "" when absent."""
    current: str
    """Our answer (NodeState annotation ``current-state``); "" when absent."""
    cordoned_by_us: bool = False
    drained_for: str = ""
    """The request a DrainComplete answered."""
    retry_at: datetime | None = None
    """Not before this time after a drain that gave up."""
    has_bookkeeping: bool = False
    """Any of our drain annotations is still on the NodeState."""


@dataclass(frozen=True)
class Decision:
    step: Step
    requeue_after: float | None = None
    admission: Admission | None = None


def decide(
    state: NodeDrainState,
    *,
    now: datetime,
    drain_disabled: bool,
    membership: PoolMembership,
    admit: Callable[[str], Admission],
    pool_wait: float,
) -> Decision:
    """The next step for one node. ``admit(pool)`` is asked only when the node wants to start."""
    request = state.request or DRAIN_IDLE
    current = state.current or DRAIN_IDLE
    if request not in REQUESTS:
        return Decision(Step.INVALID_REQUEST)
    if request == DRAIN_IDLE:
        needs_release = current != DRAIN_IDLE or state.cordoned_by_us or state.has_bookkeeping
        return Decision(Step.RELEASE if needs_release else Step.NONE)
    if drain_disabled:
        done = current == DRAIN_COMPLETE and state.drained_for == request
        return Decision(Step.NONE if done else Step.SKIP)
    if current == DRAIN_COMPLETE:
        # A reboot after a smaller drain needs every other pod gone too; the node keeps its pool slot.
        escalated = request == REBOOT_REQUIRED and state.drained_for != REBOOT_REQUIRED
        return Decision(Step.START, requeue_after=0.0) if escalated else Decision(Step.NONE)
    if current == DRAINING:
        return Decision(Step.DRAIN)
    if membership.pool is None:
        return Decision(Step.POOL_CONFLICT)
    if state.retry_at is not None and now < state.retry_at:
        return Decision(Step.WAIT_RETRY, requeue_after=(state.retry_at - now).total_seconds())
    admission = admit(membership.pool)
    if not admission.allowed:
        return Decision(Step.WAIT_POOL, requeue_after=pool_wait, admission=admission)
    return Decision(Step.START, requeue_after=0.0, admission=admission)


class Outcome(StrEnum):
    COMPLETE = "complete"
    CONTINUE = "continue"
    FORCE = "force"
    BLOCKED = "blocked"


@dataclass(frozen=True)
class Conclusion:
    outcome: Outcome
    requeue_after: float | None = None


def conclude(
    *,
    left_to_evict: int,
    terminating: int,
    started_at: datetime,
    now: datetime,
    deadline: float,
    force: bool,
    poll_interval: float,
) -> Conclusion:
    """After one round of evictions: done, keep going, force the rest, or give up for now.

    Past the deadline, ``force`` deletes pods that evictions could not remove (their
    PodDisruptionBudgets are bypassed); pods already terminating cannot be hurried,
    so a drain left with only those gives up like an unforced one.
    """
    if left_to_evict == 0 and terminating == 0:
        return Conclusion(Outcome.COMPLETE)
    remaining = (started_at + timedelta(seconds=deadline) - now).total_seconds()
    if remaining > 0:
        return Conclusion(Outcome.CONTINUE, requeue_after=min(poll_interval, remaining))
    if force and left_to_evict:
        return Conclusion(Outcome.FORCE, requeue_after=poll_interval)
    return Conclusion(Outcome.BLOCKED)


def retry_delay(attempts: int, base: float, maximum: float) -> float:
    """Backoff after the ``attempts``-th drain that gave up: base, 2 * base, 4 * base ... capped."""
    return float(min(maximum, base * 2 ** max(0, attempts - 1)))
