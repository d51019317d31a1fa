"""Admission decisions for our kinds: the engine's rules, exactly as ``validate`` applies them.

The webhook and the offline ``validate`` command must agree, so the webhook does
what ``validate`` does: it hands the policy engine the object under review
together with the cluster objects it is checked against (read from the
webhook's caches), and keeps the problems the engine reports *about that
object*.  Errors deny the request; warnings become admission warnings.

Only the objects a rule can read are handed over, which keeps one review cheap
on a large cluster without changing its answer:

- a policy: the nodes its ``nodeSelector`` selects, their NodeStates, the
  policies that select any of those nodes, the operator config (which nodes
  are managed) and the ``supported-nic-ids`` ConfigMap; with a `FleetIndex`
  (the webhook's caches), one node of each class of alike nodes, its problems
  reported on the whole class (see `webhook.fleet`);
- a pool: the nodes, the other pools and the operator config;
- a network: the other networks (NAD name clashes) and the policies (which
  resources exist);
- the operator config: itself, plus the NodeStates' syncStatus for the
  ``disableDrain`` rule, which needs the old object and so is webhook-only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sriov_operator.api.constants import DEFAULT_RESOURCE_PREFIX
from sriov_operator.api.documents import Document
from sriov_operator.api.meta import labels_of, meta_of
from sriov_operator.api.models import (
    SriovNetworkNodePolicy,
    SriovNetworkNodeState,
    SriovNetworkPoolConfig,
    SriovOperatorConfig,
)
from sriov_operator.api.refs import ObjectRef
from sriov_operator.engine.inputs import NETWORK_KINDS as NETWORK_MODELS
from sriov_operator.engine.inputs import read_documents, read_object
from sriov_operator.engine.mutation import policy_default_patches
from sriov_operator.engine.object_validation import validate_operator_config_update
from sriov_operator.engine.problems import Problem, split_by_severity
from sriov_operator.engine.render import render_cluster
from sriov_operator.engine.selection import config_daemon_node_selector, labels_match
from sriov_operator.webhook.fleet import FleetIndex, label_selector_keys, map_keys
from sriov_operator.webhook.parsed import ParsedObjects

NETWORK_KINDS = tuple(NETWORK_MODELS)
VALIDATED_KINDS = (
    SriovNetworkNodePolicy.KIND,
    SriovOperatorConfig.KIND,
    SriovNetworkPoolConfig.KIND,
    *NETWORK_KINDS,
)
# Where the engine would print ``[file:line]``; stripped from the webhook's answers.
REVIEW_SOURCE = "<admission request>"
_WHERE_SUFFIX = f" [{REVIEW_SOURCE}:1]"


@dataclass(frozen=True)
class AdmissionSettings:
    operator_namespace: str
    resource_prefix: str = DEFAULT_RESOURCE_PREFIX
    strict_nics: bool = False


@dataclass(frozen=True)
class ClusterSnapshot:
    """The objects the rules are checked against, as the API server returns them.

    Kinds need not be set on the objects (list items carry none); the webhook
    fills them in.  ``networks`` holds all three network kinds, each with ``kind``.
    """

    nodes: Sequence[Mapping[str, Any]] = ()
    node_states: Sequence[Mapping[str, Any]] = ()
    policies: Sequence[Mapping[str, Any]] = ()
    pools: Sequence[Mapping[str, Any]] = ()
    operator_configs: Sequence[Mapping[str, Any]] = ()
    networks: Sequence[Mapping[str, Any]] = ()
    supported_nics: Mapping[str, Any] | None = None
    parsed: ParsedObjects | None = None  # the engine's reading of these objects, kept across reviews
    fleet: FleetIndex | None = None  # ``nodes`` and ``node_states`` in classes, for policy reviews


@dataclass(frozen=True)
class Verdict:
    """One admission answer: denied when ``errors`` is not empty."""

    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    patch: tuple[dict[str, Any], ...] = field(default=())

    @property
    def allowed(self) -> bool:
        return not self.errors

    @property
    def message(self) -> str:
        return "\n".join(self.errors)


def _with_kind(obj: Mapping[str, Any], kind: str) -> dict[str, Any]:
    return {**obj, "kind": kind}


def _key(obj: Mapping[str, Any], kind: str) -> tuple[str, str, str]:
    metadata = meta_of(obj)
    return (kind, str(metadata.get("namespace") or ""), str(metadata.get("name") or ""))


def _others(
    objects: Iterable[Mapping[str, Any]], kind: str, skip: tuple[str, str, str]
) -> list[dict[str, Any]]:
    """The cluster's copies of ``kind`` except the stored version of the object under review."""
    return [_with_kind(obj, kind) for obj in objects if _key(obj, kind) != skip]


def _string_map(value: Any) -> dict[str, str] | None:
    if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
        return None
    return {str(k): v for k, v in value.items()}


