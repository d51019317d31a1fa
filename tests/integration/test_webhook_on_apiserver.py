"""The real kube-apiserver calls our webhook over HTTPS (webhook configurations with our caBundle).

The webhook runs in the test's event loop on 127.0.0.1 with a certificate from
our own certificate planner; the configurations are the ones the operator
renders, pointed at ``https://127.0.0.1:<port>`` and narrowed (by a namespace
label) to this module's namespaces so no other test meets them.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import ssl
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from kubernetes_asyncio import client
from prometheus_client import REGISTRY

from sriov_operator.api import constants
from sriov_operator.api.models import SriovNetworkNodePolicy
from sriov_operator.api.multus import NETWORK_ATTACHMENT_DEFINITION_CRD
from sriov_operator.controlplane.process import ControlPlane, free_port
from sriov_operator.kube.crds import install_crds
from sriov_operator.kube.objects import KubeObjects
from sriov_operator.kube.session import ApiSession, ClusterAccess
from sriov_operator.runtime.manager import Manager
from sriov_operator.runtime.settings import RuntimeSettings
from sriov_operator.webhook.admission import AdmissionSettings
from sriov_operator.webhook.cache import InformerSource
from sriov_operator.webhook.certificates import (
    CA_BUNDLE,
    CA_CERT,
    CA_KEY,
    TLS_CERT,
    TLS_KEY,
    CertificateSettings,
    issue_serving,
    plan_certificates,
)
from sriov_operator.webhook.configurations import ConfigurationSettings, render_configurations
from sriov_operator.webhook.review import AdmissionRequest
from sriov_operator.webhook.server import (
    PODS_PATH,
    VALIDATE_PATH,
    Admission,
    ServerSettings,
    WebhookServer,
)
from sriov_operator.webhook.tls import ReloadingTlsContext
from tests.integration.conftest import NamespaceFactory
from tests.integration.operator_harness import ensure_default_service_account
from tests.integration.webhook_support import node_body, node_state_body, policy_body
from tests.kube_client import APPLY_PATCH, api_error_message, kube_objects

pytestmark = pytest.mark.integration

MAX_BODY = 256 * 1024
CERT_NAMES = CertificateSettings(dns_names=("localhost",), ip_addresses=("127.0.0.1",))


@dataclass
class RunningWebhook:
    server: WebhookServer
    tls: ReloadingTlsContext
    directory: Path
    ca_data: dict[str, bytes]
    namespace: str  # the operator namespace: policies are validated here
    label: dict[str, str]  # namespaces carrying it are covered by the configurations
    source: InformerSource

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server.port}"

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cadata=self.ca_data[CA_BUNDLE].decode())


def _write_pair(directory: Path, cert: bytes, key: bytes) -> None:
    """Replace both files at once, as the kubelet does when a mounted Secret changes."""
    for name, data in (("tls.crt", cert), ("tls.key", key)):
        temporary = directory / f".{name}.new"
        temporary.write_bytes(data)
        temporary.replace(directory / name)


async def _apply_configurations(
    kube: client.ApiClient,
    webhook: RunningWebhook,
    operator_config: dict[str, Any],
    *,
    url: str | None = None,
    label: dict[str, str] | None = None,
    suffix: str = "",
) -> list[tuple[str, str]]:
    """Create (or replace) the configurations the operator renders, narrowed to labelled namespaces."""
    settings = ConfigurationSettings(operator_namespace=webhook.namespace, url=url or webhook.url)
    bundle = webhook.ca_data[CA_BUNDLE]
    rendered = render_configurations(
        operator_config,
        settings,
        {
            ("ValidatingWebhookConfiguration", constants.OPERATOR_WEBHOOK_CONFIG_NAME): bundle,
            ("MutatingWebhookConfiguration", constants.OPERATOR_WEBHOOK_CONFIG_NAME): bundle,
            ("MutatingWebhookConfiguration", constants.INJECTOR_WEBHOOK_CONFIG_NAME): bundle,
        },
    )
    api = client.AdmissionregistrationV1Api(kube)
    created = []
    for desired in rendered:
        if desired.body is None:
            continue
        body = desired.body
        body["metadata"]["name"] += suffix
        for hook in body["webhooks"]:
            selector = hook.setdefault("namespaceSelector", {})
            selector["matchLabels"] = label or webhook.label
        name = body["metadata"]["name"]
        if desired.kind == "ValidatingWebhookConfiguration":
            await api.patch_validating_webhook_configuration(
                name, body, field_manager="test", force=True, _content_type=APPLY_PATCH
            )
        else:
            await api.patch_mutating_webhook_configuration(
                name, body, field_manager="test", force=True, _content_type=APPLY_PATCH
            )
        created.append((desired.kind, body["metadata"]["name"]))
    return created


async def _delete_configurations(kube: client.ApiClient, created: list[tuple[str, str]]) -> None:
    api = client.AdmissionregistrationV1Api(kube)
    for kind, name in created:
        if kind == "ValidatingWebhookConfiguration":
            await api.delete_validating_webhook_configuration(name)
        else:
            await api.delete_mutating_webhook_configuration(name)


async def _labelled_namespace(
    make_namespace: NamespaceFactory, kube: client.ApiClient, label: dict[str, str]
) -> str:
    namespace = await make_namespace(None)
    core = client.CoreV1Api(kube)
    await core.patch_namespace(namespace, {"metadata": {"labels": label}})
    await ensure_default_service_account(kube_objects(kube), namespace)  # the controller's may be late
    return namespace


@pytest_asyncio.fixture(scope="module")
async def webhook(
    kube: client.ApiClient, control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningWebhook]:
    await install_crds(kube_objects(kube), [NETWORK_ATTACHMENT_DEFINITION_CRD])
    label = {"sriov-webhook-test": uuid.uuid4().hex[:8]}
    namespace = f"sriov-op-{label['sriov-webhook-test']}"
    core = client.CoreV1Api(kube)
    await core.create_namespace({"metadata": {"name": namespace, "labels": label}})
    plan = plan_certificates(None, None, CERT_NAMES, datetime.datetime.now(datetime.UTC))
    assert plan.ca_data is not None and plan.serving_data is not None
    directory = tmp_path_factory.mktemp("webhook-tls")
    _write_pair(directory, plan.serving_data[TLS_CERT], plan.serving_data[TLS_KEY])
    tls = ReloadingTlsContext(directory / "tls.crt", directory / "tls.key")
    runtime = RuntimeSettings(kubeconfig=control_plane.kubeconfig, namespace=namespace, health_port=-1)
    async with Manager(runtime) as manager:
        source = InformerSource(manager, namespace)  # what `sriov-operator webhook` reads
        caches = asyncio.create_task(manager.run())
        await asyncio.gather(*(informer.wait_synced() for informer in source.informers))
        server = WebhookServer(
            ServerSettings("127.0.0.1", 0, max_body_bytes=MAX_BODY, cert_check_interval=0.1),
            Admission(AdmissionSettings(namespace), source),
            tls,
        )
        await server.start()
        running = RunningWebhook(server, tls, directory, dict(plan.ca_data), namespace, label, source)
        created = await _apply_configurations(
            kube, running, {"spec": {"enableOperatorWebhook": True, "enableInjector": True}}
        )
        yield running
        await _delete_configurations(kube, created)
        await server.stop()
        manager.stop()
        await caches


def _policies(kube: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(kube)


async def _create_policy(kube: client.ApiClient, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = await _policies(kube).create_namespaced_custom_object(
        constants.GROUP, constants.VERSION, namespace, SriovNetworkNodePolicy.PLURAL, body
    )
    return result


async def _eventually_denied(attempt: Callable[[], Awaitable[Any]], words: str, timeout: float = 15.0) -> str:
    """The API server picks new webhook configurations up within a second or so: retry until it does."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            await attempt()
        except client.ApiException as error:
            message = api_error_message(error)
            if words in message:
                return message
            if asyncio.get_running_loop().time() > deadline:
                raise
        else:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"never denied with {words!r}")
        await asyncio.sleep(0.2)


