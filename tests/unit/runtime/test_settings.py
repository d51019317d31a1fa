"""Runtime settings: flags, environment fallback, validation, and the documented table."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from sriov_operator.errors import BadInputError
from sriov_operator.runtime.settings import (
    RuntimeSettings,
    add_runtime_arguments,
    env_variable,
    runtime_settings_from,
)
from tests.support import settings_rows


def parse(argv: list[str], environ: dict[str, str] | None = None) -> RuntimeSettings:
    parser = argparse.ArgumentParser(prog="test")
    add_runtime_arguments(parser, default_lease_name="test-lease", environ=environ or {})
    return runtime_settings_from(parser.parse_args(argv))


def test_defaults() -> None:
    settings = parse([])
    assert settings.kubeconfig is None
    assert settings.namespace == "sriov-network-operator"
    assert (settings.health_port, settings.log_format, settings.log_level) == (8081, "text", "INFO")
    assert settings.leader_elect is False
    assert settings.lease_name == "test-lease"
    assert (settings.lease_duration, settings.renew_deadline, settings.retry_period) == (15.0, 10.0, 2.0)
    assert re.fullmatch(r".+_\d+", settings.identity)


def test_environment_is_the_default_and_a_flag_wins() -> None:
    environ = {
        "SRIOV_OPERATOR_NAMESPACE": "from-env",
        "SRIOV_OPERATOR_LEADER_ELECT": "true",
        "SRIOV_OPERATOR_HEALTH_PORT": "9000",
        "SRIOV_OPERATOR_KUBECONFIG": "/etc/kube/config",
    }
    settings = parse([], environ)
    assert (settings.namespace, settings.leader_elect, settings.health_port) == ("from-env", True, 9000)
    assert settings.kubeconfig == Path("/etc/kube/config")
    overridden = parse(["--namespace=from-flag", "--leader-elect=false", "--health-port=-1"], environ)
    assert (overridden.namespace, overridden.leader_elect, overridden.health_port) == ("from-flag", False, -1)
    assert parse(["--leader-elect"]).leader_elect is True


@pytest.mark.parametrize(
    ("argv", "environ", "message"),
    [
        (["--log-format=xml"], {}, "argument --log-format: invalid choice: 'xml'"),
        ([], {"SRIOV_OPERATOR_HEALTH_PORT": "eighty"}, "argument --health-port: invalid int value: 'eighty'"),
        ([], {"SRIOV_OPERATOR_LEADER_ELECT": "maybe"}, "'maybe' is not a boolean (accepted: true, false)"),
    ],
)
def test_a_bad_flag_or_variable_fails_parsing_naming_the_flag(
    argv: list[str], environ: dict[str, str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse(argv, environ)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--renew-deadline=20"],
            "--renew-deadline: 20.0 must be greater than --retry-period (2.0) and less",
        ),
        (["--retry-period=0"], "--retry-period: 0.0 must be > 0"),
        (["--health-port=70000"], "--health-port: 70000 is not a port (accepted: -1 to 65535)"),
        (["--namespace="], "--namespace: must not be empty"),
    ],
)
def test_inconsistent_values_are_bad_input(argv: list[str], message: str) -> None:
    with pytest.raises(BadInputError, match=re.escape(message)):
        parse(argv)


def test_every_flag_and_variable_is_documented_with_its_default() -> None:
    parser = argparse.ArgumentParser(prog="test")
    add_runtime_arguments(parser, default_lease_name="(per process)", environ={})
    rows = settings_rows("Every process")
    flags = [a for a in parser._actions if a.option_strings and a.dest != "help"]
    assert sorted(rows) == sorted(a.option_strings[0] for a in flags)
    for action in flags:
        flag = action.option_strings[0]
        assert rows[flag][1] == f"`{env_variable(flag)}`", flag
        default = "" if action.default in (None, "") else str(action.default)
        assert default in rows[flag][2], f"{flag}: default {default!r} not in {rows[flag][2]!r}"
