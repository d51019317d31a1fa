"""Tests' kubernetes_asyncio client (a test-only dependency): an ApiClient from a kubeconfig, and the
API server's message of its errors. The product has one client, ``sriov_operator.kube.session``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException

from sriov_operator.kube.objects import APPLY_PATCH, KubeObjects

__all__ = ["APPLY_PATCH", "ApiClientTransport", "api_client", "api_error_message", "kube_objects"]


@asynccontextmanager
async def api_client(kubeconfig: Path | None = None) -> AsyncIterator[client.ApiClient]:
    """An ApiClient for ``kubeconfig`` (or the in-cluster service account when None)."""
    configuration = client.Configuration()
    if kubeconfig is None:
        config.load_incluster_config(client_configuration=configuration)
    else:
        await config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    async with client.ApiClient(configuration) as api:
        yield api


def api_error_message(error: ApiException) -> str:
    """The API server's own message (it names the field and the accepted values)."""
    try:
        body: dict[str, Any] = json.loads(error.body)
    except (TypeError, ValueError):
        return f"{error.status} {error.reason}"
    return str(body.get("message") or f"{error.status} {error.reason}")


class ApiClientTransport:
    """A kubernetes_asyncio ApiClient as a `KubeObjects` transport (its credentials, its connection pool)."""

    def __init__(self, api: Any) -> None:
        self.api = api

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: list[tuple[str, str]],
        headers: dict[str, str],
        body: Any,
        timeout: aiohttp.ClientTimeout,
    ) -> aiohttp.ClientResponse:
        response: aiohttp.ClientResponse = await self.api.call_api(
            path,
            method,
            query_params=query,
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
            _preload_content=False,
            _request_timeout=timeout,
        )
        return response


def kube_objects(api: client.ApiClient) -> KubeObjects:
    """`KubeObjects` over the tests' kubernetes_asyncio client."""
    return KubeObjects(ApiClientTransport(api))