def _requests(path: str, result: str) -> float:
    return (
        REGISTRY.get_sample_value("sriov_operator_webhook_requests_total", {"path": path, "result": result})
        or 0.0
    )


async def test_invalid_policies_are_refused_with_our_messages(
    kube: client.ApiClient, webhook: RunningWebhook
) -> None:
    bad = policy_body("bad", webhook.namespace, nicSelector={})
    message = await _eventually_denied(
        lambda: _create_policy(kube, webhook.namespace, bad), "denied the request"
    )
    assert (
        f'admission webhook "operator-webhook.sriovnetwork.openshift.io" denied the request: '
        f"SriovNetworkNodePolicy/{webhook.namespace}/bad: spec.nicSelector: selects nothing; "
        "set at least one of vendor, deviceID, pfNames, rootDevices or netFilter"
    ) in message
    vfio_rdma = policy_body("rdma", webhook.namespace, deviceType="vfio-pci", isRdma=True)
    with pytest.raises(client.ApiException) as denied:
        await _create_policy(kube, webhook.namespace, vfio_rdma)
    assert "spec.isRdma: true is not allowed with deviceType 'vfio-pci'" in api_error_message(denied.value)


async def test_rules_against_nodes_and_other_policies_read_the_caches(
    kube: client.ApiClient, webhook: RunningWebhook
) -> None:
    await _eventually_denied(
        lambda: _create_policy(kube, webhook.namespace, policy_body("y", webhook.namespace, nicSelector={})),
        "denied the request",
    )
    node_name = f"w-{uuid.uuid4().hex[:6]}"
    labels = {"sriov-node": node_name}
    await client.CoreV1Api(kube).create_node(node_body(node_name, labels))
    states = client.CustomObjectsApi(kube)
    plural = "sriovnetworknodestates"
    state = node_state_body(node_name, webhook.namespace)
    await states.create_namespaced_custom_object(
        constants.GROUP, constants.VERSION, webhook.namespace, plural, state
    )
    await states.patch_namespaced_custom_object_status(
        constants.GROUP,
        constants.VERSION,
        webhook.namespace,
        plural,
        node_name,
        {"status": state["status"]},
        _content_type="application/merge-patch+json",
    )
    while (webhook.source.node_states.get(node_name, webhook.namespace) or {}).get("status") is None:
        await asyncio.sleep(0.05)  # the webhook's caches follow the API server's watch
    assert webhook.source.nodes.get(node_name) is not None
    too_many = policy_body("many", webhook.namespace, nodeSelector=labels, numVfs=32)
    message = await _eventually_denied(
        lambda: _create_policy(kube, webhook.namespace, too_many), "above totalvfs"
    )
    assert (
        f"SriovNetworkNodePolicy/{webhook.namespace}/many: spec.numVfs: 32 is above totalvfs 16 of PF ens1f0 "
        f"(0000:3b:00.0); accepted: 1..16 (on 1 node(s): {node_name})"
    ) in message
    first = policy_body(
        "first", webhook.namespace, nodeSelector=labels, nicSelector={"pfNames": ["ens1f0#0-3"]}
    )
    await _create_policy(kube, webhook.namespace, first)
    overlapping = policy_body(
        "second", webhook.namespace, nodeSelector=labels, nicSelector={"pfNames": ["ens1f0#2-5"]}
    )
    message = await _eventually_denied(
        lambda: _create_policy(kube, webhook.namespace, overlapping), "overlaps"
    )
    assert "spec.nicSelector.pfNames: VF range 2-5 of PF ens1f0 (0000:3b:00.0) overlaps range 0-3" in message

    # what the engine read of the NodeState is kept across reviews, and dropped when it is deleted
    kept = ("SriovNetworkNodeState", webhook.namespace, node_name)
    assert kept in webhook.source.parsed
    await states.delete_namespaced_custom_object(
        constants.GROUP, constants.VERSION, webhook.namespace, plural, node_name
    )
    while webhook.source.node_states.get(node_name, webhook.namespace) is not None:
        await asyncio.sleep(0.05)
    assert kept not in webhook.source.parsed


