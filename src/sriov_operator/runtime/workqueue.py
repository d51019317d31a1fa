"""A per-key work queue: dedup, one worker per key, per-key exponential backoff.

A key added while it waits is queued once. A key added while a worker
processes it is queued again when that worker calls `done`, so the newest
state is always reconciled, and never by two workers at once.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Hashable

from prometheus_client import Counter, Gauge, Histogram

from sriov_operator.runtime.backoff import backoff_delay
from sriov_operator.runtime.clock import SYSTEM_CLOCK, Clock

logger = logging.getLogger(__name__)

Key = Hashable

DEPTH = Gauge("sriov_operator_workqueue_depth", "Keys waiting in the queue.", ["name"])
ADDS = Counter("sriov_operator_workqueue_adds", "Keys added to the queue.", ["name"])
RETRIES = Counter(
    "sriov_operator_workqueue_retries", "Keys re-added after a failure (with backoff).", ["name"]
)
RECONCILE_DURATION = Histogram(
    "sriov_operator_workqueue_reconcile_duration_seconds",
    "Time one reconcile of a key took.",
    ["name"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
RECONCILE_ERRORS = Counter("sriov_operator_workqueue_reconcile_errors", "Reconciles that failed.", ["name"])


class QueueShutDown(Exception):  # noqa: N818 - control flow, not an error of the tree
    """`WorkQueue.get` after `shutdown` once the queue is empty."""


class WorkQueue:
    def __init__(
        self, name: str, clock: Clock = SYSTEM_CLOCK, base_delay: float = 0.05, max_delay: float = 300.0
    ) -> None:
        self.name = name
        self.clock = clock
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._ready: collections.deque[Key] = collections.deque()
        self._dirty: set[Key] = set()  # waiting to be processed (in _ready, or re-queued on done)
        self._processing: set[Key] = set()
        self._failures: dict[Key, int] = {}
        self._timers: dict[Key, tuple[float, asyncio.Task[None]]] = {}
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._shutting_down = False
        self._empty = asyncio.Event()  # set while no key is ready (see `wait_empty`)
        self._empty.set()
        self._depth = DEPTH.labels(name=name)
        self._adds = ADDS.labels(name=name)
        self._retries = RETRIES.labels(name=name)

    # ------------------------------------------------------------------ adding
    def add(self, key: Key) -> None:
        if self._shutting_down:
            return
        self._adds.inc()
        if key in self._dirty:
            return
        self._dirty.add(key)
        if key not in self._processing:
            self._ready.append(key)
            self._ready_changed()
            self._wake_one()

    def add_after(self, key: Key, seconds: float) -> None:
        """Add ``key`` once ``seconds`` have passed (an earlier pending add for the key wins)."""
        if self._shutting_down:
            return
        if seconds <= 0:
            self.add(key)
            return
        due = self.clock.monotonic() + seconds
        pending = self._timers.get(key)
        if pending is not None:
            if pending[0] <= due:
                return
            pending[1].cancel()
        self._timers[key] = (due, asyncio.get_running_loop().create_task(self._add_later(key, seconds)))

    async def _add_later(self, key: Key, seconds: float) -> None:
        await self.clock.sleep(seconds)
        self._timers.pop(key, None)
        self.add(key)

    def add_rate_limited(self, key: Key) -> float:
        """Add ``key`` after its backoff (doubling per consecutive failure, capped); returns the delay."""
        failures = self._failures.get(key, 0) + 1
        self._failures[key] = failures
        delay = backoff_delay(failures, self.base_delay, self.max_delay)
        self._retries.inc()
        self.add_after(key, delay)
        return delay

    def forget(self, key: Key) -> None:
        """Reset ``key``'s backoff (call after a success)."""
        self._failures.pop(key, None)

    def num_requeues(self, key: Key) -> int:
        return self._failures.get(key, 0)

    # ---------------------------------------------------------------- workers
    async def get(self) -> Key:
        """The next key, marked as processing until `done`; raises `QueueShutDown` after `shutdown`."""
        while not self._ready:
            if self._shutting_down:
                raise QueueShutDown(self.name)
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                if not waiter.done():
                    waiter.cancel()
        key = self._ready.popleft()
        self._ready_changed()
        self._dirty.discard(key)
        self._processing.add(key)
        return key

    def done(self, key: Key) -> None:
        self._processing.discard(key)
        if key in self._dirty and not self._shutting_down:
            self._ready.append(key)
            self._ready_changed()
            self._wake_one()

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _ready_changed(self) -> None:
        self._depth.set(len(self._ready))
        if self._ready:
            self._empty.clear()
        else:
            self._empty.set()

    async def wait_empty(self, timeout: float) -> bool:
        """Wait (at most ``timeout`` seconds on the queue's clock) until no key is ready; True if none is.

        For a controller that should let another's backlog go first: it waits on
        this event instead of polling the other's length.
        """
        if not self._ready:
            return True
        emptied = asyncio.ensure_future(self._empty.wait())
        timer = asyncio.ensure_future(self.clock.sleep(timeout))
        try:
            await asyncio.wait({emptied, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (emptied, timer):
                task.cancel()
            await asyncio.gather(emptied, timer, return_exceptions=True)
        return not self._ready

    def __len__(self) -> int:
        return len(self._ready)

    def len(self) -> int:
        return len(self._ready)

    def shutdown(self) -> None:
        """Stop taking keys; workers' `get` raises `QueueShutDown` once the ready keys are gone."""
        self._shutting_down = True
        self._ready.clear()
        self._dirty.clear()
        self._ready_changed()
        for _, timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down
