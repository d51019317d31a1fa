"""``sriov-operator webhook`` as a process: it serves once its caches synced, and SIGTERM ends it cleanly."""

from __future__ import annotations

import json
import signal
import ssl
import urllib.request
import uuid
from pathlib import Path

import pytest
from kubernetes_asyncio import client

from sriov_operator.controlplane.process import ControlPlane
from tests.integration.webhook_support import start_webhook_process

pytestmark = pytest.mark.integration


async def test_the_command_serves_admission_and_stops_on_sigterm(
    kube: client.ApiClient, control_plane: ControlPlane, tmp_path: Path
) -> None:
    namespace = f"sriov-cmd-{uuid.uuid4().hex[:6]}"
    await client.CoreV1Api(kube).create_namespace({"metadata": {"name": namespace}})
    webhook = start_webhook_process(control_plane, namespace, tmp_path)
    process, port = webhook.process, webhook.port
    try:
        review = {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": {
                "uid": "u1",
                "kind": {"kind": "SriovNetworkNodePolicy"},
                "operation": "CREATE",
                "namespace": namespace,
                "object": {
                    "apiVersion": "sriovnetwork.openshift.io/v1",
                    "kind": "SriovNetworkNodePolicy",
                    "metadata": {"name": "p"},
                    "spec": {"resourceName": "p", "nodeSelector": {}, "numVfs": 1, "nicSelector": {}},
                },
            },
        }
        context = ssl.create_default_context(cadata=webhook.ca_bundle.decode())
        request = urllib.request.Request(
            f"https://127.0.0.1:{port}/validating-custom-resource",
            data=json.dumps(review).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, context=context, timeout=10) as answer:
            response = json.loads(answer.read())["response"]
        assert response["allowed"] is False
        assert response["status"]["message"].startswith(
            f"SriovNetworkNodePolicy/{namespace}/p: spec.nicSelector: selects nothing"
        )
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
    assert code == 0