async def test_warnings_come_back_as_admission_warnings_and_defaults_are_stored(
    kube: client.ApiClient, webhook: RunningWebhook
) -> None:
    body = policy_body("ib", webhook.namespace, linkType="IB", nicSelector={"pfNames": ["ib0"]})
    await _eventually_denied(
        lambda: _create_policy(kube, webhook.namespace, policy_body("x", webhook.namespace, nicSelector={})),
        "denied the request",
    )
    _, status, headers = await _policies(kube).create_namespaced_custom_object_with_http_info(
        constants.GROUP, constants.VERSION, webhook.namespace, SriovNetworkNodePolicy.PLURAL, body
    )
    assert status == 201
    warnings = headers.getall("Warning", [])
    assert any("matches no node the operator manages; accepted" in w for w in warnings), warnings
    stored = await _policies(kube).get_namespaced_custom_object(
        constants.GROUP, constants.VERSION, webhook.namespace, SriovNetworkNodePolicy.PLURAL, "ib"
    )
    assert stored["spec"]["isRdma"] is True  # set by our mutating webhook (linkType IB on a netdevice)


async def test_a_pod_gets_its_sriov_resources_injected(
    kube: client.ApiClient, webhook: RunningWebhook, make_namespace: NamespaceFactory
) -> None:
    namespace = await _labelled_namespace(make_namespace, kube, webhook.label)
    nads = client.CustomObjectsApi(kube)
    for name, resource in (("net-a", "openshift.io/dpdk1"), ("net-b", "openshift.io/dpdk1")):
        nad = {
            "apiVersion": "k8s.cni.cncf.io/v1",
            "kind": "NetworkAttachmentDefinition",
            "metadata": {"name": name, "annotations": {constants.NAD_RESOURCE_NAME_ANNOTATION: resource}},
            "spec": {"config": "{}"},
        }
        await nads.create_namespaced_custom_object(
            "k8s.cni.cncf.io", "v1", namespace, "network-attachment-definitions", nad
        )
    core = client.CoreV1Api(kube)

    def pod(name: str, networks: str | None) -> dict[str, Any]:
        metadata: dict[str, Any] = {"name": name}
        if networks is not None:
            metadata["annotations"] = {constants.POD_NETWORKS_ANNOTATION: networks}
        return {
            "metadata": metadata,
            "spec": {"containers": [{"name": "app", "image": "example.invalid/app"}]},
        }

    # Until the webhook's NAD informer has seen both NADs, the denial names one of them: wait for the
    # denial that names only ghost (then the pods below find net-a and net-b too).
    missing = await _eventually_denied(
        lambda: core.create_namespaced_pod(namespace, pod("ghost", "net-a, net-b, ghost")),
        f"NetworkAttachmentDefinition {namespace}/ghost not found",
    )
    assert f"{namespace}/net-a" not in missing
    assert f"{namespace}/net-b" not in missing
    created = await core.create_namespaced_pod(namespace, pod("dpdk", "net-a, net-b@eth2"))
    assert created.spec.containers[0].resources.requests == {"openshift.io/dpdk1": "2"}
    assert created.spec.containers[0].resources.limits == {"openshift.io/dpdk1": "2"}
    calls_before = sum(_requests(PODS_PATH, r) for r in ("allowed", "denied"))
    plain = await core.create_namespaced_pod(namespace, pod("plain", None))
    assert plain.spec.containers[0].resources.requests is None
    assert sum(_requests(PODS_PATH, r) for r in ("allowed", "denied")) == calls_before  # matchConditions


