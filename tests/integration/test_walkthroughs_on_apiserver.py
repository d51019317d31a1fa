"""The walkthroughs' `kubectl apply` steps, with the real kubectl, on the real API server."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import pytest
from kubernetes_asyncio import client

from sriov_operator.controlplane.process import ControlPlane
from tests.doc_runner import run_console, run_sh
from tests.docs_examples import example
from tests.integration.conftest import NamespaceFactory

NAMESPACE = "openshift-sriov-network-operator"
APPLIES = {
    "dpdk": (
        [example("dpdk-policy"), example("dpdk-worker"), example("dpdk-network")],
        example("dpdk-cluster-apply"),
        ("dpdk1", "openstack/NetworkID:55a54d05-9ec1-4051-8adb-1b5a7be4f1b6", "dpdk-net"),
    ),
    "ovs-offload": (
        [example("offload-policy")],
        example("offload-cluster-apply"),
        ("hwoffload1", "openstack/NetworkID:c0ffee00-1234-4abc-9def-0123456789ab", "offload-net"),
    ),
}


def _get(kubeconfig: Path, *args: str) -> dict[str, object]:
    done = subprocess.run(
        ["kubectl", "--kubeconfig", str(kubeconfig), "get", "-n", NAMESPACE, "-o", "json", *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


@pytest.mark.parametrize("walkthrough", sorted(APPLIES))
async def test_the_documented_objects_apply_and_read_back(
    kube: client.ApiClient,
    control_plane: ControlPlane,
    make_namespace: NamespaceFactory,
    tmp_path: Path,
    walkthrough: str,
) -> None:
    sessions, apply, (policy, net_filter, network) = APPLIES[walkthrough]
    await make_namespace(NAMESPACE)
    for session in sessions:  # they write the files the apply step names
        await asyncio.to_thread(run_console, session, tmp_path)
    env = {"KUBECONFIG": str(control_plane.kubeconfig), "KUBECACHEDIR": str(tmp_path / "kubectl-cache")}
    printed = await asyncio.to_thread(run_sh, apply, tmp_path, env)
    assert printed == [
        f"sriovnetworknodepolicy.sriovnetwork.openshift.io/{policy} created\n"
        f"sriovnetwork.sriovnetwork.openshift.io/{network} created\n"
    ]
    stored = _get(control_plane.kubeconfig, "sriovnetworknodepolicy", policy)
    assert stored["spec"]["nicSelector"] == {"netFilter": net_filter}  # type: ignore[index]
    assert _get(control_plane.kubeconfig, "sriovnetwork", network)["spec"]["networkNamespace"] == "apps"  # type: ignore[index]
