"""The operator applies its own CRDs at start, so upgrading the operator upgrades them.

Helm installs a chart's ``crds/`` once and never upgrades them; ``kubectl apply -k``
would, but only when the user re-applies. The operator knows exactly which schema
its code expects, so it server-side applies its CRDs (field manager
``sriov-fdp-operator``) before any controller starts. Each applied CRD carries the
digest of what was applied in an annotation: a CRD whose digest matches is left
alone, so a restart (or a standby replica) writes nothing. ``--apply-crds=false``
turns this off for clusters where CRDs are managed by someone else (docs/install.md).
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
from collections.abc import Sequence

from sriov_operator.api.constants import FIELD_MANAGER
from sriov_operator.errors import TransientError
from sriov_operator.kube.objects import KubeObjects, Object
from sriov_operator.kube.resources import CUSTOM_RESOURCE_DEFINITIONS
from sriov_operator.runtime.backoff import backoff_delay
from sriov_operator.runtime.clock import SYSTEM_CLOCK, Clock

logger = logging.getLogger(__name__)

DIGEST_ANNOTATION = "sriovnetwork.openshift.io/crd-digest"
ESTABLISHED_TIMEOUT = 60.0  # seconds a freshly applied CRD may take to be served


def crd_digest(crd: Object) -> str:
    """sha256 of the CRD as we would apply it (without the digest annotation itself)."""
    body = copy.deepcopy(crd)
    annotations = body["metadata"].pop("annotations", None) or {}
    annotations.pop(DIGEST_ANNOTATION, None)
    if annotations:
        body["metadata"]["annotations"] = annotations
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def with_digest(crd: Object) -> Object:
    body = copy.deepcopy(crd)
    body["metadata"].setdefault("annotations", {})[DIGEST_ANNOTATION] = crd_digest(crd)
    return body


def needs_apply(desired: Object, live: Object | None) -> bool:
    """Whether the live CRD differs from ours: missing, or applied from another rendering."""
    if live is None:
        return True
    annotations = live.get("metadata", {}).get("annotations") or {}
    return bool(annotations.get(DIGEST_ANNOTATION) != crd_digest(desired))


def established(crd: Object) -> bool:
    conditions = crd.get("status", {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)


async def _apply_changed(objects: KubeObjects, crds: Sequence[Object]) -> list[str]:
    applied = []
    for crd in crds:
        name = crd["metadata"]["name"]
        if needs_apply(crd, await objects.get(CUSTOM_RESOURCE_DEFINITIONS, name)):
            await objects.apply(CUSTOM_RESOURCE_DEFINITIONS, with_digest(crd), FIELD_MANAGER)
            applied.append(name)
    return applied


async def _wait_established(objects: KubeObjects, names: list[str], clock: Clock) -> None:
    deadline = clock.monotonic() + ESTABLISHED_TIMEOUT
    pending = list(names)
    while pending:
        pending = [
            name
            for name in pending
            if not established(await objects.get(CUSTOM_RESOURCE_DEFINITIONS, name) or {})
        ]
        if pending and clock.monotonic() > deadline:
            raise TransientError(
                f"CRDs not Established after {ESTABLISHED_TIMEOUT:.0f}s: {', '.join(pending)}"
            )
        if pending:
            await clock.sleep(0.2)


async def upgrade_crds(
    objects: KubeObjects, crds: Sequence[Object], clock: Clock = SYSTEM_CLOCK
) -> list[str]:
    """Apply every CRD that differs from ours and wait until it is served; returns their names.

    A transient failure (API server unavailable, a conflict) is retried with capped
    backoff rather than exiting: the process must not crash-loop while the API
    server restarts. A refusal (RBAC) is not transient and stops the start.
    """
    failures = 0
    while True:
        try:
            applied = await _apply_changed(objects, crds)
            await _wait_established(objects, applied, clock)
        except TransientError as error:
            failures += 1
            delay = backoff_delay(failures, base=1.0, cap=30.0, jitter=0.2)
            logger.warning("applying the CRDs failed, retrying in %.1fs: %s", delay, error)
            await clock.sleep(delay)
            continue
        if applied:
            logger.info("applied CRDs that differed from this version's: %s", ", ".join(applied))
        return applied
