"""The drain reconciler (key = node name): read the caches, ask the pure core, write.

Reads come from informer caches (Nodes, NodeStates, pools, the default
SriovOperatorConfig) except two lists made only while a node drains: the node's
pods (field selector ``spec.nodeName``; caching every pod of the cluster would
cost far more than these few reads) and, when an eviction is refused, the
PodDisruptionBudgets of that pod's namespace (to name the one in the way).

Our own writes are remembered until the caches catch up with them, so a
requeued key, or a neighbour's pool admission, never acts on a stale answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Hashable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sriov_operator.api import conditions
from sriov_operator.api.conditions import Condition, ConditionStatus, find, merged
from sriov_operator.api.constants import (
    API_VERSION,
    DEFAULT_OPERATOR_CONFIG_NAME,
    DRAIN_FIELD_MANAGER,
    DRAIN_IDLE,
    DRAINING,
    NODE_STATE_ANNOTATION,
    NODE_STATE_CURRENT_ANNOTATION,
    EventReason,
)
from sriov_operator.api.meta import annotations_of, labels_of, meta_of, status_body
from sriov_operator.api.models import SriovNetworkNodeState, SriovNetworkPoolConfig
from sriov_operator.api.refs import ObjectRef, ref
from sriov_operator.kube.errors import EvictionBlockedError
from sriov_operator.kube.objects import KubeObjects, Object
from sriov_operator.kube.resources import (
    NODES,
    POD_DISRUPTION_BUDGETS,
    PODS,
    SRIOV_NETWORK_NODE_STATES,
    Resource,
)
from sriov_operator.operator.drain import bookkeeping, messages
from sriov_operator.operator.drain.decision import (
    DRAIN_REQUESTS,
    NodeDrainState,
    Outcome,
    Step,
    conclude,
    decide,
    retry_delay,
)
from sriov_operator.operator.drain.metrics import DRAIN_DURATION, DRAINS_IN_PROGRESS, EVICTIONS
from sriov_operator.operator.drain.pods import DrainWork, drain_work, guarding_budgets, pod_ref
from sriov_operator.operator.drain.pools import Admission, PoolIndex
from sriov_operator.operator.drain.settings import DrainSettings
from sriov_operator.runtime.clock import Clock
from sriov_operator.runtime.controller import Result
from sriov_operator.runtime.events import EventRecorder, EventType
from sriov_operator.runtime.informer import Informer

log = logging.getLogger(__name__)


def _newer(cached: Object | None, written: Object | None) -> bool:
    """Is our written copy newer than the cache's? resourceVersions are etcd revisions (integers)."""
    if written is None:
        return False
    if cached is None:
        return True
    try:
        return int(written["metadata"]["resourceVersion"]) > int(cached["metadata"]["resourceVersion"])
    except (KeyError, ValueError):
        return False


class DrainCaches:
    """The informers the drain controller reads."""

    def __init__(self, nodes: Informer, node_states: Informer, pools: Informer, configs: Informer) -> None:
        self.nodes = nodes
        self.node_states = node_states
        self.pools = pools
        self.configs = configs


