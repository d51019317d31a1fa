"""Device-plugin resourceList per node, including the netFilter / override fixes."""

from __future__ import annotations

from sriov_operator.engine.inputs import read_documents
from sriov_operator.engine.render import render_cluster
from tests.unit.engine.builders import (
    DEFAULT_PFS,
    NS,
    documents,
    groups,
    messages,
    pf,
    policy,
    render,
    resources,
    supported_nic_ids,
    worker,
)

PF0, PF1 = "0000:3b:00.0", "0000:3b:00.1"


def test_resource_shape_and_vf_device_id() -> None:
    result = render(
        [
            *worker(),
            policy(
                "p", numVfs=4, nicSelector={"vendor": "8086", "deviceID": "158b", "pfNames": ["ens1f0#0-3"]}
            ),
        ]
    )
    assert result.device_plugin["w1"] == {
        "resourceList": [
            {
                "resourceName": "p",
                "resourcePrefix": "openshift.io",
                "excludeTopology": False,
                "selectors": {
                    "vendors": ["8086"],
                    "devices": ["154c"],  # the VF id of PF 158b
                    "pfNames": ["ens1f0#0-3"],
                    "rootDevices": [],
                    "pciAddresses": [],
                    "linkTypes": [],
                    "isRdma": False,
                    "needVhostNet": False,
                    "vdpaType": "",
                },
            }
        ]
    }


def test_policies_sharing_a_resource_are_unioned() -> None:
    result = render(
        [
            *worker(),
            policy("a", resourceName="r", nicSelector={"pfNames": ["ens1f0"]}, linkType="eth"),
            policy("b", resourceName="r", nicSelector={"rootDevices": [PF1]}),
        ]
    )
    selectors = resources(result)["r"]["selectors"]
    assert selectors["pfNames"] == ["ens1f0"]
    assert selectors["rootDevices"] == [PF1]
    assert selectors["linkTypes"] == ["ether"]


def test_link_types_left_out_for_vfio() -> None:
    result = render([*worker(), policy("p", linkType="eth", deviceType="vfio-pci")])
    assert resources(result)["p"]["selectors"]["linkTypes"] == []


def test_alt_names_are_resolved_to_real_names() -> None:
    pfs = [pf("ens1f0", PF0, altNames=["enp59s0f0np0"])]
    result = render([*worker(interfaces=pfs), policy("p", nicSelector={"pfNames": ["enp59s0f0np0#0-3"]})])
    assert resources(result)["p"]["selectors"]["pfNames"] == ["ens1f0#0-3"]


def test_fully_overridden_policy_is_not_exposed() -> None:
    result = render([*worker(), policy("low", priority=50), policy("high", priority=10)])
    assert set(resources(result)) == {"high"}
    assert any("takes every PF" in m or "take every PF" in m for m in messages(result, "warning"))


def test_partly_overridden_policy_keeps_only_its_pfs() -> None:
    result = render(
        [
            *worker(),
            policy("low", priority=50, nicSelector={"pfNames": ["ens1f0", "ens1f1"]}),
            policy("high", priority=10, nicSelector={"pfNames": ["ens1f1"]}),
        ]
    )
    assert resources(result)["low"]["selectors"]["pfNames"] == ["ens1f0"]
    assert groups(result, PF1) == [("high", "0-7")]


def test_net_filter_without_match_exposes_nothing() -> None:
    pfs = [pf("ens3", "0000:00:03.0", vendor="1af4", device="1041", netFilter="openstack/NetworkID:other")]
    result = render(
        [*worker(interfaces=pfs), policy("p", numVfs=1, nicSelector={"netFilter": "openstack/NetworkID:n1"})]
    )
    assert result.device_plugin["w1"] == {"resourceList": []}
    assert any("matches no interface" in m for m in messages(result, "warning"))


def test_disagreeing_flags_hide_the_resource_and_are_errors() -> None:
    result = render(
        [
            *worker(),
            policy("a", resourceName="r", nicSelector={"pfNames": ["ens1f0"]}, excludeTopology=True),
            policy("b", resourceName="r", nicSelector={"pfNames": ["ens1f1"]}),
        ]
    )
    assert resources(result) == {}
    assert any(
        m.startswith(f"SriovNetworkNodePolicy/{NS}/a: spec.excludeTopology: true differs")
        for m in messages(result)
    )


def test_resource_prefix_is_used() -> None:
    cluster, _ = read_documents(documents([*worker(), policy("p")]))
    result = render_cluster(cluster, resource_prefix="example.com")
    assert result.device_plugin["w1"]["resourceList"][0]["resourcePrefix"] == "example.com"


def test_disagreeing_flags_hide_only_that_resource() -> None:
    result = render(
        [
            *worker(interfaces=[*DEFAULT_PFS, pf("ens2f0", "0000:5e:00.0")]),
            policy("a", resourceName="a", nicSelector={"pfNames": ["ens1f0"]}, excludeTopology=True),
            policy("b", resourceName="a", nicSelector={"pfNames": ["ens1f1"]}),
            policy("c", resourceName="c", nicSelector={"pfNames": ["ens2f0"]}),
        ]
    )
    assert list(resources(result)) == ["c"]


def test_entries_for_pfs_the_node_lacks_are_kept_verbatim() -> None:
    absent = "0000:99:00.0"
    result = render(
        [
            *worker(),
            policy("names", nicSelector={"pfNames": ["ens1f0", "ens9f9#0-3"]}),
            policy("roots", nicSelector={"rootDevices": ["0000:3b:00.1", absent]}),
        ]
    )
    assert resources(result)["names"]["selectors"]["pfNames"] == ["ens1f0", "ens9f9#0-3"]
    assert resources(result)["roots"]["selectors"]["rootDevices"] == ["0000:3b:00.1", absent]


def test_vf_model_is_looked_up_for_the_policy_vendor() -> None:
    nic_ids = supported_nic_ids({"Acme_same_pf_id_as_XXV710": "1234 158b abcd"})
    one_vf = policy("p", numVfs=1, nicSelector={"vendor": "8086", "deviceID": "158b"})
    result = render([*worker(), nic_ids, one_vf])
    assert resources(result)["p"]["selectors"]["devices"] == ["154c"]


def test_a_policy_by_name_only_narrows_no_vendor_or_device() -> None:
    """Empty lists match any vendor and device; a null entry would match none, exposing no VF."""
    result = render([*worker(), policy("p", numVfs=4, nicSelector={"pfNames": ["ens1f0"]})])
    selectors = resources(result)["p"]["selectors"]
    assert selectors["vendors"] == []
    assert selectors["devices"] == []
    assert selectors["pfNames"] == ["ens1f0"]


def test_nodes_selected_by_different_policies_each_expose_their_own_resources() -> None:
    result = render(
        [
            *worker("w1", rack="a"),
            *worker("w2", rack="b"),
            policy("a", node_selector={"rack": "a"}, numVfs=4),
            policy("b", node_selector={"rack": "b"}, numVfs=4, nicSelector={"pfNames": ["ens1f1"]}),
            policy("both", numVfs=8, nicSelector={"pfNames": ["ens1f0#4-7"]}),
        ]
    )
    assert sorted(resources(result, "w1")) == ["a", "both"]
    assert sorted(resources(result, "w2")) == ["b", "both"]
    assert resources(result, "w2")["b"]["selectors"]["pfNames"] == ["ens1f1"]
