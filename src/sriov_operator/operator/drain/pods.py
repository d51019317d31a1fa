"""Which pods a drain must remove from a node, and which PodDisruptionBudget guards a pod.

Pods are the API server's JSON. ``Drain_Required`` (the node's VFs change) removes
only the pods that use a device resource of our prefix, DaemonSet pods included:
they hold VFs too. ``Reboot_Required`` removes every pod except DaemonSet pods
(they are recreated on the node at once and stop with it). Mirror pods (static
pods the kubelet runs from files) cannot be evicted and finished pods hold nothing,
so neither is ever touched.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sriov_operator.api.constants import REBOOT_REQUIRED
from sriov_operator.api.models import LabelSelector
from sriov_operator.engine.selection import label_selector_matches

Pod = Mapping[str, Any]

MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror"
TERMINAL_PHASES = frozenset({"Succeeded", "Failed"})


def pod_ref(pod: Pod) -> str:
    meta = pod.get("metadata", {})
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def _containers(pod: Pod) -> Iterable[Mapping[str, Any]]:
    spec = pod.get("spec", {})
    yield from spec.get("initContainers") or []
    yield from spec.get("containers") or []


def resources_with_prefix(pod: Pod, prefix: str) -> list[str]:
    """Device resources of ``prefix`` (e.g. ``openshift.io/intelnics``) the pod requests or limits."""
    wanted = f"{prefix}/"
    found: set[str] = set()
    for container in _containers(pod):
        resources = container.get("resources") or {}
        for section in ("requests", "limits"):
            found.update(name for name in resources.get(section) or {} if name.startswith(wanted))
    return sorted(found)


def is_daemonset_pod(pod: Pod) -> bool:
    owners = pod.get("metadata", {}).get("ownerReferences") or []
    return any(o.get("kind") == "DaemonSet" and o.get("controller") for o in owners)


def is_mirror_pod(pod: Pod) -> bool:
    return MIRROR_POD_ANNOTATION in (pod.get("metadata", {}).get("annotations") or {})


def is_finished(pod: Pod) -> bool:
    return pod.get("status", {}).get("phase") in TERMINAL_PHASES


def is_terminating(pod: Pod) -> bool:
    return bool(pod.get("metadata", {}).get("deletionTimestamp"))


def must_leave(pod: Pod, request: str, prefix: str) -> bool:
    """Does a drain for ``request`` need this pod gone from the node?"""
    if is_mirror_pod(pod) or is_finished(pod):
        return False
    if request == REBOOT_REQUIRED:
        return not is_daemonset_pod(pod)
    return bool(resources_with_prefix(pod, prefix))


@dataclass(frozen=True)
class DrainWork:
    """The pods still in the way of a drain."""

    to_evict: tuple[Pod, ...]
    """Must leave and nobody asked them to yet."""
    terminating: tuple[Pod, ...]
    """Already asked to leave (deletion in progress): wait for them."""

    @property
    def done(self) -> bool:
        return not self.to_evict and not self.terminating


def drain_work(pods: Iterable[Pod], request: str, prefix: str) -> DrainWork:
    leaving = sorted((p for p in pods if must_leave(p, request, prefix)), key=pod_ref)
    return DrainWork(
        to_evict=tuple(p for p in leaving if not is_terminating(p)),
        terminating=tuple(p for p in leaving if is_terminating(p)),
    )


def guarding_budgets(pod: Pod, budgets: Iterable[Mapping[str, Any]]) -> list[str]:
    """Names of the PodDisruptionBudgets in the pod's namespace whose selector matches the pod."""
    meta = pod.get("metadata", {})
    labels = meta.get("labels") or {}
    names = []
    for budget in budgets:
        budget_meta = budget.get("metadata", {})
        if budget_meta.get("namespace") != meta.get("namespace"):
            continue
        raw = budget.get("spec", {}).get("selector")
        selector = LabelSelector.model_validate(raw) if raw is not None else None
        if label_selector_matches(selector, labels):
            names.append(str(budget_meta.get("name", "")))
    return sorted(names)
