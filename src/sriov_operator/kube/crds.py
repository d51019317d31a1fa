"""Install CustomResourceDefinitions and wait until the API server serves them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

from sriov_operator.api.constants import FIELD_MANAGER
from sriov_operator.kube.objects import KubeObjects
from sriov_operator.kube.resources import CUSTOM_RESOURCE_DEFINITIONS


def _established(crd: Mapping[str, Any] | None) -> bool:
    conditions = ((crd or {}).get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)


async def install_crds(objects: KubeObjects, crds: list[dict[str, Any]], timeout: float = 60.0) -> None:
    """Server-side apply every CRD (idempotent, upgrades in place), then wait for Established."""
    for crd in crds:
        await objects.apply(CUSTOM_RESOURCE_DEFINITIONS, crd, FIELD_MANAGER, force=True)
    deadline = time.monotonic() + timeout
    pending = [crd["metadata"]["name"] for crd in crds]
    while pending:
        pending = [
            name for name in pending if not _established(await objects.get(CUSTOM_RESOURCE_DEFINITIONS, name))
        ]
        if pending and time.monotonic() > deadline:
            raise TimeoutError(f"CRDs not Established after {timeout:.0f}s: {', '.join(pending)}")
        if pending:
            await asyncio.sleep(0.1)
