"""The drain state machine, one row per situation; the deadline; the backoff."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sriov_operator.operator.drain.decision import (
    Decision,
    NodeDrainState,
    Outcome,
    Step,
    conclude,
    decide,
    retry_delay,
)
from sriov_operator.operator.drain.pools import Admission, PoolMembership
from tests.docs_examples import example

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
IN_POOL = PoolMembership(pool="a")
CONFLICT = PoolMembership(pool=None, conflicting=("a", "b"))
OPEN = Admission(allowed=True, pool="a", limit=1, busy=(), pool_size=3)
FULL = Admission(allowed=False, pool="a", limit=1, busy=("n2",), pool_size=3)


def run(
    state: NodeDrainState,
    *,
    disabled: bool = False,
    membership: PoolMembership = IN_POOL,
    admission: Admission = OPEN,
) -> Decision:
    asked: list[str] = []

    def admit(pool: str) -> Admission:
        asked.append(pool)
        return admission

    decision = decide(
        state, now=NOW, drain_disabled=disabled, membership=membership, admit=admit, pool_wait=5.0
    )
    # the pool is consulted only by a node that wants to start
    assert bool(asked) == (decision.step in (Step.WAIT_POOL, Step.START) and decision.admission is not None)
    return decision


@pytest.mark.parametrize(
    ("state", "kwargs", "step"),
    [
        # idle request
        (NodeDrainState("", ""), {}, Step.NONE),
        (NodeDrainState("Idle", "Idle"), {}, Step.NONE),
        (NodeDrainState("Idle", "DrainComplete"), {}, Step.RELEASE),
        (NodeDrainState("Idle", "Draining"), {}, Step.RELEASE),
        (NodeDrainState("Idle", "Idle", cordoned_by_us=True), {}, Step.RELEASE),
        (NodeDrainState("Idle", "Idle", has_bookkeeping=True), {}, Step.RELEASE),
        (NodeDrainState("", "DrainComplete"), {}, Step.RELEASE),
        # drain disabled: answer at once, never cordon
        (NodeDrainState("Drain_Required", "Idle"), {"disabled": True}, Step.SKIP),
        (NodeDrainState("Reboot_Required", "Draining"), {"disabled": True}, Step.SKIP),
        (
            NodeDrainState("Drain_Required", "DrainComplete", drained_for="Drain_Required"),
            {"disabled": True},
            Step.NONE,
        ),
        (
            NodeDrainState("Reboot_Required", "DrainComplete", drained_for="Drain_Required"),
            {"disabled": True},
            Step.SKIP,
        ),
        # in progress / done
        (NodeDrainState("Drain_Required", "Draining"), {}, Step.DRAIN),
        (NodeDrainState("Reboot_Required", "Draining"), {"membership": CONFLICT}, Step.DRAIN),
        (NodeDrainState("Drain_Required", "DrainComplete", drained_for="Drain_Required"), {}, Step.NONE),
        (NodeDrainState("Reboot_Required", "DrainComplete", drained_for="Reboot_Required"), {}, Step.NONE),
        (NodeDrainState("Drain_Required", "DrainComplete", drained_for="Reboot_Required"), {}, Step.NONE),
        # a reboot after a smaller drain starts again (keeping its slot: no admission)
        (NodeDrainState("Reboot_Required", "DrainComplete", drained_for="Drain_Required"), {}, Step.START),
        # wanting to start
        (NodeDrainState("Drain_Required", "Idle"), {}, Step.START),
        (NodeDrainState("Reboot_Required", ""), {}, Step.START),
        (NodeDrainState("Drain_Required", "Idle"), {"admission": FULL}, Step.WAIT_POOL),
        (NodeDrainState("Drain_Required", "Idle"), {"membership": CONFLICT}, Step.POOL_CONFLICT),
        (NodeDrainState("Drain_Required", "Idle", retry_at=NOW + timedelta(seconds=30)), {}, Step.WAIT_RETRY),
        (NodeDrainState("Drain_Required", "Idle", retry_at=NOW - timedelta(seconds=1)), {}, Step.START),
        (NodeDrainState("Drain", "Idle"), {}, Step.INVALID_REQUEST),
    ],
)
def test_next_step(state: NodeDrainState, kwargs: dict[str, object], step: Step) -> None:
    assert run(state, **kwargs).step == step  # type: ignore[arg-type]


def test_waits_report_when_to_look_again() -> None:
    backoff = run(NodeDrainState("Drain_Required", "Idle", retry_at=NOW + timedelta(seconds=30)))
    assert backoff.requeue_after == 30.0
    full = run(NodeDrainState("Drain_Required", "Idle"), admission=FULL)
    assert (full.requeue_after, full.admission) == (5.0, FULL)


STARTED = NOW - timedelta(seconds=100)


@pytest.mark.parametrize(
    ("left", "terminating", "deadline", "force", "outcome", "requeue"),
    [
        (0, 0, 600, False, Outcome.COMPLETE, None),
        (0, 0, 10, False, Outcome.COMPLETE, None),  # done beats a passed deadline
        (2, 0, 600, False, Outcome.CONTINUE, 2.0),
        (0, 1, 600, False, Outcome.CONTINUE, 2.0),
        (2, 0, 101, False, Outcome.CONTINUE, 1.0),  # never sleeps past the deadline
        (2, 0, 100, False, Outcome.BLOCKED, None),
        (0, 3, 50, False, Outcome.BLOCKED, None),
        (2, 0, 100, True, Outcome.FORCE, 2.0),
        (0, 3, 50, True, Outcome.BLOCKED, None),  # terminating pods cannot be forced
    ],
)
def test_conclusion_after_evictions(
    left: int, terminating: int, deadline: float, force: bool, outcome: Outcome, requeue: float | None
) -> None:
    conclusion = conclude(
        left_to_evict=left,
        terminating=terminating,
        started_at=STARTED,
        now=NOW,
        deadline=deadline,
        force=force,
        poll_interval=2.0,
    )
    assert (conclusion.outcome, conclusion.requeue_after) == (outcome, requeue)


@pytest.mark.parametrize(("attempts", "delay"), [(0, 30), (1, 30), (2, 60), (3, 120), (6, 900), (50, 900)])
def test_retry_backoff_doubles_up_to_a_cap(attempts: int, delay: float) -> None:
    assert retry_delay(attempts, base=30, maximum=900) == delay


DOCUMENTED_ROWS = [  # (the row of docs/drain.md's table, a situation it describes, the step it promises)
    (
        "request Idle                 -> uncordon",
        NodeDrainState("Idle", "DrainComplete", cordoned_by_us=True),
        {},
        Step.RELEASE,
    ),
    (
        "disableDrain: true         -> answer DrainComplete at once",
        NodeDrainState("Drain_Required", "Idle"),
        {"disabled": True},
        Step.SKIP,
    ),
    (
        "answered DrainComplete     -> nothing",
        NodeDrainState("Drain_Required", "DrainComplete", drained_for="Drain_Required"),
        {},
        Step.NONE,
    ),
    (
        "a Reboot_Required after a Drain_Required drains again",
        NodeDrainState("Reboot_Required", "DrainComplete", drained_for="Drain_Required"),
        {},
        Step.START,
    ),
    (
        "Draining                   -> cordon; evict",
        NodeDrainState("Drain_Required", "Draining"),
        {},
        Step.DRAIN,
    ),
    (
        "node in two pools? -> PoolConflict",
        NodeDrainState("Drain_Required", "Idle"),
        {"membership": CONFLICT},
        Step.POOL_CONFLICT,
    ),
    (
        "backing off after a drain that gave up? -> wait",
        NodeDrainState("Drain_Required", "Idle", retry_at=NOW + timedelta(seconds=30)),
        {},
        Step.WAIT_RETRY,
    ),
    (
        "pool at its limit? -> WaitingForPool",
        NodeDrainState("Drain_Required", "Idle"),
        {"admission": FULL},
        Step.WAIT_POOL,
    ),
    ("else -> Draining", NodeDrainState("Reboot_Required", "Idle"), {}, Step.START),
]


@pytest.mark.parametrize(("row", "state", "kwargs", "step"), DOCUMENTED_ROWS)
def test_each_row_of_the_documented_table_is_what_happens(
    row: str, state: NodeDrainState, kwargs: dict[str, object], step: Step
) -> None:
    assert row in example("drain-decisions").text
    assert run(state, **kwargs).step == step  # type: ignore[arg-type]
