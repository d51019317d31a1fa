"""``why``'s walk, pure: the healthy chain holds; each injected break stops it at its own step."""

from __future__ import annotations

from typing import Any

import pytest

from sriov_operator.api.meta import name_of, namespace_of
from sriov_operator.commands.why import answer, format_text
from sriov_operator.commands.why.chain import STEPS, ClusterObjects, why_node, why_pod, why_policy
from sriov_operator.commands.why.evidence import Events
from tests.why_cases import BREAKS, FULL_NAME, Chain, broken, healthy_chain

OPERATOR_NS, APP_NS, NODE = "sriov-network-operator", "apps", "worker-0"


def view_of(chain: Chain, events: list[dict[str, Any]] | None = None) -> ClusterObjects:
    """What ``fetch.read_cluster`` would return for these objects."""
    found = chain.objects
    pod = found.get("pod")
    return ClusterObjects(
        operator_namespace=chain.operator_namespace,
        nodes={name_of(found["node"]): found["node"]} if "node" in found else {},
        states={chain.node: found["state"]} if "state" in found else {},
        device_plugin_configs={chain.node: found["configmap"]} if "configmap" in found else {},
        policies=[found["policy"]] if "policy" in found else [],
        networks=[found["network"]] if "network" in found else [],
        nads={(chain.app_namespace, "whynet"): found["nad"]} if "nad" in found else {},
        events=Events.of(events or []),
        pods={(namespace_of(pod) or "", name_of(pod)): pod} if pod else {},
    )


def healthy() -> Chain:
    return healthy_chain(OPERATOR_NS, APP_NS, NODE, "yes")


def test_every_step_has_a_break() -> None:
    assert sorted(BREAKS) == sorted(STEPS)


def test_the_healthy_chain_holds_at_every_step_in_order() -> None:
    result = why_pod(view_of(healthy()), APP_NS, "whypod")
    assert result.holds
    assert [link.step for link in result.links()] == list(STEPS)
    text = format_text(result)
    assert text.endswith("every link holds (12 checked)\n")
    assert "  ok     allocatable worker-0: allocatable openshift.io/whyres: 2\n" in text


@pytest.mark.parametrize("step", STEPS)
def test_a_break_at_each_step_is_named_and_nothing_after_it_is_judged(step: str) -> None:
    result = why_pod(view_of(broken(healthy(), step)), APP_NS, "whypod")
    assert result.broken is not None and result.broken.step == step
    steps = [link.step for link in result.links()]
    assert steps == list(STEPS[: STEPS.index(step) + 1])
    assert [link.holds for link in result.links()] == [True] * (len(steps) - 1) + [False]
    text = format_text(result)
    assert f"  BROKEN {step:<11} " in text
    assert text.splitlines()[-1].startswith(f"broken at {step}: ")


EXPECTED_WORDS = {
    "pod": "no Pod apps/whypod",
    "annotation": "is not valid JSON",
    "nad": "no NetworkAttachmentDefinition apps/whynet",
    "network": "names no network that exists",
    "resource": f"the pod does not request {FULL_NAME}",
    "policy": "no SriovNetworkNodePolicy in sriov-network-operator has resourceName whyres",
    "nodes": "the nodeSelector matches none of 1 node(s) (worker-0)",
    "nodestate": "worker-0: its NodeState spec configures no device for whyres",
    "sync": "worker-0: syncStatus Failed: setNumVfs ens1f0: write error",
    "handoff": "not handed over to the device plugin yet",
    "allocatable": f"worker-0: allocatable {FULL_NAME}: 0: the device plugin advertises none",
    "scheduler": f"not bound to a node: Unschedulable: 0/1 nodes are available: 1 Insufficient {FULL_NAME}.",
}


@pytest.mark.parametrize("step", STEPS)
def test_the_broken_link_says_what_a_user_must_fix(step: str) -> None:
    result = why_pod(view_of(broken(healthy(), step)), APP_NS, "whypod")
    assert result.broken is not None
    assert EXPECTED_WORDS[step] in result.broken.summary


