"""The control plane under the tests is a real, secured kube-apiserver."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from sriov_operator.controlplane.binaries import KUBERNETES_VERSION
from sriov_operator.controlplane.process import ControlPlane, process_alive


def test_apiserver_reports_its_version(control_plane: ControlPlane) -> None:
    info = control_plane.get_json("/version")
    assert control_plane.binaries is not None
    if control_plane.binaries.source != "KUBEBUILDER_ASSETS":
        assert info["gitVersion"] == KUBERNETES_VERSION
    assert info["major"] == "1"


def test_requests_without_a_client_certificate_are_not_authorized(control_plane: ControlPlane) -> None:
    context = ssl.create_default_context(cafile=str(control_plane.pki.ca.cert))
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(f"{control_plane.api_url}/api/v1/namespaces", context=context, timeout=5)
    assert raised.value.code in (401, 403)


def test_rbac_is_the_authorizer(control_plane: ControlPlane) -> None:
    roles = control_plane.get_json("/apis/rbac.authorization.k8s.io/v1/clusterroles/cluster-admin")
    assert roles["metadata"]["name"] == "cluster-admin"


def test_stop_ends_every_process_and_removes_the_workdir() -> None:
    plane = ControlPlane().start()
    pids, workdir = plane.pids(), plane.workdir
    assert len(pids) == 4 and all(process_alive(pid) for pid in pids)
    assert (workdir / "kubeconfig").is_file()
    plane.stop()
    assert not any(process_alive(pid) for pid in pids)
    assert not workdir.exists()


def test_a_killed_owner_takes_every_control_plane_process_with_it(tmp_path: Path) -> None:
    script = (
        "import sys, time\n"
        "from sriov_operator.controlplane.process import ControlPlane\n"
        "plane = ControlPlane().start()\n"
        "print(plane.workdir, *plane.pids(), flush=True)\n"
        "time.sleep(600)\n"
    )
    owner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert owner.stdout is not None
    workdir, *pids = owner.stdout.readline().split()
    try:
        assert len(pids) == 4 and all(process_alive(int(pid)) for pid in pids)
        owner.kill()  # SIGKILL: no cleanup code runs in the owner
        owner.wait(timeout=10)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(process_alive(int(pid)) for pid in pids):
            time.sleep(0.1)
        assert not any(process_alive(int(pid)) for pid in pids), "orphaned control-plane processes"
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
