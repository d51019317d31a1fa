"""Operator-side controller for the webhook: certificates as Secrets, webhook configurations, caBundle.

One key, one reconcile, in this order (so the API server never meets a
certificate it does not trust):

1. the CA Secret (new CA on first run or when a third of its life is left; the
   bundle keeps the old CA until it expires);
2. the webhook configurations rendered from the default SriovOperatorConfig,
   with the bundle as caBundle unless an annotation says someone else injects it;
3. the serving Secret the webhook mounts (the webhook reloads it).

Then it requeues itself for the next renewal.  Secrets and configurations are
read live (not from the cache) so a write of ours is never planned twice.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import ssl
import urllib.parse
from collections.abc import Mapping
from typing import Any

from sriov_operator.api.constants import (
    DEFAULT_OPERATOR_CONFIG_NAME,
    FIELD_MANAGER,
    WEBHOOK_CA_SECRET,
    WEBHOOK_SERVICE_NAME,
    WEBHOOK_SERVING_SECRET,
)
from sriov_operator.kube.objects import KubeObjects
from sriov_operator.kube.resources import (
    DEPLOYMENTS,
    MUTATING_WEBHOOK_CONFIGURATIONS,
    SECRETS,
    SRIOV_OPERATOR_CONFIGS,
    VALIDATING_WEBHOOK_CONFIGURATIONS,
    Resource,
)
from sriov_operator.runtime.builder import always, controller_for
from sriov_operator.runtime.clock import Clock
from sriov_operator.runtime.controller import Controller, Result
from sriov_operator.runtime.manager import Manager
from sriov_operator.runtime.transforms import strip_managed_fields
from sriov_operator.webhook.certificates import plan_certificates
from sriov_operator.webhook.configurations import (
    CONFIGURATION_KEYS,
    MANAGED_BY,
    MANAGED_BY_LABEL,
    contains,
    injects_own_ca_bundle,
    render_configurations,
)
from sriov_operator.webhook.settings import WebhookOperatorSettings

logger = logging.getLogger(__name__)

CONTROLLER_NAME = "webhook-certificates"
KEY = "webhook"
MIN_REQUEUE = 1.0  # seconds
PROBE_SECONDS = 2.0  # a TLS handshake with a webhook outside the cluster (--webhook-url)
RESOURCES: Mapping[str, Resource] = {
    "ValidatingWebhookConfiguration": VALIDATING_WEBHOOK_CONFIGURATIONS,
    "MutatingWebhookConfiguration": MUTATING_WEBHOOK_CONFIGURATIONS,
}


def _decoded(secret: Mapping[str, Any] | None) -> dict[str, bytes] | None:
    if secret is None:
        return None
    return {key: base64.b64decode(value) for key, value in (secret.get("data") or {}).items()}


def _secret(name: str, namespace: str, data: Mapping[str, bytes], type_: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, "labels": {MANAGED_BY_LABEL: MANAGED_BY}},
        "type": type_,
        "data": {key: base64.b64encode(value).decode() for key, value in data.items()},
    }


class WebhookReconciler:
    def __init__(self, objects: KubeObjects, settings: WebhookOperatorSettings, clock: Clock) -> None:
        self.objects, self.settings, self.clock = objects, settings, clock

    async def reconcile(self, key: object) -> Result:
        now = self.clock.now()
        namespace = self.settings.namespace
        ca = await self.objects.get(SECRETS, WEBHOOK_CA_SECRET, namespace)
        serving = await self.objects.get(SECRETS, WEBHOOK_SERVING_SECRET, namespace)
        plan = plan_certificates(_decoded(ca), _decoded(serving), self.settings.certificates, now)
        if plan.ca_data is not None:
            logger.info("writing the webhook CA Secret %s/%s", namespace, WEBHOOK_CA_SECRET)
            secret = _secret(WEBHOOK_CA_SECRET, namespace, plan.ca_data, "Opaque")
            await self.objects.apply(SECRETS, secret, FIELD_MANAGER)
        registered = await self._configurations(plan.ca_bundle)
        if plan.serving_data is not None:
            logger.info("writing the webhook serving Secret %s/%s", namespace, WEBHOOK_SERVING_SECRET)
            secret = _secret(WEBHOOK_SERVING_SECRET, namespace, plan.serving_data, "kubernetes.io/tls")
            await self.objects.apply(SECRETS, secret, FIELD_MANAGER)
        if not registered:  # an outside webhook (--webhook-url) gives no event when it comes up: look again
            return Result(requeue_after=MIN_REQUEUE)
        return Result(requeue_after=max(MIN_REQUEUE, (plan.next_check - now).total_seconds()))

    async def _configurations(self, ca_bundle: bytes) -> bool:
        """Apply (or delete) the configurations; False while one waits for its webhook to answer."""
        config = await self.objects.get(
            SRIOV_OPERATOR_CONFIGS, DEFAULT_OPERATOR_CONFIG_NAME, self.settings.namespace
        )
        live = {key: await self.objects.get(RESOURCES[key[0]], key[1]) for key in CONFIGURATION_KEYS}
        bundles = {key: ca_bundle if injects_own_ca_bundle(live[key]) else None for key in CONFIGURATION_KEYS}
        serving = await self._webhook_serves(ca_bundle)
        registered = True
        for desired in render_configurations(config, self.settings.configurations, bundles):
            current = live[(desired.kind, desired.name)]
            resource = RESOURCES[desired.kind]
            if desired.body is not None and current is None and not serving:
                logger.info(
                    "not registering %s %s yet: %s",
                    desired.kind,
                    desired.name,
                    f"nothing answers at {url} with our certificate"
                    if (url := self.settings.configurations.url)
                    else f"the webhook Deployment {self.settings.namespace}/{WEBHOOK_SERVICE_NAME} has no "
                    "available replica",
                )
                registered = False
                continue
            if desired.body is None:
                if current is not None:
                    logger.info(
                        "deleting %s %s (disabled in the SriovOperatorConfig)", desired.kind, desired.name
                    )
                    await self.objects.delete(resource, desired.name)
            elif current is None or not contains(current, desired.body):
                logger.info("applying %s %s", desired.kind, desired.name)
                await self.objects.apply(resource, desired.body, FIELD_MANAGER)
        return registered

    async def _webhook_serves(self, ca_bundle: bytes) -> bool:
        """Register a configuration only once something answers it.

        A configuration whose webhook is not up yet (failurePolicy Fail) would
        refuse every write of our kinds, the start-up race users hit upstream.
        With ``--webhook-url`` the webhook runs outside the cluster: it must complete
        a TLS handshake at that URL with a certificate our CA signed (what the API
        server will check). Otherwise our Deployment must have an available replica.
        """
        if self.settings.configurations.url:
            return await url_answers(self.settings.configurations.url, ca_bundle)
        deployment = await self.objects.get(DEPLOYMENTS, WEBHOOK_SERVICE_NAME, self.settings.namespace)
        return bool(deployment and (deployment.get("status") or {}).get("availableReplicas"))


async def url_answers(url: str, ca_bundle: bytes, timeout: float = PROBE_SECONDS) -> bool:
    """A TLS handshake with ``url``'s host and port succeeds, its certificate signed by ``ca_bundle``."""
    parsed = urllib.parse.urlsplit(url)
    host, port = parsed.hostname or "", parsed.port or 443
    context = ssl.create_default_context(cadata=ca_bundle.decode())
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=context, server_hostname=host), timeout
        )
    except (OSError, TimeoutError, ssl.SSLError):
        return False
    writer.close()
    with contextlib.suppress(OSError, ssl.SSLError):
        await writer.wait_closed()
    return True


def register(manager: Manager, settings: WebhookOperatorSettings) -> Controller:
    """Add the webhook's certificate/configuration controller to the operator's manager."""
    reconciler = WebhookReconciler(manager.objects, settings, manager.clock)
    ours = f"{MANAGED_BY_LABEL}={MANAGED_BY}"
    deployment = f"metadata.name={WEBHOOK_SERVICE_NAME}"
    namespace = settings.namespace
    the_key = always(KEY)
    builder = (
        controller_for(manager)
        .named(CONTROLLER_NAME)
        # the operator's own controllers share this informer, stripped
        .watches(
            manager.informer(SRIOV_OPERATOR_CONFIGS, namespace=namespace, transform=strip_managed_fields),
            the_key,
        )
        .watches(manager.informer(SECRETS, namespace=namespace, label_selector=ours), the_key)
        .watches(manager.informer(DEPLOYMENTS, namespace=namespace, field_selector=deployment), the_key)
    )
    for resource in RESOURCES.values():
        builder.watches(manager.informer(resource, label_selector=ours), the_key)
    return builder.starts_with(KEY).complete(reconciler.reconcile)  # certificates before anything asks