def test_the_broken_link_cites_conditions_and_events_of_its_object() -> None:
    chain = broken(healthy(), "sync")
    chain.objects["state"]["status"]["conditions"] = [
        {
            "type": "Degraded",
            "status": "True",
            "reason": "ApplyFailed",
            "message": "setNumVfs ens1f0: write error",
        }
    ]
    event = {
        "regarding": {"kind": "SriovNetworkNodeState", "namespace": OPERATOR_NS, "name": NODE},
        "type": "Warning",
        "reason": "ApplyFailed",
        "note": "setNumVfs ens1f0: write error",
        "series": {"count": 3, "lastObservedTime": "2026-01-01T00:00:00.000000Z"},
    }
    result = why_pod(view_of(chain, [event]), APP_NS, "whypod")
    assert result.broken is not None
    evidence = result.broken.evidence
    state = f"SriovNetworkNodeState {OPERATOR_NS}/{NODE}"
    assert f"{state}: condition Degraded=True ApplyFailed: setNumVfs ens1f0: write error" in evidence
    assert f"{state}: Event Warning ApplyFailed (x3): setNumVfs ens1f0: write error" in evidence
    assert (
        f"           {state}: condition Degraded=True ApplyFailed: setNumVfs ens1f0: write error"
        in format_text(result).splitlines()
    )


def test_a_policy_outside_the_operator_namespace_is_named_as_the_cause() -> None:
    chain = healthy()
    chain.objects["policy"]["metadata"]["namespace"] = "openshift-sriov-network-operator"
    result = why_pod(view_of(chain), APP_NS, "whypod")
    assert result.broken is not None and result.broken.step == "policy"
    assert any(
        "openshift-sriov-network-operator/whypol has resourceName whyres" in e for e in result.broken.evidence
    )


def test_a_pod_needs_one_good_node_a_policy_needs_all() -> None:
    chain = healthy()
    second = {**chain.objects["node"], "metadata": {**chain.objects["node"]["metadata"], "name": "worker-1"}}
    view = view_of(chain)
    view = ClusterObjects(**{**view.__dict__, "nodes": {**view.nodes, "worker-1": second}})
    pod = why_pod(view, APP_NS, "whypod")
    assert pod.holds
    assert "(not on worker-1)" in next(link for link in pod.links() if link.step == "nodestate").summary
    policy = why_policy(view, "whypol")
    assert policy.broken is not None and policy.broken.step == "nodestate"
    assert "worker-1: no SriovNetworkNodeState" in policy.broken.summary


def test_node_and_network_subjects_walk_their_part_of_the_chain() -> None:
    view = view_of(healthy())
    node = why_node(view, NODE)
    assert node.holds
    assert [link.step for link in node.links()] == ["nodes", "nodestate", "sync", "handoff", "allocatable"]
    network = answer(view, "network", "whynet", None)
    assert network.holds
    assert [link.step for link in network.links()][:3] == ["network", "nad", "resource"]
    broken_node = why_node(view_of(broken(healthy(), "allocatable")), NODE)
    assert broken_node.broken is not None and broken_node.broken.step == "allocatable"


def test_json_output_names_the_broken_step_and_keeps_every_evidence_line() -> None:
    result = why_pod(view_of(broken(healthy(), "handoff")), APP_NS, "whypod")
    output = result.to_output()
    assert output["holds"] is False and output["brokenAt"] == "handoff"
    [network] = output["networks"]
    assert network["network"] == "apps/whynet"
    assert network["links"][-1]["step"] == "handoff" and network["links"][-1]["holds"] is False


def test_a_pod_without_the_request_cites_whether_the_injector_is_on() -> None:
    chain = broken(healthy(), "resource")
    view = view_of(chain)
    off = {"metadata": {"name": "default", "namespace": OPERATOR_NS}, "spec": {"enableInjector": False}}
    result = why_pod(ClusterObjects(**{**view.__dict__, "operator_config": off}), APP_NS, "whypod")
    assert result.broken is not None
    assert result.broken.evidence == (f"SriovOperatorConfig {OPERATOR_NS}/default: enableInjector false",)
