"""One node's config daemon pass: read the caches and the host, call the pure core, write.

A pass (one reconcile of the node's key) looks at the NodeState, the Node and
the device-plugin ConfigMap in the informer caches and at the host (in a
thread: host I/O blocks), asks `sync.decide` for the next step, publishes the
status that step implies (only if it changed), then takes the step.  Steps
that change something requeue the node at once; waiting steps rely on the
watch (and the periodic rediscovery) to come back.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path

from pydantic import ValidationError

from sriov_operator.api.conditions import NO_IOMMU
from sriov_operator.api.constants import (
    API_VERSION,
    APPLIED_GENERATION_ANNOTATION,
    DAEMON_FIELD_MANAGER,
    DEVICE_PLUGIN_CONFIG_KEY,
    DEVICE_PLUGIN_HOST_DIR,
    DEVICE_PLUGIN_POD_SELECTOR,
    DRAIN_IDLE,
    FAILED_POLICIES_ANNOTATION,
    HANDED_OVER_ANNOTATION,
    METADATA_SOURCE_ANNOTATION,
    NODE_STATE_ANNOTATION,
    NODE_STATE_CURRENT_ANNOTATION,
    NODE_STATE_DESIRED_ANNOTATION,
    SYNC_FAILED,
    UNUSABLE_POLICIES_ANNOTATION,
    EventReason,
)
from sriov_operator.api.models import SriovNetworkNodeState, SriovNetworkNodeStateSpec
from sriov_operator.api.names import device_plugin_configmap_name
from sriov_operator.api.refs import ObjectRef
from sriov_operator.daemon.blame import (
    annotation_value,
    blamed_message,
    failing_policies,
    unusable_annotation,
    vf_parents,
)
from sriov_operator.daemon.explain import drain_request, explain_plan, summarize
from sriov_operator.daemon.handoff import (
    HANDED_OVER,
    WITHDRAWN,
    HostHandOff,
    config_text,
    plugin_restart_needed,
    read_device_plugin_config,
)
from sriov_operator.daemon.status import (
    bridges_status,
    daemon_conditions,
    daemon_status,
    status_apply_body,
    status_changed,
)
from sriov_operator.daemon.sync import (
    RETRY_MESSAGE,
    Decision,
    Failure,
    FailureReason,
    Observation,
    decide,
    record_failure,
)
from sriov_operator.errors import SriovOperatorError, describe
from sriov_operator.host.apply import converge
from sriov_operator.host.boot import mark_this_boot, read_boot_marks
from sriov_operator.host.discovery import Discovery
from sriov_operator.host.kernel_args import KernelArgsNotAppliedError
from sriov_operator.host.mellanox import FirmwareError
from sriov_operator.host.node import NodeHost
from sriov_operator.host.plan import HostLacksSupportError, Plan, PlanError, plan
from sriov_operator.host.state import HostState
from sriov_operator.kube.objects import KubeObjects, Object
from sriov_operator.kube.resources import CONFIG_MAPS, NODES, PODS, SRIOV_NETWORK_NODE_STATES
from sriov_operator.runtime.clock import SYSTEM_CLOCK, Clock
from sriov_operator.runtime.controller import Result
from sriov_operator.runtime.events import EventRecorder
from sriov_operator.runtime.informer import Informer

logger = logging.getLogger(__name__)

AT_ONCE = Result(requeue_after=0.0)
# Steps that wait out a failure's backoff; request-drain too: a node released after a failed apply
# is drained again only when the retry is due.
RETRIED_STEPS = ("fail", "withdraw", "apply", "hand-over", "request-drain")
# Failures after which a drained (or rebooted, still cordoned) node is given back, and what the
# DrainReleased note says comes next: a rejected plan (the loop guard among them) applies nothing.
RELEASED_AFTER: dict[FailureReason, str] = {
    "ApplyFailed": "node released until the retry in {retry:.0f}s, when it is drained again",
    "PlanRejected": "node released: nothing is applied until the spec or the host changes",
}


@dataclass(frozen=True)
class NodeCaches:
    """Where a daemon reads its three objects (per-node field-selected informers, or shared ones)."""

    node_states: Informer
    nodes: Informer
    config_maps: Informer


def _annotations(obj: Object | None) -> dict[str, str]:
    return dict(((obj or {}).get("metadata") or {}).get("annotations") or {})


def _generation(state: Object) -> int:
    return int((state.get("metadata") or {}).get("generation") or 0)


def _applied_generation(state: Object) -> int | None:
    text = _annotations(state).get(APPLIED_GENERATION_ANNOTATION, "")
    return int(text) if text.isdigit() else None


@dataclass(frozen=True)
class _Pass:
    """What one pass saw: the inputs of `decide` plus what the writes need."""

    state: Object
    spec: SriovNetworkNodeStateSpec
    seen: Observation
    interfaces: list[Object]
    no_iommu: bool
    metadata_source: str | None
    system: Object  # status.system: what the host says of node-wide settings
    bridges: Object  # status.bridges: our OVS bridges as OVSDB has them


class NodeDaemon:
    def __init__(
        self,
        node_name: str,
        namespace: str,
        *,
        host: NodeHost,
        caches: NodeCaches,
        objects: KubeObjects,
        events: EventRecorder,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.node_name = node_name
        self.namespace = namespace
        self.host = host
        self.caches = caches
        self.objects = objects
        self.events = events
        self.clock = clock
        self.failure: Failure | None = None
        self._warned: tuple[str, ...] = ()  # the plan warnings last reported in an Event
        self._extra = {"object": f"SriovNetworkNodeState/{namespace}/{node_name}"}

    # ------------------------------------------------------------------ look
    def _survey(self) -> tuple[Discovery, HostState, HostHandOff]:
        discovery, host_state = self.host.survey()
        return discovery, host_state, self._host_handoff()

    def _plugin_file(self) -> Path:
        return self.host.host.path(DEVICE_PLUGIN_HOST_DIR.lstrip("/"), DEVICE_PLUGIN_CONFIG_KEY)

    def _host_handoff(self) -> HostHandOff:
        return HostHandOff(os.path.lexists(self._plugin_file()), read_boot_marks(self.host.host))

    def _plan(self, spec: SriovNetworkNodeStateSpec, host: HostState) -> tuple[Plan | None, str | None]:
        try:
            return plan(spec, host), None
        except (PlanError, HostLacksSupportError, KernelArgsNotAppliedError, FirmwareError) as error:
            return None, describe(error)

    async def _look(self, state: Object) -> _Pass | Result:
        """What this pass sees; a Result (retry later) when the host could not be read."""
        generation = _generation(state)
        spec_error: str | None = None
        try:
            spec = SriovNetworkNodeStateSpec.model_validate(state.get("spec") or {})
        except ValidationError as error:
            spec, spec_error = SriovNetworkNodeStateSpec(), f"spec: {error.errors()[0]['msg']}"
        try:
            discovery, host_state, host_handoff = await asyncio.to_thread(self._survey)
        except SriovOperatorError as error:
            wait = self.failure.wait_before_retry(generation, self.clock.monotonic()) if self.failure else 0.0
            if wait > 0:  # a watch event or a rediscovery does not cut a failed read's backoff short
                return Result(requeue_after=wait)
            return await self._fail(state, "DiscoveryFailed", f"cannot read the host: {describe(error)}")
        planned, plan_error = (None, spec_error) if spec_error else self._plan(spec, host_state)
        node = self.caches.nodes.get(self.node_name)
        configmap = self.caches.config_maps.get(device_plugin_configmap_name(self.node_name), self.namespace)
        seen = Observation(
            generation=generation,
            applied_generation=_applied_generation(state),
            plan=planned,
            plan_error=plan_error,
            explanation=explain_plan(planned, spec, host_state.interfaces) if planned else (),
            drain_request=_annotations(node).get(NODE_STATE_ANNOTATION, DRAIN_IDLE),
            drain_current=_annotations(state).get(NODE_STATE_CURRENT_ANNOTATION, DRAIN_IDLE),
            device_plugin=read_device_plugin_config(configmap),
            host_handoff=host_handoff,
            failure=self.failure,
        )
        source = discovery.metadata_source if discovery.ports is not None else None
        interfaces = [interface.to_k8s() for interface in discovery.interfaces]
        system = {"rdmaMode": host_state.rdma_mode} if host_state.rdma_mode else {}
        bridges = bridges_status(host_state.ovs)
        no_iommu = host_state.modules.noiommu_enabled
        return _Pass(state, spec, seen, interfaces, no_iommu, source, system, bridges)

    # ------------------------------------------------------------------ pass
    async def sync(self) -> Result | None:
        state = self.caches.node_states.get(self.node_name, self.namespace)
        if state is None:
            logger.info("no NodeState yet: the operator creates it for managed nodes", extra=self._extra)
            return None
        looked = await self._look(state)
        if isinstance(looked, Result):
            return looked
        decision = decide(looked.seen)
        # The source first: a status that lists OpenStack ports is never read without where they came from.
        await self._report_metadata_source(looked)
        if decision.step != "fail":  # a failure is published by _fail, naming the failing policies
            await self._publish(looked, decision)
        await self._report_plan_warnings(looked)
        return await self._take(looked, decision)

    async def _take(self, looked: _Pass, decision: Decision) -> Result | None:
        step, generation = decision.step, looked.seen.generation
        wait = self.failure.wait_before_retry(generation, self.clock.monotonic()) if self.failure else 0.0
        if (
            wait > 0 and step in RETRIED_STEPS
        ):  # a rediscovery or a watch event does not cut the backoff short
            return Result(requeue_after=wait)
        if step == "fail":
            return await self._fail(looked.state, "PlanRejected", decision.last_sync_error, looked)
        if step in ("request-drain", "request-idle"):
            assert decision.drain_request is not None
            await self._request_drain_state(looked, decision.drain_request)
            return None
        if step == "record-generation":
            done: dict[str, str | None] = {APPLIED_GENERATION_ANNOTATION: str(generation)}
            if FAILED_POLICIES_ANNOTATION in _annotations(looked.state):
                done[FAILED_POLICIES_ANNOTATION] = None
            await self._annotate_state(done)
            await self._event(
                looked.state,
                "Normal",
                EventReason.CONFIGURATION_APPLIED,
                f"generation {generation} applied",
                "Configure",
            )
            return None
        try:
            if step == "withdraw":
                await self._withdraw(looked)
            elif step == "apply":
                await self._apply(looked)
            elif step == "hand-over":
                await self._hand_over(looked)
            else:  # wait-drain, idle: the watch or the rediscovery brings us back
                return None
        except (SriovOperatorError, OSError) as error:
            reason: FailureReason = "ApplyFailed" if step == "apply" else "HandOverFailed"
            return await self._fail(looked.state, reason, describe(error), looked)
        self.failure = None
        return AT_ONCE

    # ---------------------------------------------------------------- writes
    async def _publish(self, looked: _Pass, decision: Decision) -> None:
        warnings = looked.seen.plan.warnings if looked.seen.plan else ()
        await self._publish_status(
            looked.state,
            looked.interfaces,
            looked.no_iommu,
            decision,
            warnings,
            system=looked.system,
            bridges=looked.bridges,
        )

    async def _publish_status(
        self,
        state: Object,
        interfaces: list[Object],
        no_iommu: bool,
        decision: Decision,
        warnings: tuple[str, ...] = (),
        *,
        system: Object | None = None,
        bridges: Object | None = None,
    ) -> None:
        generation = _generation(state)
        failure = self.failure if self.failure and self.failure.generation == generation else None
        conditions = daemon_conditions(decision, failure, no_iommu, warnings)
        if system is None:  # a failure before the host was read: keep what is there
            system = (state.get("status") or {}).get("system") or {}
        if bridges is None:
            bridges = (state.get("status") or {}).get("bridges") or {}
        now = self.clock.now()
        wanted = daemon_status(state, interfaces, decision, conditions, now, system=system, bridges=bridges)
        if not status_changed(state, wanted):
            return
        body = status_apply_body(self.node_name, self.namespace, wanted)
        await self.objects.apply(SRIOV_NETWORK_NODE_STATES, body, DAEMON_FIELD_MANAGER, subresource="status")
        logger.info("status %s: %s", decision.sync_status, decision.progress, extra=self._extra)
        if no_iommu and not _condition_true(state, NO_IOMMU):
            note = next(c.message for c in conditions if c.type == NO_IOMMU)
            await self._event(state, "Warning", EventReason.UNSAFE_NO_IOMMU_MODE, note, "Configure")

    async def _fail(
        self, state: Object, reason: FailureReason, message: str, looked: _Pass | None = None
    ) -> Result:
        """Record the failure, say so (log, Event, Failed status), and retry after the backoff.

        The failing policies are named first (annotation, then the message the status, the Event
        and the log carry), so no reader sees a Failed node without its culprit."""
        blamed = await self._blame(state, reason, message, looked)
        note = blamed_message(blamed, message)
        self.failure = record_failure(self.failure, _generation(state), reason, note, self.clock.monotonic())
        retry = self.failure.retry_after
        logger.warning(
            "%s (attempt %d, retry in %.0fs)", note, self.failure.attempts, retry, extra=self._extra
        )
        await self._event(state, "Warning", EventReason.CONFIGURATION_FAILED, note, "Configure")
        if looked is not None and looked.seen.plan is not None:
            decision = decide(replace(looked.seen, failure=self.failure))
        else:
            decision = Decision("fail", SYNC_FAILED, note, RETRY_MESSAGE)
        if looked is not None:
            await self._publish(looked, decision)
        else:
            interfaces = (state.get("status") or {}).get("interfaces") or []
            await self._publish_status(state, interfaces, _condition_true(state, NO_IOMMU), decision)
        if looked is not None and looked.seen.drain_request != DRAIN_IDLE and reason in RELEASED_AFTER:
            # reported: now give the node back rather than keep it cordoned through the retries
            await self._request_drain_state(looked, DRAIN_IDLE)
            released = f"{note}; {RELEASED_AFTER[reason].format(retry=retry)}"
            await self._event(state, "Warning", EventReason.DRAIN_RELEASED, released, "Drain")
        return Result(requeue_after=retry)

    async def _blame(
        self, state: Object, reason: FailureReason, message: str, looked: _Pass | None
    ) -> tuple[str, ...]:
        """The failing policies, kept on the NodeState for the policy status; () for other failures."""
        if reason not in ("ApplyFailed", "PlanRejected") or looked is None:
            return ()
        blamed = failing_policies(looked.spec, message, vf_parents(looked.interfaces))
        value = annotation_value(blamed)
        if blamed and _annotations(state).get(FAILED_POLICIES_ANNOTATION) != value:
            await self._annotate_state({FAILED_POLICIES_ANNOTATION: value})
        return blamed

    async def _apply(self, looked: _Pass) -> None:
        note = summarize(looked.seen.explanation)
        await self._event(looked.state, "Normal", EventReason.CONFIGURATION_PLANNED, note, "Configure")
        outcomes = await asyncio.to_thread(converge, self.host.access, looked.spec, self.host.observe)
        done = sum(outcome.result == "done" for outcome in outcomes)
        logger.info("applied generation %d: %d changes", looked.seen.generation, done, extra=self._extra)

    async def _request_drain_state(self, looked: _Pass, value: str) -> None:
        if value != DRAIN_IDLE:
            note = drain_request(value, summarize(looked.seen.explanation))
            await self._event(looked.state, "Normal", EventReason.DRAIN_REQUESTED, note, "Drain")
        await self.objects.patch(
            NODES, self.node_name, {"metadata": {"annotations": {NODE_STATE_ANNOTATION: value}}}
        )
        await self._annotate_state({NODE_STATE_DESIRED_ANNOTATION: value})
        logger.info("requested node state %s", value, extra=self._extra)

    async def _withdraw(self, looked: _Pass) -> None:
        """Remove the device plugin's config of an earlier boot, restart the plugin that may have read it,
        and take back the ConfigMap's handed-over annotation; marked first, so a crash repeats it."""
        removed = await asyncio.to_thread(self._remove_plugin_config)
        if removed:
            await self._restart_device_plugin(looked.state, "its config is from an earlier boot")
        if looked.seen.device_plugin is not None and looked.seen.device_plugin.handed_over is not None:
            await self.objects.patch(
                CONFIG_MAPS,
                device_plugin_configmap_name(self.node_name),
                {"metadata": {"annotations": {HANDED_OVER_ANNOTATION: None}}},
                self.namespace,
            )
        note = "new boot: the device plugin's config is withdrawn until the devices are configured again"
        await self._event(
            looked.state, "Normal", EventReason.DEVICE_PLUGIN_CONFIG_WITHDRAWN, note, "HandOver"
        )

    def _remove_plugin_config(self) -> bool:
        """Mark the withdrawal in this boot, then remove the file; whether there was one."""
        host = self.host.host
        mark_this_boot(host, self.host.access.writer, WITHDRAWN)
        path = self._plugin_file()
        present = os.path.lexists(path)
        self.host.access.writer.remove_file(path)
        return present

    async def _hand_over(self, looked: _Pass) -> None:
        configmap = self.caches.config_maps.get(device_plugin_configmap_name(self.node_name), self.namespace)
        text = config_text(configmap or {})
        config = looked.seen.device_plugin
        assert text is not None and config is not None
        previous = await asyncio.to_thread(self._write_plugin_config, text)
        if plugin_restart_needed(previous, text):
            await self._restart_device_plugin(looked.state, "its resource list changed")
        await self.objects.patch(
            CONFIG_MAPS,
            device_plugin_configmap_name(self.node_name),
            {"metadata": {"annotations": {HANDED_OVER_ANNOTATION: config.digest}}},
            self.namespace,
        )
        note = f"config for generation {config.for_generation} ({len(text)} bytes) handed over"
        await self._event(
            looked.state, "Normal", EventReason.DEVICE_PLUGIN_CONFIG_HANDED_OVER, note, "HandOver"
        )

    def _write_plugin_config(self, text: str) -> str | None:
        """Write the device plugin's file under the host root; returns what it held before.

        The boot mark comes first: a crash in between leaves no file, which is handed over again."""
        host = self.host.host
        mark_this_boot(host, self.host.access.writer, HANDED_OVER)
        path = self._plugin_file()
        previous = host.read_state_file(path)
        if previous != text:
            self.host.access.writer.write_file(path, text)
        return previous

    async def _restart_device_plugin(self, state: Object, why: str) -> None:
        pods = await self.objects.list(
            PODS,
            self.namespace,
            label_selector=DEVICE_PLUGIN_POD_SELECTOR,
            field_selector=f"spec.nodeName={self.node_name}",
        )
        for pod in pods.get("items") or []:
            name = pod["metadata"]["name"]
            await self.objects.delete(PODS, name, self.namespace)
            note = f"device plugin Pod {name} deleted: {why}"
            await self._event(state, "Normal", EventReason.DEVICE_PLUGIN_RESTARTED, note, "HandOver")

    async def _annotate_state(self, annotations: dict[str, str | None]) -> None:
        await self.objects.patch(
            SRIOV_NETWORK_NODE_STATES,
            self.node_name,
            {"metadata": {"annotations": annotations}},
            self.namespace,
        )

    async def _report_metadata_source(self, looked: _Pass) -> None:
        source = looked.metadata_source
        if source is None or _annotations(looked.state).get(METADATA_SOURCE_ANNOTATION) == source:
            return
        await self._annotate_state({METADATA_SOURCE_ANNOTATION: source})
        note = f"OpenStack metadata read from {source}"
        await self._event(looked.state, "Normal", EventReason.METADATA_SOURCE, note, "Discover")

    async def _report_plan_warnings(self, looked: _Pass) -> None:
        """One Warning Event per distinct set of plan warnings (they do not change between passes)."""
        planned = looked.seen.plan
        if planned is None:  # a failed plan says nothing about the warnings: keep the last set
            return
        unusable = unusable_annotation(planned.unusable)
        if _annotations(looked.state).get(UNUSABLE_POLICIES_ANNOTATION) != unusable:
            await self._annotate_state({UNUSABLE_POLICIES_ANNOTATION: unusable})
        if planned.warnings == self._warned:
            return
        self._warned = planned.warnings
        if planned.warnings:
            note = "; ".join(planned.warnings)
            logger.warning("plan warnings: %s", note, extra=self._extra)
            await self._event(looked.state, "Warning", EventReason.PLAN_WARNINGS, note, "Plan")

    async def _event(self, state: Object, type_: str, reason: EventReason, note: str, action: str) -> None:
        metadata = state.get("metadata") or {}
        regarding = ObjectRef(
            kind=SriovNetworkNodeState.KIND,
            name=self.node_name,
            namespace=self.namespace,
            api_version=API_VERSION,
            uid=metadata.get("uid"),
        )
        await self.events.record(regarding, type_, reason, note, action)  # type: ignore[arg-type]


def _condition_true(state: Object, kind: str) -> bool:
    conditions = (state.get("status") or {}).get("conditions") or []
    return any(c.get("type") == kind and c.get("status") == "True" for c in conditions)
