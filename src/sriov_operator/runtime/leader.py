"""Leader election on a coordination.k8s.io/v1 Lease.

One process holds the Lease and runs the controllers; the others stand by and
take over when it has not been renewed for ``lease_duration``. A leader that
cannot renew within ``renew_deadline`` (shorter than the lease duration)
cancels its controllers at once, and `check_leading` refuses every write from
that moment on, so it never writes after another process may have taken over.

Expiry is judged on the local monotonic clock from when this process last saw
the Lease change (not from the timestamps in it), so clock skew between nodes
does not matter.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any, Literal

from sriov_operator.api.constants import EventReason
from sriov_operator.api.refs import ObjectRef
from sriov_operator.errors import SriovOperatorError, TransientError, describe
from sriov_operator.kube.errors import ConflictError
from sriov_operator.kube.objects import KubeObjects, Object
from sriov_operator.kube.resources import LEASES
from sriov_operator.runtime.clock import SYSTEM_CLOCK, Clock
from sriov_operator.runtime.events import EventRecorder, micro_time
from sriov_operator.runtime.settings import RuntimeSettings

logger = logging.getLogger(__name__)


class NotLeaderError(TransientError):
    """A write was refused because this process does not hold the leader Lease (any more)."""


class LeaderElector:
    def __init__(
        self,
        objects: KubeObjects,
        settings: RuntimeSettings,
        clock: Clock = SYSTEM_CLOCK,
        events: EventRecorder | None = None,
    ) -> None:
        """``events``, when given, records LeaderElected/LeaderLost Events on the Lease."""
        self.objects = objects
        self.events = events
        self.settings = settings
        self.clock = clock
        self.identity = settings.identity
        self.is_leader = False
        self.transitions = 0  # times this process became leader
        self._renewed_at = float("-inf")  # monotonic time of the start of the last successful renewal
        self._observed: tuple[str, float] | None = (
            None  # (the Lease's resourceVersion, when we saw it change)
        )

    @property
    def _lease_ref(self) -> str:
        return f"Lease/{self.settings.namespace}/{self.settings.lease_name}"

    def check_leading(self) -> None:
        """Raise `NotLeaderError` unless we hold the Lease and are within the renew deadline."""
        if not self.is_leader or self.clock.monotonic() >= self._renewed_at + self.settings.renew_deadline:
            raise NotLeaderError(f"{self.identity} does not hold {self._lease_ref}; write refused")

    async def run(self, on_started_leading: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Acquire, lead (run the callback) while renewing, stand by again after losing the Lease.

        Returns when the callback returns (it was told to stop), releasing the
        Lease; cancelling also stops the callback and releases the Lease.
        """
        while True:
            await self._acquire()
            try:
                finished = await self._lead(on_started_leading)
            except asyncio.CancelledError:
                await self._release()
                raise
            if finished:
                await self._release()
                return

    async def _acquire(self) -> None:
        while True:
            started = self.clock.monotonic()
            if await self._try_acquire_or_renew():
                self._renewed_at = started
                self.is_leader = True
                self.transitions += 1
                logger.info(
                    "acquired the leader Lease as %s", self.identity, extra={"object": self._lease_ref}
                )
                await self._record(EventReason.LEADER_ELECTED, "Normal", f"{self.identity} became the leader")
                return
            await self.clock.sleep(self.settings.retry_period)

    async def _lead(self, on_started_leading: Callable[[], Coroutine[Any, Any, None]]) -> bool:
        """Run the callback while renewing; True when it returned, False when the Lease was lost."""
        task = asyncio.create_task(on_started_leading(), name="leading")
        try:
            while not task.done():
                await self._sleep_or_finish(task)
                if task.done():
                    break
                started = self.clock.monotonic()
                if await self._renew_within_deadline():
                    self._renewed_at = started
                elif self.clock.monotonic() >= self._renewed_at + self.settings.renew_deadline:
                    logger.error(
                        "could not renew the leader Lease within %.1fs; stopping controllers",
                        self.settings.renew_deadline,
                        extra={"object": self._lease_ref},
                    )
                    await self._record(
                        EventReason.LEADER_LOST,
                        "Warning",
                        f"{self.identity} could not renew the Lease in time",
                    )
                    return False
        finally:
            self.is_leader = False
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task  # a callback that failed raises here
        return True

    async def _record(self, reason: EventReason, type_: Literal["Normal", "Warning"], note: str) -> None:
        if self.events is not None:
            lease = ObjectRef(
                kind="Lease",
                name=self.settings.lease_name,
                namespace=self.settings.namespace,
                api_version="coordination.k8s.io/v1",
            )
            await self.events.record(lease, type_, reason, note, action="LeaderElection")

    async def _sleep_or_finish(self, task: asyncio.Task[None]) -> None:
        sleeper = asyncio.ensure_future(self.clock.sleep(self.settings.retry_period))
        try:
            await asyncio.wait({sleeper, task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()

    async def _renew_within_deadline(self) -> bool:
        remaining = self._renewed_at + self.settings.renew_deadline - self.clock.monotonic()
        try:
            async with asyncio.timeout(max(0.05, remaining)):
                return await self._try_acquire_or_renew()
        except TimeoutError:
            return False

    async def _try_acquire_or_renew(self) -> bool:
        try:
            lease = await self.objects.get(LEASES, self.settings.lease_name, self.settings.namespace)
            if lease is None:
                await self.objects.create(LEASES, self._lease_body(None), namespace=self.settings.namespace)
                return True
            if not self._may_take(lease):
                return False
            updated = await self.objects.update(LEASES, self._lease_body(lease))
            self._observed = (str(updated["metadata"]["resourceVersion"]), self.clock.monotonic())
            return True
        except ConflictError:
            return False
        except SriovOperatorError as error:
            logger.warning("leader Lease: %s", describe(error), extra={"object": self._lease_ref})
            return False

    def _may_take(self, lease: Object) -> bool:
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity") or ""
        if holder in ("", self.identity):
            return True
        version = str(lease["metadata"]["resourceVersion"])
        now = self.clock.monotonic()
        if self._observed is None or self._observed[0] != version:
            self._observed = (version, now)
            return False
        duration = float(spec.get("leaseDurationSeconds") or self.settings.lease_duration)
        return now >= self._observed[1] + duration

    def _lease_body(self, current: Object | None) -> Object:
        now = micro_time(self.clock.now())
        spec = dict((current or {}).get("spec") or {})
        taking_over = spec.get("holderIdentity") != self.identity
        spec.update(
            holderIdentity=self.identity,
            leaseDurationSeconds=max(1, round(self.settings.lease_duration)),
            renewTime=now,
        )
        if taking_over:
            spec["acquireTime"] = now
            spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + (1 if current else 0)
        metadata: Object = {"name": self.settings.lease_name, "namespace": self.settings.namespace}
        if current is not None:
            metadata["resourceVersion"] = current["metadata"]["resourceVersion"]
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": metadata, "spec": spec}

    async def _release(self) -> None:
        """Give the Lease up at once on clean shutdown, so a standby need not wait for it to expire."""
        try:
            lease = await self.objects.get(LEASES, self.settings.lease_name, self.settings.namespace)
            if lease is None or (lease.get("spec") or {}).get("holderIdentity") != self.identity:
                return
            body = self._lease_body(lease)
            body["spec"].update(holderIdentity="", leaseDurationSeconds=1)
            await self.objects.update(LEASES, body)
            logger.info("released the leader Lease", extra={"object": self._lease_ref})
        except SriovOperatorError as error:
            logger.warning(
                "could not release the leader Lease: %s", describe(error), extra={"object": self._lease_ref}
            )
