"""The operator's webhook controller on the real API server, end to end with the webhook it serves.

The controller (run by a real Manager, as the operator runs it) creates the CA
and serving Secrets and the webhook configurations; the test copies the serving
Secret into files the way the kubelet updates a mounted Secret; the webhook
reads them; the API server calls the webhook with the caBundle the controller
wrote.  The serving certificate lives 12 seconds, so it is renewed during the test.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from kubernetes_asyncio import client

from sriov_operator.api import constants
from sriov_operator.controlplane.process import ControlPlane, free_port
from sriov_operator.kube.objects import KubeObjects
from sriov_operator.kube.resources import (
    MUTATING_WEBHOOK_CONFIGURATIONS,
    SECRETS,
    VALIDATING_WEBHOOK_CONFIGURATIONS,
)
from sriov_operator.runtime.clock import SYSTEM_CLOCK
from sriov_operator.runtime.controller import Controller, Result
from sriov_operator.runtime.manager import Manager
from sriov_operator.runtime.settings import RuntimeSettings
from sriov_operator.runtime.workqueue import Key
from sriov_operator.webhook import certificate_controller
from sriov_operator.webhook.admission import AdmissionSettings
from sriov_operator.webhook.cache import InformerSource
from sriov_operator.webhook.certificate_controller import KEY, WebhookReconciler
from sriov_operator.webhook.certificates import split_pems
from sriov_operator.webhook.server import Admission, ServerSettings, WebhookServer
from sriov_operator.webhook.settings import webhook_operator_settings
from sriov_operator.webhook.tls import ReloadingTlsContext
from tests.integration.webhook_support import namespace_with_operator_config, policy_body
from tests.kube_client import api_error_message
from tests.waiting import eventually

pytestmark = pytest.mark.integration

SERVING_LIFE = datetime.timedelta(seconds=12)


@dataclass
class ReconcileCount:
    """The reconciles a running controller has begun and ended (one worker: they end in that order)."""

    begun: int = 0
    ended: int = 0

    def count(self, controller: Controller) -> None:
        reconcile = controller.reconcile

        async def counted(key: Key) -> Result | None:
            self.begun += 1
            try:
                return await reconcile(key)
            finally:
                self.ended += 1

        controller.reconcile = counted


@dataclass
class Operated:
    namespace: str
    objects: KubeObjects
    reconciler: WebhookReconciler
    tls: ReloadingTlsContext
    running: ReconcileCount  # the operator's own controller, running beside the tests' reconciler


async def _secret_data(objects: KubeObjects, name: str, namespace: str) -> dict[str, bytes] | None:
    secret = await objects.get(SECRETS, name, namespace)
    if secret is None:
        return None
    return {key: base64.b64decode(value) for key, value in secret["data"].items()}


async def _mount(objects: KubeObjects, namespace: str, directory: Path) -> None:
    """What the kubelet does for a mounted Secret: follow it, replacing both files at once."""
    current: dict[str, bytes] | None = None
    while True:
        data = await _secret_data(objects, constants.WEBHOOK_SERVING_SECRET, namespace)
        if data is not None and data != current:
            for name in ("tls.crt", "tls.key"):
                (directory / f".{name}").write_bytes(data[name])
                (directory / f".{name}").replace(directory / name)
            current = data
        await asyncio.sleep(0.2)


@pytest_asyncio.fixture(scope="module")
async def operated(
    kube: client.ApiClient, control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Operated]:
    enabled = {"enableOperatorWebhook": True, "enableInjector": True}
    namespace = await namespace_with_operator_config(kube, "sriov-certs", enabled)
    port = free_port()
    settings = webhook_operator_settings(
        namespace, url=f"https://127.0.0.1:{port}", ip_addresses=("127.0.0.1",), serving_validity=SERVING_LIFE
    )
    runtime = RuntimeSettings(kubeconfig=control_plane.kubeconfig, namespace=namespace, health_port=-1)
    directory = tmp_path_factory.mktemp("mounted-secret")
    async with Manager(runtime) as operator, Manager(runtime) as webhook_process:
        running = ReconcileCount()
        running.count(certificate_controller.register(operator, settings))
        operator_run = asyncio.create_task(operator.run())
        source = InformerSource(webhook_process, namespace)
        webhook_run = asyncio.create_task(webhook_process.run())
        mount = asyncio.create_task(_mount(operator.objects, namespace, directory))
        await eventually((directory / "tls.key").exists, "the serving Secret mounted")
        tls = ReloadingTlsContext(directory / "tls.crt", directory / "tls.key")
        server = WebhookServer(
            ServerSettings("127.0.0.1", port, cert_check_interval=0.1),
            Admission(AdmissionSettings(namespace), source),
            tls,
        )
        await asyncio.gather(*(informer.wait_synced() for informer in source.informers))
        await server.start()

        async def registered() -> list[dict[str, Any]] | None:
            names = (constants.OPERATOR_WEBHOOK_CONFIG_NAME, constants.INJECTOR_WEBHOOK_CONFIG_NAME)
            found = [await operator.objects.get(MUTATING_WEBHOOK_CONFIGURATIONS, n) for n in names]
            return [f for f in found if f is not None] if all(found) else None

        # --webhook-url: the operator registers the configurations once the webhook answers
        await eventually(registered, "the webhook configurations, registered once the webhook answers")
        try:
            reconciler = WebhookReconciler(operator.objects, settings, SYSTEM_CLOCK)
            yield Operated(namespace, operator.objects, reconciler, tls, running)
        finally:
            operator.stop()
            await operator_run
            for resource in (VALIDATING_WEBHOOK_CONFIGURATIONS, MUTATING_WEBHOOK_CONFIGURATIONS):
                for name in (constants.OPERATOR_WEBHOOK_CONFIG_NAME, constants.INJECTOR_WEBHOOK_CONFIG_NAME):
                    await operator.objects.delete(resource, name)
            mount.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await mount
            await server.stop()
            webhook_process.stop()
            await webhook_run


async def _denied_with_our_message(kube: client.ApiClient, namespace: str, name: str) -> str:
    bad = policy_body(name, namespace, nicSelector={})
    answers: list[str] = []

    async def denied() -> str | None:
        try:
            await client.CustomObjectsApi(kube).create_namespaced_custom_object(
                constants.GROUP, constants.VERSION, namespace, "sriovnetworknodepolicies", bad
            )
        except client.ApiException as error:
            answers.append(api_error_message(error))
            return answers[-1] if "spec.nicSelector: selects nothing" in answers[-1] else None
        raise AssertionError("an invalid policy was admitted")

    what = "the webhook's denial of an empty nicSelector"
    return await eventually(denied, what, 20, details=lambda: f"answers: {answers[-3:]}")


async def _ca_bundle(objects: KubeObjects, resource: Any, name: str) -> bytes:
    live = await objects.get(resource, name)
    assert live is not None, name
    return base64.b64decode(live["webhooks"][0]["clientConfig"].get("caBundle", ""))


async def test_secrets_and_configurations_are_created_and_the_api_server_trusts_the_webhook(
    kube: client.ApiClient, operated: Operated
) -> None:
    ca = await _secret_data(operated.objects, constants.WEBHOOK_CA_SECRET, operated.namespace)
    assert ca is not None and set(ca) == {"ca.crt", "ca.key", "ca-bundle.crt"}
    for resource, name in (
        (VALIDATING_WEBHOOK_CONFIGURATIONS, constants.OPERATOR_WEBHOOK_CONFIG_NAME),
        (MUTATING_WEBHOOK_CONFIGURATIONS, constants.OPERATOR_WEBHOOK_CONFIG_NAME),
        (MUTATING_WEBHOOK_CONFIGURATIONS, constants.INJECTOR_WEBHOOK_CONFIG_NAME),
    ):
        assert await _ca_bundle(operated.objects, resource, name) == ca["ca-bundle.crt"]
    message = await _denied_with_our_message(kube, operated.namespace, "bad")
    assert f"SriovNetworkNodePolicy/{operated.namespace}/bad: spec.nicSelector" in message


async def test_the_serving_certificate_is_renewed_and_the_webhook_keeps_answering(
    kube: client.ApiClient, operated: Operated
) -> None:
    first = await _secret_data(operated.objects, constants.WEBHOOK_SERVING_SECRET, operated.namespace)
    assert first is not None
    reloads = operated.tls.reloads
    await eventually(  # renewed with a third of its 12 s left, then mounted
        lambda: operated.tls.reloads != reloads, "the serving certificate renewed and reloaded", 30
    )
    renewed = await _secret_data(operated.objects, constants.WEBHOOK_SERVING_SECRET, operated.namespace)
    assert renewed is not None and renewed["tls.crt"] != first["tls.crt"]
    ca = await _secret_data(operated.objects, constants.WEBHOOK_CA_SECRET, operated.namespace)
    assert ca is not None and len(split_pems(ca["ca-bundle.crt"])) == 1  # same CA: no bundle change
    await _denied_with_our_message(kube, operated.namespace, "after-renewal")


async def test_a_ca_bundle_injected_by_someone_else_is_never_overwritten(operated: Operated) -> None:
    name = constants.INJECTOR_WEBHOOK_CONFIG_NAME
    other_bundle = b"-----BEGIN CERTIFICATE-----\nbm90IG91cnM=\n-----END CERTIFICATE-----\n"
    live = await operated.objects.get(MUTATING_WEBHOOK_CONFIGURATIONS, name)
    assert live is not None
    webhook_name = live["webhooks"][0]["name"]
    await operated.objects.patch(
        MUTATING_WEBHOOK_CONFIGURATIONS,
        name,
        {"metadata": {"annotations": {"cert-manager.io/inject-ca-from": f"{operated.namespace}/serving"}}},
    )
    await operated.objects.patch(  # what cert-manager's cainjector does
        MUTATING_WEBHOOK_CONFIGURATIONS,
        name,
        [
            {
                "op": "replace",
                "path": "/webhooks/0/clientConfig/caBundle",
                "value": base64.b64encode(other_bundle).decode(),
            }
        ],
        patch_type="json",
    )
    begun = operated.running.begun
    await operated.reconciler.reconcile(KEY)
    # and the running controller, woken by the patch: one of its reconciles begun since has ended
    await eventually(lambda: operated.running.ended > begun, "the running controller's reconcile")
    assert await _ca_bundle(operated.objects, MUTATING_WEBHOOK_CONFIGURATIONS, name) == other_bundle
    after = await operated.objects.get(MUTATING_WEBHOOK_CONFIGURATIONS, name)
    assert after is not None and after["webhooks"][0]["name"] == webhook_name
    ours = await _ca_bundle(
        operated.objects, VALIDATING_WEBHOOK_CONFIGURATIONS, constants.OPERATOR_WEBHOOK_CONFIG_NAME
    )
    assert ours != other_bundle  # configurations without the annotation keep our bundle


async def test_disabling_the_injector_removes_its_configuration(
    kube: client.ApiClient, operated: Operated
) -> None:
    await client.CustomObjectsApi(kube).patch_namespaced_custom_object(
        constants.GROUP,
        constants.VERSION,
        operated.namespace,
        "sriovoperatorconfigs",
        "default",
        {"spec": {"enableInjector": False}},
        _content_type="application/merge-patch+json",
    )

    async def removed() -> bool:
        name = constants.INJECTOR_WEBHOOK_CONFIG_NAME
        return await operated.objects.get(MUTATING_WEBHOOK_CONFIGURATIONS, name) is None

    await eventually(removed, "the injector's configuration removed", 15)
    assert await operated.objects.get(MUTATING_WEBHOOK_CONFIGURATIONS, constants.OPERATOR_WEBHOOK_CONFIG_NAME)
