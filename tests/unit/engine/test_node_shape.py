"""Nodes alike up to their PCI addresses share one render; each must still get its own addresses."""

from __future__ import annotations

from typing import Any

from sriov_operator.engine.inputs import read_documents
from sriov_operator.engine.render import prepare, render_cluster, render_nodes
from tests.unit.engine.builders import documents, node, pf, policy, state

# w2's first address is w1's second: a substitution done one address after the other would chain.
ADDRESSES = {
    "w1": ["0000:3b:00.0", "0000:3b:00.1", "0000:5e:00.0"],
    "w2": ["0000:3b:00.1", "0000:3b:00.2", "0000:d8:00.0"],
    "w3": ["0001:3b:00.0", "0001:3b:00.1", "0001:5e:00.0"],
}
NAMES = ["ens1f0", "ens1f1", "eth0"]


def _ports(addresses: list[str]) -> list[dict[str, Any]]:
    return [
        pf(NAMES[0], addresses[0], totalvfs=4),  # numVfs 8 above totalvfs: an error naming the address
        pf(NAMES[1], addresses[1]),
        pf(NAMES[2], addresses[2], vendor="1af4", device="1000", netFilter="openstack/NetworkID:n1"),
    ]


def _documents(extra: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for name, addresses in ADDRESSES.items():
        docs += [node(name), state(name, _ports(addresses))]
    return [
        *docs,
        policy("too-many", nicSelector={"pfNames": ["ens1f0"]}, numVfs=8),
        policy("a", nicSelector={"pfNames": ["ens1f1"]}, numVfs=4, priority=5),
        policy("b", nicSelector={"pfNames": ["ens1f1"]}, numVfs=4, priority=5),  # equal priority: warning
        policy("port", nicSelector={"netFilter": "openstack/NetworkID:n1"}, numVfs=1),
        *(extra or []),
    ]


def _alone_and_shared(docs: list[dict[str, Any]]) -> None:
    cluster, _ = read_documents(documents(docs))
    prep = prepare(cluster, resource_prefix="openshift.io")
    shared = render_nodes(prep, ADDRESSES)
    for name in ADDRESSES:
        alone = render_nodes(prep, [name])
        assert shared.node_states[name] == alone.node_states[name]
        assert shared.device_plugin[name] == alone.device_plugin[name]
        mine = [p for p in shared.problems if f"{name}" in p.message]
        assert sorted(p.message.split(" (on ")[0] for p in mine) == sorted(
            p.message.split(" (on ")[0] for p in alone.problems
        )


def test_each_node_gets_its_own_addresses_in_spec_resources_and_messages() -> None:
    _alone_and_shared(_documents())
    result = render_cluster(read_documents(documents(_documents()))[0], resource_prefix="openshift.io")
    for name, addresses in ADDRESSES.items():
        assert [i["pciAddress"] for i in result.node_states[name]["interfaces"]] == addresses[1:]
        port = next(r for r in result.device_plugin[name]["resourceList"] if r["resourceName"] == "port")
        assert port["selectors"]["pciAddresses"] == [addresses[2]]
    errors = sorted(p.message for p in result.problems if "above totalvfs" in p.message)
    assert [e.split("(")[1].split(")")[0] for e in errors] == sorted(a[0] for a in ADDRESSES.values())


def test_an_address_named_in_root_devices_is_not_shared() -> None:
    by_root = policy("by-root", nicSelector={"rootDevices": ["0000:3b:00.1"]}, numVfs=2, priority=1)
    _alone_and_shared(_documents([by_root]))
    result = render_cluster(
        read_documents(documents(_documents([by_root])))[0], resource_prefix="openshift.io"
    )
    owners = {
        name: {i["pciAddress"]: [g["policyName"] for g in i["vfGroups"]] for i in spec["interfaces"]}
        for name, spec in result.node_states.items()
    }
    assert owners == {
        "w1": {"0000:3b:00.1": ["by-root"], "0000:5e:00.0": ["port"]},
        "w2": {"0000:3b:00.1": ["by-root"], "0000:3b:00.2": ["b"], "0000:d8:00.0": ["port"]},
        "w3": {"0001:3b:00.1": ["b"], "0001:5e:00.0": ["port"]},
    }
