"""``sriov-operator webhook`` as a process: it serves once its caches synced, and SIGTERM ends it cleanly."""

from __future__ import annotations

import datetime
import json
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from kubernetes_asyncio import client

from sriov_operator.controlplane.process import ControlPlane, free_port
from sriov_operator.webhook.certificates import (
    CA_BUNDLE,
    TLS_CERT,
    TLS_KEY,
    CertificateSettings,
    plan_certificates,
)

pytestmark = pytest.mark.integration
COMMAND = [sys.executable, "-m", "sriov_operator.cli", "webhook"]


async def test_the_command_serves_admission_and_stops_on_sigterm(
    kube: client.ApiClient, control_plane: ControlPlane, tmp_path: Path
) -> None:
    namespace = f"sriov-cmd-{uuid.uuid4().hex[:6]}"
    await client.CoreV1Api(kube).create_namespace({"metadata": {"name": namespace}})
    plan = plan_certificates(
        None, None, CertificateSettings(("localhost",), ("127.0.0.1",)), datetime.datetime.now(datetime.UTC)
    )
    assert plan.ca_data is not None and plan.serving_data is not None
    (tmp_path / "tls.crt").write_bytes(plan.serving_data[TLS_CERT])
    (tmp_path / "tls.key").write_bytes(plan.serving_data[TLS_KEY])
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
            f"--tls-cert={tmp_path / 'tls.crt'}",
            f"--tls-key={tmp_path / 'tls.key'}",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{health}/readyz", timeout=2) as ready:
                    if ready.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            assert time.monotonic() < deadline, "never ready"
            time.sleep(0.2)
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
        context = ssl.create_default_context(cadata=plan.ca_data[CA_BUNDLE].decode())
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
