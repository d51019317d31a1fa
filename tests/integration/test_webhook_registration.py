"""Our webhook configurations are registered only once something answers them.

In a module of its own: the certificate tests keep an operator running that
re-creates the configurations, which would race this test.
"""

from __future__ import annotations

import uuid

import pytest
from kubernetes_asyncio import client

from sriov_operator.api import constants
from sriov_operator.controlplane.process import ControlPlane
from sriov_operator.kube.resources import MUTATING_WEBHOOK_CONFIGURATIONS, VALIDATING_WEBHOOK_CONFIGURATIONS
from sriov_operator.runtime.clock import SYSTEM_CLOCK
from sriov_operator.runtime.manager import Manager
from sriov_operator.runtime.settings import RuntimeSettings
from sriov_operator.webhook.certificate_controller import KEY, WebhookReconciler
from sriov_operator.webhook.settings import webhook_operator_settings

pytestmark = pytest.mark.integration


async def test_configurations_wait_for_an_available_webhook_deployment(
    kube: client.ApiClient, control_plane: ControlPlane
) -> None:
    """Registering a Fail webhook before it serves would refuse every write of our kinds.

    failurePolicy Ignore keeps the configuration harmless while this test holds it;
    it is deleted before the test ends, so the API server never calls the Service.
    """
    namespace = f"sriov-gate-{uuid.uuid4().hex[:6]}"
    await client.CoreV1Api(kube).create_namespace({"metadata": {"name": namespace}})
    config = {
        "apiVersion": "sriovnetwork.openshift.io/v1",
        "kind": "SriovOperatorConfig",
        "metadata": {
            "name": "default",
            "namespace": namespace,
            "annotations": {constants.WEBHOOK_FAILURE_POLICY_ANNOTATION: "Ignore"},
        },
        "spec": {"enableOperatorWebhook": True},
    }
    await client.CustomObjectsApi(kube).create_namespaced_custom_object(
        constants.GROUP, constants.VERSION, namespace, "sriovoperatorconfigs", config
    )
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
                "metadata": {"name": constants.WEBHOOK_SERVICE_NAME, "namespace": namespace},
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
            status = {"status": {"replicas": 1, "availableReplicas": 1, "readyReplicas": 1}}
            await apps.patch_namespaced_deployment_status(constants.WEBHOOK_SERVICE_NAME, namespace, status)
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
