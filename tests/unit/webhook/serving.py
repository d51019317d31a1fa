"""A real `WebhookServer` on 127.0.0.1 (TLS from our certificate planner) over a fixed cluster view."""

from __future__ import annotations

import asyncio
import datetime
import json
import ssl
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sriov_operator.webhook.admission import AdmissionSettings, ClusterSnapshot
from sriov_operator.webhook.certificates import (
    CA_BUNDLE,
    TLS_CERT,
    TLS_KEY,
    CertificateSettings,
    plan_certificates,
)
from sriov_operator.webhook.injector import NadKey
from sriov_operator.webhook.server import Admission, ServerSettings, WebhookServer
from sriov_operator.webhook.tls import ReloadingTlsContext

NAMESPACE = "sriov-network-operator"
NAD = {"metadata": {"annotations": {"k8s.v1.cni.cncf.io/resourceName": "openshift.io/dpdk1"}}}


class FixedCluster:
    """No nodes or policies; every NAD exists, unless ``stall`` makes NAD lookups never finish."""

    def __init__(self, stall: bool = False) -> None:
        self.stall = stall
        self.asked = 0  # NAD lookups made (a decision under way)

    def snapshot(self) -> ClusterSnapshot:
        return ClusterSnapshot()

    async def network_attachment_definitions(self, keys: Iterable[NadKey]) -> dict[NadKey, Any]:
        self.asked += 1
        if self.stall:
            await asyncio.Event().wait()
        return {key: NAD for key in keys}


def write_certificate(directory: Path) -> ssl.SSLContext:
    """Write tls.crt/tls.key for 127.0.0.1 into ``directory``; returns a client context trusting them."""
    plan = plan_certificates(
        None, None, CertificateSettings(("localhost",), ("127.0.0.1",)), datetime.datetime.now(datetime.UTC)
    )
    assert plan.ca_data is not None and plan.serving_data is not None
    (directory / "tls.crt").write_bytes(plan.serving_data[TLS_CERT])
    (directory / "tls.key").write_bytes(plan.serving_data[TLS_KEY])
    return ssl.create_default_context(cadata=plan.ca_data[CA_BUNDLE].decode())


@asynccontextmanager
async def serving(
    directory: Path, settings: ServerSettings, source: Any = None
) -> AsyncIterator[tuple[WebhookServer, ssl.SSLContext]]:
    context = write_certificate(directory)
    tls = ReloadingTlsContext(directory / "tls.crt", directory / "tls.key")
    server = WebhookServer(settings, Admission(AdmissionSettings(NAMESPACE), source or FixedCluster()), tls)
    await server.start()
    try:
        yield server, context
    finally:
        await server.stop()


def pod_review(networks: str = "net-a") -> bytes:
    annotations = {"k8s.v1.cni.cncf.io/networks": networks}
    return json.dumps(
        {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": {
                "uid": "u1",
                "kind": {"group": "", "version": "v1", "kind": "Pod"},
                "operation": "CREATE",
                "namespace": "apps",
                "object": {
                    "metadata": {"name": "web", "annotations": annotations},
                    "spec": {"containers": [{"name": "web", "image": "x"}]},
                },
            },
        }
    ).encode()


def post(path: str, body: bytes, content_length: int | None = None) -> bytes:
    length = len(body) if content_length is None else content_length
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n\r\n"
    )
    return head.encode() + body
