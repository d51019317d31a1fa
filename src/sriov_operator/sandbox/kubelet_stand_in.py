"""The kubelet stand-in at work: each tick, what ``kubelet`` decides for the pods, written and said.

It reads every pod once per tick, so a pod going away is ended at the first tick after its grace
period is over (within a second): the wait is the pod's own, measured by the clock, and the next
tick picks up whatever a failed write left.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection
from datetime import datetime

from sriov_operator.api.meta import name_of, namespace_of
from sriov_operator.kube.errors import ConflictError, NotFoundError
from sriov_operator.kube.objects import KubeObjects
from sriov_operator.kube.resources import PODS
from sriov_operator.sandbox.kubelet import Termination, running_status, termination

PREFIX = "kubelet stand-in: "


class KubeletStandIn:
    """Reports the operator's workload pods (in ``namespace``) Running and Ready, and ends the pods going
    away from ``nodes`` at the end of their grace period; ``say`` tells the user what it did."""

    def __init__(
        self, objects: KubeObjects, namespace: str, nodes: Collection[str], say: Callable[[str], None]
    ) -> None:
        self.objects = objects
        self.namespace = namespace
        self.nodes = frozenset(nodes)
        self.say = say
        self._waiting: set[str] = set()  # UIDs of the pods it said it waits for

    async def tick(self, now: datetime) -> None:
        going: set[str] = set()
        for pod in (await self.objects.list(PODS))["items"]:
            if namespace_of(pod) == self.namespace and (patch := running_status(pod, now)) is not None:
                with contextlib.suppress(NotFoundError):  # deleted meanwhile (a device-plugin restart)
                    await self.objects.patch(PODS, name_of(pod), patch, self.namespace, subresource="status")
            if (ending := termination(pod, self.nodes)) is not None:
                going.add(ending.uid)
                await self.end(ending, now)
        self._waiting &= going  # forget pods that went another way (deleted by someone else)

    async def end(self, ending: Termination, now: datetime) -> bool:
        """Report the pod stopped and delete it once its grace period is over; whether it was deleted."""
        if not ending.is_due(now):
            if ending.uid not in self._waiting:
                self._waiting.add(ending.uid)
                self.say(
                    f"{PREFIX}Pod {ending.ref} on {ending.node} is going away: it is stopped at the end of "
                    f"its {ending.grace_seconds}s grace period"
                )
            return False
        try:
            if ending.stopped is not None:  # compare-and-swap: only the pod as listed
                await self.objects.update(PODS, ending.stopped, subresource="status")
            deleted = await self.objects.delete(
                PODS,
                ending.name,
                ending.namespace,
                preconditions={"uid": ending.uid},
                grace_period_seconds=0,
            )
        except (ConflictError, NotFoundError):
            # changed since it was listed (the next tick decides again), or gone, or re-created under its
            # name (another UID: a new pod, which is not going away)
            return False
        self._waiting.discard(ending.uid)
        if deleted:
            stopped = "stopped (phase Failed) and " if ending.stopped is not None else ""
            self.say(
                f"{PREFIX}Pod {ending.ref} on {ending.node}: its {ending.grace_seconds}s grace period is "
                f"over; {stopped}deleted"
            )
        return deleted