async def test_malformed_and_oversized_reviews_get_400(webhook: RunningWebhook) -> None:
    too_big = json.dumps(
        {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "pad": "x" * MAX_BODY}
    )
    bodies = [
        b"not json",
        b'{"apiVersion": "v1", "kind": "Pod"}',
        b'{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"uid": ""}}',
        too_big.encode(),
    ]
    async with aiohttp.ClientSession() as session:
        for body in bodies:
            async with session.post(
                f"{webhook.url}{VALIDATE_PATH}", data=body, ssl=webhook.client_context()
            ) as r:
                assert r.status == 400, await r.text()
                assert "malformed AdmissionReview" in await r.text()
        review = {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": {"uid": "u1", "kind": {"kind": "Pod"}, "operation": "DELETE"},
        }
        async with session.post(
            f"{webhook.url}{VALIDATE_PATH}", json=review, ssl=webhook.client_context()
        ) as r:
            assert r.status == 200
            assert (await r.json())["response"] == {"uid": "u1", "allowed": True}


async def test_a_tls_client_without_the_ca_is_refused(webhook: RunningWebhook) -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await session.post(f"{webhook.url}{VALIDATE_PATH}", data=b"{}", ssl=ssl.create_default_context())


async def _served_certificate(webhook: RunningWebhook) -> bytes:
    _, writer = await asyncio.open_connection("127.0.0.1", webhook.server.port, ssl=webhook.client_context())
    der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    writer.close()
    await writer.wait_closed()
    return bytes(der)


