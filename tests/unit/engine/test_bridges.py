"""spec.bridges from the policies' bridge field, only with the manageSoftwareBridges feature gate on."""

from __future__ import annotations

from typing import Any

from tests.unit.engine.builders import NS, node, pf, policy, render, state

PF0, PF1 = "0000:3b:00.0", "0000:3b:00.1"
OFFLOAD_PFS = [
    pf("ens1f0", PF0, vendor="15b3", device="101d"),
    pf("ens1f1", PF1, vendor="15b3", device="101d"),
]
BRIDGE = {
    "ovs": {
        "bridge": {"datapathType": "netdev", "failMode": "secure", "externalIDs": {"team": "net"}},
        "uplink": {"interface": {"type": "dpdk", "options": {"n_rxq": "2"}}},
    }
}


def config(gates: dict[str, bool] | None) -> dict[str, Any]:
    return {
        "apiVersion": "sriovnetwork.openshift.io/v1",
        "kind": "SriovOperatorConfig",
        "metadata": {"name": "default", "namespace": NS},
        "spec": {"featureGates": gates} if gates is not None else {},
    }


def offload(name: str = "hwoffload", **spec: Any) -> dict[str, Any]:
    body = {"eSwitchMode": "switchdev", "numVfs": 4, "nicSelector": {"pfNames": ["ens1f0"]}, **spec}
    return policy(name, **body)


def bridges(*bodies: dict[str, Any], nodes: tuple[str, ...] = ("w1",)) -> dict[str, Any]:
    docs = [doc for name in nodes for doc in (node(name), state(name, OFFLOAD_PFS))]
    result = render([*docs, *bodies])
    assert not [p for p in result.problems if p.severity == "error"], result.problems
    return {name: result.node_states[name].get("bridges") for name in nodes}


def test_with_the_gate_on_a_policys_bridge_is_rendered_per_selected_pf() -> None:
    rendered = bridges(config({"manageSoftwareBridges": True}), offload(bridge=BRIDGE, mtu=9000))
    assert rendered["w1"] == {
        "ovs": [
            {
                "name": "br-0000_3b_00.0",
                "bridge": {"datapathType": "netdev", "failMode": "secure", "externalIDs": {"team": "net"}},
                "uplinks": [
                    {
                        "pciAddress": PF0,
                        "name": "ens1f0",
                        "interface": {"type": "dpdk", "options": {"n_rxq": "2"}, "mtuRequest": 9000},
                    }
                ],
            }
        ]
    }


def test_with_the_gate_off_or_unset_no_bridge_is_rendered() -> None:
    for gates in (None, {}, {"manageSoftwareBridges": False}):
        assert bridges(config(gates), offload(bridge=BRIDGE)) == {"w1": None}
    assert bridges(offload(bridge=BRIDGE)) == {"w1": None}  # no SriovOperatorConfig at all


def test_the_last_policy_applied_to_a_pf_decides_its_bridge() -> None:
    gate = config({"manageSoftwareBridges": True})
    with_bridge = offload("a-bridge", priority=50, bridge=BRIDGE)
    assert bridges(gate, with_bridge, offload("b-plain", priority=10)) == {"w1": None}
    assert bridges(gate, offload("b-plain", priority=50), offload("a-bridge", priority=10, bridge=BRIDGE))[
        "w1"
    ]


def test_nodes_alike_but_for_addresses_get_bridges_named_after_their_own_pfs() -> None:
    other = [
        pf(p["name"], p["pciAddress"].replace(":3b:", ":af:"), vendor="15b3", device="101d")
        for p in OFFLOAD_PFS
    ]
    docs = [node("w1"), state("w1", OFFLOAD_PFS), node("w2"), state("w2", other)]
    result = render([*docs, config({"manageSoftwareBridges": True}), offload(bridge=BRIDGE)])
    [w2] = result.node_states["w2"]["bridges"]["ovs"]
    assert w2["name"] == "br-0000_af_00.0" and w2["uplinks"][0]["pciAddress"] == "0000:af:00.0"
    [w1] = result.node_states["w1"]["bridges"]["ovs"]
    assert w1["name"] == "br-0000_3b_00.0"


def test_a_bridge_with_the_gate_off_is_a_warning_naming_the_gate() -> None:
    result = render([node("w1"), state("w1", OFFLOAD_PFS), config(None), offload(bridge=BRIDGE)])
    assert [p.message for p in result.problems if p.field == "spec.bridge"] == [
        "ignored: the manageSoftwareBridges feature gate is off "
        "(SriovOperatorConfig default, spec.featureGates), so no bridge is created"
    ]
    gate_on = render(
        [
            node("w1"),
            state("w1", OFFLOAD_PFS),
            config({"manageSoftwareBridges": True}),
            offload(bridge=BRIDGE),
        ]
    )
    assert not [p for p in gate_on.problems if p.field == "spec.bridge"]
