"""deploy/policies/config-daemon-node-scope.yaml on the real API server, with real bound tokens.

The test API server has no kubelet, so we do what the kubelet does: create a Pod
bound to a node (spec.nodeName) and ask TokenRequest for a token bound to it.
The API server then puts the node claim into the token and, on each request,
into the user's extra info, which the ValidatingAdmissionPolicy reads.
RBAC grants the daemon identity everything it could misuse, so every refusal
below comes from the policy.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import yaml
from kubernetes_asyncio import client

from sriov_operator.api.constants import DRAIN_ANSWER_ANNOTATIONS, GROUP, VERSION
from sriov_operator.api.names import bounded_name, device_plugin_configmap_name
from sriov_operator.controlplane.process import ControlPlane
from sriov_operator.operator.node_objects import device_plugin_configmap
from tests.integration.conftest import NamespaceFactory
from tests.kube_client import api_error_message
from tests.waiting import eventually

POLICY_FILE = Path(__file__).parents[2] / "deploy" / "policies" / "config-daemon-node-scope.yaml"
DAEMON_SA = "sriov-network-config-daemon"
MERGE = "application/merge-patch+json"
NODE_STATES = "sriovnetworknodestates"


@dataclass
class Cluster:
    namespace: str
    node_a: str
    node_b: str
    admin: client.ApiClient
    plane: ControlPlane
    long_node: str


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))  # type: ignore[no-any-return]


async def _install_policy(admin: client.ApiClient) -> None:
    api = client.AdmissionregistrationV1Api(admin)
    policy, binding = list(yaml.safe_load_all(POLICY_FILE.read_text()))
    for body, create in (
        (policy, api.create_validating_admission_policy),
        (binding, api.create_validating_admission_policy_binding),
    ):
        try:
            await create(body)
        except client.ApiException as error:
            if error.status != 409:
                raise


async def _grant_everything(admin: client.ApiClient, namespace: str) -> None:
    rbac = client.RbacAuthorizationV1Api(admin)
    name = f"daemon-all-{namespace}"
    rules = [
        {"apiGroups": [GROUP], "resources": [NODE_STATES, f"{NODE_STATES}/status"], "verbs": ["*"]},
        {"apiGroups": [""], "resources": ["nodes", "configmaps", "pods"], "verbs": ["*"]},
        {"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": ["*"]},
    ]
    await rbac.create_cluster_role({"metadata": {"name": name}, "rules": rules})
    await rbac.create_cluster_role_binding(
        {
            "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": DAEMON_SA, "namespace": namespace}],
        }
    )


@pytest_asyncio.fixture
async def cluster(
    kube: client.ApiClient, control_plane: ControlPlane, make_namespace: NamespaceFactory
) -> Cluster:
    namespace = await make_namespace(None)
    suffix = uuid.uuid4().hex[:6]
    core, custom = client.CoreV1Api(kube), client.CustomObjectsApi(kube)
    await core.create_namespaced_service_account(namespace, {"metadata": {"name": DAEMON_SA}})
    await _grant_everything(kube, namespace)
    long_node = f"{'n' * 243}-{suffix}"  # 250 characters: its ConfigMap's name is hashed (api/names.py)
    nodes = f"node-a-{suffix}", f"node-b-{suffix}", long_node
    for node in nodes:
        await core.create_node({"metadata": {"name": node, "annotations": {"team": "net"}}})
        await custom.create_namespaced_custom_object(
            GROUP,
            VERSION,
            namespace,
            NODE_STATES,
            {"apiVersion": f"{GROUP}/{VERSION}", "kind": "SriovNetworkNodeState", "metadata": {"name": node}},
        )
        await core.create_namespaced_config_map(namespace, device_plugin_configmap(node, namespace, [], 1))
        await core.create_namespaced_pod(
            namespace,
            {
                "metadata": {"name": bounded_name(f"plugin-{node}", node)},
                "spec": {
                    "nodeName": node,
                    "serviceAccountName": DAEMON_SA,  # no controller-manager here: no "default" account
                    "containers": [{"name": "plugin", "image": "registry.invalid/p:1"}],
                },
            },
        )
    await _install_policy(kube)
    return Cluster(namespace, nodes[0], nodes[1], kube, control_plane, long_node)


async def _daemon_token(cluster: Cluster, node: str | None) -> str:
    """A token for the daemon's ServiceAccount, bound to a Pod on ``node`` (None: not bound)."""
    core = client.CoreV1Api(cluster.admin)
    spec: dict[str, Any] = {"expirationSeconds": 3600}
    if node is not None:
        pod = await core.create_namespaced_pod(
            cluster.namespace,
            {
                "metadata": {"name": bounded_name(f"config-daemon-{node}", node)},
                "spec": {
                    "nodeName": node,
                    "serviceAccountName": DAEMON_SA,
                    "containers": [{"name": "daemon", "image": "registry.invalid/d:1"}],
                },
            },
        )
        spec["boundObjectRef"] = {
            "kind": "Pod",
            "apiVersion": "v1",
            "name": pod.metadata.name,
            "uid": pod.metadata.uid,
        }
    answer = await core.create_namespaced_service_account_token(DAEMON_SA, cluster.namespace, {"spec": spec})
    return str(answer.status.token)


