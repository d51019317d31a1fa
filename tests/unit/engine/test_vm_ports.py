"""Policies on VM ports (OpenStack): one PCI function, no eSwitch; refused naming the field and the port."""

from __future__ import annotations

from typing import Any

import pytest

from sriov_operator.engine.render import RenderResult
from tests.unit.engine.builders import NS, messages, node, pf, policy, render, state

PORT = "0000:00:04.0"
NET = "openstack/NetworkID:n1"


def on_port(port_fields: dict[str, Any], provider: str = "openstack:///vm", **spec: Any) -> RenderResult:
    """The port selected by its vendor (netFilter and eSwitchMode are refused together before placement)."""
    port = pf("ens4", PORT, vendor="15b3", device="101e", numVfs=1, totalvfs=1, netFilter=NET)
    return render(
        [
            node("vm1", provider_id=provider),
            state("vm1", [{**port, **port_fields}]),
            policy("hw", nicSelector={"vendor": "15b3"}, **spec),
        ]
    )


@pytest.mark.parametrize(
    ("port_fields", "spec", "refusals"),
    [
        pytest.param({}, {"numVfs": 1}, [], id="one-vf"),
        pytest.param(
            {},
            {"numVfs": 2},
            [
                f"SriovNetworkNodePolicy/{NS}/hw: spec.numVfs: 2 is more than the one PCI function of "
                f"VM port ens4 ({PORT}); accepted: 1 (on 1 node(s): vm1)"
            ],
            id="two-vfs",
        ),
        pytest.param(
            {"name": None},
            {"numVfs": 1, "eSwitchMode": "switchdev"},
            [
                f"SriovNetworkNodePolicy/{NS}/hw: spec.eSwitchMode: switchdev cannot be set on "
                f"VM port (no netdev) ({PORT}): the eswitch belongs to the hypervisor; accepted: empty "
                "(on 1 node(s): vm1)"
            ],
            id="eswitch-on-a-port-without-netdev",
        ),
        pytest.param(
            {},
            {"numVfs": 3, "eSwitchMode": "switchdev"},
            [
                f"SriovNetworkNodePolicy/{NS}/hw: spec.eSwitchMode: switchdev cannot be set on "
                f"VM port ens4 ({PORT}): the eswitch belongs to the hypervisor; accepted: empty "
                "(on 1 node(s): vm1)",
                f"SriovNetworkNodePolicy/{NS}/hw: spec.numVfs: 3 is more than the one PCI function of "
                f"VM port ens4 ({PORT}); accepted: 1 (on 1 node(s): vm1)",
            ],
            id="both-reported",
        ),
    ],
)
def test_a_vm_port_has_one_function_and_no_eswitch(
    port_fields: dict[str, Any], spec: dict[str, Any], refusals: list[str]
) -> None:
    assert messages(on_port(port_fields, **spec)) == refusals


def test_a_function_with_a_net_filter_on_bare_metal_is_a_port_too() -> None:
    """Nova's metadata names it: a port passed through to this node, whatever the node says it is."""
    result = on_port({}, provider="", numVfs=2)
    assert messages(result) == [
        f"SriovNetworkNodePolicy/{NS}/hw: spec.numVfs: 2 is more than the one PCI function of "
        f"VM port ens4 ({PORT}); accepted: 1 (on 1 node(s): vm1)"
    ]


def test_every_port_the_policy_selects_is_named() -> None:
    ports = [
        pf("ens4", PORT, vendor="15b3", device="101e", numVfs=1, totalvfs=1, netFilter=NET),
        pf("ens5", "0000:00:05.0", vendor="15b3", device="101e", numVfs=1, totalvfs=1, netFilter=NET),
    ]
    result = render(
        [
            node("vm1", provider_id="openstack:///vm"),
            state("vm1", ports),
            policy("hw", numVfs=2, nicSelector={"vendor": "15b3"}),
        ]
    )
    assert [m.split("of VM port ")[1] for m in messages(result)] == [
        f"ens4 ({PORT}); accepted: 1 (on 1 node(s): vm1)",
        "ens5 (0000:00:05.0); accepted: 1 (on 1 node(s): vm1)",
    ]
