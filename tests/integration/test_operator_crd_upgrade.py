"""The operator upgrades its CRDs when it starts (operator/crd_upgrade.py), as a real process.

The "older" CRD is what a previous version would have applied: SriovNetworkPoolConfig
without ``spec.maxUnavailable``, under the operator's field manager with its digest.
An API server with that CRD prunes the field from objects; once the operator has
started, the field is kept again.
"""

from __future__ import annotations

import copy
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from sriov_operator.api.constants import API_VERSION, FIELD_MANAGER
from sriov_operator.api.crds import all_crds
from sriov_operator.controlplane.process import ControlPlane, free_port
from sriov_operator.kube.objects import KubeObjects
from sriov_operator.kube.resources import CUSTOM_RESOURCE_DEFINITIONS, SRIOV_NETWORK_POOL_CONFIGS
from sriov_operator.operator.crd_upgrade import DIGEST_ANNOTATION, crd_digest, upgrade_crds, with_digest
from tests.integration.conftest import NamespaceFactory
from tests.integration.operator_support import eventually

pytestmark = pytest.mark.integration
POOL_CRD = "sriovnetworkpoolconfigs.sriovnetwork.openshift.io"


def _current() -> dict[str, Any]:
    return next(crd for crd in all_crds() if crd["metadata"]["name"] == POOL_CRD)


def _older() -> dict[str, Any]:
    crd = copy.deepcopy(_current())
    version = crd["spec"]["versions"][0]
    del version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["maxUnavailable"]
    version["additionalPrinterColumns"] = [
        c for c in version["additionalPrinterColumns"] if "maxUnavailable" not in c["jsonPath"]
    ]
    return crd


async def _kept_max_unavailable(objects: KubeObjects, namespace: str) -> bool:
    """Whether the API server keeps spec.maxUnavailable of a new pool config (it prunes unknown fields)."""
    name = f"pool-{uuid.uuid4().hex[:6]}"
    body = {
        "apiVersion": API_VERSION,
        "kind": "SriovNetworkPoolConfig",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"maxUnavailable": 1},
    }
    created = await objects.create(SRIOV_NETWORK_POOL_CONFIGS, body, namespace=namespace)
    await objects.delete(SRIOV_NETWORK_POOL_CONFIGS, name, namespace)
    return "maxUnavailable" in created.get("spec", {})


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _crd_applies(port: int) -> float:
    """The process's own count of server-side applies to CRDs (its /metrics)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    label = f'resource="{CUSTOM_RESOURCE_DEFINITIONS.qualified_name}",verb="apply"'
    samples = [line for line in text.splitlines() if line.startswith("sriov_operator_api_writes_total{")]
    return sum(float(line.rsplit(" ", 1)[1]) for line in samples if label in line)


@contextmanager
def _operator(kubeconfig: Path, namespace: str, log: Path, *flags: str) -> Iterator[int]:
    """`sriov-operator operator` as a process, until its /readyz answers 200 (its caches synced)."""
    port = free_port()
    program = Path(sys.executable).with_name("sriov-operator")
    argv = [
        str(program),
        "operator",
        f"--kubeconfig={kubeconfig}",
        f"--namespace={namespace}",
        f"--health-port={port}",
        "--health-address=127.0.0.1",
        "--leader-elect=false",
        *flags,
    ]
    with log.open("w") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


async def test_an_older_crd_is_upgraded_when_the_operator_starts_and_left_alone_after(
    control_plane: ControlPlane, objects: KubeObjects, make_namespace: NamespaceFactory, tmp_path: Path
) -> None:
    namespace = await make_namespace(None)
    await objects.apply(CUSTOM_RESOURCE_DEFINITIONS, with_digest(_older()), FIELD_MANAGER)
    try:
        await eventually(
            lambda: _pruned(objects, namespace), what="the older CRD in force (maxUnavailable pruned)"
        )

        kubeconfig = control_plane.kubeconfig
        with _operator(kubeconfig, namespace, tmp_path / "off.log", "--apply-crds=false") as port:
            await eventually(lambda: _async(_ready(port)), timeout=60, what="ready with --apply-crds=false")
        assert not await _kept_max_unavailable(objects, namespace), "--apply-crds=false changed the CRD"

        with _operator(kubeconfig, namespace, tmp_path / "on.log") as port:
            await eventually(lambda: _async(_ready(port)), timeout=60, what="the operator ready")
            assert _crd_applies(port) >= 1
        live = await objects.get(CUSTOM_RESOURCE_DEFINITIONS, POOL_CRD)
        assert live is not None
        assert live["metadata"]["annotations"][DIGEST_ANNOTATION] == crd_digest(_current())
        assert await _kept_max_unavailable(objects, namespace), "the operator did not upgrade the CRD"

        with _operator(kubeconfig, namespace, tmp_path / "again.log") as port:
            await eventually(lambda: _async(_ready(port)), timeout=60, what="the operator ready again")
            assert _crd_applies(port) == 0, "the operator applied CRDs that had not changed"
        again = await objects.get(CUSTOM_RESOURCE_DEFINITIONS, POOL_CRD)
        assert again is not None
        assert again["metadata"]["resourceVersion"] == live["metadata"]["resourceVersion"], (
            "an unchanged CRD was written again"
        )
    finally:
        await upgrade_crds(objects, [_current()])


async def _pruned(objects: KubeObjects, namespace: str) -> bool:
    return not await _kept_max_unavailable(objects, namespace)


async def _async(value: bool) -> bool:
    return value