@pytest_asyncio.fixture
async def as_daemon_a(cluster: Cluster) -> AsyncIterator[client.ApiClient]:
    token = await _daemon_token(cluster, cluster.node_a)
    async with _client(cluster, token) as api:
        yield api


def _client(cluster: Cluster, token: str) -> client.ApiClient:
    configuration = client.Configuration(host=cluster.plane.api_url)
    configuration.ssl_ca_cert = str(cluster.plane.pki.ca.cert)
    configuration.api_key = {"BearerToken": f"Bearer {token}"}
    return client.ApiClient(configuration)


async def _status_patch(api: client.ApiClient, namespace: str, node: str) -> None:
    await client.CustomObjectsApi(api).patch_namespaced_custom_object_status(
        GROUP,
        VERSION,
        namespace,
        NODE_STATES,
        node,
        {"status": {"syncStatus": "Succeeded"}},
        _content_type=MERGE,
    )


async def _refusal(call: Any) -> tuple[int, str]:
    with pytest.raises(client.ApiException) as caught:
        await call
    return caught.value.status, api_error_message(caught.value)


async def _wait_until_policy_enforced(api: client.ApiClient, cluster: Cluster) -> None:
    """The API server picks new policies up asynchronously; wait until B's status is refused."""

    async def refused() -> bool:
        try:
            await _status_patch(api, cluster.namespace, cluster.node_b)
        except client.ApiException as error:
            if error.status == 403 and "sriov-config-daemon-node-scope" in api_error_message(error):
                return True
            raise
        return False

    await eventually(refused, "the ValidatingAdmissionPolicy enforced", 30)


async def test_token_of_a_pod_on_node_a_carries_the_node_claim(cluster: Cluster) -> None:
    claims = _claims(await _daemon_token(cluster, cluster.node_a))
    assert claims["kubernetes.io"]["node"]["name"] == cluster.node_a


async def test_daemon_a_changes_only_node_a(cluster: Cluster, as_daemon_a: client.ApiClient) -> None:
    await _wait_until_policy_enforced(as_daemon_a, cluster)
    custom, core = client.CustomObjectsApi(as_daemon_a), client.CoreV1Api(as_daemon_a)
    ns, a, b = cluster.namespace, cluster.node_a, cluster.node_b

    await _status_patch(as_daemon_a, ns, a)
    status, message = await _refusal(_status_patch(as_daemon_a, ns, b))
    assert status == 403
    assert f"config daemon of node {a} may not change sriovnetworknodestates {b}" in message

    state_annotation = {"metadata": {"annotations": {"sriovnetwork.openshift.io/state": "Drain_Required"}}}
    await core.patch_node(a, state_annotation, _content_type=MERGE)
    status, message = await _refusal(core.patch_node(b, state_annotation, _content_type=MERGE))
    assert status == 403 and f"may not change nodes {b}" in message

    status, message = await _refusal(
        core.patch_node(a, {"metadata": {"labels": {"x": "y"}}}, _content_type=MERGE)
    )
    assert status == 403 and "only sriovnetwork.openshift.io/ annotations of its Node" in message
    status, message = await _refusal(
        core.patch_node(a, {"metadata": {"annotations": {"team": None}}}, _content_type=MERGE)
    )
    assert status == 403 and "only sriovnetwork.openshift.io/ annotations" in message
    status, message = await _refusal(
        core.patch_node(a, {"spec": {"unschedulable": True}}, _content_type=MERGE)
    )
    assert status == 403

    status, message = await _refusal(
        custom.patch_namespaced_custom_object(
            GROUP, VERSION, ns, NODE_STATES, a, {"spec": {"interfaces": []}}, _content_type=MERGE
        )
    )
    assert status == 403 and "may not change a SriovNetworkNodeState's spec" in message, message
    await custom.patch_namespaced_custom_object(
        GROUP,
        VERSION,
        ns,
        NODE_STATES,
        a,
        {"metadata": {"annotations": {"sriovnetwork.openshift.io/applied-generation": "1"}}},
        _content_type=MERGE,
    )

    handed = {"metadata": {"annotations": {"sriovnetwork.openshift.io/handed-over": "abc"}}}
    await core.patch_namespaced_config_map(device_plugin_configmap_name(a), ns, handed)
    status, message = await _refusal(
        core.patch_namespaced_config_map(device_plugin_configmap_name(b), ns, handed)
    )
    assert status == 403

    await core.delete_namespaced_pod(f"plugin-{a}", ns)
    status, message = await _refusal(core.delete_namespaced_pod(f"plugin-{b}", ns))
    assert status == 403 and f"may not change pods plugin-{b}" in message

    status, message = await _refusal(
        custom.delete_namespaced_custom_object(GROUP, VERSION, ns, NODE_STATES, a)
    )
    assert status == 403 and "may not delete sriovnetworknodestates" in message


