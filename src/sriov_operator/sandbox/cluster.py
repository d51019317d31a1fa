"""Bring up the sandbox cluster: control plane, CRDs, operator namespace, example objects."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from kubernetes_asyncio import client

from sriov_operator.api import constants
from sriov_operator.api.crds import all_crds
from sriov_operator.api.models import KIND_BY_NAME
from sriov_operator.api.multus import NETWORK_ATTACHMENT_DEFINITION_CRD
from sriov_operator.controlplane.process import ControlPlane
from sriov_operator.kube.client import APPLY_PATCH, api_client
from sriov_operator.kube.crds import install_crds
from sriov_operator.manifests import Document, load_text


def example_documents() -> tuple[list[Document], list[str]]:
    """The seed article's two policies, shipped verbatim (tabs and all) with the package."""
    text = resources.files("sriov_operator.sandbox").joinpath("examples/seed-policies.yaml").read_text()
    loaded = load_text(text, "examples/seed-policies.yaml")
    return loaded.documents, loaded.warnings


@dataclass
class SandboxReport:
    api_url: str
    version: str
    kubeconfig: Path
    startup_seconds: float
    applied: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


async def _ensure_namespace(api: client.ApiClient, name: str) -> None:
    try:
        await client.CoreV1Api(api).create_namespace({"metadata": {"name": name}})
    except client.ApiException as error:
        if error.status != 409:
            raise


async def _apply(api: client.ApiClient, body: dict[str, Any], namespace: str) -> str:
    kind = KIND_BY_NAME[body["kind"]]
    name = body["metadata"]["name"]
    await client.CustomObjectsApi(api).patch_namespaced_custom_object(
        constants.GROUP,
        constants.VERSION,
        namespace,
        kind.PLURAL,
        name,
        body,
        field_manager=constants.FIELD_MANAGER,
        force=True,
        _content_type=APPLY_PATCH,
    )
    return f"{kind.KIND}/{namespace}/{name}"


async def populate(plane: ControlPlane, namespace: str, with_examples: bool) -> tuple[list[str], list[str]]:
    """Install the CRDs, create the operator namespace and (optionally) apply the examples."""
    applied: list[str] = []
    warnings: list[str] = []
    async with api_client(plane.kubeconfig) as api:
        await install_crds(api, [*all_crds(), NETWORK_ATTACHMENT_DEFINITION_CRD])
        await _ensure_namespace(api, namespace)
        if with_examples:
            documents, warnings = example_documents()
            for document in documents:
                body = dict(document.body, metadata={**document.body["metadata"], "namespace": namespace})
                applied.append(await _apply(api, body, namespace))
    return applied, warnings


def publish_kubeconfig(plane: ControlPlane, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(plane.kubeconfig, target)
    target.chmod(0o600)
    return target
