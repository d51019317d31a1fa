"""`sriov-operator daemon` flags: environment fallbacks and one-line refusals (exit 2)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from sriov_operator.cli import main
from sriov_operator.commands.daemon import add_daemon_arguments, daemon_settings_from
from sriov_operator.commands.host_options import metadata_settings
from sriov_operator.runtime.settings import env_variable
from tests.support import flags_besides_runtime, settings_rows


def _settings(argv: list[str], environ: dict[str, str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_daemon_arguments(parser, environ or {})
    return parser.parse_args(argv)


def test_node_name_and_interval_from_the_environment() -> None:
    args = _settings([], {"SRIOV_OPERATOR_NODE_NAME": "worker-0", "SRIOV_OPERATOR_REDISCOVER_INTERVAL": "10"})
    settings = daemon_settings_from(args)
    assert (settings.node_name, settings.rediscover_seconds) == ("worker-0", 10.0)


def test_metadata_url_from_the_environment_selects_the_service() -> None:
    url = "http://127.0.0.1:8775/openstack-vm"
    settings = metadata_settings(_settings([], {"SRIOV_OPERATOR_METADATA_URL": url}))
    assert (settings.use_service, settings.service.base_url) == (True, url)
    assert metadata_settings(_settings([], {"SRIOV_OPERATOR_METADATA_URL": ""})).use_service is False
    flag_wins = _settings(["--metadata-url", "http://127.0.0.1:1"], {"SRIOV_OPERATOR_METADATA_URL": url})
    assert metadata_settings(flag_wins).service.base_url == "http://127.0.0.1:1"


def test_settings_doc_lists_every_daemon_flag_with_a_variable() -> None:
    flags = flags_besides_runtime(lambda parser: add_daemon_arguments(parser, {}))
    own = [a for a in flags if "[env " in (a.help or "")]
    rows = settings_rows("`sriov-operator daemon`")
    assert sorted(rows) == sorted(a.option_strings[0] for a in own)
    for action in own:
        flag = action.option_strings[0]
        assert rows[flag][1] == f"`{env_variable(flag)}`", flag
        assert rows[flag][2] == ("" if action.default is None else str(action.default)), flag


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
