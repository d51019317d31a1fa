"""Edges of the selection, merge and placement rules: each test fails if its rule changes."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.engine.builders import (
    NS,
    groups,
    interfaces,
    messages,
    node,
    pf,
    policy,
    render,
    resources,
    state,
    supported_nic_ids,
    worker,
)

PF0, PF1 = "0000:3b:00.0", "0000:3b:00.1"
MLX = [pf("ens1f0", PF0, vendor="15b3", device="101d", totalvfs=8)]


def test_equal_priority_keeps_the_larger_num_vfs_and_mtu_of_the_policy_it_replaces() -> None:
    result = render(
        [
            *worker(),
            policy("a", priority=20, numVfs=8, mtu=9000),
            policy("b", priority=20, numVfs=4, mtu=1500),
        ]
    )
    assert groups(result, PF0) == [("b", "0-3")]
    assert (interfaces(result)[PF0]["numVfs"], interfaces(result)[PF0]["mtu"]) == (8, 9000)


def test_higher_priority_replacing_everything_sets_its_own_num_vfs_and_mtu() -> None:
    result = render(
        [
            *worker(),
            policy("a", priority=50, numVfs=8, mtu=9000),
            policy("b", priority=10, numVfs=4, mtu=1500),
        ]
    )
    assert (interfaces(result)[PF0]["numVfs"], interfaces(result)[PF0]["mtu"]) == (4, 1500)


def test_kept_groups_keep_the_larger_num_vfs_and_mtu_across_priorities() -> None:
    result = render(
        [
            *worker(),
            policy("a", priority=50, numVfs=16, mtu=9000, nicSelector={"pfNames": ["ens1f0#8-15"]}),
            policy("b", priority=10, numVfs=8, mtu=1500, nicSelector={"pfNames": ["ens1f0#0-7"]}),
        ]
    )
    assert groups(result, PF0) == [("b", "0-7"), ("a", "8-15")]
    assert (interfaces(result)[PF0]["numVfs"], interfaces(result)[PF0]["mtu"]) == (16, 9000)


def test_merged_pf_without_any_mtu_has_none() -> None:
    result = render([*worker(), policy("a", priority=20), policy("b", priority=20)])
    assert "mtu" not in interfaces(result)[PF0]
    assert all("mtu" not in g for g in interfaces(result)[PF0]["vfGroups"])


def test_priority_compared_with_the_previous_policy_on_the_node_only() -> None:
    """Equal priority means equal to the policy applied just before, whatever PF that one selected."""
    result = render(
        [
            *worker(),
            policy("a", priority=30, numVfs=8, mtu=9000),
            policy("b", priority=20, numVfs=2, nicSelector={"pfNames": ["ens1f1"]}),
            policy("c", priority=20, numVfs=4, mtu=1500),
        ]
    )
    assert (interfaces(result)[PF0]["numVfs"], interfaces(result)[PF0]["mtu"]) == (8, 9000)


def test_single_vf_range() -> None:
    result = render([*worker(), policy("p", numVfs=8, nicSelector={"pfNames": ["ens1f0#3-3"]})])
    assert groups(result, PF0) == [("p", "3-3")]
    assert resources(result)["p"]["selectors"]["pfNames"] == ["ens1f0#3-3"]


def test_range_applies_only_to_the_pf_its_entry_names() -> None:
    result = render([*worker(), policy("p", numVfs=8, nicSelector={"pfNames": ["ens1f0#2-3", "ens1f1"]})])
    assert groups(result, PF0) == [("p", "2-3")]
    assert groups(result, PF1) == [("p", "0-7")]


@pytest.mark.parametrize(("num_vfs", "accepted"), [(64, True), (65, False)])
def test_totalvfs_boundary(num_vfs: int, accepted: bool) -> None:
    result = render([*worker(interfaces=[pf("ens1f0", PF0, totalvfs=64)]), policy("p", numVfs=num_vfs)])
    assert (PF0 in interfaces(result)) is accepted
    assert bool(messages(result)) is not accepted


@pytest.mark.parametrize(("num_vfs", "accepted"), [(128, True), (129, False)])
def test_mellanox_boundary_is_128_whatever_totalvfs_says(num_vfs: int, accepted: bool) -> None:
    result = render([*worker(interfaces=MLX), policy("p", numVfs=num_vfs)])
    assert (PF0 in interfaces(result)) is accepted
    assert any("accepted: 1..128" in m for m in messages(result)) is not accepted


@pytest.mark.parametrize("link_type", ["IB", "ib"])
def test_infiniband_policy(link_type: str) -> None:
    ib = [pf("ibp1s0", PF0, vendor="15b3", device="101b", linkType="IB")]
    result = render(
        [
            *worker(interfaces=ib),
            policy("p", linkType=link_type, nicSelector={"vendor": "15b3", "deviceID": "101b"}),
        ]
    )
    assert messages(result) == []
    assert interfaces(result)[PF0]["linkType"] == link_type
    assert interfaces(result)[PF0]["vfGroups"][0]["isRdma"] is True  # mutating default for IB
    selectors = resources(result)["p"]["selectors"]
    assert (selectors["linkTypes"], selectors["isRdma"], selectors["devices"]) == (
        ["infiniband"],
        True,
        ["101c"],
    )


def test_ethernet_link_type_is_exposed_as_ether() -> None:
    result = render([*worker(), policy("p", linkType="eth")])
    assert resources(result)["p"]["selectors"]["linkTypes"] == ["ether"]


def test_externally_managed_policy_within_what_the_pf_has_is_applied() -> None:
    pfs = [pf("ens1f0", PF0, numVfs=8, mtu=9000, linkType="ETH")]
    spec = {"numVfs": 8, "mtu": 9000, "linkType": "eth", "externallyManaged": True}
    result = render([*worker(interfaces=pfs), policy("p", **spec)])
    assert messages(result) == []
    assert interfaces(result)[PF0]["externallyManaged"] is True
    assert groups(result, PF0) == [("p", "0-7")]


def test_conflicts_are_reported_on_every_shared_pf() -> None:
    both = {"pfNames": ["ens1f0", "ens1f1"]}
    result = render(
        [
            *worker(interfaces=[pf("ens1f0", PF0, numVfs=8), pf("ens1f1", PF1, numVfs=8)]),
            policy("a", nicSelector=both, externallyManaged=True),
            policy("b", nicSelector=both, priority=10),
        ]
    )
    found = [m for m in messages(result) if "spec.externallyManaged" in m]
    assert len(found) == 4
    assert {(m.split(":")[0].rsplit("/")[-1], PF0 in m, PF1 in m) for m in found} == {
        ("a", True, False),
        ("a", False, True),
        ("b", True, False),
        ("b", False, True),
    }


def test_overlapping_explicit_ranges_are_errors_and_touching_ones_are_not() -> None:
    def errors(first: str, second: str) -> list[str]:
        docs: list[dict[str, Any]] = [
            *worker(),
            policy("a", numVfs=8, nicSelector={"pfNames": [f"ens1f0#{first}"]}),
            policy("b", numVfs=8, priority=10, nicSelector={"pfNames": [f"ens1f0#{second}"]}),
        ]
        return messages(render(docs))

    assert errors("0-3", "4-7") == []
    assert len(errors("0-4", "4-7")) == 2
    assert (
        f"SriovNetworkNodePolicy/{NS}/b: spec.nicSelector.pfNames: VF range 4-7 of PF ens1f0 (0000:3b:00.0) "
        "overlaps range 0-4 of policy 'a'; accepted: disjoint ranges (on 1 node(s): w1)"
    ) in errors("0-4", "4-7")


def test_equal_priorities_warn_only_when_they_claim_the_same_vfs() -> None:
    def warnings(second: str) -> list[str]:
        docs: list[dict[str, Any]] = [
            *worker(),
            policy("a", numVfs=8, priority=5, nicSelector={"pfNames": ["ens1f0#0-3"]}),
            policy("b", numVfs=8, priority=5, nicSelector={"pfNames": [f"ens1f0{second}"]}),
        ]
        return [m for m in messages(render(docs), "warning") if "spec.priority: equal" in m]

    assert warnings("#4-7") == []
    assert warnings("") == [
        f"SriovNetworkNodePolicy/{NS}/a: spec.priority: equal to the priority of policy 'b' and both claim "
        "the same VFs of PF ens1f0 (0000:3b:00.0); 'b' wins by name order only; give the one that should win "
        "a lower priority number (on 1 node(s): w1)",
    ]


def test_kept_groups_take_the_larger_mtu_when_the_new_policy_has_it() -> None:
    result = render(
        [
            *worker(),
            policy("a", priority=50, numVfs=16, mtu=1500, nicSelector={"pfNames": ["ens1f0#8-15"]}),
            policy("b", priority=10, numVfs=8, mtu=9000, nicSelector={"pfNames": ["ens1f0#0-7"]}),
        ]
    )
    assert (interfaces(result)[PF0]["numVfs"], interfaces(result)[PF0]["mtu"]) == (16, 9000)


def test_a_num_vfs_zero_policy_selecting_nothing_does_not_stop_the_policies_after_it() -> None:
    result = render(
        [
            *worker(),
            policy("zero", priority=50, numVfs=0, nicSelector={"pfNames": ["ens9f0"]}),
            policy("p", priority=10, numVfs=4),
        ]
    )
    assert groups(result, PF0) == [("p", "0-3")]


def _nic_messages(port: dict[str, Any], provider_id: str = "", **kwargs: Any) -> list[str]:
    docs = [
        node("w1", provider_id=provider_id),
        state("w1", [port]),
        policy("p", nicSelector={"pfNames": ["ens1f0"]}),
    ]
    result = render(docs, **kwargs)
    return [
        m for m in messages(result, "error" if kwargs else "warning") if "is not in the supported-NIC" in m
    ]


def test_unsupported_pf_model_selected_by_name_is_found_on_the_node() -> None:
    unknown = pf("ens1f0", PF0, device="abcd")
    expected = (
        f"SriovNetworkNodePolicy/{NS}/p: spec.nicSelector: selects PF ens1f0 ({PF0}) "
        "whose NIC model 8086:abcd is not in the supported-NIC list"
    )
    assert [m.split(";")[0] for m in _nic_messages(unknown)] == [expected]
    assert [m.split(";")[0] for m in _nic_messages(unknown, strict_nics=True)] == [expected]
    assert _nic_messages(pf("ens1f0", PF0)) == []
    [warned], [refused] = _nic_messages(unknown), _nic_messages(unknown, strict_nics=True)
    assert "(accepted anyway; --strict-nics makes this an error)" in warned
    assert "accepted anyway" not in refused  # --strict-nics: an error, and it says so


@pytest.mark.parametrize(("device", "unsupported"), [("154c", False), ("158b", True), ("abcd", True)])
def test_a_virtual_machine_port_is_checked_as_a_vf_model(device: str, unsupported: bool) -> None:
    port = pf("ens1f0", PF0, device=device)
    found = _nic_messages(port, provider_id="openstack://region/abc")
    assert [f"whose VF model 8086:{device}" in m for m in found] == ([True] if unsupported else [])


def test_every_problem_of_a_policy_on_a_node_is_reported() -> None:
    pfs = [pf("ens1f0", PF0, totalvfs=4, device="abcd", numVfs=2), pf("ens1f1", PF1, totalvfs=4, numVfs=2)]
    p = policy("p", numVfs=6, externallyManaged=True, nicSelector={"pfNames": ["ens1f0", "ens1f1"]})
    result = render([*worker(interfaces=pfs), p])
    fields = sorted(m.split(": ")[1] + (" 0" if PF0 in m else " 1") for m in messages(result))
    assert fields == ["spec.numVfs 0", "spec.numVfs 0", "spec.numVfs 1", "spec.numVfs 1"]
    assert any("NIC model 8086:abcd" in m for m in messages(result, "warning"))


def test_policies_on_different_pfs_or_root_devices_do_not_conflict() -> None:
    result = render(
        [
            *worker(interfaces=[pf("ens1f0", PF0, numVfs=8), pf("ens1f1", PF1, numVfs=8)]),
            policy("a", externallyManaged=True, nicSelector={"rootDevices": [PF0]}),
            policy("b", priority=10, nicSelector={"rootDevices": [PF1]}),
        ]
    )
    assert messages(result) == []


def test_a_pf_model_is_supported_only_for_its_own_vendor() -> None:
    nic_ids = supported_nic_ids({"Acme": "1234 abcd abce"})
    docs = [nic_ids, *worker(interfaces=[pf("ens1f0", PF0, device="abcd")]), policy("p")]
    assert any("NIC model 8086:abcd is not in" in m for m in messages(render(docs), "warning"))


def test_every_shared_root_device_and_resource_conflict_is_reported() -> None:
    pfs = [pf("ens1f0", PF0), pf("ens1f1", PF1)]
    result = render(
        [
            *worker(interfaces=pfs),
            policy("a", resourceName="r", nicSelector={"rootDevices": [PF0, PF1]}),
            policy("b", resourceName="r", priority=10, isRdma=True, nicSelector={"rootDevices": [PF0]}),
            policy("c", resourceName="s", priority=20, needVhostNet=True, nicSelector={"rootDevices": [PF1]}),
            policy("d", resourceName="s", priority=30, nicSelector={"pfNames": ["ens1f1#4-7"]}),
        ]
    )
    fields = sorted(m.split(": ")[0].rsplit("/")[-1] + " " + m.split(": ")[1] for m in messages(result))
    assert [f for f in fields if "rootDevices" in f] == [
        "a spec.nicSelector.rootDevices",
        "a spec.nicSelector.rootDevices",
        "b spec.nicSelector.rootDevices",
        "c spec.nicSelector.rootDevices",
    ]
    assert [f for f in fields if "isRdma" in f or "needVhostNet" in f] == [
        "a spec.isRdma",
        "b spec.isRdma",
        "c spec.needVhostNet",
        "d spec.needVhostNet",
    ]


def test_vfio_pci_and_netdevice_policies_cannot_share_a_resource_name() -> None:
    """A vfio-pci policy reusing a netdevice policy's resourceName was accepted without a word."""
    result = render(
        [
            *worker(interfaces=[pf("ens1f0", PF0), pf("ens1f1", PF1)]),
            policy("kernel", resourceName="shared", nicSelector={"pfNames": ["ens1f0"]}),
            policy("dpdk", resourceName="shared", deviceType="vfio-pci", nicSelector={"pfNames": ["ens1f1"]}),
        ]
    )
    mixed = sorted(m for m in messages(result) if ": spec.deviceType: " in m)
    assert len(mixed) == 2, mixed
    assert (
        "vfio-pci differs from netdevice in policy 'kernel', which shares resourceName 'shared'" in mixed[0]
    )
    assert result.device_plugin == {"w1": {"resourceList": []}}  # not exposed where both apply


def _network(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "sriovnetwork.openshift.io/v1",
        "kind": "SriovNetwork",
        "metadata": {"name": "n", "namespace": NS},
        "spec": {"resourceName": "p", **spec},
    }


@pytest.mark.parametrize(
    ("body", "field", "bound"),
    [
        (policy("p", mtu=4611686018427387904), "spec.mtu", "less than or equal to 65535"),
        (policy("p", mtu=67), "spec.mtu", "greater than or equal to 68"),
        (policy("p", numVfs=65536), "spec.numVfs", "less than or equal to 65535"),
        (_network(maxTxRate=2**32), "spec.maxTxRate", "less than or equal to 4294967295"),
        (_network(vlanQoS=8), "spec.vlanQoS", "less than or equal to 7"),
    ],
)
def test_numbers_past_what_the_kernel_takes_are_refused_by_validate_and_the_webhook(
    body: dict[str, Any], field: str, bound: str
) -> None:
    """The value that bricked a node passed the schema and the webhook (render checks the webhook too)."""
    [line] = [m for m in messages(render([*worker(), body])) if f": {field}: " in m]
    assert bound in line, line