async def test_a_rotated_certificate_keeps_working_without_dropping_connections(
    kube: client.ApiClient, webhook: RunningWebhook
) -> None:
    async def denied_once() -> str:
        return await _eventually_denied(
            lambda: _create_policy(
                kube, webhook.namespace, policy_body("r", webhook.namespace, nicSelector={})
            ),
            "selects nothing",
        )

    await denied_once()
    context = webhook.client_context()
    reader, writer = await asyncio.open_connection("127.0.0.1", webhook.server.port, ssl=context)
    old_served = await _served_certificate(webhook)
    # a new serving certificate from the same CA, then a CA rotation with the overlap bundle
    now = datetime.datetime.now(datetime.UTC)
    cert, key = issue_serving(webhook.ca_data[CA_CERT], webhook.ca_data[CA_KEY], CERT_NAMES, now)
    reloads = webhook.tls.reloads
    _write_pair(webhook.directory, cert, key)
    while webhook.tls.reloads == reloads:
        await asyncio.sleep(0.05)
    assert await _served_certificate(webhook) != old_served
    await denied_once()
    # the connection opened before the rotation still works
    request = (
        f"POST {VALIDATE_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Content-Length: 2\r\n\r\n{}"
    )
    writer.write(request.encode())
    await writer.drain()
    status_line = await reader.readline()
    assert status_line.startswith(b"HTTP/1.1 400"), status_line
    writer.close()
    await writer.wait_closed()


async def test_failure_policy_applies_when_the_webhook_is_down(
    kube: client.ApiClient, webhook: RunningWebhook, make_namespace: NamespaceFactory
) -> None:
    label = {"sriov-webhook-down": uuid.uuid4().hex[:8]}
    namespace = await _labelled_namespace(make_namespace, kube, label)
    down = f"https://127.0.0.1:{free_port()}"  # nothing listens there

    def config(policy: str) -> dict[str, Any]:
        annotations = {constants.WEBHOOK_FAILURE_POLICY_ANNOTATION: policy}
        return {"metadata": {"annotations": annotations}, "spec": {"enableOperatorWebhook": True}}

    created = await _apply_configurations(
        kube, webhook, config("Fail"), url=down, label=label, suffix="-down"
    )
    try:
        good = policy_body("good", namespace)
        refused = await _eventually_denied(
            lambda: _create_policy(kube, namespace, good), "failed calling webhook"
        )
        assert "connection refused" in refused
        await _apply_configurations(kube, webhook, config("Ignore"), url=down, label=label, suffix="-down")
        deadline = asyncio.get_running_loop().time() + 15
        while True:  # once the API server has the Ignore policy, the same request goes through
            try:
                stored = await _create_policy(kube, namespace, good)
                break
            except client.ApiException as error:
                assert "failed calling webhook" in api_error_message(error)
                assert asyncio.get_running_loop().time() < deadline, "Ignore never took effect"
                await asyncio.sleep(0.2)
        assert stored["metadata"]["name"] == "good"
    finally:
        await _delete_configurations(kube, created)


async def test_hostile_network_names_are_refused_before_any_lookup(
    kube: client.ApiClient, webhook: RunningWebhook, make_namespace: NamespaceFactory
) -> None:
    """No request path is built from them: no watch to hang on, no oracle of what exists."""
    namespace = await _labelled_namespace(make_namespace, kube, webhook.label)
    core = client.CoreV1Api(kube)
    secrets = f"../../../../../../api/v1/namespaces/{webhook.namespace}/secrets"

    def pod(name: str, networks: list[dict[str, str]]) -> dict[str, Any]:
        annotations = {constants.POD_NETWORKS_ANNOTATION: json.dumps(networks)}
        return {
            "metadata": {"name": name, "annotations": annotations},
            "spec": {"containers": [{"name": "app", "image": "example.invalid/app"}]},
        }

    watch = await _eventually_denied(
        lambda: core.create_namespaced_pod(
            namespace, pod("watch", [{"name": "../network-attachment-definitions?watch=true"}])
        ),
        "denied the request",
    )
    assert 'entry 0: name "../network-attachment-definitions?watch=true" is not a DNS-1123 subdomain' in watch
    answers = []
    for target in ("sriov-operator-webhook-ca", "nope"):
        with pytest.raises(client.ApiException) as denied:
            await core.create_namespaced_pod(namespace, pod("probe", [{"name": f"{secrets}/{target}"}]))
        answers.append(api_error_message(denied.value).replace(target, "<target>"))
    assert answers[0] == answers[1]  # the same refusal whether the object exists or not
    many = [{"name": f"net-{i}"} for i in range(2_000)]
    with pytest.raises(client.ApiException) as denied:
        await core.create_namespaced_pod(namespace, pod("many", many))
    assert "names 2000 distinct networks; accepted: at most 32 per pod" in api_error_message(denied.value)


