"""SriovNetwork / SriovIBNetwork / OVSNetwork → NetworkAttachmentDefinition."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.unit.engine.builders import NS, messages, policy, render, worker


def network(kind: str, name: str = "net", namespace: str = NS, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "sriovnetwork.openshift.io/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace, "uid": "u-1"},
        "spec": {"resourceName": "p", **spec},
    }


def nads(bodies: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    result = render([*worker(), policy("p"), *bodies])
    return {
        f"{n['metadata']['namespace']}/{n['metadata']['name']}": n
        for n in result.network_attachment_definitions
    }


@pytest.mark.parametrize(
    ("kind", "spec", "config"),
    [
        (
            "SriovNetwork",
            {},
            '{"cniVersion":"1.0.0","name":"net","type":"sriov","vlan":0,"vlanQoS":0,"ipam":{}}',
        ),
        (
            "SriovNetwork",
            {
                "vlan": 100,
                "spoofChk": "on",
                "trust": "off",
                "vlanQoS": 2,
                "vlanProto": "802.1ad",
                "minTxRate": 0,
                "maxTxRate": 1000,
                "capabilities": '{"mac": true}',
                "linkState": "enable",
                "logLevel": "debug",
                "logFile": "/tmp/sriov.log",
                "ipam": '{"type": "host-local"}',
            },
            '{"cniVersion":"1.0.0","name":"net","type":"sriov","vlan":100,"spoofchk":"on","trust":"off",'
            '"vlanQoS":2,"vlanProto":"802.1ad","min_tx_rate":0,"max_tx_rate":1000,"capabilities":{"mac":true},'
            '"link_state":"enable","logLevel":"debug","logFile":"/tmp/sriov.log","ipam":{"type":"host-local"}}',
        ),
        (
            "SriovNetwork",
            {"metaPlugins": '{"type": "tuning"}, {"type": "sbr"}'},
            '{"cniVersion":"1.0.0","name":"net","plugins":[{"type":"sriov","vlan":0,"vlanQoS":0,"ipam":{}},'
            '{"type":"tuning"},{"type":"sbr"}]}',
        ),
        (
            "SriovIBNetwork",
            {"linkState": "auto", "capabilities": '{"ips": true}'},
            '{"cniVersion":"1.0.0","name":"net","type":"ib-sriov","capabilities":{"ips":true},'
            '"link_state":"auto","ipam":{}}',
        ),
        (
            "OVSNetwork",
            {
                "bridge": "br0",
                "vlan": 10,
                "mtu": 9000,
                "trunk": [{"minID": 1, "maxID": 5}, {"id": 7}],
                "interfaceType": "dpdk",
            },
            '{"cniVersion":"1.0.0","name":"net","type":"ovs","bridge":"br0","vlan":10,"mtu":9000,'
            '"trunk":[{"minID":1,"maxID":5},{"id":7}],"interface_type":"dpdk","ipam":{}}',
        ),
        (  # upstream's order: capabilities right after type
            "OVSNetwork",
            {"bridge": "br0", "vlan": 10, "capabilities": '{"mac": true}'},
            '{"cniVersion":"1.0.0","name":"net","type":"ovs","capabilities":{"mac":true},"bridge":"br0",'
            '"vlan":10,"ipam":{}}',
        ),
        (  # upstream omits zero values
            "OVSNetwork",
            {"bridge": "br0", "vlan": 0, "mtu": 0, "trunk": [], "interfaceType": ""},
            '{"cniVersion":"1.0.0","name":"net","type":"ovs","bridge":"br0","ipam":{}}',
        ),
        (  # accepted by upstream's CRD: no logLevel is written
            "SriovNetwork",
            {"logLevel": ""},
            '{"cniVersion":"1.0.0","name":"net","type":"sriov","vlan":0,"vlanQoS":0,"ipam":{}}',
        ),
        (  # the default: not written (docs/policy-engine.md, difference 10)
            "SriovNetwork",
            {"logLevel": "info"},
            '{"cniVersion":"1.0.0","name":"net","type":"sriov","vlan":0,"vlanQoS":0,"ipam":{}}',
        ),
        (  # the IB plugin has no logLevel
            "SriovIBNetwork",
            {},
            '{"cniVersion":"1.0.0","name":"net","type":"ib-sriov","ipam":{}}',
        ),
        (  # difference 13: the user's JSON is kept, upstream would write "labone"
            "SriovNetwork",
            {"ipam": '{"type": "static", "routes": [{"dst": "lab one"}]}'},
            '{"cniVersion":"1.0.0","name":"net","type":"sriov","vlan":0,"vlanQoS":0,'
            '"ipam":{"type":"static","routes":[{"dst":"lab one"}]}}',
        ),
    ],
)
def test_config_text(kind: str, spec: dict[str, Any], config: str) -> None:
    assert nads([network(kind, **spec)])[f"{NS}/net"]["spec"]["config"] == config


def test_annotations_and_owner_in_the_same_namespace() -> None:
    nad = nads([network("SriovNetwork")])[f"{NS}/net"]
    assert nad["apiVersion"] == "k8s.cni.cncf.io/v1"
    assert nad["kind"] == "NetworkAttachmentDefinition"
    assert nad["metadata"]["annotations"] == {
        "k8s.v1.cni.cncf.io/resourceName": "openshift.io/p",
        "sriovnetwork.openshift.io/owner-ref": f"SriovNetwork.sriovnetwork.openshift.io/{NS}/net",
    }
    # as upstream's controllerutil.SetOwnerReference: a plain owner, neither controller nor blocking deletion
    assert nad["metadata"]["ownerReferences"] == [
        {"apiVersion": "sriovnetwork.openshift.io/v1", "kind": "SriovNetwork", "name": "net", "uid": "u-1"}
    ]


def test_network_with_empty_log_level_is_accepted() -> None:
    result = render([*worker(), policy("p"), network("SriovNetwork", logLevel="")])
    assert messages(result) == []
    assert [n["metadata"]["name"] for n in result.network_attachment_definitions] == ["net"]


def test_network_namespace_targets_another_namespace_without_owner_reference() -> None:
    nad = nads([network("SriovNetwork", networkNamespace="apps")])["apps/net"]
    assert "ownerReferences" not in nad["metadata"]


def test_network_namespace_outside_operator_namespace_is_an_error() -> None:
    result = render(
        [*worker(), policy("p"), network("SriovNetwork", namespace="apps", networkNamespace="db")]
    )
    assert result.network_attachment_definitions == []
    assert any("spec.networkNamespace" in m for m in messages(result))


@pytest.mark.parametrize(
    ("field", "raw"), [("ipam", "{not json"), ("capabilities", "[1]"), ("metaPlugins", '{"no": "type"}')]
)
def test_invalid_raw_json_fails_only_that_network(field: str, raw: str) -> None:
    result = render(
        [
            *worker(),
            policy("p"),
            network("SriovNetwork", "bad", **{field: raw}),
            network("SriovNetwork", "good"),
        ]
    )
    assert [n["metadata"]["name"] for n in result.network_attachment_definitions] == ["good"]
    assert any(m.startswith(f"SriovNetwork/{NS}/bad: spec.{field}:") for m in messages(result))
    assert json.loads(result.network_attachment_definitions[0]["spec"]["config"])["name"] == "good"


def test_two_networks_wanting_one_nad_are_both_errors() -> None:
    result = render(
        [
            *worker(),
            policy("p"),
            network("SriovNetwork", "n", networkNamespace="apps"),
            network("SriovNetwork", "n", namespace="apps"),
        ]
    )
    assert result.network_attachment_definitions == []
    assert len([m for m in messages(result) if "NetworkAttachmentDefinition apps/n" in m]) == 2


def test_resource_without_policy_is_a_warning() -> None:
    result = render([*worker(), network("SriovNetwork", resourceName="nothing")])
    assert any(
        "nothing is the resourceName of no SriovNetworkNodePolicy in the operator namespace" in m
        for m in messages(result, "warning")
    )


@pytest.mark.parametrize(
    ("field", "raw", "said"),
    [
        ("ipam", "[" * 100_000 + "]" * 100_000, "is longer than 65536 characters"),
        ("ipam", '{"a":' * 5_000 + "1" + "}" * 5_000, "nested too deeply"),
        ("ipam", '{"a": ' + "9" * 5_000 + "}", "Exceeds the limit"),
        ("ipam", '{"a": "\x00"}', "Invalid control character"),
        ("metaPlugins", '{"type": ' * 4_000 + "1" + "}" * 4_000, "nested too deeply"),
    ],
)
def test_hostile_raw_json_gives_one_short_line_naming_the_field(field: str, raw: str, said: str) -> None:
    result = render([*worker(), policy("p"), network("SriovNetwork", "bad", **{field: raw})])
    [problem] = [m for m in messages(result) if m.startswith(f"SriovNetwork/{NS}/bad: spec.{field}:")]
    assert said in problem
    assert "\n" not in problem and len(problem) < 400
    assert result.network_attachment_definitions == []
