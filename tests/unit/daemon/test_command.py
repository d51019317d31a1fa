"""`sriov-operator daemon` flags: environment fallbacks and one-line refusals (exit 2)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from sriov_operator.cli import main
from sriov_operator.commands.daemon import add_daemon_arguments, daemon_settings_from


def _settings(argv: list[str], environ: dict[str, str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_daemon_arguments(parser, environ or {})
    return parser.parse_args(argv)


def test_node_name_and_interval_from_the_environment() -> None:
    args = _settings([], {"SRIOV_OPERATOR_NODE_NAME": "worker-0", "SRIOV_OPERATOR_REDISCOVER_INTERVAL": "10"})
    settings = daemon_settings_from(args)
    assert (settings.node_name, settings.rediscover_seconds) == ("worker-0", 10.0)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "sriov-operator daemon: --node-name: required"),
        (
            ["--node-name", "w", "--rediscover-interval", "0"],
            "sriov-operator daemon: --rediscover-interval: 0.0 must be > 0",
        ),
        (
            ["--node-name", "w", "--leader-elect"],
            "sriov-operator daemon: --leader-elect: not accepted by the daemon",
        ),
        (
            ["--node-name", "w", "--host-root", "/nonexistent-root"],
            "sriov-operator daemon: --host-root /nonexistent-root: no such directory",
        ),
    ],
)
def test_bad_flags_exit_2_with_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["daemon", *argv]) == 2
    error = capsys.readouterr().err
    assert error.startswith(message) and error.count("\n") == 1
