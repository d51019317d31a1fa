"""Install CustomResourceDefinitions and wait until the API server serves them."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from kubernetes_asyncio import client

from sriov_operator.api.constants import FIELD_MANAGER
from sriov_operator.kube.client import APPLY_PATCH


def _established(crd: Any) -> bool:
    conditions = (crd.status.conditions if crd.status else None) or []
    return any(c.type == "Established" and c.status == "True" for c in conditions)


async def install_crds(api: client.ApiClient, crds: list[dict[str, Any]], timeout: float = 60.0) -> None:
    """Server-side apply every CRD (idempotent, upgrades in place), then wait for Established."""
    extensions = client.ApiextensionsV1Api(api)
    for crd in crds:
        await extensions.patch_custom_resource_definition(
            crd["metadata"]["name"], crd, field_manager=FIELD_MANAGER, force=True, _content_type=APPLY_PATCH
        )
    deadline = time.monotonic() + timeout
    pending = [crd["metadata"]["name"] for crd in crds]
    while pending:
        pending = [
            name
            for name in pending
            if not _established(await extensions.read_custom_resource_definition(name))
        ]
        if pending and time.monotonic() > deadline:
            raise TimeoutError(f"CRDs not Established after {timeout:.0f}s: {', '.join(pending)}")
        if pending:
            await asyncio.sleep(0.1)
