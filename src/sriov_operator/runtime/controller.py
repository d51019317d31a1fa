"""A controller: keys from informers into a `WorkQueue`, N workers calling one reconcile function.

Error policy (the one error tree decides): `BadInputError` is logged and not
retried until the key is enqueued again (new input); every other exception is
retried with the key's exponential backoff; success resets the backoff and
honours ``Result.requeue_after``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sriov_operator.errors import BadInputError, SriovOperatorError, TransientError, describe
from sriov_operator.runtime.clock import SYSTEM_CLOCK, Clock
from sriov_operator.runtime.informer import EventKind, Informer
from sriov_operator.runtime.workqueue import (
    RECONCILE_DURATION,
    RECONCILE_ERRORS,
    Key,
    QueueShutDown,
    WorkQueue,
)

logger = logging.getLogger(__name__)

QUIET_RETRIES = 3  # transient failures logged at INFO before they become warnings


@dataclass(frozen=True)
class Result:
    requeue_after: float | None = None


Reconcile = Callable[[Key], Awaitable[Result | None]]
Mapper = Callable[[dict[str, Any]], Iterable[Key]]


class Controller:
    def __init__(
        self,
        name: str,
        reconcile: Reconcile,
        *,
        workers: int = 1,
        resync_period: float | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.name = name
        self.reconcile = reconcile
        self.workers = workers
        self.resync_period = resync_period
        self.clock = clock
        self.queue = WorkQueue(name, clock)
        self._sources: list[tuple[Informer, Mapper]] = []
        self._duration = RECONCILE_DURATION.labels(name=name)
        self._errors = RECONCILE_ERRORS.labels(name=name)

    def watch(self, informer: Informer, mapper: Mapper) -> None:
        """Enqueue ``mapper(obj)`` for the old and the new object of every change ``informer`` sees."""
        self._sources.append((informer, mapper))

        def enqueue(kind: EventKind, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
            for obj in (old, new):
                if obj is not None:
                    for key in mapper(obj):
                        self.queue.add(key)

        informer.add_handler(enqueue)

    def enqueue_all(self) -> None:
        """Add every key the watched caches map to (the periodic resync)."""
        for informer, mapper in self._sources:
            for obj in informer.list():
                for key in mapper(obj):
                    self.queue.add(key)

    async def run(self) -> None:
        """Run the workers (and the resync) until cancelled, or until `stop` and the workers are done."""
        resync = (
            asyncio.create_task(self._resync(), name=f"{self.name}-resync") if self.resync_period else None
        )
        try:
            async with asyncio.TaskGroup() as group:
                for index in range(self.workers):
                    group.create_task(self._worker(), name=f"{self.name}-worker-{index}")
        finally:
            if resync is not None:
                resync.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await resync

    def stop(self) -> None:
        """Take no new keys; workers finish the reconcile they are in and `run` returns."""
        self.queue.shutdown()

    async def _resync(self) -> None:
        assert self.resync_period is not None
        while True:
            await self.clock.sleep(self.resync_period)
            self.enqueue_all()

    async def _worker(self) -> None:
        while True:
            try:
                key = await self.queue.get()
            except QueueShutDown:
                return
            try:
                await self.process(key)
            finally:
                self.queue.done(key)

    async def process(self, key: Key) -> None:
        """Reconcile one key and apply the error policy."""
        extra = {"controller": self.name, "key": str(key)}
        started = self.clock.monotonic()
        try:
            result = await self.reconcile(key)
        except asyncio.CancelledError:
            raise
        except BadInputError as error:
            self._errors.inc()
            self.queue.forget(key)
            logger.warning("not retried until the input changes: %s", describe(error), extra=extra)
        except Exception as error:
            self._errors.inc()
            delay = self.queue.add_rate_limited(key)
            level = logging.INFO if isinstance(error, TransientError) else logging.WARNING
            if self.queue.num_requeues(key) > QUIET_RETRIES:
                level = logging.WARNING
            logger.log(
                level,
                "reconcile failed, retry in %.2fs: %s",
                delay,
                describe(error),
                extra=extra,
                exc_info=not isinstance(error, SriovOperatorError),
            )
        else:
            self.queue.forget(key)
            if result is not None and result.requeue_after is not None:
                self.queue.add_after(key, result.requeue_after)
        finally:
            with contextlib.suppress(ValueError):
                self._duration.observe(max(0.0, self.clock.monotonic() - started))
