"""SriovNetworkNodePolicy status: matchedNodes, readyNodes and Ready (``kubectl wait`` works on it).

Key: the policy name. Changes are gathered for ``status_delay`` seconds, so a
fleet converging writes each policy's status a few times, not once per node.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Mapping
from typing import Any

from sriov_operator.api.conditions import POLICY_INVALID, READY, find
from sriov_operator.api.constants import FIELD_MANAGER, EventReason
from sriov_operator.api.meta import generation_of, meta_of, status_body
from sriov_operator.api.models import SriovNetworkNodePolicy
from sriov_operator.api.refs import ObjectRef, ref
from sriov_operator.kube.resources import SRIOV_NETWORK_NODE_POLICIES
from sriov_operator.operator.controllers.reconciler import Reconciler
from sriov_operator.operator.controllers.view import OperatorView, shared_view
from sriov_operator.operator.settings import OperatorSettings
from sriov_operator.operator.status import (
    PolicyReadiness,
    policy_readiness,
    policy_status,
    readiness_note,
    status_needs_write,
)
from sriov_operator.runtime.builder import controller_for
from sriov_operator.runtime.controller import Controller, Result
from sriov_operator.runtime.events import EventType
from sriov_operator.runtime.manager import Manager

logger = logging.getLogger(__name__)


def register(manager: Manager, settings: OperatorSettings) -> Controller:
    view = shared_view(manager, settings)
    reconciler = PolicyStatusReconciler(manager, view)
    reconciler.controller = (
        controller_for(manager)
        .named("policy-status")
        .fed_by(view.listeners.policies.append, delay=settings.status_delay)
        .complete(reconciler.reconcile)
    )
    return reconciler.controller


class PolicyStatusReconciler(Reconciler):
    def __init__(self, manager: Manager, view: OperatorView) -> None:
        super().__init__(manager, view)
        # per policy, the nodes last named in a no-device / unusable Event (once per distinct set)
        self.announced: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}

    async def reconcile(self, key: Hashable) -> Result | None:
        name = str(key)
        namespace = self.settings.namespace
        policy = self.view.policies.get(name, namespace)
        if policy is None or meta_of(policy).get("deletionTimestamp"):
            self.announced.pop(name, None)
            return None
        cache = self.view.cache
        errors = [
            p
            for p in cache.problems_of(
                ObjectRef(kind=SriovNetworkNodePolicy.KIND, namespace=namespace, name=name)
            )
            if p.severity == "error"
        ]
        selected = cache.index().get(name, frozenset())
        states = {node: state for node in selected if (state := self.view.states.get(node, namespace))}
        configuring = {node: rendered.configuring for node in selected if (rendered := cache.render(node))}
        readiness = policy_readiness(selected, states, errors, name, configuring)
        current = policy.get("status")
        status = policy_status(current, readiness, generation_of(policy), self.clock.now())
        if status_needs_write(current, status):
            await self.objects.apply(
                SRIOV_NETWORK_NODE_POLICIES, status_body(policy, status), FIELD_MANAGER, subresource="status"
            )
            await self._record_change(policy, find((current or {}).get("conditions"), READY), readiness)
        await self._record_coverage(policy, name, readiness)
        return None

    async def _record_change(
        self, policy: dict[str, Any], before: Mapping[str, Any] | None, readiness: PolicyReadiness
    ) -> None:
        condition = readiness.condition
        if before is not None and before.get("reason") == condition.reason:
            return
        reason = EventReason.POLICY_READY if condition.status == "True" else EventReason.POLICY_NOT_READY
        level: EventType = "Warning" if condition.reason == POLICY_INVALID else "Normal"
        await self.events.record(policy, level, reason, readiness_note(condition), "Status")

    async def _record_coverage(self, policy: dict[str, Any], name: str, readiness: PolicyReadiness) -> None:
        """A Warning Event and log line when the nodes without a device, or with unusable devices,
        change (and are some): once per distinct set, not on every reconcile."""
        seen = (readiness.without_device, readiness.unusable)
        before = self.announced.get(name, ((), ()))
        self.announced[name] = seen
        message = readiness.condition.message
        for nodes, previous, reason in (
            (readiness.without_device, before[0], EventReason.POLICY_SELECTS_NO_DEVICE),
            (readiness.unusable, before[1], EventReason.POLICY_RESOURCE_UNUSABLE),
        ):
            if nodes and nodes != previous:
                logger.warning("%s", message, extra={"object": ref(policy), "reason": str(reason)})
                await self.events.record(policy, "Warning", reason, message, "Status")
