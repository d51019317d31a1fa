"""Properties of the render over generated policies and nodes."""

from __future__ import annotations

import copy
import itertools
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sriov_operator.api.models import SriovNetworkNodeStateSpec
from tests.unit.engine.builders import node, output, pf, policy, state

PF_NAMES = ["ens1f0", "ens1f1", "ens2f0"]


@st.composite
def policies(draw: st.DrawFn) -> list[dict[str, Any]]:
    count = draw(st.integers(1, 6))
    bodies = []
    for index in range(count):
        num_vfs = draw(st.integers(1, 16))
        entries = []
        for name in draw(st.lists(st.sampled_from(PF_NAMES), min_size=1, max_size=2, unique=True)):
            if draw(st.booleans()):
                first = draw(st.integers(0, num_vfs - 1))
                entries.append(f"{name}#{first}-{draw(st.integers(first, num_vfs - 1))}")
            else:
                entries.append(name)
        selector: dict[str, Any] = {"pfNames": entries}
        if draw(st.booleans()):
            selector["vendor"] = "8086"
        bodies.append(
            policy(
                f"p{index}",
                resourceName=draw(st.sampled_from(["r0", "r1", f"r{index + 2}"])),
                node_selector=draw(st.sampled_from([{"sriov": "true"}, {"rack": "a"}, {"rack": "b"}])),
                priority=draw(st.integers(0, 3)),
                numVfs=num_vfs,
                mtu=draw(st.sampled_from([1500, 9000])),
                nicSelector=selector,
            )
        )
    return bodies


def cluster(bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    pfs = [pf(name, f"0000:3b:00.{index}") for index, name in enumerate(PF_NAMES)]
    return [
        node("w1", {"rack": "a"}),
        state("w1", pfs),
        node("w2", {"rack": "b"}),
        state("w2", pfs[:2]),
        *bodies,
    ]


def ranges(spec: dict[str, Any]) -> list[tuple[int, list[tuple[int, int]]]]:
    found = []
    for iface in spec.get("interfaces", []):
        pairs = [tuple(int(x) for x in g["vfRange"].split("-")) for g in iface.get("vfGroups", [])]
        found.append((iface["numVfs"], [(a, b) for a, b in pairs]))
    return found


@settings(max_examples=60, deadline=None)
@given(policies(), st.randoms(use_true_random=False))
def test_output_does_not_depend_on_input_order(bodies: list[dict[str, Any]], random: Any) -> None:
    docs = cluster(bodies)
    shuffled = copy.deepcopy(docs)
    random.shuffle(shuffled)
    assert output(shuffled) == output(docs)


@settings(max_examples=60, deadline=None)
@given(policies())
def test_vf_ranges_are_disjoint_and_inside_num_vfs(bodies: list[dict[str, Any]]) -> None:
    for spec in output(cluster(bodies))["nodeStates"].values():
        SriovNetworkNodeStateSpec.model_validate(spec)
        for num_vfs, pairs in ranges(spec):
            assert all(0 <= a <= b <= num_vfs - 1 for a, b in pairs)
            ordered = sorted(pairs)
            assert all(prev[1] < nxt[0] for prev, nxt in itertools.pairwise(ordered))


@settings(max_examples=40, deadline=None)
@given(policies())
def test_rendered_spec_is_upstream_json(bodies: list[dict[str, Any]]) -> None:
    for spec in output(cluster(bodies))["nodeStates"].values():
        assert SriovNetworkNodeStateSpec.model_validate(spec).to_k8s() == spec


@settings(max_examples=40, deadline=None)
@given(policies())
def test_rendering_the_rendered_objects_again_is_a_fixed_point(bodies: list[dict[str, Any]]) -> None:
    docs = cluster(bodies)
    first = output(docs)
    fed_back = copy.deepcopy(docs)
    for doc in fed_back:
        if doc["kind"] == "SriovNetworkNodeState":
            doc["spec"] = first["nodeStates"][doc["metadata"]["name"]]
    fed_back += first["networkAttachmentDefinitions"]
    assert output(fed_back) == first