class DrainReconciler:
    def __init__(
        self,
        objects: KubeObjects,
        caches: DrainCaches,
        events: EventRecorder,
        settings: DrainSettings,
        clock: Clock,
    ) -> None:
        self.objects = objects
        self.caches = caches
        self.events = events
        self.settings = settings
        self.clock = clock
        self._written: dict[tuple[str, str], Object] = {}
        self._admission = asyncio.Lock()
        self._index: PoolIndex | None = None
        DRAINS_IN_PROGRESS.set_function(self.count_draining)

    # ------------------------------------------------------------- fresh reads
    def _fresh(self, resource: Resource, cached: Object | None, name: str) -> Object | None:
        key = (resource.plural, name)
        written = self._written.get(key)
        if _newer(cached, written):
            return written
        self._written.pop(key, None)
        return cached

    def node(self, name: str) -> Object | None:
        return self._fresh(NODES, self.caches.nodes.get(name), name)

    def node_state(self, name: str) -> Object | None:
        cached = self.caches.node_states.get(name, self.settings.namespace)
        return self._fresh(SRIOV_NETWORK_NODE_STATES, cached, name)

    def current_of(self, name: str) -> str:
        """Our answer for a node, as last written (the cache, or our newer write)."""
        return annotations_of(self.node_state(name)).get(NODE_STATE_CURRENT_ANNOTATION, DRAIN_IDLE)

    def managed(self) -> list[str]:
        return [state["metadata"]["name"] for state in self.caches.node_states.list()]

    def count_draining(self) -> float:
        return float(sum(1 for name in self.managed() if self.current_of(name) == DRAINING))

    def drain_disabled(self) -> bool:
        config = self.caches.configs.get(DEFAULT_OPERATOR_CONFIG_NAME, self.settings.namespace)
        return bool(config and (config.get("spec") or {}).get("disableDrain"))

    def invalidate_pools(self) -> None:
        """Pools, node labels or the set of managed nodes changed: rebuild the index when next needed."""
        self._index = None

    def pools(self) -> PoolIndex:
        if self._index is None:
            configs = [SriovNetworkPoolConfig.model_validate(p) for p in self.caches.pools.list()]
            labels = {}
            for name in self.managed():
                node = self.node(name)
                if node is not None:
                    labels[name] = labels_of(node)
            self._index = PoolIndex(configs, labels)
        return self._index

    def _request_of(self, name: str) -> str:
        return annotations_of(self.node(name)).get(NODE_STATE_ANNOTATION, "")

    def wake_candidates(self, pool: str) -> list[str]:
        """Waiting nodes of ``pool`` that may take the slots free now, in name order (no thundering herd:
        the others are woken as slots free up, or by their own slow poll)."""
        index, now = self.pools(), self.clock.now()
        waiting = []
        for name in sorted(index.members(pool)):
            if self.current_of(name) != DRAIN_IDLE or self._request_of(name) not in DRAIN_REQUESTS:
                continue
            retry_at = bookkeeping.read_state(self.node(name) or {}, self.node_state(name) or {}).retry_at
            if retry_at is None or retry_at <= now:
                waiting.append(name)
        free = index.free_slots(pool, self.current_of)
        return waiting if free is None else waiting[:free]

    def pool_of(self, name: str) -> str | None:
        node = self.node(name)
        return self.pools().membership((node or {}).get("metadata", {}).get("labels") or {}).pool

    def active_nodes(self) -> list[str]:
        """Nodes with a drain asked for or under way: a pool or config change may change their answer."""
        return [
            name
            for name in self.managed()
            if self._request_of(name) in DRAIN_REQUESTS or self.current_of(name) != DRAIN_IDLE
        ]

    # ------------------------------------------------------------------ writes
    def _remember(self, resource: Resource, obj: Object) -> None:
        self._written[(resource.plural, obj["metadata"]["name"])] = obj

    async def _annotate(self, name: str, annotations: Mapping[str, str | None]) -> None:
        patch = {"metadata": {"annotations": dict(annotations)}}
        written = await self.objects.patch(
            SRIOV_NETWORK_NODE_STATES, name, patch, namespace=self.settings.namespace
        )
        self._remember(SRIOV_NETWORK_NODE_STATES, written)

    async def _patch_node(self, name: str, patch: Object) -> None:
        self._remember(NODES, await self.objects.patch(NODES, name, patch))

    async def _condition(self, name: str, status: ConditionStatus, reason: str, message: str) -> bool:
        """Set our ``Draining`` condition (server-side apply, our own field manager); False if unchanged."""
        state = self.node_state(name)
        current = ((state or {}).get("status") or {}).get("conditions")
        previous = find(current, conditions.DRAINING)
        seen = (previous.get("status"), previous.get("reason"), previous.get("message")) if previous else None
        if seen == (status, reason, message):
            return False
        value = Condition(conditions.DRAINING, status, reason, message)
        ours = find(merged(current, value, self.clock.now()), conditions.DRAINING)
        state_ref = ObjectRef(
            kind=SriovNetworkNodeState.KIND,
            api_version=API_VERSION,
            name=name,
            namespace=self.settings.namespace,
        )
        body = status_body(state_ref, {"conditions": [ours]})
        written = await self.objects.apply(
            SRIOV_NETWORK_NODE_STATES, body, DRAIN_FIELD_MANAGER, subresource="status"
        )
        self._remember(SRIOV_NETWORK_NODE_STATES, written)
        return True

    async def _event(self, name: str, type_: EventType, reason: EventReason, note: str) -> None:
        node = self.node(name) or {}
        regarding = ObjectRef(kind="Node", name=name, uid=meta_of(node).get("uid"))
        await self.events.record(regarding, type_, reason, note, action="Drain")

    # --------------------------------------------------------------- reconcile
    async def reconcile(self, key: Hashable) -> Result | None:
        name = str(key)
        node, node_state = self.node(name), self.node_state(name)
        if node is None or node_state is None:
            return None  # not a managed node (or gone): nothing to answer
        state = bookkeeping.read_state(node, node_state)
        async with self._admission:
            decision = decide(
                state,
                now=self.clock.now(),
                drain_disabled=self.drain_disabled(),
                membership=self.pools().membership(labels_of(node)),
                admit=lambda pool: self.pools().admit(name, pool, self.current_of),
                pool_wait=self.settings.pool_wait,
            )
            if decision.step == Step.START:
                await self._start(name, state, decision.admission)
        log.debug("drain step %s", decision.step, extra={"object": ref("Node", name=name)})
        if decision.step == Step.DRAIN:
            return await self._drain(name, state)
        await self._settle(name, state, decision.step, decision.admission)
        return Result(requeue_after=decision.requeue_after) if decision.requeue_after is not None else None

    async def _start(self, name: str, state: NodeDrainState, admission: Admission | None) -> None:
        now = self.clock.now()
        await self._annotate(name, bookkeeping.draining_annotations(now))
        pool_text = admission.explain() if admission else "a reboot after a smaller drain keeps its pool slot"
        deadline_at = now + timedelta(seconds=self.settings.deadline)
        work = await self._work(name, state.request)
        leaving = [pod_ref(p) for p in (*work.to_evict, *work.terminating)]
        prefix = self.settings.resource_prefix
        text = messages.started(state.request, prefix, pool_text, deadline_at, leaving)
        await self._condition(name, "True", conditions.DRAIN_DRAINING, text)
        await self._event(name, "Normal", EventReason.DRAIN_STARTED, text)

    async def _settle(
        self, name: str, state: NodeDrainState, step: Step, admission: Admission | None
    ) -> None:
        """The steps that only record an answer or a reason to wait."""
        if step == Step.RELEASE:
            await self._release(name, state)
        elif step == Step.SKIP:
            text = messages.disabled(state.request)
            changed = await self._condition(name, "False", conditions.DRAIN_DISABLED, text)
            await self._annotate(name, bookkeeping.complete_annotations(state.request))  # the answer last
            if changed:
                await self._event(name, "Normal", EventReason.DRAIN_SKIPPED, text)
        elif step == Step.INVALID_REQUEST:
            text = messages.invalid_request(state.request)
            if await self._condition(name, "False", conditions.DRAIN_INVALID_REQUEST, text):
                await self._event(name, "Warning", EventReason.DRAIN_REQUEST_INVALID, text)
        elif step == Step.POOL_CONFLICT:
            node = self.node(name) or {}
            pools = self.pools().membership(node.get("metadata", {}).get("labels") or {}).conflicting
            text = messages.pool_conflict(pools)
            if await self._condition(name, "False", conditions.DRAIN_POOL_CONFLICT, text):
                await self._event(name, "Warning", EventReason.DRAIN_POOL_CONFLICT, text)
        elif step == Step.WAIT_POOL and admission is not None:
            text = admission.explain()
            if await self._condition(name, "False", conditions.DRAIN_WAITING_FOR_POOL, text):
                await self._event(name, "Normal", EventReason.DRAIN_WAITING, text)

    async def _release(self, name: str, state: NodeDrainState) -> None:
        node = self.node(name) or {}
        if state.cordoned_by_us:
            await self._patch_node(name, bookkeeping.uncordon_patch())
        if state.current == DRAINING:
            started = bookkeeping.started_at(self.node_state(name) or {}, self.clock.now())
            DRAIN_DURATION.labels(result="cancelled").observe((self.clock.now() - started).total_seconds())
        await self._annotate(name, bookkeeping.idle_annotations())
        others = not state.cordoned_by_us and bookkeeping.is_unschedulable(node)
        text = messages.released(state.cordoned_by_us, others)
        await self._condition(name, "False", conditions.DRAIN_NOT_REQUESTED, text)
        if state.cordoned_by_us:
            await self._event(name, "Normal", EventReason.NODE_UNCORDONED, text)

    # ------------------------------------------------------------------- drain
    async def _pods(self, name: str) -> list[Object]:
        listed = await self.objects.list(PODS, field_selector=f"spec.nodeName={name}")
        return list(listed.get("items") or [])

    async def _work(self, name: str, request: str) -> DrainWork:
        return drain_work(await self._pods(name), request, self.settings.resource_prefix)

    async def _evict(self, pods: Sequence[Mapping[str, Any]]) -> tuple[list[str], dict[str, str]]:
        """The pods evicted (``ns/name``) and those refused, with the API server's answer."""
        evicted: list[str] = []
        refused = {}
        for pod in pods:
            meta = pod["metadata"]
            try:
                await self.objects.evict(meta["name"], meta["namespace"])
            except EvictionBlockedError as error:
                refused[pod_ref(pod)] = str(error)
                EVICTIONS.labels(result="blocked").inc()
            else:
                evicted.append(pod_ref(pod))
                EVICTIONS.labels(result="evicted").inc()
        return evicted, refused

    async def _budgets(self, pods: Sequence[Mapping[str, Any]]) -> dict[str, tuple[str, ...]]:
        """``ns/name`` of the PodDisruptionBudgets guarding each pod (one list per namespace)."""
        listed: dict[str, list[Object]] = {}
        guards = {}
        for pod in pods:
            namespace = pod["metadata"]["namespace"]
            if namespace not in listed:
                budgets = await self.objects.list(POD_DISRUPTION_BUDGETS, namespace=namespace)
                listed[namespace] = list(budgets.get("items") or [])
            guards[pod_ref(pod)] = messages.budget_refs(namespace, guarding_budgets(pod, listed[namespace]))
        return guards

    async def _drain(self, name: str, state: NodeDrainState) -> Result | None:
        node = self.node(name) or {}
        if not bookkeeping.is_unschedulable(node):
            await self._patch_node(name, bookkeeping.cordon_patch())
        work = await self._work(name, state.request)
        evicted, refused = await self._evict(work.to_evict)
        if evicted:
            work = await self._work(name, state.request)  # pods evicted with no grace period are gone now
        now = self.clock.now()
        started = bookkeeping.started_at(self.node_state(name) or {}, now)
        deadline_at = started + timedelta(seconds=self.settings.deadline)
        conclusion = conclude(
            left_to_evict=len(work.to_evict),
            terminating=len(work.terminating),
            started_at=started,
            now=now,
            deadline=self.settings.deadline,
            force=self.settings.force_past_pdb,
            poll_interval=self.settings.poll_interval,
        )
        if conclusion.outcome == Outcome.COMPLETE:
            await self._complete(name, state.request, started, now, evicted)
            return None
        refusals = {pod_ref(p): refused.get(pod_ref(p), messages.NOT_EVICTED_YET) for p in work.to_evict}
        budgets = await self._budgets(work.to_evict) if refusals else {}
        blockers = messages.blockers_of(refusals, budgets, [pod_ref(p) for p in work.terminating])
        if conclusion.outcome == Outcome.CONTINUE:
            left = [pod_ref(p) for p in (*work.to_evict, *work.terminating)]
            await self._condition(
                name,
                "True",
                conditions.DRAIN_DRAINING,
                messages.progress(state.request, left, blockers, deadline_at),
            )
        elif conclusion.outcome == Outcome.FORCE:
            await self._force(name, work.to_evict)
        else:
            return await self._give_up(name, state, started, now, blockers)
        return Result(requeue_after=conclusion.requeue_after)

    async def _complete(
        self, name: str, request: str, started: datetime, now: datetime, evicted: Sequence[str]
    ) -> None:
        duration = (now - started).total_seconds()
        await self._annotate(name, bookkeeping.complete_annotations(request))
        text = messages.complete(request, duration, evicted)
        await self._condition(name, "False", conditions.DRAIN_COMPLETE, text)
        DRAIN_DURATION.labels(result="complete").observe(duration)
        await self._event(name, "Normal", EventReason.DRAIN_COMPLETE, text)

    async def _force(self, name: str, pods: Sequence[Mapping[str, Any]]) -> None:
        text = messages.forced([pod_ref(p) for p in pods], self.settings.deadline)
        await self._event(name, "Warning", EventReason.DRAIN_FORCED, text)
        for pod in pods:
            await self.objects.delete(PODS, pod["metadata"]["name"], pod["metadata"]["namespace"])
            EVICTIONS.labels(result="forced").inc()

    async def _give_up(
        self,
        name: str,
        state: NodeDrainState,
        started: datetime,
        now: datetime,
        blockers: Sequence[messages.Blocker],
    ) -> Result:
        node = self.node(name) or {}
        cordoned_by_us = bookkeeping.read_state(node, {}).cordoned_by_us
        if cordoned_by_us:
            await self._patch_node(name, bookkeeping.uncordon_patch())
        attempt = bookkeeping.attempts(self.node_state(name) or {}) + 1
        delay = retry_delay(attempt, self.settings.retry_base, self.settings.retry_max)
        retry_at = now + timedelta(seconds=delay)
        await self._annotate(name, bookkeeping.gave_up_annotations(attempt, retry_at))
        blocker = blockers[0]  # a drain gives up only with pods left
        text = messages.gave_up(
            state.request,
            self.settings.deadline,
            blocker,
            uncordoned=cordoned_by_us,
            retry_at=retry_at,
            attempt=attempt,
        )
        await self._condition(name, "False", conditions.DRAIN_BLOCKED, text)
        DRAIN_DURATION.labels(result="blocked").observe((now - started).total_seconds())
        await self._event(name, "Warning", EventReason.DRAIN_BLOCKED, text)
        return Result(requeue_after=delay)
