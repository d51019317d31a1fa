"""The render shares work between nodes and PFs (indexes, memos); the answers must be the naive ones."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sriov_operator.api.models import InterfaceExt
from sriov_operator.engine.inputs import ClusterObjects, read_documents
from sriov_operator.engine.node_shape import NodeRender
from sriov_operator.engine.render import Memo, prepare, render_node
from sriov_operator.engine.selection import PoliciesByPf, compile_policy, parse_vf_range, pf_name_part
from tests.unit.engine.builders import documents, node, pf, policy, state

NAMES = ["ens1f0", "ens1f1", "ens2f0", "eth0"]
MODELS = [("8086", "158b"), ("8086", "1593"), ("15b3", "101d"), ("15b3", "1017")]
ROOT = "0000:3b:00.1"


@st.composite
def nic_selectors(draw: st.DrawFn) -> dict[str, Any]:
    """Every kind of selector, alone or combined, with VF ranges that may repeat a PF name."""
    selector: dict[str, Any] = {}
    if draw(st.booleans()):
        entries = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=3))
        selector["pfNames"] = [
            f"{name}#{first}-{first + 1}" if (first := draw(st.integers(-1, 5))) >= 0 else name
            for name in entries
        ]
    vendor, device = draw(st.sampled_from(MODELS))
    if draw(st.integers(0, 3)) == 0:
        selector["vendor"] = vendor
    if draw(st.integers(0, 3)) == 0:
        selector["deviceID"] = device
    if draw(st.integers(0, 5)) == 0:
        selector["rootDevices"] = [ROOT]
    if draw(st.integers(0, 5)) == 0:
        selector["netFilter"] = draw(st.sampled_from(["openstack/NetworkID:n1", "openstack/NetworkID:n2"]))
    return selector


@st.composite
def pfs(draw: st.DrawFn, count: int) -> list[dict[str, Any]]:
    """PFs with names in any order, altNames, mixed models, totalvfs and netFilters."""
    names = draw(st.permutations(NAMES))[:count]
    found = []
    for index, name in enumerate(names):
        vendor, device = draw(st.sampled_from(MODELS))
        extra: dict[str, Any] = {}
        if draw(st.integers(0, 3)) == 0:
            extra["altNames"] = [draw(st.sampled_from([n for n in NAMES if n != name]))]
        if draw(st.integers(0, 4)) == 0:
            extra["netFilter"] = "openstack/NetworkID:n1"
        found.append(
            pf(
                name,
                f"0000:{draw(st.sampled_from(['3b', '5e', 'af']))}:00.{index}",
                vendor=vendor,
                device=device,
                totalvfs=draw(st.sampled_from([4, 8, 64])),
                numVfs=8,
                mtu=draw(st.sampled_from([1500, 9000])),
                **extra,
            )
        )
    return found


def _iface(body: dict[str, Any]) -> InterfaceExt:
    return InterfaceExt.model_validate(body)


@settings(max_examples=150, deadline=None)
@given(st.lists(nic_selectors(), min_size=1, max_size=8), pfs(len(NAMES)))
def test_the_pf_index_selects_what_testing_every_policy_selects(
    selectors: list[dict[str, Any]], bodies: list[dict[str, Any]]
) -> None:
    compiled = [
        compile_policy(read_policy(policy(f"p{i}", nicSelector=selector)))
        for i, selector in enumerate(selectors)
    ]
    index = PoliciesByPf(compiled)
    interfaces = [_iface(body) for body in bodies]
    for iface in interfaces:
        naive = tuple(i for i, p in enumerate(compiled) if p.selects(iface))
        assert index.selecting(iface) == naive
        assert index.selecting(iface) == naive  # answered again from what it kept
    applicable = tuple(range(0, len(compiled), 2))
    assert index.selected_on_node(applicable, interfaces) == [
        (i, [iface for iface in interfaces if compiled[i].selects(iface)]) for i in applicable
    ]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(NAMES), min_size=1, max_size=4), st.data())
def test_the_range_of_a_pf_is_that_of_the_first_entry_naming_it(
    entries: list[str], data: st.DataObject
) -> None:
    pf_names = [f"{name}#{i}-{i}" if data.draw(st.booleans()) else name for i, name in enumerate(entries)]
    compiled = compile_policy(read_policy(policy("p", nicSelector={"pfNames": pf_names})))
    [body] = data.draw(pfs(1))
    iface = _iface(body)
    names = {iface.name, *(iface.alt_names or [])}
    naive = next((parse_vf_range(entry) for entry in pf_names if pf_name_part(entry) in names), None)
    assert compiled.explicit_range_for(iface) == naive


def read_policy(body: dict[str, Any]) -> Any:
    cluster, problems = read_documents(documents([body]), "sriov-network-operator")
    assert not problems
    return cluster.policies[0]


def _alone(cluster: ClusterObjects, name: str) -> NodeRender:
    """The node rendered with nothing learned from other nodes."""
    prep = prepare(cluster, resource_prefix="openshift.io")
    return render_node(prep, prep.managed_nodes[name])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(nic_selectors(), min_size=1, max_size=6),
    st.lists(st.integers(1, len(NAMES)).flatmap(pfs), min_size=2, max_size=6),
    st.data(),
)
def test_nodes_rendered_together_get_what_each_gets_alone(
    selectors: list[dict[str, Any]], fleet: list[list[dict[str, Any]]], data: st.DataObject
) -> None:
    bodies: list[dict[str, Any]] = [
        policy(
            f"p{i}",
            nicSelector=selector,
            numVfs=data.draw(st.sampled_from([2, 8])),
            priority=data.draw(st.integers(0, 2)),
            resourceName=data.draw(st.sampled_from(["r0", "r1", f"r{i + 2}"])),
            externallyManaged=data.draw(st.booleans()),
        )
        for i, selector in enumerate(selectors)
    ]
    # the first node again at other addresses: what was kept of its PFs must get the new addresses
    moved = [{**body, "pciAddress": body["pciAddress"].replace("0000:", "0001:")} for body in fleet[0]]
    for n, interfaces in enumerate([*fleet, moved]):
        bodies += [node(f"w{n}"), state(f"w{n}", interfaces)]
    cluster, problems = read_documents(documents(bodies), "sriov-network-operator")
    assert not problems
    prep = prepare(cluster, resource_prefix="openshift.io")
    memo: Memo = {}
    for name, managed in prep.managed_nodes.items():
        together = render_node(prep, managed, memo)
        alone = _alone(cluster, name)
        assert (together.spec, together.resources, together.problems) == (
            alone.spec,
            alone.resources,
            alone.problems,
        )
