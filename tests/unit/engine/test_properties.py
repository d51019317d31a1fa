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
PCI = {name: f"0000:3b:00.{index}" for index, name in enumerate(PF_NAMES)}
VENDOR = {"ens1f0": "8086", "ens1f1": "8086", "ens2f0": "15b3"}
TOTAL_VFS = 16


@st.composite
def nic_selector(draw: st.DrawFn, num_vfs: int) -> dict[str, Any]:
    """pfNames (with or without ranges), rootDevices, vendor or netFilter (which no PF here has)."""
    kind = draw(st.sampled_from(["pfNames", "pfNames", "rootDevices", "vendor", "netFilter"]))
    names = draw(st.lists(st.sampled_from(PF_NAMES), min_size=1, max_size=2, unique=True))
    if kind == "rootDevices":
        return {"rootDevices": [PCI[name] for name in names]}
    if kind == "vendor":
        return {"vendor": draw(st.sampled_from(["8086", "15b3"]))}
    if kind == "netFilter":
        return {"netFilter": "openstack/NetworkID:n1"}
    entries = []
    for name in names:
        if draw(st.booleans()):
            first = draw(st.integers(0, num_vfs - 1))
            entries.append(f"{name}#{first}-{draw(st.integers(first, num_vfs - 1))}")
        else:
            entries.append(name)
    return {"pfNames": entries}


@st.composite
def policies(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Policies valid on every node they select (so the merge alone decides what each gets)."""
    count = draw(st.integers(1, 6))
    bodies = []
    for index in range(count):
        num_vfs = draw(st.integers(1, TOTAL_VFS))
        selector = draw(nic_selector(num_vfs))
        link_type = None if "netFilter" in selector else draw(st.sampled_from([None, "eth", "ib"]))
        extra = {"linkType": link_type} if link_type else {}
        bodies.append(
            policy(
                f"p{index}",
                resourceName=draw(st.sampled_from(["r0", "r1", f"r{index + 2}"])),
                node_selector=draw(st.sampled_from([{"sriov": "true"}, {"rack": "a"}, {"rack": "b"}])),
                priority=draw(st.integers(0, 3)),
                numVfs=num_vfs,
                mtu=draw(st.sampled_from([1500, 9000])),
                deviceType=draw(st.sampled_from(["netdevice", "vfio-pci"])),
                externallyManaged=not link_type and draw(st.booleans()),
                nicSelector=selector,
                **extra,
            )
        )
    return bodies


def cluster(bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    pfs = [
        pf(
            name,
            PCI[name],
            vendor=VENDOR[name],
            device="101d" if VENDOR[name] == "15b3" else "158b",
            totalvfs=TOTAL_VFS,
            numVfs=TOTAL_VFS,
            mtu=9000,
        )
        for name in PF_NAMES
    ]
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


def _selects(body: dict[str, Any], name: str) -> bool:
    selector = body["spec"]["nicSelector"]
    if "pfNames" in selector:
        return any(entry.split("#")[0] == name for entry in selector["pfNames"])
    if "rootDevices" in selector:
        return PCI[name] in selector["rootDevices"]
    if "vendor" in selector:
        return bool(selector["vendor"] == VENDOR[name])
    return False  # netFilter: no PF here is a Neutron port


def _range(body: dict[str, Any], name: str) -> tuple[int, int]:
    for entry in body["spec"]["nicSelector"].get("pfNames", []):
        pf_name, _, vf_range = entry.partition("#")
        if pf_name == name and vf_range:
            first, last = vf_range.split("-")
            return int(first), int(last)
    return 0, body["spec"]["numVfs"] - 1


def _collide(a: dict[str, Any], b: dict[str, Any], name: str) -> bool:
    (a0, a1), (b0, b1) = _range(a, name), _range(b, name)
    return a["spec"]["resourceName"] == b["spec"]["resourceName"] or (a0 <= b1 and b0 <= a1)


@settings(max_examples=80, deadline=None)
@given(policies())
def test_each_pf_keeps_exactly_the_groups_no_later_policy_collides_with(bodies: list[dict[str, Any]]) -> None:
    """The merge rule restated: apply from priority 99 to 0 (then by name); a policy's group on a PF
    survives unless a policy applied after it there shares its resourceName or overlaps its range."""
    result = output(cluster(bodies))
    labels = {"w1": {"sriov": "true", "rack": "a"}, "w2": {"sriov": "true", "rack": "b"}}
    pfs_of = {"w1": PF_NAMES, "w2": PF_NAMES[:2]}
    for node_name, spec in result["nodeStates"].items():
        on_node = [b for b in bodies if b["spec"]["nodeSelector"].items() <= labels[node_name].items()]
        applied = sorted(on_node, key=lambda b: (-b["spec"]["priority"], b["metadata"]["name"]))
        rendered = {i["pciAddress"]: i for i in spec.get("interfaces", [])}
        for name in pfs_of[node_name]:
            selecting = [b for b in applied if _selects(b, name)]
            expected = {
                (b["metadata"]["name"], "{}-{}".format(*_range(b, name)))
                for position, b in enumerate(selecting)
                if not any(_collide(b, later, name) for later in selecting[position + 1 :])
            }
            got = {(g["policyName"], g["vfRange"]) for g in rendered.get(PCI[name], {}).get("vfGroups", [])}
            assert got == expected, (node_name, name)
            if selecting:
                assert (
                    selecting[-1]["metadata"]["name"],
                    "{}-{}".format(*_range(selecting[-1], name)),
                ) in got
