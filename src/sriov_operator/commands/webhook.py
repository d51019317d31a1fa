"""``sriov-operator webhook``: HTTPS admission (validation, policy defaults, resource injection)."""

from __future__ import annotations

import argparse
import asyncio
import logging
from typing import Any

from sriov_operator.kube.objects import served
from sriov_operator.kube.resources import NETWORK_ATTACHMENT_DEFINITIONS
from sriov_operator.runtime.logging import configure_logging
from sriov_operator.runtime.manager import Manager
from sriov_operator.webhook.cache import InformerSource
from sriov_operator.webhook.server import Admission, WebhookServer
from sriov_operator.webhook.settings import WebhookSettings, add_webhook_arguments, webhook_settings_from
from sriov_operator.webhook.tls import ReloadingTlsContext

logger = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "webhook",
        help="serve the admission webhooks over HTTPS (AdmissionReview v1)",
        description="Validate and default our kinds with the policy engine's rules (the same answers as "
        "'validate'), and inject SR-IOV device resources into pods that name networks. The certificate "
        "is reloaded when its files change. See docs/webhook.md.",
    )
    add_webhook_arguments(parser)
    parser.set_defaults(handler=run)


async def serve(settings: WebhookSettings) -> None:
    """Serve until SIGTERM/SIGINT; admission starts once every cache has synced."""
    tls = ReloadingTlsContext(settings.tls_cert, settings.tls_key)
    async with Manager(settings.runtime) as manager:
        nads = await served(manager.objects, NETWORK_ATTACHMENT_DEFINITIONS)
        if not nads:
            logger.warning(
                "NetworkAttachmentDefinitions are not served (is Multus installed?): pods naming networks "
                "are refused until the webhook is restarted after the CRD is installed"
            )
        source = InformerSource(manager, settings.runtime.namespace, nads=nads)
        server = WebhookServer(settings.server, Admission(settings.admission, source), tls)

        async def start_when_synced() -> None:
            await asyncio.gather(*(informer.wait_synced() for informer in source.informers))
            try:
                await server.start()
            except OSError:
                manager.stop()  # e.g. the port is taken: end the process with the error below
                raise

        starting = asyncio.create_task(start_when_synced())
        try:
            await manager.run()
        finally:
            starting.cancel()
            await server.stop()
        if not starting.cancelled() and starting.done() and starting.exception() is not None:
            raise starting.exception()  # type: ignore[misc]


def run(args: argparse.Namespace) -> int:
    settings = webhook_settings_from(args)
    configure_logging(settings.runtime.log_format, settings.runtime.log_level)
    asyncio.run(serve(settings))
    return 0
