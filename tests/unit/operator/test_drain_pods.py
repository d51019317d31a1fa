"""Which pods a drain removes: resource users for Drain_Required, all but DaemonSets for a reboot."""

from __future__ import annotations

from typing import Any

import pytest

from sriov_operator.operator.drain.pods import drain_work, guarding_budgets, must_leave, resources_with_prefix


def pod(
    name: str,
    *,
    resources: dict[str, str] | None = None,
    init_resources: dict[str, str] | None = None,
    owner: str | None = None,
    mirror: bool = False,
    phase: str = "Running",
    terminating: bool = False,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "apps", "labels": labels or {}}
    if owner:
        meta["ownerReferences"] = [{"kind": owner, "name": "x", "controller": True}]
    if mirror:
        meta["annotations"] = {"kubernetes.io/config.mirror": "abc"}
    if terminating:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    spec: dict[str, Any] = {"containers": [{"name": "c", "resources": {"limits": resources or {}}}]}
    if init_resources:
        spec["initContainers"] = [{"name": "i", "resources": {"requests": init_resources}}]
    return {"metadata": meta, "spec": spec, "status": {"phase": phase}}


VF = {"openshift.io/intelnics": "1"}
OTHER = {"example.com/gpu": "1", "cpu": "1"}


@pytest.mark.parametrize(
    ("the_pod", "drain_request", "leaves"),
    [
        (pod("vf-user", resources=VF), "Drain_Required", True),
        (pod("vf-in-init", init_resources=VF), "Drain_Required", True),
        (pod("plain", resources=OTHER), "Drain_Required", False),
        # a DaemonSet pod holding VFs must let go of them too
        (pod("ds-vf", resources=VF, owner="DaemonSet"), "Drain_Required", True),
        (pod("plain", resources=OTHER), "Reboot_Required", True),
        (pod("rs", owner="ReplicaSet"), "Reboot_Required", True),
        (pod("ds", owner="DaemonSet"), "Reboot_Required", False),
        (pod("ds-vf", resources=VF, owner="DaemonSet"), "Reboot_Required", False),
        (pod("static", resources=VF, mirror=True), "Drain_Required", False),
        (pod("static", mirror=True), "Reboot_Required", False),
        (pod("done", resources=VF, phase="Succeeded"), "Drain_Required", False),
        (pod("failed", phase="Failed"), "Reboot_Required", False),
    ],
)
def test_must_leave(the_pod: dict[str, Any], drain_request: str, leaves: bool) -> None:
    assert must_leave(the_pod, drain_request, "openshift.io") is leaves


def test_prefix_must_match_a_whole_domain() -> None:
    lookalike = pod("p", resources={"openshift.iox/nic": "1", "my.openshift.io/nic": "1"})
    assert resources_with_prefix(lookalike, "openshift.io") == []
    assert resources_with_prefix(pod("p", resources=VF), "openshift.io") == ["openshift.io/intelnics"]


def test_drain_work_splits_pods_to_evict_from_pods_already_leaving() -> None:
    pods = [
        pod("b", resources=VF),
        pod("a", resources=VF, terminating=True),
        pod("c", resources=OTHER),
    ]
    work = drain_work(pods, "Drain_Required", "openshift.io")
    assert [p["metadata"]["name"] for p in work.to_evict] == ["b"]
    assert [p["metadata"]["name"] for p in work.terminating] == ["a"]
    assert not work.done
    assert drain_work([pods[2]], "Drain_Required", "openshift.io").done


def budget(name: str, namespace: str, selector: dict[str, Any] | None) -> dict[str, Any]:
    spec = {} if selector is None else {"selector": selector}
    return {"metadata": {"name": name, "namespace": namespace}, "spec": spec}


def test_guarding_budgets_match_namespace_and_selector() -> None:
    the_pod = pod("web-1", labels={"app": "web", "tier": "front"})
    budgets = [
        budget("web", "apps", {"matchLabels": {"app": "web"}}),
        budget("other-ns", "elsewhere", {"matchLabels": {"app": "web"}}),
        budget("db", "apps", {"matchLabels": {"app": "db"}}),
        budget("everything", "apps", {}),
        budget("no-selector", "apps", None),
        budget(
            "front",
            "apps",
            {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["front", "edge"]}]},
        ),
    ]
    assert guarding_budgets(the_pod, budgets) == ["everything", "front", "web"]
