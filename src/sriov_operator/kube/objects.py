"""Raw JSON access to the API server: objects stay plain dicts, never generated model objects.

Plain dicts cost a fraction of the memory of kubernetes_asyncio's models and are
what the engine reads. Every failure becomes an error of our tree
(`sriov_operator.kube.errors`); every write is counted per verb and resource in
``sriov_operator_api_writes_total`` (the process's total) and in the client's
own `KubeObjects.writes` (what this client alone sent, whatever else runs in the
process).
"""

from __future__ import annotations

import builtins
import json
from collections import Counter as Tally
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, Literal, Protocol

import aiohttp
from prometheus_client import Counter

from sriov_operator import __version__
from sriov_operator.api.meta import namespace_of
from sriov_operator.kube.errors import (
    ApiUnavailableError,
    EvictionBlockedError,
    NotFoundError,
    error_for_status,
    status_message,
)
from sriov_operator.kube.resources import PODS, Resource

Object = dict[str, Any]
Decode = Callable[[bytes], Object]  # a response's JSON text → the object (json.loads, or a partial decoder)
PatchType = Literal["merge", "json", "strategic"]

APPLY_PATCH = "application/apply-patch+yaml"

PATCH_CONTENT_TYPES: Mapping[PatchType, str] = {
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
    "strategic": "application/strategic-merge-patch+json",
}
# Inside a cluster the API server's gzip costs more CPU (on both sides) than it saves on the wire.
HEADERS = {
    "Accept": "application/json",
    "Accept-Encoding": "identity",
    "User-Agent": f"sriov-fdp-operator/{__version__}",
}
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=60, sock_connect=10)
WATCH_READ_SLACK = 30.0  # seconds past the server-side watch timeout before we call the stream dead

API_WRITES = Counter(
    "sriov_operator_api_writes",
    "Writes sent to the API server, by verb and resource.",
    ["verb", "resource"],
)


def _query(**params: str | int | bool | None) -> list[tuple[str, str]]:
    """Query parameters without the unset ones; booleans as the API server spells them."""
    query: list[tuple[str, str]] = []
    for key, value in params.items():
        if value is None:
            continue
        query.append((key, ("true" if value else "false") if isinstance(value, bool) else str(value)))
    return query


class Transport(Protocol):
    """Sends one request with a JSON body (an object, or None) and returns the unread response."""

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: list[tuple[str, str]],
        headers: dict[str, str],
        body: Any,
        timeout: aiohttp.ClientTimeout,
    ) -> aiohttp.ClientResponse: ...


