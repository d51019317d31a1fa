"""The HTTPS admission server: AdmissionReview v1 in, the pure decisions, AdmissionReview out.

Paths (the webhook configurations point at them):

- ``/validating-custom-resource``: our kinds on CREATE/UPDATE;
- ``/mutating-custom-resource``: policy defaults on CREATE/UPDATE;
- ``/mutating-pods``: the network-resources injector on Pod CREATE.

A body that is not an AdmissionReview v1 request, is larger than the cap, is
nested deeper than the depth cap or does not arrive within the body timeout gets
a 400 with a one-line reason; a failure inside a rule gets a 500, so the API
server applies the webhook's failurePolicy rather than a guess of ours.  A review
that cannot be answered within ``review_timeout`` of its first byte (the API
server gives up after the configuration's ``timeoutSeconds``, 10 s) gets a 503
at once instead of a late answer.  Connections: see `webhook.connections`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp
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
from sriov_operator.webhook.connections import (
    ConnectionLimits,
    Connections,
    QuietAcceptErrors,
    map_large_buffers_alone,
)
from sriov_operator.webhook.injector import (
    NadKey,
    NadLookupError,
    NetworksAnnotationError,
    inject_resources,
    lookup_failed,
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
DEFAULT_REVIEW_TIMEOUT = 8.0  # below the configurations' timeoutSeconds (10)

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
    limits: ConnectionLimits = field(default_factory=ConnectionLimits)
    review_timeout: float = DEFAULT_REVIEW_TIMEOUT


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
        try:
            nads = await self.source.network_attachment_definitions({(n.namespace, n.name) for n in networks})
        except NadLookupError as exc:
            return lookup_failed(request.object, request.namespace, exc)
        return inject_resources(request.object, request.namespace, nads)


class BodyTooLargeError(MalformedReviewError):
    pass


async def _read_capped(request: web.Request, cap: int, timeout: float) -> bytes:
    if request.content_length is not None and request.content_length > cap:
        raise BodyTooLargeError(f"body of {request.content_length} bytes is above the {cap}-byte limit")
    chunks, size = [], 0
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.content.iter_chunked(64 * 1024):
                size += len(chunk)
                if size > cap:
                    raise BodyTooLargeError(f"body is above the {cap}-byte limit")
                chunks.append(chunk)
    except TimeoutError as exc:
        expected = f" of {request.content_length}" if request.content_length is not None else ""
        raise MalformedReviewError(f"body: {size}{expected} bytes arrived within {timeout:g} s") from exc
    except aiohttp.ClientPayloadError as exc:
        raise MalformedReviewError(f"body: {exc}") from exc
    return b"".join(chunks)


Decide = Callable[[AdmissionRequest], Awaitable[Verdict]]


def _text(status: int, message: str, *, close: bool = False) -> web.Response:
    response = web.Response(status=status, text=message + "\n")
    if close:
        response.force_close()  # the rest of the body would be read as the next request
    return response


@dataclass(frozen=True)
class EndpointSettings:
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    body_timeout: float = ConnectionLimits.body_timeout
    review_timeout: float = DEFAULT_REVIEW_TIMEOUT


def _endpoint(
    decide: Decide, settings: EndpointSettings, connections: Connections | None
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(http_request: web.Request) -> web.Response:
        path = http_request.path
        loop = asyncio.get_running_loop()
        guard = connections.of(http_request.transport) if connections is not None else None
        if guard is not None:
            guard.request_began()
        started = guard.request_started if guard is not None else loop.time()
        try:
            return await _answer(http_request, path, started + settings.review_timeout)
        finally:
            if guard is not None:
                guard.request_ended()

    async def _answer(http_request: web.Request, path: str, deadline: float) -> web.Response:
        loop = asyncio.get_running_loop()
        try:
            body = await _read_capped(http_request, settings.max_body_bytes, settings.body_timeout)
            request = parse_review(body)
        except MalformedReviewError as exc:
            logger.warning("rejected a malformed AdmissionReview on %s: %s", path, exc)
            REQUESTS.labels(path, "malformed").inc()
            return _text(400, f"malformed AdmissionReview: {exc}", close=not http_request.content.at_eof())
        if loop.time() >= deadline:
            REQUESTS.labels(path, "overloaded").inc()
            return _text(503, "webhook overloaded: the review waited too long to be answered in time; retry")
        with LATENCY.labels(path).time():
            try:
                async with asyncio.timeout_at(deadline):
                    verdict = await decide(request)
            except TimeoutError:
                REQUESTS.labels(path, "overloaded").inc()
                return _text(
                    503, f"admission of {request.kind} not decided within {settings.review_timeout:g} s"
                )
            except Exception:
                logger.exception("admission of %s %s failed", request.operation, request.kind)
                REQUESTS.labels(path, "error").inc()
                return _text(500, "admission failed inside the webhook; see its log")
            REQUESTS.labels(path, "allowed" if verdict.allowed else "denied").inc()
            return web.json_response(review_response(request.uid, verdict))

    return handle


def build_app(
    admission: Admission,
    settings: EndpointSettings = EndpointSettings(),
    connections: Connections | None = None,
) -> web.Application:
    app = web.Application(client_max_size=settings.max_body_bytes)
    app.router.add_post(VALIDATE_PATH, _endpoint(admission.validate, settings, connections))
    app.router.add_post(MUTATE_PATH, _endpoint(admission.mutate, settings, connections))
    app.router.add_post(PODS_PATH, _endpoint(admission.inject, settings, connections))
    return app


class WebhookServer:
    """The app on HTTPS, with the certificate reloaded when its files change, and guarded connections."""

    def __init__(self, settings: ServerSettings, admission: Admission, tls: ReloadingTlsContext) -> None:
        self.settings, self.tls = settings, tls
        limits = settings.limits
        self.connections = Connections(limits, tls.context)
        endpoint = EndpointSettings(settings.max_body_bytes, limits.body_timeout, settings.review_timeout)
        self._runner = web.AppRunner(build_app(admission, endpoint, self.connections), access_log=None)
        self._server: asyncio.Server | None = None
        self._watch: asyncio.Task[None] | None = None
        self._previous_handler: Any = None
        self.port = settings.port

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        await self._runner.setup()
        assert self._runner.server is not None
        self.connections.inner = self._runner.server
        map_large_buffers_alone()
        self._previous_handler = loop.get_exception_handler()
        loop.set_exception_handler(QuietAcceptErrors())
        self._server = await loop.create_server(
            self.connections,
            self.settings.host,
            self.settings.port,
            backlog=1024,  # TLS: started by each connection's guard, under the cap
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._watch = asyncio.create_task(self.tls.watch(self.settings.cert_check_interval))
        logger.info(
            "admission webhook serving HTTPS on %s:%d (at most %d connections)",
            self.settings.host,
            self.port,
            self.connections.cap,
        )

    async def stop(self) -> None:
        if self._watch is None or self._server is None:
            return  # never started
        self._watch.cancel()
        self._server.close()
        self.connections.abort_handshakes()
        await self._runner.cleanup()
        asyncio.get_running_loop().set_exception_handler(self._previous_handler)
