"""The HTTPS admission server: AdmissionReview v1 in, the pure decisions, AdmissionReview out.

Paths (the webhook configurations point at them):

- ``/validating-custom-resource``: our kinds on CREATE/UPDATE;
- ``/mutating-custom-resource``: policy defaults on CREATE/UPDATE;
- ``/mutating-pods``: the network-resources injector on Pod CREATE.

A body that is not an AdmissionReview v1 request, or is larger than the cap,
gets a 400 with a one-line reason; a failure inside a rule gets a 500, so the
API server applies the webhook's failurePolicy rather than a guess of ours.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web
from prometheus_client import Counter, Histogram

from sriov_operator.webhook.admission import (
    VALIDATED_KINDS,
    AdmissionSettings,
    ClusterSnapshot,
    Verdict,
    mutate_object,
    validate_object,
)
from sriov_operator.webhook.injector import (
    NadKey,
    NetworksAnnotationError,
    inject_resources,
    requested_networks,
)
from sriov_operator.webhook.review import (
    AdmissionRequest,
    MalformedReviewError,
    parse_review,
    review_response,
)
from sriov_operator.webhook.tls import ReloadingTlsContext

logger = logging.getLogger(__name__)

VALIDATE_PATH = "/validating-custom-resource"
MUTATE_PATH = "/mutating-custom-resource"
PODS_PATH = "/mutating-pods"
DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024  # an object (≤ 1.5 MiB in etcd) and its old copy, with room
WRITE_OPERATIONS = ("CREATE", "UPDATE")

REQUESTS = Counter(
    "sriov_operator_webhook_requests_total",
    "Admission requests by path and result (allowed, denied, malformed, error)",
    ["path", "result"],
)
LATENCY = Histogram(
    "sriov_operator_webhook_request_duration_seconds",
    "Time from a request's body read to its answer, by path",
    ["path"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0),
)


class ClusterSource(Protocol):
    """Where the webhook reads the cluster: informer caches in the process, fixed objects in tests."""

    def snapshot(self) -> ClusterSnapshot: ...

    async def network_attachment_definitions(
        self, keys: Iterable[NadKey]
    ) -> dict[NadKey, dict[str, Any] | None]: ...


@dataclass(frozen=True)
class ServerSettings:
    host: str
    port: int
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    cert_check_interval: float = 5.0


class Admission:
    """Answers one parsed request per endpoint; no HTTP here."""

    def __init__(self, settings: AdmissionSettings, source: ClusterSource) -> None:
        self.settings, self.source = settings, source

    async def validate(self, request: AdmissionRequest) -> Verdict:
        if request.kind not in VALIDATED_KINDS or request.operation not in WRITE_OPERATIONS:
            return Verdict()
        return validate_object(request.object, request.old_object, self.source.snapshot(), self.settings)

    async def mutate(self, request: AdmissionRequest) -> Verdict:
        if request.operation not in WRITE_OPERATIONS:
            return Verdict()
        return mutate_object(request.object)

    async def inject(self, request: AdmissionRequest) -> Verdict:
        if request.kind != "Pod" or request.operation != "CREATE":
            return Verdict()
        try:
            networks = requested_networks(request.object, request.namespace)
        except NetworksAnnotationError:
            networks = []  # inject_resources reports the unreadable annotation
        nads = await self.source.network_attachment_definitions({(n.namespace, n.name) for n in networks})
        return inject_resources(request.object, request.namespace, nads)


class BodyTooLargeError(MalformedReviewError):
    pass


async def _read_capped(request: web.Request, cap: int) -> bytes:
    if request.content_length is not None and request.content_length > cap:
        raise BodyTooLargeError(f"body of {request.content_length} bytes is above the {cap}-byte limit")
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > cap:
            raise BodyTooLargeError(f"body is above the {cap}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


Decide = Callable[[AdmissionRequest], Awaitable[Verdict]]


def _endpoint(decide: Decide, max_body_bytes: int) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(http_request: web.Request) -> web.Response:
        path = http_request.path
        try:
            request = parse_review(await _read_capped(http_request, max_body_bytes))
        except MalformedReviewError as exc:
            logger.warning("rejected a malformed AdmissionReview on %s: %s", path, exc)
            REQUESTS.labels(path, "malformed").inc()
            return web.Response(status=400, text=f"malformed AdmissionReview: {exc}\n")
        with LATENCY.labels(path).time():
            try:
                verdict = await decide(request)
            except Exception:
                logger.exception("admission of %s %s failed", request.operation, request.kind)
                REQUESTS.labels(path, "error").inc()
                return web.Response(status=500, text="admission failed inside the webhook; see its log\n")
            REQUESTS.labels(path, "allowed" if verdict.allowed else "denied").inc()
            return web.json_response(review_response(request.uid, verdict))

    return handle


def build_app(admission: Admission, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> web.Application:
    app = web.Application(client_max_size=max_body_bytes)
    app.router.add_post(VALIDATE_PATH, _endpoint(admission.validate, max_body_bytes))
    app.router.add_post(MUTATE_PATH, _endpoint(admission.mutate, max_body_bytes))
    app.router.add_post(PODS_PATH, _endpoint(admission.inject, max_body_bytes))
    return app


class WebhookServer:
    """The app on HTTPS, with the certificate reloaded when its files change."""

    def __init__(self, settings: ServerSettings, admission: Admission, tls: ReloadingTlsContext) -> None:
        self.settings, self.tls = settings, tls
        self._runner = web.AppRunner(build_app(admission, settings.max_body_bytes), access_log=None)
        self._watch: asyncio.Task[None] | None = None
        self.port = settings.port

    async def start(self) -> None:
        await self._runner.setup()
        site = web.TCPSite(
            self._runner, self.settings.host, self.settings.port, ssl_context=self.tls.context, backlog=1024
        )
        await site.start()
        self.port = self._runner.addresses[0][1]
        self._watch = asyncio.create_task(self.tls.watch(self.settings.cert_check_interval))
        logger.info("admission webhook serving HTTPS on %s:%d", self.settings.host, self.port)

    async def stop(self) -> None:
        if self._watch is None:
            return  # never started
        self._watch.cancel()
        await self._runner.cleanup()
