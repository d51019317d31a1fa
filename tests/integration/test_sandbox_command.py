"""`sriov-operator sandbox`: the whole system on one machine, as a user runs it (its own control plane).

Each test runs the command as a subprocess, non-interactively, and checks what a
user sees: its output, the cluster through the kubeconfig it wrote (with
kubectl), the simulated hosts, and that no process outlives it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sriov_operator.host.pci import read_pci_function
from sriov_operator.host.root import HostRoot
from sriov_operator.sandbox.hosts import DPDK_PORT, OFFLOAD_PORT

SANDBOX = [sys.executable, "-m", "sriov_operator.cli", "sandbox"]
KUBECTL = "/usr/bin/kubectl"
START_SECONDS = 300  # a loaded 2-core machine; the sandbox itself gives up after --timeout
ENV = dict(os.environ, PYTHONUNBUFFERED="1")


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (children of children included), from /proc."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        current = todo.pop()
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                children = {int(c) for c in (task / "children").read_text().split()}
            except OSError:
                continue
            todo.extend(children - found)
            found |= children
    return found


def alive(pids: set[int]) -> set[int]:
    """Those of ``pids`` still running (zombies reaped by nobody count as gone)."""
    running = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            running.add(pid)
    return running


def port_is_closed(url: str) -> bool:
    match = re.search(r":(\d+)$", url)
    assert match, url
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", int(match.group(1)))) != 0


def kubectl(kubeconfig: Path, *args: str) -> str:
    result = subprocess.run(
        [KUBECTL, "--kubeconfig", str(kubeconfig), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@contextmanager
def running_sandbox(*args: str) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    """The sandbox started with ``args``, once it printed "press Ctrl-C" (its output so far)."""
    process = subprocess.Popen(
        [*SANDBOX, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENV
    )
    assert process.stdout is not None
    lines: list[str] = []
    try:
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            lines.append(line)
            if "press Ctrl-C" in line or not line:
                break
        assert "press Ctrl-C" in lines[-1], "".join(lines)
        yield process, lines
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_until_synced_brings_two_vms_to_succeeded_with_the_examples(tmp_path: Path) -> None:
    kubeconfig, workdir = tmp_path / "kubeconfig", tmp_path / "sandbox"
    flags = ["--workers", "2", "--apply-examples", "--until-synced", "--timeout", "240"]
    result = subprocess.run(
        [*SANDBOX, *flags, "--kubeconfig", str(kubeconfig), "--workdir", str(workdir)],
        capture_output=True,
        text=True,
        timeout=START_SECONDS,
        check=False,
        env=ENV,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert re.search(r"^NODE +SYNC +DEVICES +DRIVERS +RESOURCES$", out, re.MULTILINE), out
    for worker in ("worker-0", "worker-1"):
        assert re.search(rf"^{worker} +Succeeded .*vfio-pci.* dpdk1=1 hwoffload1=1$", out, re.MULTILINE), out
    assert "all 2 NodeStates Succeeded" in out
    assert "the webhook injected requests/limits openshift.io/dpdk1: 1, openshift.io/hwoffload1: 1" in out
    assert "metadata service http://127.0.0.1:" in out and "config drive" in out  # one VM each
    assert f"kubectl --kubeconfig {kubeconfig} get sriovnetworknodestates -A" in out
    for worker in ("worker-0", "worker-1"):
        root = HostRoot(workdir / "hosts" / worker)
        assert read_pci_function(root, DPDK_PORT).driver == "vfio-pci"
        assert read_pci_function(root, OFFLOAD_PORT).driver == "mlx5_core"
        assert (workdir / "logs" / f"daemon-{worker}.log").stat().st_size > 0
    url = re.search(r"kube-apiserver v1\.\d+\.\d+ at (https://127\.0\.0\.1:\d+)", out)
    assert url, out
    assert port_is_closed(url.group(1)), "the API server still listens after the sandbox exited"


def test_kubectl_sees_the_running_sandbox_and_sigterm_leaves_no_process(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    with running_sandbox("--workers", "1", "--apply-examples", "--kubeconfig", str(kubeconfig)) as (
        process,
        _,
    ):
        states = json.loads(kubectl(kubeconfig, "get", "sriovnetworknodestates", "-A", "-o", "json"))
        assert [(s["metadata"]["name"], s["status"]["syncStatus"]) for s in states["items"]] == [
            ("worker-0", "Succeeded")
        ]
        table = kubectl(kubeconfig, "get", "sriovnetworknodestates", "-A")
        assert re.search(r"worker-0 +Succeeded", table), table
        pod = json.loads(kubectl(kubeconfig, "get", "pod", "dpdk-app", "-n", "default", "-o", "json"))
        limits = pod["spec"]["containers"][0]["resources"]["limits"]
        assert limits == {"openshift.io/dpdk1": "1", "openshift.io/hwoffload1": "1"}
        node = json.loads(kubectl(kubeconfig, "get", "node", "worker-0", "-o", "json"))
        assert node["spec"]["providerID"].startswith("openstack:///")
        assert node["status"]["allocatable"]["openshift.io/dpdk1"] == "1"
        children = descendants(process.pid)
        assert len(children) >= 5, children  # etcd, kube-apiserver, operator, webhook, a daemon
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=120) == 0
        assert alive(children) == set(), "processes outlived the sandbox"


def test_a_child_that_dies_stops_the_sandbox_with_the_reason(tmp_path: Path) -> None:
    with running_sandbox("--workers", "1", "--kubeconfig", str(tmp_path / "kc")) as (process, _):
        operator = next(
            pid
            for pid in descendants(process.pid)
            if b"\x00operator\x00" in Path(f"/proc/{pid}/cmdline").read_bytes()
        )
        children = descendants(process.pid)
        os.kill(operator, signal.SIGKILL)
        assert process.wait(timeout=120) == 1
        assert process.stdout is not None
        rest = process.stdout.read()
        assert re.search(
            r"sriov-operator sandbox: operator exited with code -9 \(log: \S+operator\.log\)", rest
        ), rest
        assert alive(children) == set(), "processes outlived the sandbox"


def test_until_synced_fails_with_the_reason_after_the_timeout(tmp_path: Path) -> None:
    result = subprocess.run(
        [*SANDBOX, "--until-synced", "--timeout", "1", "--kubeconfig", str(tmp_path / "kc")],
        capture_output=True,
        text=True,
        timeout=START_SECONDS,
        check=False,
        env=ENV,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert re.search(
        r"^sriov-operator sandbox: timed out after 1s waiting for .+$", result.stderr, re.MULTILINE
    ), result.stderr


def test_bad_input_is_one_line_naming_the_flag(tmp_path: Path) -> None:
    for args, message in (
        (["--workers", "0"], "sriov-operator sandbox: --workers: 0 is not accepted (1 to 50)"),
        (
            ["--platform", "aws"],
            "sriov-operator sandbox: --platform: 'aws' is not accepted (openstack or baremetal)",
        ),
        (["--timeout", "0"], "sriov-operator sandbox: --timeout: 0.0 is not accepted (seconds > 0)"),
    ):
        result = subprocess.run([*SANDBOX, *args], capture_output=True, text=True, timeout=60, check=False)
        assert (result.returncode, result.stderr.strip()) == (2, message)
