"""SriovNetwork / SriovIBNetwork / OVSNetwork → what to do with their NetworkAttachmentDefinitions.

A NAD is ours when its owner-ref annotation names the network; one that names
something else (or nothing) is never written or deleted. Level-triggered: every
NAD of ours that is not where the network wants it now (namespace moved, network
deleted) is deleted, whether or not we saw the change happen.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass
from typing import Any, Literal

from sriov_operator.api.conditions import (
    NAD_INVALID,
    NAD_OWNED_BY_OTHER,
    NAMESPACE_NOT_FOUND,
    NETWORK_READY,
    READY,
    Condition,
)
from sriov_operator.api.constants import GROUP, NAD_FINALIZER, OWNER_REF_ANNOTATION
from sriov_operator.api.meta import annotations_of, meta_of, name_of, namespace_of
from sriov_operator.api.refs import ObjectRef
from sriov_operator.engine.inputs import NETWORK_KINDS, parse_object
from sriov_operator.engine.nad import render_nad
from sriov_operator.engine.object_validation import validate_network
from sriov_operator.engine.problems import Problem

NetworkKey = tuple[str, str, str]  # (kind, namespace, name)
NadKey = tuple[str, str]  # (namespace, name)


def owner_of(nad: Mapping[str, Any]) -> NetworkKey | None:
    """The network a NAD's owner-ref annotation names, or None when it names none of our kinds."""
    value = annotations_of(nad).get(OWNER_REF_ANNOTATION)
    if not isinstance(value, str):
        return None
    kind_group, _, rest = value.partition("/")
    kind, _, group = kind_group.partition(".")
    namespace, _, name = rest.partition("/")
    if group != GROUP or kind not in NETWORK_KINDS or not namespace or not name:
        return None
    return (kind, namespace, name)


def nad_key(nad: Mapping[str, Any]) -> NadKey:
    return (str(namespace_of(nad)), name_of(nad))


@dataclass(frozen=True)
class NetworkPlan:
    write: dict[str, Any] | None = None  # the NAD to server-side apply
    delete: tuple[NadKey, ...] = ()  # our NADs that must go
    finalizer: Literal["add", "remove"] | None = None
    condition: Condition | None = None  # None: the network is gone or going


def _nad_differs(current: Mapping[str, Any], desired: Mapping[str, Any]) -> bool:
    have, want = meta_of(current), desired["metadata"]
    annotations = annotations_of(current)
    return (
        current.get("spec") != desired["spec"]
        or any(annotations.get(k) != v for k, v in want["annotations"].items())
        or (have.get("ownerReferences") or None) != want.get("ownerReferences")
    )


def _message(problems: list[Problem]) -> str:
    return "; ".join(f"{p.field}: {p.message}" for p in problems)


def plan_network(
    key: NetworkKey,
    network: Mapping[str, Any] | None,
    *,
    owned: Sequence[Mapping[str, Any]],
    nads: Mapping[NadKey, Mapping[str, Any]],
    namespaces: Set[str],
    operator_namespace: str,
    resource_prefix: str,
    provided_resources: set[str],
) -> NetworkPlan:
    """What to write for one network.

    ``owned``: NADs whose owner-ref annotation names this network; ``nads``: every
    NAD by (namespace, name); ``namespaces``: the namespaces that exist.
    """
    finalizers = meta_of(network).get("finalizers") or []
    if network is None or meta_of(network).get("deletionTimestamp"):
        deleting = tuple(sorted(nad_key(n) for n in owned))
        return NetworkPlan(delete=deleting, finalizer="remove" if NAD_FINALIZER in finalizers else None)
    kind, namespace, name = key
    ref = ObjectRef(kind=kind, namespace=namespace, name=name)
    typed, problems = parse_object(NETWORK_KINDS[kind], network, ref, "from the API server")
    if typed is None:
        return NetworkPlan(condition=Condition(READY, "False", NAD_INVALID, _message(problems)))
    problems = validate_network(typed, operator_namespace, provided_resources)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        return NetworkPlan(condition=Condition(READY, "False", NAD_INVALID, _message(errors)))
    nad, render_problems = render_nad(typed, resource_prefix)
    if nad is None:
        return NetworkPlan(condition=Condition(READY, "False", NAD_INVALID, _message(render_problems)))
    target = nad_key(nad)
    stale = tuple(sorted(nad_key(n) for n in owned if nad_key(n) != target))
    wants_finalizer = target[0] != namespace
    finalizer: Literal["add", "remove"] | None = None
    if wants_finalizer and NAD_FINALIZER not in finalizers:
        finalizer = "add"
    elif not wants_finalizer and NAD_FINALIZER in finalizers:
        finalizer = "remove"
    where = f"NetworkAttachmentDefinition {target[0]}/{target[1]}"
    if target[0] not in namespaces:
        message = f"namespace {target[0]!r} does not exist; the NAD is created when it does"
        return NetworkPlan(
            delete=stale,
            finalizer=finalizer,
            condition=Condition(READY, "False", NAMESPACE_NOT_FOUND, message),
        )
    current = nads.get(target)
    if current is not None and owner_of(current) != key:
        owner = annotations_of(current).get(OWNER_REF_ANNOTATION)
        owner = owner or "someone else (no owner-ref annotation)"
        message = f"{where} exists and belongs to {owner}; left alone"
        return NetworkPlan(
            delete=stale,
            finalizer=finalizer,
            condition=Condition(READY, "False", NAD_OWNED_BY_OTHER, message),
        )
    write = nad if current is None or _nad_differs(current, nad) else None
    warnings = _message([p for p in problems if p.severity == "warning"])
    message = f"{where} is up to date" + (f"; warning: {warnings}" if warnings else "")
    return NetworkPlan(write, stale, finalizer, Condition(READY, "True", NETWORK_READY, message))
