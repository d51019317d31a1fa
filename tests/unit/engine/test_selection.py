"""Selection rules as pure functions: pfNames entries, netFilter, label selectors, compiled policies."""

from __future__ import annotations

from typing import Any

import pytest

from sriov_operator.api.models import InterfaceExt, LabelSelector, SriovNetworkNodePolicy
from sriov_operator.engine.selection import compile_policy, label_selector_matches, parse_vf_range
from tests.unit.engine.builders import NS, groups, messages, pf, policy, render, worker

PORT = "0000:00:04.0"


def _compiled(nic_selector: dict[str, Any]) -> Any:
    return compile_policy(SriovNetworkNodePolicy.model_validate(policy("p", nicSelector=nic_selector)))


def _iface(**fields: Any) -> InterfaceExt:
    return InterfaceExt.model_validate(pf("ens1f0", "0000:3b:00.0", **fields))


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("ens1f0#a-b", "'ens1f0#a-b': VF range must be '<first>-<last>' with integers, e.g. 'ens1f0#0-3'"),
        (
            "ens1f0#0-1#2",
            "'ens1f0#0-1#2': has more than one '#'; accepted: '<pf name>' or '<pf name>#<first>-<last>'",
        ),
        ("ens1f0#3-1", "'ens1f0#3-1': VF range 3-1 starts after it ends; accepted: first <= last"),
        # a PF has at most 65535 VFs (0-65534); the last VF bounds the range, whatever its digits
        (
            "ens1f0#0-65535",
            "'ens1f0#0-65535': VF range ends above VF 65534, the most a PF can have (65535 VFs)",
        ),
        (
            "ens1f0#0-70000",
            "'ens1f0#0-70000': VF range ends above VF 65534, the most a PF can have (65535 VFs)",
        ),
        (
            "ens1f0#0-9999999999",
            "'ens1f0#0-9999999999': VF range ends above VF 65534, the most a PF can have (65535 VFs)",
        ),
    ],
)
def test_malformed_pf_names_entries_are_explained(entry: str, message: str) -> None:
    result = render([*worker(), policy("p", nicSelector={"pfNames": [entry]})])
    assert messages(result) == [f"SriovNetworkNodePolicy/{NS}/p: spec.nicSelector.pfNames[0]: {message}"]


@pytest.mark.parametrize(
    ("port_filter", "selected"),
    [
        ("openstack/NetworkID:net-a", True),
        ("  openstack/NetworkID : net-a", True),  # read as key:value, spaces around them ignored
        ("other/Key:net-a", False),  # same value, another key
        ("openstack/NetworkID:net-b", False),
        (None, False),
    ],
)
def test_net_filter_compares_key_and_value(port_filter: str | None, selected: bool) -> None:
    compiled = _compiled({"netFilter": "openstack/NetworkID:net-a"})
    port = InterfaceExt.model_validate({"pciAddress": PORT, "netFilter": port_filter})
    assert compiled.selects(port) is selected


def test_a_selector_with_no_criterion_or_an_unreadable_net_filter_selects_nothing() -> None:
    assert _compiled({}).selects(_iface()) is False
    unreadable = _compiled({"netFilter": "no-colon"})
    assert (
        unreadable.selects(InterfaceExt.model_validate({"pciAddress": PORT, "netFilter": "no-colon"}))
        is False
    )
    assert _compiled({"pfNames": ["ens1f0"], "netFilter": "no-colon"}).selects(_iface()) is False


def test_compiling_keeps_the_pf_name_of_an_entry_whose_range_is_malformed() -> None:
    compiled = _compiled({"pfNames": ["ens1f0#x", "ens1f1#2-3"]})
    assert compiled.first_entry == {"ens1f0": (0, None), "ens1f1": (1, (2, 3))}
    assert compiled.selects(_iface()) is True


def test_missing_label_selector_matches_nothing_and_an_empty_one_everything() -> None:
    """metav1 semantics, as for a PodDisruptionBudget selector (pools treat a missing one as empty)."""
    assert label_selector_matches(None, {"a": "b"}) is False
    assert label_selector_matches(LabelSelector(), {}) is True


