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

from tests.doc_runner import output_matches
from tests.docs_examples import REPO_ROOT, example

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


def _run_until_ready_then_stop(*options: str) -> str:
    """Start the sandbox, read what it prints until it is ready, stop it with SIGTERM (it must exit 0)."""
    process = subprocess.Popen(
        [*SANDBOX, *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    assert process.stdout is not None
    lines = []
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and (line := process.stdout.readline()):
        lines.append(line)
        if "press Ctrl-C" in line:
            break
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0
    return "".join(lines)


def test_sandbox_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    printed = _run_until_ready_then_stop("--no-examples", "--kubeconfig", str(tmp_path / "kc"))
    url = re.search(r"at (https://127\.0\.0\.1:\d+)", printed)
    assert url, printed
    assert _port_is_closed(url.group(1))


def test_the_readme_sandbox_session_is_what_the_sandbox_prints(tmp_path: Path) -> None:
    """The README's session, with what varies between runs (timing, port, version, paths) left open."""
    [(command, shown)] = example("sandbox-session").transcript()
    assert command == "scripts/sandbox" and os.access(REPO_ROOT / command, os.X_OK)
    kubeconfig = tmp_path / "kubeconfig"
    variable = {
        r"ready in \d+(\.\d+)?s": "ready in …s",
        r"kube-apiserver v[\d.]+ at https://127\.0\.0\.1:\d+": "kube-apiserver v… at https://127.0.0.1:…",
        r"/\S+/sandbox/kubeconfig": str(kubeconfig),
        r"examples/seed-policies.yaml": "…examples/seed-policies.yaml",
    }
    for pattern, replacement in variable.items():
        shown = re.sub(pattern, replacement, shown)
    printed = _run_until_ready_then_stop("--kubeconfig", str(kubeconfig))
    assert output_matches(shown, printed), f"printed:\n{printed}\ndocumented:\n{shown}"
