"""Our webhook configurations are registered only once something answers them.

In a module of its own: the certificate tests keep an operator running that
re-creates the configurations, which would race this test.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
from pathlib import Path

import pytest
from kubernetes_asyncio import client

from sriov_operator.api import constants
from sriov_operator.controlplane.process import ControlPlane, free_port
from sriov_operator.kube.resources import (
    MUTATING_WEBHOOK_CONFIGURATIONS,
    SECRETS,
    VALIDATING_WEBHOOK_CONFIGURATIONS,
)
from sriov_operator.runtime.clock import SYSTEM_CLOCK
from sriov_operator.runtime.manager import Manager
from sriov_operator.runtime.settings import RuntimeSettings
from sriov_operator.webhook.certificate_controller import KEY, MIN_REQUEUE, WebhookReconciler
from sriov_operator.webhook.settings import webhook_operator_settings
from tests.integration.operator_harness import ensure_default_service_account, play_rollouts
from tests.integration.webhook_support import namespace_with_operator_config

pytestmark = pytest.mark.integration


async def _namespace_with_an_ignored_webhook(kube: client.ApiClient, prefix: str) -> str:
    """The operator webhook enabled, with failurePolicy Ignore while the test holds its configuration."""
    ignore = {constants.WEBHOOK_FAILURE_POLICY_ANNOTATION: "Ignore"}
    return await namespace_with_operator_config(kube, prefix, {"enableOperatorWebhook": True}, ignore)


async def test_configurations_wait_for_an_available_webhook_deployment(
    kube: client.ApiClient, control_plane: ControlPlane
) -> None:
    """Registering a Fail webhook before it serves would refuse every write of our kinds.

    failurePolicy Ignore keeps the configuration harmless while this test holds it;
    it is deleted before the test ends, so the API server never calls the Service.
    """
    namespace = await _namespace_with_an_ignored_webhook(kube, "sriov-gate")
    runtime = RuntimeSettings(kubeconfig=control_plane.kubeconfig, namespace=namespace, health_port=-1)
    name = constants.OPERATOR_WEBHOOK_CONFIG_NAME
    async with Manager(runtime) as manager:
        objects = manager.objects
        reconciler = WebhookReconciler(objects, webhook_operator_settings(namespace), SYSTEM_CLOCK)
        for resource in (VALIDATING_WEBHOOK_CONFIGURATIONS, MUTATING_WEBHOOK_CONFIGURATIONS):
            await objects.delete(resource, name)
        try:
            await reconciler.reconcile(KEY)
            assert await objects.get(VALIDATING_WEBHOOK_CONFIGURATIONS, name) is None
            deployment = {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {
                    "name": constants.WEBHOOK_SERVICE_NAME,
                    "namespace": namespace,
                    "labels": {"app": "w"},
                },
                "spec": {
                    "selector": {"matchLabels": {"app": "w"}},
                    "template": {
                        "metadata": {"labels": {"app": "w"}},
                        "spec": {"containers": [{"name": "w", "image": "example.invalid/w:1"}]},
                    },
                },
            }
            apps = client.AppsV1Api(kube)
            await apps.create_namespaced_deployment(namespace, deployment)
            await reconciler.reconcile(KEY)
            assert await objects.get(VALIDATING_WEBHOOK_CONFIGURATIONS, name) is None
            await ensure_default_service_account(objects, namespace)
            await play_rollouts(objects, namespace, "app=w")  # until the Deployment controller counts it
            await reconciler.reconcile(KEY)
            registered = await objects.get(VALIDATING_WEBHOOK_CONFIGURATIONS, name)
            assert registered is not None
            service = registered["webhooks"][0]["clientConfig"]["service"]
            assert (service["name"], service["namespace"]) == (constants.WEBHOOK_SERVICE_NAME, namespace)
        finally:
            # both kinds: a configuration left behind would be taken over (failurePolicy Fail) by the
            # next operator that runs in this API server, and refuse every later test's policies
            for resource in (VALIDATING_WEBHOOK_CONFIGURATIONS, MUTATING_WEBHOOK_CONFIGURATIONS):
                await objects.delete(resource, name)


async def test_with_webhook_url_configurations_wait_until_the_url_answers_with_our_certificate(
    kube: client.ApiClient, control_plane: ControlPlane, tmp_path: Path
) -> None:
    """``--webhook-url`` (the sandbox): registered only once a TLS handshake there succeeds with a
    certificate our CA signed; before, writes of our kinds would fail with "connection refused"."""
    namespace = await _namespace_with_an_ignored_webhook(kube, "sriov-url")
    port = free_port()
    settings = webhook_operator_settings(
        namespace, url=f"https://127.0.0.1:{port}", ip_addresses=("127.0.0.1",)
    )
    runtime = RuntimeSettings(kubeconfig=control_plane.kubeconfig, namespace=namespace, health_port=-1)
    name = constants.OPERATOR_WEBHOOK_CONFIG_NAME
    async with Manager(runtime) as manager:
        objects = manager.objects
        reconciler = WebhookReconciler(objects, settings, SYSTEM_CLOCK)
        for resource in (VALIDATING_WEBHOOK_CONFIGURATIONS, MUTATING_WEBHOOK_CONFIGURATIONS):
            await objects.delete(resource, name)
        server = None
        try:
            result = await reconciler.reconcile(KEY)  # nothing listens on the port
            assert await objects.get(VALIDATING_WEBHOOK_CONFIGURATIONS, name) is None
            assert result.requeue_after == MIN_REQUEUE  # nothing else would say when it comes up
            secret = await objects.get(SECRETS, constants.WEBHOOK_SERVING_SECRET, namespace)
            assert secret is not None
            for key in ("tls.crt", "tls.key"):
                (tmp_path / key).write_bytes(base64.b64decode(secret["data"][key]))
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(tmp_path / "tls.crt", tmp_path / "tls.key")
            server = await asyncio.start_server(lambda _r, w: w.close(), "127.0.0.1", port, ssl=context)
            await reconciler.reconcile(KEY)
            registered = await objects.get(VALIDATING_WEBHOOK_CONFIGURATIONS, name)
            assert registered is not None
            assert registered["webhooks"][0]["clientConfig"]["url"].startswith(f"https://127.0.0.1:{port}/")
        finally:
            if server is not None:
                server.close()
            for resource in (VALIDATING_WEBHOOK_CONFIGURATIONS, MUTATING_WEBHOOK_CONFIGURATIONS):
                await objects.delete(resource, name)