def _node_selector(policy: Mapping[str, Any]) -> dict[str, str] | None:
    spec = policy.get("spec")
    return _string_map(spec.get("nodeSelector", {})) if isinstance(spec, Mapping) else None


def _common_inputs(snapshot: ClusterSnapshot) -> list[dict[str, Any]]:
    """The operator config (which nodes are managed) and the supported-NIC ConfigMap."""
    documents = [_with_kind(c, SriovOperatorConfig.KIND) for c in snapshot.operator_configs]
    if snapshot.supported_nics is not None:
        documents.append({**snapshot.supported_nics, "kind": "ConfigMap"})
    return documents


@dataclass(frozen=True)
class EngineInputs:
    """The cluster objects handed to the engine; ``stands_for``: see `engine.render.render_nodes`."""

    objects: list[Mapping[str, Any]]
    stands_for: Mapping[str, Sequence[str]] | None = None


def _spec(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = obj.get("spec")
    return spec if isinstance(spec, Mapping) else {}


def _cluster_label_keys(snapshot: ClusterSnapshot) -> set[str]:
    """Every label key a selector in the cluster reads: policies, pools, the operator config (or
    the default node selector that applies without one)."""
    keys = set(config_daemon_node_selector(None))
    for policy in snapshot.policies:
        keys |= map_keys(_spec(policy).get("nodeSelector"))
    for pool in snapshot.pools:
        keys |= label_selector_keys(_spec(pool).get("nodeSelector"))
    for config in snapshot.operator_configs:
        keys |= map_keys(_spec(config).get("configDaemonNodeSelector"))
    return keys


def _names_addresses(policy: Mapping[str, Any]) -> bool:
    """The policy lists ``rootDevices`` (or its nicSelector cannot be read): PCI addresses matter."""
    nic_selector = _spec(policy).get("nicSelector")
    return not isinstance(nic_selector, Mapping) or bool(nic_selector.get("rootDevices"))


def _policy_inputs_by_class(
    body: Mapping[str, Any], snapshot: ClusterSnapshot, fleet: FleetIndex, *, exact: bool = True
) -> EngineInputs:
    selector = _node_selector(body)
    if selector is None:
        return EngineInputs([*_common_inputs(snapshot)])
    classes = [
        c
        for c in fleet.classes(_cluster_label_keys(snapshot) | set(selector), exact=exact)
        if labels_match(selector, c.labels)
    ]
    neighbours = [
        p
        for p in _others(
            snapshot.policies, SriovNetworkNodePolicy.KIND, _key(body, SriovNetworkNodePolicy.KIND)
        )
        if (other := _node_selector(p)) is not None and any(labels_match(other, c.labels) for c in classes)
    ]
    return EngineInputs(
        [
            *(c.node for c in classes),
            *(c.state for c in classes if c.state is not None),
            *neighbours,
            *_common_inputs(snapshot),
        ],
        {str(meta_of(c.node).get("name")): c.members for c in classes},
    )


def _policy_inputs(body: Mapping[str, Any], snapshot: ClusterSnapshot) -> list[dict[str, Any]]:
    own = _key(body, SriovNetworkNodePolicy.KIND)
    selector = _node_selector(body)
    nodes = [n for n in snapshot.nodes if selector is not None and labels_match(selector, labels_of(n))]
    node_names = {meta_of(n).get("name") for n in nodes}
    neighbours = [
        p
        for p in _others(snapshot.policies, SriovNetworkNodePolicy.KIND, own)
        if (other := _node_selector(p)) is not None and any(labels_match(other, labels_of(n)) for n in nodes)
    ]
    return [
        *(_with_kind(n, "Node") for n in nodes),
        *(
            _with_kind(s, SriovNetworkNodeState.KIND)
            for s in snapshot.node_states
            if meta_of(s).get("name") in node_names
        ),
        *neighbours,
        *_common_inputs(snapshot),
    ]


def _pool_inputs(body: Mapping[str, Any], snapshot: ClusterSnapshot) -> list[dict[str, Any]]:
    own = _key(body, SriovNetworkPoolConfig.KIND)
    return [
        *(_with_kind(n, "Node") for n in snapshot.nodes),
        *_others(snapshot.pools, SriovNetworkPoolConfig.KIND, own),
        *_common_inputs(snapshot),
    ]


def _network_inputs(body: Mapping[str, Any], snapshot: ClusterSnapshot) -> list[dict[str, Any]]:
    own = _key(body, str(body.get("kind")))
    return [
        *(dict(n) for n in snapshot.networks if _key(n, str(n.get("kind"))) != own),
        *_others(snapshot.policies, SriovNetworkNodePolicy.KIND, ("", "", "")),
        *_common_inputs(snapshot),
    ]


def engine_inputs(body: Mapping[str, Any], snapshot: ClusterSnapshot) -> EngineInputs:
    """The cluster objects the rules for ``body``'s kind read (``body`` itself excluded)."""
    kind = body.get("kind")
    if kind == SriovNetworkNodePolicy.KIND:
        if snapshot.fleet is not None:
            return _policy_inputs_by_class(body, snapshot, snapshot.fleet)
        return EngineInputs(list(_policy_inputs(body, snapshot)))
    if kind == SriovNetworkPoolConfig.KIND:
        return EngineInputs(list(_pool_inputs(body, snapshot)))
    if kind in NETWORK_KINDS:
        return EngineInputs(list(_network_inputs(body, snapshot)))
    return EngineInputs([])


def _strip_where(message: str) -> str:
    return message.replace(_WHERE_SUFFIX, "")


def problems_about(
    body: Mapping[str, Any],
    inputs: Sequence[Mapping[str, Any]],
    settings: AdmissionSettings,
    parsed: ParsedObjects | None = None,
    stands_for: Mapping[str, Sequence[str]] | None = None,
) -> list[Problem]:
    """What ``validate`` reports about ``body`` when given ``body`` and ``inputs``.

    With ``parsed``, the inputs are read through it (objects already read at their
    resourceVersion are not read again); ``body`` is always read afresh. ``stands_for``:
    see `engine.render.render_nodes`.
    """
    namespace = settings.operator_namespace
    if parsed is None:
        read = [read_object(Document("<cluster>", n, dict(o)), namespace) for n, o in enumerate(inputs, 1)]
    else:
        read = [parsed.read(obj, namespace) for obj in inputs]
    reviewed = [Document(REVIEW_SOURCE, 1, dict(body))]
    cluster, problems = read_documents(reviewed, namespace, already_read=read)
    result = render_cluster(
        cluster,
        resource_prefix=settings.resource_prefix,
        strict_nics=settings.strict_nics,
        stands_for=stands_for,
    )
    metadata = meta_of(body)
    ref = ObjectRef(
        kind=str(body.get("kind")),
        namespace=str(metadata.get("namespace") or settings.operator_namespace),
        name=str(metadata.get("name") or "?"),
    )
    return [
        Problem(p.ref, p.field, _strip_where(p.message), p.severity)
        for p in [*problems, *result.problems]
        if p.ref == ref
    ]


def _sync_status_by_node(snapshot: ClusterSnapshot) -> dict[str, str | None]:
    statuses: dict[str, str | None] = {}
    for state in snapshot.node_states:
        status = state.get("status")
        sync = status.get("syncStatus") if isinstance(status, Mapping) else None
        statuses[str(meta_of(state).get("name"))] = str(sync) if sync is not None else None
    return statuses


def _operator_config_update_problems(
    body: Mapping[str, Any], old: Mapping[str, Any] | None, snapshot: ClusterSnapshot
) -> list[Problem]:
    try:
        new_config = SriovOperatorConfig.model_validate(body)
    except ValueError:
        return []  # schema problems are already reported by the engine
    try:
        old_config = SriovOperatorConfig.model_validate(old) if old is not None else None
    except ValueError:
        old_config = None
    return validate_operator_config_update(old_config, new_config, _sync_status_by_node(snapshot))


def _loose_first_pass(
    body: Mapping[str, Any], snapshot: ClusterSnapshot, settings: AdmissionSettings
) -> list[Problem] | None:
    """A policy's problems with nodes alike up to their PCI addresses in one class (None: not
    tried). Such nodes get the same problems with their own addresses in them, so when this pass
    finds none, there are none; when it finds some, the exact classes say on which nodes."""
    fleet = snapshot.fleet
    if (
        fleet is None
        or body.get("kind") != SriovNetworkNodePolicy.KIND
        or any(_names_addresses(p) for p in [body, *snapshot.policies])
    ):
        return None
    inputs = _policy_inputs_by_class(body, snapshot, fleet, exact=False)
    return problems_about(body, inputs.objects, settings, snapshot.parsed, inputs.stands_for)


def validate_object(
    body: Mapping[str, Any],
    old: Mapping[str, Any] | None,
    snapshot: ClusterSnapshot,
    settings: AdmissionSettings,
) -> Verdict:
    """The validating webhook's answer for one of our kinds (CREATE or UPDATE)."""
    problems = _loose_first_pass(body, snapshot, settings)
    if problems is None or problems:
        inputs = engine_inputs(body, snapshot)
        problems = problems_about(body, inputs.objects, settings, snapshot.parsed, inputs.stands_for)
    if body.get("kind") == SriovOperatorConfig.KIND:
        problems += _operator_config_update_problems(body, old, snapshot)
    errors, warnings = split_by_severity(problems)
    return Verdict(tuple(errors), tuple(warnings))


def mutate_object(body: Mapping[str, Any]) -> Verdict:
    """The mutating webhook's answer: the policy defaults as a JSON patch (other kinds: no change)."""
    if body.get("kind") != SriovNetworkNodePolicy.KIND:
        return Verdict()
    return Verdict(patch=tuple(policy_default_patches(dict(body))))
