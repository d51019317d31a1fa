"""``sriov-operator webhook`` refuses bad settings with exit 2 and one line naming the flag."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sriov_operator.errors import BadInputError
from sriov_operator.webhook.connections import ConnectionLimits
from sriov_operator.webhook.settings import add_webhook_arguments, webhook_settings_from

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


@pytest.mark.parametrize(
    ("flag", "value", "words"),
    [
        ("--max-connections", "0", "--max-connections: 0 is too small (accepted: 1 or more)"),
        ("--header-timeout", "0", "--header-timeout: 0.0 must be > 0 (seconds)"),
        ("--body-timeout", "-1", "--body-timeout: -1.0 must be > 0 (seconds)"),
        ("--idle-timeout", "0", "--idle-timeout: 0.0 must be > 0 (seconds)"),
        ("--review-timeout", "0", "--review-timeout: 0.0 must be > 0 (seconds)"),
    ],
)
def test_connection_limits_must_be_positive(flag: str, value: str, words: str) -> None:
    parser = argparse.ArgumentParser()
    add_webhook_arguments(parser, environ={})
    args = parser.parse_args(["--tls-cert", "c", "--tls-key", "k", flag, value])
    with pytest.raises(BadInputError, match=re.escape(words)):
        webhook_settings_from(args)


def test_connection_flags_reach_the_server_settings() -> None:
    parser = argparse.ArgumentParser()
    add_webhook_arguments(parser, environ={"SRIOV_OPERATOR_IDLE_TIMEOUT": "12"})
    flags = [
        "--max-connections",
        "40",
        "--header-timeout",
        "2",
        "--body-timeout",
        "3",
        "--review-timeout",
        "7",
    ]
    args = parser.parse_args(["--tls-cert", "c", "--tls-key", "k", *flags])
    server = webhook_settings_from(args).server
    assert server.limits == ConnectionLimits(40, 2.0, 3.0, 12.0)
    assert server.review_timeout == 7.0
