"""The controller's error policy and requeues, with a FakeClock and a recorded reconcile."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Hashable

import pytest

from sriov_operator.errors import BadInputError, HostError, TransientError
from sriov_operator.runtime.controller import Controller, Result
from sriov_operator.runtime.testing import FakeClock


class Script:
    """A reconcile that answers from a list of outcomes per key and records every call."""

    def __init__(self, outcomes: dict[Hashable, list[Result | Exception | None]]) -> None:
        self.outcomes = outcomes
        self.calls: list[Hashable] = []

    async def __call__(self, key: Hashable) -> Result | None:
        self.calls.append(key)
        pending = self.outcomes.get(key) or [None]
        outcome = pending.pop(0) if len(pending) > 1 else pending[0]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


@contextlib.asynccontextmanager
async def running(controller: Controller) -> AsyncIterator[None]:
    task = asyncio.create_task(controller.run())
    try:
        yield
    finally:
        controller.stop()
        await asyncio.wait_for(task, 2)


async def test_bad_input_is_not_retried_until_the_key_comes_again() -> None:
    clock = FakeClock()
    script = Script({"a": [BadInputError("spec.x: 3 is not one of 1, 2")]})
    controller = Controller("bad", script, clock=clock)
    async with running(controller):
        controller.queue.add("a")
        await clock.advance(0)
        await clock.advance(3600)
        assert script.calls == ["a"]
        controller.queue.add("a")  # new input
        await clock.advance(0)
        assert script.calls == ["a", "a"]


@pytest.mark.parametrize("error", [TransientError("timeout"), HostError("no such device"), KeyError("bug")])
async def test_other_failures_are_retried_with_growing_backoff_then_forgotten_on_success(
    error: Exception,
) -> None:
    clock = FakeClock()
    script = Script({"a": [error, error, error, None]})
    controller = Controller("retry", script, clock=clock)
    controller.queue.base_delay = 1.0
    times: list[float] = []
    reconcile = controller.reconcile

    async def timed(key: Hashable) -> Result | None:
        times.append(clock.monotonic())
        return await reconcile(key)

    controller.reconcile = timed
    async with running(controller):
        controller.queue.add("a")
        for _ in range(100):
            await clock.advance(0.25)
        assert [round(b - a, 2) for a, b in itertools.pairwise(times)] == [1.0, 2.0, 4.0]
        assert controller.queue.num_requeues("a") == 0, "success resets the backoff"
        await clock.advance(3600)
        assert len(script.calls) == 4


async def test_requeue_after_runs_the_key_again_later() -> None:
    clock = FakeClock()
    script = Script({"a": [Result(requeue_after=30), None]})
    controller = Controller("periodic", script, clock=clock)
    async with running(controller):
        controller.queue.add("a")
        await clock.advance(29)
        assert script.calls == ["a"]
        await clock.advance(2)
        assert script.calls == ["a", "a"]


async def test_a_key_changed_during_its_reconcile_runs_again_after_it_never_concurrently() -> None:
    started, release = asyncio.Event(), asyncio.Event()
    running_now: set[Hashable] = set()
    overlaps: list[Hashable] = []
    calls: list[Hashable] = []

    async def slow(key: Hashable) -> None:
        if key in running_now:
            overlaps.append(key)
        running_now.add(key)
        calls.append(key)
        started.set()
        await release.wait()
        running_now.discard(key)

    controller = Controller("serial", slow, workers=4)
    async with running(controller):
        controller.queue.add("a")
        await asyncio.wait_for(started.wait(), 1)
        controller.queue.add("a")
        controller.queue.add("a")
        await asyncio.sleep(0.05)
        assert calls == ["a"]
        release.set()
        for _ in range(100):
            if len(calls) == 2:
                break
            await asyncio.sleep(0.01)
    assert calls == ["a", "a"]
    assert overlaps == []
