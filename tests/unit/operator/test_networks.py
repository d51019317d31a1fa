"""Networks → NADs: create, update, move, delete, and never touch a NAD someone else owns."""

from __future__ import annotations

from typing import Any

from sriov_operator.api.constants import NAD_FINALIZER, OWNER_REF_ANNOTATION
from sriov_operator.operator.networks import NetworkKey, NetworkPlan, nad_key, owner_of, plan_network

OPERATOR_NS = "sriov-network-operator"
KEY: NetworkKey = ("SriovNetwork", OPERATOR_NS, "net1")


def _network(namespace: str = OPERATOR_NS, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "sriovnetwork.openshift.io/v1",
        "kind": "SriovNetwork",
        "metadata": {
            "name": "net1",
            "namespace": namespace,
            "uid": "u-1",
            "finalizers": spec.pop("finalizers", []),
        },
        "spec": {"resourceName": "dpdk1", "networkNamespace": "apps", **spec},
    }


def _plan(
    network: dict[str, Any] | None,
    nads: list[dict[str, Any]] | None = None,
    key: NetworkKey = KEY,
    namespaces: frozenset[str] = frozenset({OPERATOR_NS, "apps", "other"}),
) -> NetworkPlan:
    nads = nads or []
    return plan_network(
        key,
        network,
        owned=[n for n in nads if owner_of(n) == key],
        nads={nad_key(n): n for n in nads},
        namespaces=namespaces,
        operator_namespace=OPERATOR_NS,
        resource_prefix="openshift.io",
        provided_resources={"dpdk1"},
    )


def test_new_network_writes_its_nad_and_adds_the_finalizer() -> None:
    plan = _plan(_network())
    assert plan.write is not None
    assert nad_key(plan.write) == ("apps", "net1")
    assert plan.write["metadata"]["annotations"][OWNER_REF_ANNOTATION] == (
        "SriovNetwork.sriovnetwork.openshift.io/sriov-network-operator/net1"
    )
    assert plan.finalizer == "add"
    assert plan.condition is not None
    assert (plan.condition.status, plan.condition.reason) == ("True", "NetworkReady")


def test_up_to_date_nad_is_not_rewritten() -> None:
    written = _plan(_network()).write
    assert written is not None
    again = _plan(_network(finalizers=[NAD_FINALIZER]), [written])
    assert (again.write, again.finalizer, again.delete) == (None, None, ())
    changed = _plan(_network(finalizers=[NAD_FINALIZER], vlan=100), [written])
    assert changed.write is not None
    assert '"vlan":100' in changed.write["spec"]["config"]


def test_namespace_move_deletes_the_old_nad() -> None:
    written = _plan(_network()).write
    assert written is not None
    moved = _plan(_network(finalizers=[NAD_FINALIZER], networkNamespace="other"), [written])
    assert moved.write is not None
    assert nad_key(moved.write) == ("other", "net1")
    assert moved.delete == (("apps", "net1"),)


def test_same_namespace_network_uses_an_owner_reference_not_a_finalizer() -> None:
    key: NetworkKey = ("SriovNetwork", "apps", "net1")
    network = _network("apps", networkNamespace=None, finalizers=[NAD_FINALIZER])
    plan = _plan(network, key=key)
    assert plan.write is not None
    assert plan.write["metadata"]["ownerReferences"][0]["uid"] == "u-1"
    assert plan.finalizer == "remove"


def test_deleted_network_removes_its_nads_then_the_finalizer() -> None:
    written = _plan(_network()).write
    assert written is not None
    deleting = _network(finalizers=[NAD_FINALIZER])
    deleting["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    plan = _plan(deleting, [written])
    assert (plan.delete, plan.finalizer, plan.condition) == ((("apps", "net1"),), "remove", None)
    assert _plan(None, [written]).delete == (("apps", "net1"),)


def test_foreign_nad_is_left_alone() -> None:
    foreign = {"metadata": {"name": "net1", "namespace": "apps", "annotations": {}}, "spec": {"config": "{}"}}
    plan = _plan(_network(), [foreign])
    assert plan.write is None
    assert plan.delete == ()
    assert plan.condition is not None
    assert plan.condition.reason == "NetworkAttachmentDefinitionOwnedByOther"
    assert "no owner-ref annotation" in plan.condition.message


def test_missing_namespace_and_invalid_json_are_not_ready() -> None:
    missing = _plan(_network(networkNamespace="nowhere"))
    assert missing.condition is not None
    assert (missing.write, missing.condition.reason) == (None, "NamespaceNotFound")
    bad = _plan(_network(ipam="{not json"))
    assert bad.condition is not None
    assert (bad.write, bad.condition.reason) == (None, "NetworkAttachmentDefinitionInvalid")
    assert bad.condition.message.startswith("spec.ipam: ")


def test_owner_annotation_parsing() -> None:
    def nad(value: str) -> dict[str, Any]:
        return {"metadata": {"annotations": {OWNER_REF_ANNOTATION: value}}}

    assert owner_of(nad("OVSNetwork.sriovnetwork.openshift.io/ns/n")) == ("OVSNetwork", "ns", "n")
    assert owner_of(nad("Pod.example.com/ns/n")) is None
    assert owner_of(nad("garbage")) is None