async def test_token_without_node_claim_is_refused(cluster: Cluster, as_daemon_a: client.ApiClient) -> None:
    await _wait_until_policy_enforced(as_daemon_a, cluster)
    async with _client(cluster, await _daemon_token(cluster, None)) as unbound:
        status, message = await _refusal(_status_patch(unbound, cluster.namespace, cluster.node_a))
    assert status == 403 and "carries no node claim" in message


async def test_other_identities_are_not_restricted(cluster: Cluster, as_daemon_a: client.ApiClient) -> None:
    await _wait_until_policy_enforced(as_daemon_a, cluster)
    await _status_patch(cluster.admin, cluster.namespace, cluster.node_b)


async def test_daemon_of_a_250_character_node_hands_over_its_own_configmap_only(cluster: Cluster) -> None:
    """The operator hashes such a ConfigMap's name; the policy expected the prefix and the node."""
    ns, long_node = cluster.namespace, cluster.long_node
    name = device_plugin_configmap_name(long_node)
    assert len(name) == 253 and name != f"sriov-device-plugin-config-{long_node}"
    token = await _daemon_token(cluster, long_node)
    async with _client(cluster, token) as as_long:
        await _wait_until_policy_enforced(as_long, cluster)
        core = client.CoreV1Api(as_long)
        handed = {"metadata": {"annotations": {"sriovnetwork.openshift.io/handed-over": "abc"}}}
        await core.patch_namespaced_config_map(name, ns, handed)
        # the node it is for is the operator's to say
        retarget = {"metadata": {"annotations": {"sriovnetwork.openshift.io/device-plugin-config-for": "x"}}}
        status, _ = await _refusal(core.patch_namespaced_config_map(name, ns, retarget))
        assert status == 403
        status, _ = await _refusal(
            core.patch_namespaced_config_map(device_plugin_configmap_name(cluster.node_a), ns, handed)
        )
        assert status == 403


def _event_v1(about: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "events.k8s.io/v1",
        "reportingController": "sriov-network-config-daemon",
        "note": "n",
        "regarding": about,
    }


def _core_event(about: dict[str, Any]) -> dict[str, Any]:
    """As the daemon writes its Events: through the core API (runtime/events.py)."""
    return {
        "apiVersion": "v1",
        "firstTimestamp": "2026-01-01T00:00:00Z",
        "lastTimestamp": "2026-01-01T00:00:00Z",
        "count": 1,
        "reportingComponent": "sriov-network-config-daemon",
        "message": "n",
        "involvedObject": about,
    }


@dataclass(frozen=True)
class EventsApi:
    """One of the two APIs an Event can be written through; the policy scopes both alike."""

    client: Callable[[client.ApiClient], Any]
    fields: Callable[[dict[str, Any]], dict[str, Any]]  # the API's own fields, given the object it is about
    repeat: dict[str, Any]  # the patch a recorder sends when the Event happens again

    def event(self, namespace: str, kind: str, name: str, about_namespace: str | None) -> dict[str, Any]:
        about: dict[str, Any] = {"kind": kind, "name": name, "apiVersion": "v1"}
        if about_namespace is not None:
            about["namespace"] = about_namespace
        return {
            "kind": "Event",
            "metadata": {"generateName": "scope-", "namespace": namespace},
            "eventTime": "2026-01-01T00:00:00.000000Z",
            "reportingInstance": "test",
            "action": "Test",
            "reason": "Test",
            "type": "Normal",
            **self.fields(about),
        }


