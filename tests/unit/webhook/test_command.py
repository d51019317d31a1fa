"""``sriov-operator webhook`` refuses bad settings with exit 2 and one line naming the flag."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

COMMAND = [sys.executable, "-m", "sriov_operator.cli", "webhook"]


def test_missing_or_unreadable_certificates_exit_2_with_one_line(tmp_path: Path) -> None:
    missing = subprocess.run(
        [*COMMAND, "--namespace", "x"], check=False, capture_output=True, text=True, timeout=60
    )
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == [
        "sriov-operator webhook: --tls-cert and --tls-key: both are required (PEM files, e.g. the mounted "
        "sriov-operator-webhook-cert Secret's tls.crt and tls.key)"
    ]
    absent = tmp_path / "absent.crt"
    unreadable = subprocess.run(
        [*COMMAND, "--tls-cert", str(absent), "--tls-key", str(absent), "--kubeconfig", str(absent)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert unreadable.returncode == 2
    assert f"--tls-cert {absent} / --tls-key {absent}: cannot load a certificate" in unreadable.stderr
