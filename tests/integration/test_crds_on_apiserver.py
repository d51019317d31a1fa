"""Our CRDs on a real API server: installed, Established, and enforcing the schema."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from kubernetes_asyncio import client

from sriov_operator.api import constants
from sriov_operator.api.models import (
    ALL_KINDS,
    KubeObject,
    SriovNetwork,
    SriovNetworkNodePolicy,
    SriovNetworkNodeState,
)
from sriov_operator.controlplane.process import ControlPlane
from sriov_operator.manifests import load_paths
from tests.docs_examples import example
from tests.integration.conftest import NamespaceFactory
from tests.kube_client import api_error_message
from tests.support import FIXTURES

MERGE_PATCH = "application/merge-patch+json"


def _objects(kube: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(kube)


async def _create(
    kube: client.ApiClient, kind: type[KubeObject], namespace: str, body: dict[str, Any]
) -> Any:
    return await _objects(kube).create_namespaced_custom_object(
        constants.GROUP, constants.VERSION, namespace, kind.PLURAL, body
    )


async def test_all_seven_kinds_are_established(kube: client.ApiClient) -> None:
    extensions = client.ApiextensionsV1Api(kube)
    crds = await extensions.list_custom_resource_definition()
    established = {
        crd.spec.names.kind
        for crd in crds.items
        if crd.spec.group == constants.GROUP
        and any(c.type == "Established" and c.status == "True" for c in crd.status.conditions)
    }
    assert established == {kind.KIND for kind in ALL_KINDS}


async def test_seed_policies_are_accepted_verbatim(
    kube: client.ApiClient, make_namespace: NamespaceFactory
) -> None:
    loaded = load_paths([FIXTURES / "seed"])
    assert len(loaded.documents) == 2
    for document in loaded.documents:
        namespace = await make_namespace(document.body["metadata"]["namespace"])
        await _create(kube, SriovNetworkNodePolicy, namespace, document.body)
        stored = await _objects(kube).get_namespaced_custom_object(
            constants.GROUP,
            constants.VERSION,
            namespace,
            SriovNetworkNodePolicy.PLURAL,
            document.body["metadata"]["name"],
        )
        assert stored["spec"]["nicSelector"] == {
            "netFilter": "openstack/NetworkID:55a54d05-9ec1-4051-8adb-1b5a7be4f1b6"
        }
        assert stored["spec"]["nodeSelector"] == {"feature.node.kubernetes.io/network-sriov.capable": "true"}
        assert stored["spec"]["priority"] == 99
        assert stored["spec"]["numVfs"] == 1
        # The stored object reads back into our model unchanged.
        assert (
            SriovNetworkNodePolicy.model_validate(stored).spec.resource_name
            == document.body["metadata"]["name"]
        )
        # the namespace is the seed's own, which other tests (the walkthroughs) create objects in
        await _objects(kube).delete_namespaced_custom_object(
            constants.GROUP,
            constants.VERSION,
            namespace,
            SriovNetworkNodePolicy.PLURAL,
            document.body["metadata"]["name"],
        )


async def test_policy_defaults_come_from_the_schema(
    kube: client.ApiClient, make_namespace: NamespaceFactory
) -> None:
    namespace = await make_namespace(None)
    body = _policy("defaults")
    del body["spec"]["priority"]
    stored = await _create(kube, SriovNetworkNodePolicy, namespace, body)
    assert stored["spec"]["priority"] == 99
    assert stored["spec"]["deviceType"] == "netdevice"


def _policy(name: str) -> dict[str, Any]:
    return {
        "apiVersion": constants.API_VERSION,
        "kind": "SriovNetworkNodePolicy",
        "metadata": {"name": name},
        "spec": {
            "resourceName": "intelnics",
            "nodeSelector": {"feature.node.kubernetes.io/network-sriov.capable": "true"},
            "priority": 10,
            "numVfs": 4,
            "nicSelector": {"vendor": "8086", "pfNames": ["ens1f0"]},
            "deviceType": "netdevice",
        },
    }


def _network(name: str) -> dict[str, Any]:
    return {
        "apiVersion": constants.API_VERSION,
        "kind": "SriovNetwork",
        "metadata": {"name": name},
        "spec": {"resourceName": "intelnics", "vlan": 100},
    }


def _with(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(body)
    *parents, leaf = path.split(".")
    node = changed
    for key in parents:
        node = node[key]
    node[leaf] = value
    return changed


REJECTED = [
    ("SriovNetworkNodePolicy", "spec.deviceType", "bogus", 'Unsupported value: "bogus"', '"netdevice"'),
    ("SriovNetworkNodePolicy", "spec.priority", 100, "should be less than or equal to 99", None),
    ("SriovNetworkNodePolicy", "spec.numVfs", -1, "should be greater than or equal to 0", None),
    ("SriovNetworkNodePolicy", "spec.resourceName", "bad name!", "should match", None),
    ("SriovNetworkNodePolicy", "spec.nicSelector.vendor", "0x8086", "should match", None),
    ("SriovNetwork", "spec.vlan", 5000, "should be less than or equal to 4094", None),
    ("SriovNetwork", "spec.trust", "maybe", 'Unsupported value: "maybe"', '"on", "off"'),
]


@pytest.mark.parametrize(("kind_name", "field", "value", "message", "accepted"), REJECTED)
async def test_schema_violations_are_rejected_with_the_field_named(
    kube: client.ApiClient,
    make_namespace: NamespaceFactory,
    kind_name: str,
    field: str,
    value: Any,
    message: str,
    accepted: str | None,
) -> None:
    namespace = await make_namespace(None)
    kind = {k.KIND: k for k in ALL_KINDS}[kind_name]
    base = _policy("bad") if kind_name == "SriovNetworkNodePolicy" else _network("bad")
    with pytest.raises(client.ApiException) as raised:
        await _create(kube, kind, namespace, _with(base, field, value))
    assert raised.value.status == 422
    text = api_error_message(raised.value)
    assert field in text and message in text
    if accepted:
        assert accepted in text  # the message lists what would be accepted


async def test_pool_max_unavailable_accepts_int_or_percentage(
    kube: client.ApiClient, make_namespace: NamespaceFactory
) -> None:
    from sriov_operator.api.models import SriovNetworkPoolConfig

    namespace = await make_namespace(None)
    for index, good in enumerate([0, 3, "1%", "50%", "100%"]):
        body = {
            "apiVersion": constants.API_VERSION,
            "kind": "SriovNetworkPoolConfig",
            "metadata": {"name": f"ok-{index}"},
            "spec": {"maxUnavailable": good},
        }
        await _create(kube, SriovNetworkPoolConfig, namespace, body)
    for index, bad in enumerate([-1, "0%", "150%", "ten"]):
        body = {
            "apiVersion": constants.API_VERSION,
            "kind": "SriovNetworkPoolConfig",
            "metadata": {"name": f"bad-{index}"},
            "spec": {"maxUnavailable": bad},
        }
        with pytest.raises(client.ApiException) as raised:
            await _create(kube, SriovNetworkPoolConfig, namespace, body)
        assert "spec.maxUnavailable" in api_error_message(raised.value)


async def test_node_state_status_is_written_only_through_the_status_subresource(
    kube: client.ApiClient, make_namespace: NamespaceFactory
) -> None:
    namespace = await make_namespace(None)
    objects = _objects(kube)
    args = (constants.GROUP, constants.VERSION, namespace, SriovNetworkNodeState.PLURAL)
    created = await objects.create_namespaced_custom_object(
        *args,
        {
            "apiVersion": constants.API_VERSION,
            "kind": "SriovNetworkNodeState",
            "metadata": {"name": "worker-0"},
            "spec": {"interfaces": [{"pciAddress": "0000:00:04.0", "numVfs": 1}]},
            "status": {"syncStatus": "Succeeded"},
        },
    )
    assert "status" not in created or "syncStatus" not in created["status"]

    await objects.patch_namespaced_custom_object(
        *args, "worker-0", {"status": {"syncStatus": "Failed"}}, _content_type=MERGE_PATCH
    )
    assert "syncStatus" not in (await objects.get_namespaced_custom_object(*args, "worker-0")).get(
        "status", {}
    )

    await objects.patch_namespaced_custom_object_status(
        *args,
        "worker-0",
        {"status": {"syncStatus": "InProgress", "lastSyncError": ""}},
        _content_type=MERGE_PATCH,
    )
    stored = await objects.get_namespaced_custom_object(*args, "worker-0")
    assert stored["status"]["syncStatus"] == "InProgress"
    assert stored["spec"]["interfaces"][0]["pciAddress"] == "0000:00:04.0"

    with pytest.raises(client.ApiException) as raised:
        await objects.patch_namespaced_custom_object_status(
            *args, "worker-0", {"status": {"syncStatus": "Done"}}, _content_type=MERGE_PATCH
        )
    assert "status.syncStatus" in api_error_message(raised.value)


async def test_printer_columns_show_sync_status(
    kube: client.ApiClient, control_plane: ControlPlane, make_namespace: NamespaceFactory
) -> None:
    namespace = await make_namespace(None)
    objects = _objects(kube)
    args = (constants.GROUP, constants.VERSION, namespace, SriovNetworkNodeState.PLURAL)
    await objects.create_namespaced_custom_object(
        *args,
        {
            "apiVersion": constants.API_VERSION,
            "kind": "SriovNetworkNodeState",
            "metadata": {
                "name": "worker-1",
                "annotations": {
                    constants.NODE_STATE_DESIRED_ANNOTATION: constants.DRAIN_REQUIRED,
                    constants.NODE_STATE_CURRENT_ANNOTATION: constants.DRAINING,
                },
            },
            "spec": {},
        },
    )
    await objects.patch_namespaced_custom_object_status(
        *args, "worker-1", {"status": {"syncStatus": "Succeeded"}}, _content_type=MERGE_PATCH
    )
    # What `kubectl get sriovnetworknodestates` prints comes from this server-side Table.
    table = control_plane.get_json(
        f"/apis/{constants.GROUP}/{constants.VERSION}/namespaces/{namespace}/{SriovNetworkNodeState.PLURAL}",
        headers={"Accept": "application/json;as=Table;g=meta.k8s.io;v=v1"},
    )
    columns = [c["name"] for c in table["columnDefinitions"]]
    assert columns[:4] == ["Name", "Sync Status", "Desired Sync State", "Current Sync State"]
    assert table["rows"][0]["cells"][:4] == ["worker-1", "Succeeded", "Drain_Required", "Draining"]


async def test_the_api_server_publishes_field_descriptions(
    control_plane: ControlPlane, kube: client.ApiClient
) -> None:
    """What `kubectl explain sriovnetworknodepolicy.spec.numVfs` reads: the published OpenAPI v3."""
    document = control_plane.get_json(f"/openapi/v3/apis/{constants.GROUP}/{constants.VERSION}")
    schemas = document["components"]["schemas"]
    policy = schemas[f"io.openshift.sriovnetwork.v1.{SriovNetworkNodePolicy.KIND}"]
    spec = policy["properties"]["spec"]
    assert policy["description"].startswith("Which NICs to configure on which nodes")
    assert spec["properties"]["numVfs"]["description"].startswith("How many VFs to create")
    assert spec["properties"]["nicSelector"]["properties"]["pfNames"]["description"].startswith(
        "Kernel names of the PFs"
    )


async def test_the_readme_rejection_messages_are_the_api_servers(
    kube: client.ApiClient, make_namespace: NamespaceFactory
) -> None:
    namespace = await make_namespace(None)
    attempts = [
        (SriovNetworkNodePolicy, _with(_policy("bad"), "spec.deviceType", "bogus")),
        (SriovNetwork, _with(_network("bad"), "spec.vlan", 5000)),
    ]
    messages = []
    for kind, body in attempts:
        with pytest.raises(client.ApiException) as raised:
            await _create(kube, kind, namespace, body)
        messages.append(api_error_message(raised.value))
    assert messages == example("apiserver-rejects").text.splitlines()
