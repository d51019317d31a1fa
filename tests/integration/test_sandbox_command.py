"""`sriov-operator sandbox` starts a usable cluster and cleans up after itself."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import yaml

SANDBOX = [sys.executable, "-m", "sriov_operator.cli", "sandbox"]


def _port_is_closed(url: str) -> bool:
    match = re.search(r":(\d+)$", url)
    assert match, url
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", int(match.group(1)))) != 0


def test_sandbox_once_reports_a_ready_cluster_with_the_seed_policies(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    result = subprocess.run(
        [*SANDBOX, "--once", "--kubeconfig", str(kubeconfig)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "applied SriovNetworkNodePolicy/sriov-network-operator/dpdk1" in out
    assert "applied SriovNetworkNodePolicy/sriov-network-operator/hwoffload1" in out
    assert "indentation uses tabs" in out
    url = re.search(r"kube-apiserver v1\.\d+\.\d+ at (https://127\.0\.0\.1:\d+)", out)
    assert url, out
    config = yaml.safe_load(kubeconfig.read_text())
    assert config["clusters"][0]["cluster"]["server"] == url.group(1)
    assert _port_is_closed(url.group(1)), "the API server still listens after the sandbox stopped"


def test_sandbox_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [*SANDBOX, "--no-examples", "--kubeconfig", str(tmp_path / "kc")],
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    assert process.stdout is not None
    lines = []
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        lines.append(line)
        if "press Ctrl-C" in line or not line:
            break
    url = re.search(r"at (https://127\.0\.0\.1:\d+)", "".join(lines))
    assert url, lines
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0
    assert _port_is_closed(url.group(1))