@pytest.mark.parametrize(
    "api",
    [
        pytest.param(
            EventsApi(
                client.EventsV1Api,
                _event_v1,
                {"series": {"count": 2, "lastObservedTime": "2026-01-01T00:00:01.000000Z"}},
            ),
            id="events.k8s.io",
        ),
        pytest.param(
            EventsApi(client.CoreV1Api, _core_event, {"count": 2, "lastTimestamp": "2026-01-01T00:00:01Z"}),
            id="core",
        ),
    ],
)
async def test_daemon_records_events_only_in_its_namespace_about_its_own_node_state(
    cluster: Cluster, as_daemon_a: client.ApiClient, api: EventsApi
) -> None:
    """A token bound to worker-0 created Events in kube-system about worker-1, and so did one with no node."""
    await _wait_until_policy_enforced(as_daemon_a, cluster)
    events = api.client(as_daemon_a)
    ns, a, b = cluster.namespace, cluster.node_a, cluster.node_b
    created = await events.create_namespaced_event(ns, api.event(ns, "SriovNetworkNodeState", a, ns))
    await events.patch_namespaced_event(created.metadata.name, ns, api.repeat)
    for namespace, kind, name, about_ns in (
        ("kube-system", "SriovNetworkNodeState", a, "kube-system"),  # another namespace
        ("default", "Node", b, None),  # another node (cluster-scoped: in default)
        ("default", "Node", a, None),  # its Node: the daemon records nothing there
        (ns, "SriovNetworkNodeState", b, ns),  # another node's NodeState
        (ns, "SriovNetworkNodeState", a, "kube-system"),  # a look-alike elsewhere
        (ns, "Secret", a, ns),  # not one of its node's objects
    ):
        status, message = await _refusal(
            events.create_namespaced_event(namespace, api.event(namespace, kind, name, about_ns))
        )
        assert status == 403, (namespace, kind, name)
        assert f"may record Events only in its namespace {ns}, about its own SriovNetworkNodeState" in message
    status, _ = await _refusal(events.delete_namespaced_event(created.metadata.name, ns))
    assert status == 403
    async with _client(cluster, await _daemon_token(cluster, None)) as unbound:
        status, message = await _refusal(
            api.client(unbound).create_namespaced_event(ns, api.event(ns, "SriovNetworkNodeState", a, ns))
        )
    assert status == 403 and "carries no node claim" in message


async def test_daemon_may_not_add_finalizers_or_owner_references_to_its_node(
    cluster: Cluster, as_daemon_a: client.ApiClient
) -> None:
    await _wait_until_policy_enforced(as_daemon_a, cluster)
    core, a = client.CoreV1Api(as_daemon_a), cluster.node_a
    owner = {"apiVersion": "v1", "kind": "Namespace", "name": cluster.namespace, "uid": str(uuid.uuid4())}
    for patch in (
        {"metadata": {"finalizers": ["example.com/keep"]}},
        {"metadata": {"ownerReferences": [owner]}},
    ):
        status, message = await _refusal(core.patch_node(a, patch, _content_type=MERGE))
        assert status == 403
        assert "may not change the finalizers or ownerReferences of its Node" in message


async def test_daemon_requests_a_drain_and_never_answers_it(
    cluster: Cluster, as_daemon_a: client.ApiClient
) -> None:
    """It could set cordoned-by on its Node and current-state DrainComplete, skipping the pool limits."""
    await _wait_until_policy_enforced(as_daemon_a, cluster)
    core, custom = client.CoreV1Api(as_daemon_a), client.CustomObjectsApi(as_daemon_a)
    ns, a = cluster.namespace, cluster.node_a
    request = {"metadata": {"annotations": {"sriovnetwork.openshift.io/desired-state": "Drain_Required"}}}
    await custom.patch_namespaced_custom_object(
        GROUP, VERSION, ns, NODE_STATES, a, request, _content_type=MERGE
    )
    await core.patch_node(
        a,
        {"metadata": {"annotations": {"sriovnetwork.openshift.io/state": "Drain_Required"}}},
        _content_type=MERGE,
    )
    for key in DRAIN_ANSWER_ANNOTATIONS:
        answer = {"metadata": {"annotations": {key: "DrainComplete"}}}
        for call in (
            custom.patch_namespaced_custom_object(
                GROUP, VERSION, ns, NODE_STATES, a, answer, _content_type=MERGE
            ),
            core.patch_node(a, answer, _content_type=MERGE),
        ):
            status, message = await _refusal(call)
            assert status == 403, key
            assert f"may not write the drain controller's annotations ({key})" in message, message
    # the operator's answer stands: the daemon can neither change nor remove it
    answered = {"metadata": {"annotations": {"sriovnetwork.openshift.io/current-state": "Draining"}}}
    await client.CustomObjectsApi(cluster.admin).patch_namespaced_custom_object(
        GROUP, VERSION, ns, NODE_STATES, a, answered, _content_type=MERGE
    )
    removal = {"metadata": {"annotations": {"sriovnetwork.openshift.io/current-state": None}}}
    status, _ = await _refusal(
        custom.patch_namespaced_custom_object(
            GROUP, VERSION, ns, NODE_STATES, a, removal, _content_type=MERGE
        )
    )
    assert status == 403
