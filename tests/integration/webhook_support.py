"""Helpers for the webhook's integration tests: the webhook process, namespaces and object builders."""

from __future__ import annotations

import datetime
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes_asyncio import client

from sriov_operator.api import constants
from sriov_operator.controlplane.process import ControlPlane, free_port
from sriov_operator.webhook.certificates import (
    CA_BUNDLE,
    TLS_CERT,
    TLS_KEY,
    CertificateSettings,
    plan_certificates,
)

COMMAND = [sys.executable, "-m", "sriov_operator.cli", "webhook"]


@dataclass
class WebhookProcess:
    process: subprocess.Popen[str]
    port: int
    ca_bundle: bytes

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"


def start_webhook_process(
    control_plane: ControlPlane, namespace: str, directory: Path, *flags: str
) -> WebhookProcess:
    """``sriov-operator webhook`` on 127.0.0.1 with a fresh certificate; returns once /readyz answers 200."""
    plan = plan_certificates(
        None, None, CertificateSettings(("localhost",), ("127.0.0.1",)), datetime.datetime.now(datetime.UTC)
    )
    assert plan.ca_data is not None and plan.serving_data is not None
    (directory / "tls.crt").write_bytes(plan.serving_data[TLS_CERT])
    (directory / "tls.key").write_bytes(plan.serving_data[TLS_KEY])
    port, health = free_port(), free_port()
    process = subprocess.Popen(
        [
            *COMMAND,
            f"--kubeconfig={control_plane.kubeconfig}",
            f"--namespace={namespace}",
            f"--port={port}",
            "--address=127.0.0.1",
            f"--health-port={health}",
            "--health-address=127.0.0.1",
            f"--tls-cert={directory / 'tls.crt'}",
            f"--tls-key={directory / 'tls.key'}",
            *flags,
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise AssertionError(process.stderr.read() if process.stderr else "webhook ended")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{health}/readyz", timeout=2) as ready:
                if ready.status == 200:
                    return WebhookProcess(process, port, plan.ca_data[CA_BUNDLE])
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError("the webhook never became ready")
        time.sleep(0.2)


async def namespace_with_operator_config(
    kube: client.ApiClient, prefix: str, spec: dict[str, Any], annotations: dict[str, str] | None = None
) -> str:
    """A new namespace ``<prefix>-<6 hex digits>`` holding the ``default`` SriovOperatorConfig; its name."""
    namespace = f"{prefix}-{uuid.uuid4().hex[:6]}"
    await client.CoreV1Api(kube).create_namespace({"metadata": {"name": namespace}})
    metadata: dict[str, Any] = {"name": "default", "namespace": namespace}
    if annotations:
        metadata["annotations"] = annotations
    config = {"apiVersion": constants.API_VERSION, "kind": "SriovOperatorConfig", "metadata": metadata}
    await client.CustomObjectsApi(kube).create_namespaced_custom_object(
        constants.GROUP, constants.VERSION, namespace, "sriovoperatorconfigs", {**config, "spec": spec}
    )
    return namespace


def policy_body(name: str, namespace: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "sriovnetwork.openshift.io/v1",
        "kind": "SriovNetworkNodePolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "resourceName": spec.pop("resourceName", name),
            "nodeSelector": spec.pop("nodeSelector", {"sriov": "true"}),
            "numVfs": spec.pop("numVfs", 8),
            "nicSelector": spec.pop("nicSelector", {"pfNames": ["ens1f0"]}),
            **spec,
        },
    }


def node_body(name: str, labels: dict[str, str]) -> dict[str, Any]:
    worker = {"node-role.kubernetes.io/worker": "", "kubernetes.io/os": "linux"}
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {**worker, **labels}}}


def node_state_body(name: str, namespace: str) -> dict[str, Any]:
    """A NodeState whose status (as the config daemon reports it) has one Intel PF with 16 VFs at most."""
    interface = {
        "name": "ens1f0",
        "pciAddress": "0000:3b:00.0",
        "vendor": "8086",
        "deviceID": "158b",
        "totalvfs": 16,
        "numVfs": 0,
        "mtu": 1500,
        "linkType": "ETH",
    }
    return {
        "apiVersion": "sriovnetwork.openshift.io/v1",
        "kind": "SriovNetworkNodeState",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {},
        "status": {"interfaces": [interface]},
    }
