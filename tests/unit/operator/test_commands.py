"""The ``operator`` command's settings and the offline ``diff`` command."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import yaml

from sriov_operator.cli import main
from sriov_operator.commands.operator import add_operator_arguments, operator_settings_from
from sriov_operator.errors import EXIT_BAD_INPUT, EXIT_CHANGES, EXIT_FAILURE, EXIT_OK, BadInputError
from sriov_operator.runtime.settings import env_variable
from tests.support import flags_besides_runtime, settings_rows
from tests.unit.engine.builders import node, pf, policy, state


def _settings(argv: list[str], environ: dict[str, str] | None = None) -> object:
    parser = argparse.ArgumentParser()
    add_operator_arguments(parser, environ or {})
    return operator_settings_from(parser.parse_args(argv))


def test_leader_election_is_on_by_default_and_flags_reach_the_settings() -> None:
    settings = _settings(["--namespace", "ops", "--metrics-port", "9090", "--resource-prefix", "example.com"])
    assert settings.runtime.leader_elect is True  # type: ignore[attr-defined]
    assert settings.runtime.health_port == 9090  # type: ignore[attr-defined]
    assert settings.resource_prefix == "example.com"  # type: ignore[attr-defined]
    assert settings.namespace == "ops"  # type: ignore[attr-defined]
    off = _settings(["--leader-elect=false"])
    assert off.runtime.leader_elect is False  # type: ignore[attr-defined]
    from_env = _settings([], {"SRIOV_OPERATOR_LEADER_ELECT": "false", "SRIOV_OPERATOR_NODE_STATE_GRACE": "5"})
    assert from_env.runtime.leader_elect is False  # type: ignore[attr-defined]
    assert from_env.node_state_grace == 5.0  # type: ignore[attr-defined]


def test_bad_settings_name_the_flag() -> None:
    with pytest.raises(BadInputError, match=r"--resource-prefix: 'a/b' must be a DNS name"):
        _settings(["--resource-prefix", "a/b"])
    with pytest.raises(BadInputError, match=r"--workers: 0 is not accepted \(1 to 64\)"):
        _settings(["--workers", "0"])
    with pytest.raises(BadInputError, match=r"--uninstall-with: '../x' is not an object name"):
        _settings(["--uninstall-with", "../x"])  # it becomes part of an API path
    assert (
        _settings(["--uninstall-with", "sriov-network-operator"]).uninstall_with == "sriov-network-operator"
    )


def _write(path: Path, docs: list[dict[str, object]]) -> Path:
    path.write_text(yaml.safe_dump_all(docs))
    return path


def test_offline_diff_exit_codes_and_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    saved = tmp_path / "saved"
    saved.mkdir()
    converged = state("w1", [pf("ens1f0", "0000:3b:00.0", numVfs=8, driver="ice", linkAdminState="up")])
    _write(saved / "cluster.yaml", [node("w1"), converged, policy("p", numVfs=8)])
    same = _write(tmp_path / "same.yaml", [policy("p", numVfs=8)])
    assert main(["diff", "--from", str(saved), "-f", str(same)]) == EXIT_OK
    assert capsys.readouterr().out.endswith(
        "0 node(s) change: 0 drain(s), 0 reboot(s), 0 cannot be applied; "
        "0 NetworkAttachmentDefinition change(s)\n"
    )
    more = _write(tmp_path / "more.yaml", [policy("p", numVfs=16)])
    assert main(["diff", "--from", str(saved), "-f", str(more)]) == EXIT_CHANGES
    text = capsys.readouterr().out
    assert text.startswith("node w1: DRAIN\n  interfaces[0000:3b:00.0].numVfs: 8 -> 16\n")
    assert "  why: setNumVfs: 0000:3b:00.0 (ens1f0): 8 -> 16 VFs" in text
    bad = _write(tmp_path / "bad.yaml", [policy("p", numVfs=100)])
    assert main(["diff", "--from", str(saved), "-f", str(bad)]) == EXIT_FAILURE
    assert "refused: SriovNetworkNodePolicy" in capsys.readouterr().out


def test_diff_needs_a_source_and_readable_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    change = _write(tmp_path / "c.yaml", [policy("p")])
    with pytest.raises(SystemExit):
        main(["diff", "-f", str(change)])
    assert main(["diff", "--from", str(tmp_path / "missing"), "-f", str(change)]) == EXIT_BAD_INPUT
    assert "--from" in capsys.readouterr().err


def test_every_operator_flag_is_documented_with_its_variable_and_default() -> None:
    own = flags_besides_runtime(lambda parser: add_operator_arguments(parser, {}))
    rows = settings_rows("`sriov-operator operator`")
    assert sorted(rows) == sorted(a.option_strings[0] for a in own)
    for action in own:
        flag = action.option_strings[0]
        variable = env_variable("--health-port" if flag == "--metrics-port" else flag)
        assert rows[flag][1] == f"`{variable}`", flag
        default = "8081" if flag == "--metrics-port" else str(action.default)
        assert rows[flag][2] == default, flag