async def test_a_nad_the_informer_has_not_seen_yet_is_looked_up(
    kube: client.ApiClient,
    control_plane: ControlPlane,
    webhook: RunningWebhook,
    make_namespace: NamespaceFactory,
) -> None:
    """A pod created milliseconds after its NAD is reviewed before the watch delivers the NAD: a GET
    finds it. The source here never ran its informers, so its caches are what a webhook's are in
    those milliseconds, every time."""
    namespace = await _labelled_namespace(make_namespace, kube, webhook.label)
    nad = {
        "apiVersion": "k8s.cni.cncf.io/v1",
        "kind": "NetworkAttachmentDefinition",
        "metadata": {
            "name": "net-late",
            "annotations": {constants.NAD_RESOURCE_NAME_ANNOTATION: "openshift.io/p"},
        },
        "spec": {"config": "{}"},
    }
    created = await client.CustomObjectsApi(kube).create_namespaced_custom_object(
        "k8s.cni.cncf.io", "v1", namespace, "network-attachment-definitions", nad
    )
    runtime = RuntimeSettings(
        kubeconfig=control_plane.kubeconfig, namespace=webhook.namespace, health_port=-1
    )
    async with Manager(runtime) as manager:
        source = InformerSource(manager, webhook.namespace)
        assert source.nads is not None and len(source.nads) == 0  # the watch has delivered nothing
        found = await source.network_attachment_definitions({(namespace, "net-late"), (namespace, "ghost")})
        assert found == {
            (namespace, "net-late"): {
                "metadata": {
                    "name": "net-late",
                    "namespace": namespace,
                    "resourceVersion": created["metadata"]["resourceVersion"],
                    "annotations": {constants.NAD_RESOURCE_NAME_ANNOTATION: "openshift.io/p"},
                }
            },
            (namespace, "ghost"): None,
        }
        async with _stalled_api() as stalled:
            source.objects = stalled
            answer = await Admission(AdmissionSettings(webhook.namespace), source).inject(
                _pod_review(namespace, "ghost")
            )
    assert answer.errors == (
        f'Pod/{namespace}/app: metadata.annotations["k8s.v1.cni.cncf.io/networks"]: '
        f"NetworkAttachmentDefinition {namespace}/ghost is not in the webhook's cache yet and looking it up "
        "failed (no answer within 2 s); retry",
    )


@contextlib.asynccontextmanager
async def _stalled_api() -> AsyncIterator[KubeObjects]:
    """`KubeObjects` of an API server on 127.0.0.1 that accepts connections and never answers."""
    held: list[asyncio.StreamWriter] = []
    server = await asyncio.start_server(lambda _, writer: held.append(writer), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    session = ApiSession(ClusterAccess(f"https://127.0.0.1:{port}", ssl.create_default_context()))
    try:
        yield KubeObjects(session)
    finally:
        await session.close()
        for writer in held:
            writer.close()
        server.close()


def _pod_review(namespace: str, networks: str) -> AdmissionRequest:
    pod = {
        "metadata": {
            "name": "app",
            "namespace": namespace,
            "annotations": {constants.POD_NETWORKS_ANNOTATION: networks},
        },
        "spec": {"containers": [{"name": "app", "image": "example.invalid/app"}]},
    }
    return AdmissionRequest(str(uuid.uuid4()), "Pod", "CREATE", namespace, pod, None)