def test_a_root_device_selects_that_address_only_on_nodes_alike_in_everything_else() -> None:
    """The same NIC in another slot on a second node is not the root device the policy names."""
    listed, other_slot = "0000:3b:00.0", "0000:5e:00.0"
    result = render(
        [
            *worker("w1", [pf("ens1f0", listed)]),
            *worker("w2", [pf("ens1f0", other_slot)]),
            *worker("w3", [pf("ens1f0", listed)]),
            policy("roots", numVfs=4, nicSelector={"rootDevices": [listed]}),
        ]
    )
    assert groups(result, listed, "w1") == [("roots", "0-3")]
    assert result.node_states["w2"].get("interfaces", []) == []  # nothing configured on w2
    assert groups(result, listed, "w3") == [("roots", "0-3")]


def test_the_last_vf_a_pf_can_have_is_accepted_in_a_range() -> None:
    assert parse_vf_range("ens1f0#0-65534") == (0, 65534)
    assert parse_vf_range("ens1f0#00007-65534") == (7, 65534)


def test_a_policy_by_device_id_only_selects_that_model_on_every_node() -> None:
    mellanox = pf("ens2f0", "0000:5e:00.0", vendor="15b3", device="1017")
    intel = pf("ens1f0", "0000:3b:00.0")
    result = render(
        [
            *worker("w1", [intel, mellanox]),
            *worker("w2", [mellanox]),
            policy("a-empty", nicSelector={}),  # selects nothing, and comes first in apply order
            policy("cx5", numVfs=4, nicSelector={"deviceID": "1017"}),
        ]
    )
    assert groups(result, "0000:5e:00.0", "w1") == [("cx5", "0-3")]
    assert groups(result, "0000:5e:00.0", "w2") == [("cx5", "0-3")]
    assert "0000:3b:00.0" not in {i["pciAddress"] for i in result.node_states["w1"]["interfaces"]}


def test_an_alt_name_selects_only_the_pfs_that_carry_it() -> None:
    """Two nodes whose PFs differ only in their altNames: the policy naming one selects only there."""
    result = render(
        [
            *worker("w1", [pf("ens1f0", "0000:3b:00.0", altNames=["enp59s0f0np0"])]),
            *worker("w2", [pf("ens1f0", "0000:3b:00.0")]),
            policy("by-alt", numVfs=4, nicSelector={"pfNames": ["enp59s0f0np0"]}),
        ]
    )
    assert groups(result, "0000:3b:00.0", "w1") == [("by-alt", "0-3")]
    assert result.node_states["w2"].get("interfaces", []) == []


@pytest.mark.parametrize(
    "narrowing",
    [
        pytest.param({"vendor": "15b3"}, id="another-vendor"),
        pytest.param({"deviceID": "1017"}, id="another-device"),
        pytest.param({"rootDevices": ["0000:3b:00.1"]}, id="another-root-device"),
        pytest.param({"netFilter": "openstack/NetworkID:net-a"}, id="a-net-filter-the-pf-lacks"),
    ],
)
def test_a_named_pf_is_selected_only_when_every_other_criterion_holds_too(narrowing: dict[str, Any]) -> None:
    result = render([*worker(), policy("p", nicSelector={"pfNames": ["ens1f0"], **narrowing})])
    assert result.node_states["w1"].get("interfaces", []) == []


def test_a_policy_naming_pfs_selects_no_other_pf() -> None:
    assert _compiled({"pfNames": ["ens1f1"]}).selects(_iface()) is False
    assert _compiled({"pfNames": ["ens1f1", "ens1f0#0-3"]}).selects(_iface()) is True


def test_policies_naming_different_root_devices_each_select_their_own_on_alike_nodes() -> None:
    """PFs alike in all but their slot, on two nodes: each policy selects the address it names."""
    first, second = "0000:3b:00.0", "0000:5e:00.0"
    result = render(
        [
            *worker("w1", [pf("ens1f0", first)]),
            *worker("w2", [pf("ens1f0", second)]),
            policy("a", numVfs=4, nicSelector={"rootDevices": [first]}),
            policy("b", numVfs=2, nicSelector={"rootDevices": [second]}),
        ]
    )
    assert groups(result, first, "w1") == [("a", "0-3")]
    assert groups(result, second, "w2") == [("b", "0-1")]