class KubeObjects:
    """Get, list, watch and write objects of any `Resource` as JSON.

    ``api`` is a `Transport`: `kube.session.ApiSession`, the one client (the tests also
    have an adapter for their kubernetes_asyncio client, ``tests/kube_client.py``).
    """

    def __init__(self, api: Transport, write_guard: Callable[[], None] | None = None) -> None:
        """``write_guard`` runs before every write and may refuse it by raising (leader election does)."""
        self.api = api
        self.transport: Transport = api
        self.write_guard = write_guard
        self.writes: Tally[tuple[str, str]] = Tally()  # (verb, resource as in API_WRITES) -> writes sent

    # ------------------------------------------------------------- transport
    async def _send(
        self,
        method: str,
        path: str,
        *,
        query: list[tuple[str, str]] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        timeout: aiohttp.ClientTimeout = REQUEST_TIMEOUT,
    ) -> aiohttp.ClientResponse:
        """Send one request; a non-2xx answer is raised as an error of our tree."""
        request = f"{method} {path}"
        try:
            response = await self.transport.request(
                method,
                path,
                query=query or [],
                headers={**HEADERS, "Content-Type": content_type},
                body=body,
                timeout=timeout,
            )
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            raise ApiUnavailableError(f"{request}: {error or type(error).__name__}") from error
        if response.status >= 300:
            try:
                text = await response.read()
            except (aiohttp.ClientError, TimeoutError, OSError):
                text = b""
            finally:
                response.release()
            message = status_message(response.status, text, response.reason or "")
            raise error_for_status(response.status, message, request)
        return response

    async def _json(self, method: str, path: str, decode: Decode = json.loads, **kwargs: Any) -> Object:
        response = await self._send(method, path, **kwargs)
        try:
            raw = await response.read()
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            raise ApiUnavailableError(f"{method} {path}: reading the answer: {error}") from error
        finally:
            response.release()
        document: Object = decode(raw)
        return document

    # ------------------------------------------------------------------ reads
    async def get(self, resource: Resource, name: str, namespace: str | None = None) -> Object | None:
        """The object, or None when it does not exist."""
        try:
            return await self._json("GET", resource.api_path(namespace, name))
        except NotFoundError:
            return None

    async def list(
        self,
        resource: Resource,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        resource_version: str | None = None,
        limit: int | None = None,
        continue_: str | None = None,
        decode: Decode = json.loads,
    ) -> Object:
        """One List object (one page when ``limit`` is set; ``metadata.continue`` names the next);
        ``decode`` reads the answer (a partial decoder keeps only what a cache needs)."""
        query = _query(
            labelSelector=label_selector,
            fieldSelector=field_selector,
            resourceVersion=resource_version,
            limit=limit,
            **{"continue": continue_},
        )
        return await self._json("GET", resource.api_path(namespace), decode, query=query)

    async def watch(
        self,
        resource: Resource,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        resource_version: str | None = None,
        timeout_seconds: int = 300,
        allow_bookmarks: bool = True,
        decode: Decode = json.loads,
    ) -> AsyncIterator[Object]:
        """Raw watch events ``{"type", "object"}`` (BOOKMARK included) until the server ends the watch;
        ``decode`` reads each event line (it must decode an ERROR event's Status whole).

        An ERROR event with status 410 raises `ResourceExpiredError`; other ERROR
        events and broken streams raise `ApiUnavailableError`.
        """
        query = _query(
            watch=True,
            labelSelector=label_selector,
            fieldSelector=field_selector,
            resourceVersion=resource_version,
            timeoutSeconds=timeout_seconds,
            allowWatchBookmarks=allow_bookmarks,
        )
        path = resource.api_path(namespace)
        timeout = aiohttp.ClientTimeout(sock_connect=10, sock_read=timeout_seconds + WATCH_READ_SLACK)
        response = await self._send("GET", path, query=query, timeout=timeout)
        try:
            async for line in response.content:
                if not line.strip():
                    continue
                event: Object = decode(line)
                if event.get("type") == "ERROR":
                    status = event.get("object") or {}
                    code = int(status.get("code") or 500)
                    message = str(status.get("message") or status.get("reason") or "watch error")
                    raise error_for_status(code, message, f"WATCH {path}")
                yield event
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            raise ApiUnavailableError(f"WATCH {path}: {error or type(error).__name__}") from error
        finally:
            response.release()

    # ----------------------------------------------------------------- writes
    async def _write(
        self,
        verb: str,
        resource: Resource,
        method: str,
        path: str,
        subresource: str | None = None,
        **kwargs: Any,
    ) -> Object:
        if self.write_guard is not None:
            self.write_guard()
        counted = f"{resource.qualified_name}/{subresource}" if subresource else resource.qualified_name
        API_WRITES.labels(verb=verb, resource=counted).inc()
        self.writes[verb, counted] += 1
        return await self._json(method, path, **kwargs)

    async def apply(
        self,
        resource: Resource,
        body: Object,
        field_manager: str,
        force: bool = True,
        subresource: str | None = None,
    ) -> Object:
        """Server-side apply of ``body`` (it names the object in its metadata)."""
        path = resource.api_path(namespace_of(body), body["metadata"]["name"], subresource)
        query = _query(fieldManager=field_manager, force=force)
        return await self._write(
            "apply", resource, "PATCH", path, subresource, query=query, body=body, content_type=APPLY_PATCH
        )

    async def patch(
        self,
        resource: Resource,
        name: str,
        patch: Object | builtins.list[Object],
        namespace: str | None = None,
        *,
        patch_type: PatchType = "merge",
        subresource: str | None = None,
    ) -> Object:
        path = resource.api_path(namespace, name, subresource)
        return await self._write(
            "patch",
            resource,
            "PATCH",
            path,
            subresource,
            body=patch,
            content_type=PATCH_CONTENT_TYPES[patch_type],
        )

    async def create(
        self,
        resource: Resource,
        body: Object,
        namespace: str | None = None,
        *,
        name: str | None = None,
        subresource: str | None = None,
    ) -> Object:
        """POST ``body``; with ``name`` and ``subresource``, to that object's subresource (a TokenRequest)."""
        namespace = namespace or namespace_of(body)
        path = resource.api_path(namespace, name, subresource)
        return await self._write("create", resource, "POST", path, subresource, body=body)

    async def update(self, resource: Resource, body: Object, subresource: str | None = None) -> Object:
        """PUT the whole object; its ``metadata.resourceVersion`` makes it a compare-and-swap."""
        metadata = body["metadata"]
        path = resource.api_path(metadata.get("namespace"), metadata["name"], subresource)
        return await self._write("update", resource, "PUT", path, subresource, body=body)

    async def delete(
        self,
        resource: Resource,
        name: str,
        namespace: str | None = None,
        *,
        preconditions: Object | None = None,
        propagation: Literal["Foreground", "Background", "Orphan"] | None = None,
        grace_period_seconds: int | None = None,
    ) -> bool:
        """Delete; False when the object was already gone. A ``preconditions`` the object no longer meets
        (another ``uid``: it was re-created) raises `ConflictError`; ``grace_period_seconds`` overrides a
        pod's own (0: at once, as a kubelet deletes a pod it has stopped)."""
        options: Object = {"apiVersion": "v1", "kind": "DeleteOptions"}
        if preconditions:
            options["preconditions"] = preconditions
        if grace_period_seconds is not None:
            options["gracePeriodSeconds"] = grace_period_seconds
        if propagation:
            options["propagationPolicy"] = propagation
        try:
            await self._write("delete", resource, "DELETE", resource.api_path(namespace, name), body=options)
        except NotFoundError:
            return False
        return True

    async def evict(self, pod_name: str, namespace: str) -> None:
        """Evict a Pod through policy/v1 (honours PodDisruptionBudgets); a Pod already gone is fine."""
        body = {
            "apiVersion": "policy/v1",
            "kind": "Eviction",
            "metadata": {"name": pod_name, "namespace": namespace},
        }
        path = PODS.api_path(namespace, pod_name, "eviction")
        try:
            await self._write("evict", PODS, "POST", path, body=body)
        except NotFoundError:
            return
        except ApiUnavailableError as error:
            if error.status == 429:
                raise EvictionBlockedError(str(error)) from error
            raise


async def served(objects: KubeObjects, resource: Resource, namespace: str | None = None) -> bool:
    """Whether the API server serves ``resource`` (a CRD that is not installed answers 404).

    ``namespace``: ask there, for a caller whose RBAC covers only that namespace.
    """
    try:
        await objects.list(resource, namespace, limit=1)
    except NotFoundError:
        return False
    return True
