"""The work queue as pure logic, time driven by a FakeClock."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Hashable

import pytest

from sriov_operator.runtime.backoff import backoff_delay
from sriov_operator.runtime.testing import FakeClock
from sriov_operator.runtime.workqueue import QueueShutDown, WorkQueue


async def next_key(queue: WorkQueue) -> Hashable:
    return await asyncio.wait_for(queue.get(), 1)


async def test_a_key_added_many_times_while_waiting_is_processed_once() -> None:
    queue = WorkQueue("dedup", FakeClock())
    for key in ("a", "b", "a", "a", "b", "c"):
        queue.add(key)
    assert len(queue) == 3
    assert [await next_key(queue) for _ in range(3)] == ["a", "b", "c"]
    assert len(queue) == 0


async def test_a_key_added_while_processing_runs_once_more_after_done_and_never_twice_at_once() -> None:
    queue = WorkQueue("busy", FakeClock())
    queue.add("a")
    assert await next_key(queue) == "a"
    queue.add("a")  # changed while a worker reconciles it
    queue.add("a")
    other_worker = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    assert not other_worker.done(), "a second worker got a key that is being processed"
    queue.done("a")
    assert await asyncio.wait_for(other_worker, 1) == "a"
    queue.done("a")
    assert len(queue) == 0


async def test_n_workers_share_distinct_keys() -> None:
    queue = WorkQueue("many", FakeClock())
    for key in "abc":
        queue.add(key)
    got = await asyncio.gather(*(next_key(queue) for _ in range(3)))
    assert sorted(got) == ["a", "b", "c"]


async def test_add_after_waits_for_the_clock_and_the_earliest_pending_add_wins() -> None:
    clock = FakeClock()
    queue = WorkQueue("later", clock)
    queue.add_after("a", 10)
    queue.add_after("a", 5)
    queue.add_after("a", 20)
    await clock.advance(4.9)
    assert len(queue) == 0
    await clock.advance(0.2)
    assert len(queue) == 1
    await clock.advance(30)
    assert len(queue) == 1, "the later adds were folded into the earliest"


async def test_rate_limited_adds_back_off_exponentially_per_key_up_to_the_cap() -> None:
    clock = FakeClock()
    queue = WorkQueue("backoff", clock, base_delay=0.1, max_delay=1.0)
    delays = [queue.add_rate_limited("a") for _ in range(6)]
    assert delays == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0])
    assert queue.add_rate_limited("b") == pytest.approx(0.1), "backoff is per key"
    queue.forget("a")
    assert queue.num_requeues("a") == 0
    assert queue.add_rate_limited("a") == pytest.approx(0.1)
    queue.shutdown()  # cancel the pending adds: a task garbage-collected later logs into another test
    await asyncio.sleep(0)


async def test_a_failed_key_comes_back_only_after_its_backoff() -> None:
    clock = FakeClock()
    queue = WorkQueue("retry", clock, base_delay=1.0)
    queue.add("a")
    for backoff in (1.0, 2.0, 4.0):  # the key fails each time
        key = await next_key(queue)
        queue.done(key)
        queue.add_rate_limited(key)
        await clock.advance(backoff - 0.1)
        assert len(queue) == 0
        await clock.advance(0.2)
        assert len(queue) == 1


async def test_shutdown_wakes_waiting_workers_and_drops_new_keys() -> None:
    queue = WorkQueue("closing", FakeClock())
    waiting = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    queue.shutdown()
    with pytest.raises(QueueShutDown):
        await asyncio.wait_for(waiting, 1)
    queue.add("a")
    assert len(queue) == 0


@pytest.mark.parametrize(
    ("failures", "expected"), [(0, 0.0), (1, 0.5), (2, 1.0), (3, 2.0), (10, 30.0), (1000, 30.0)]
)
def test_backoff_delay_doubles_and_caps(failures: int, expected: float) -> None:
    assert backoff_delay(failures, 0.5, 30.0) == expected


def test_jittered_backoff_spreads_below_the_plain_delay() -> None:
    rand = random.Random(7)
    delays = {backoff_delay(4, 0.5, 30.0, jitter=0.5, rand=rand) for _ in range(50)}
    assert all(2.0 <= d <= 4.0 for d in delays)
    assert len(delays) > 40


async def test_wait_empty_returns_when_the_last_ready_key_is_taken_or_at_the_timeout() -> None:
    clock = FakeClock()
    queue = WorkQueue("backlog", clock)
    assert await queue.wait_empty(10.0), "an empty queue does not wait"
    queue.add("a")
    waiter = asyncio.create_task(queue.wait_empty(10.0))
    await asyncio.sleep(0)
    assert not waiter.done(), "a ready key is a backlog"
    assert await next_key(queue) == "a"
    assert await asyncio.wait_for(waiter, 1) is True
    queue.add("b")
    stuck = asyncio.create_task(queue.wait_empty(10.0))
    await asyncio.sleep(0)
    await clock.advance(10.0)
    assert await asyncio.wait_for(stuck, 1) is False, "the timeout lets the waiter go, key still ready"
