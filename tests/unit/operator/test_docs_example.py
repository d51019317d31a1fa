"""The ``diff`` examples in docs/operator.md are what the command prints."""

from __future__ import annotations

import shlex

import pytest

from sriov_operator.cli import main
from sriov_operator.errors import EXIT_CHANGES, EXIT_OK
from tests.docs_examples import example
from tests.support import REPO_ROOT


def test_documented_diff_examples(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    examples = example("diff-examples").transcript()
    assert len(examples) == 2
    monkeypatch.chdir(REPO_ROOT)
    for command, expected in examples:
        assert main(shlex.split(command.removeprefix("sriov-operator "))) == EXIT_CHANGES
        assert capsys.readouterr().out == expected


def test_documented_diff_of_a_policy_that_selects_no_device(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    [(command, expected)] = example("diff-no-device").transcript()
    monkeypatch.chdir(REPO_ROOT)
    assert main(shlex.split(command.removeprefix("sriov-operator "))) == EXIT_OK
    assert capsys.readouterr().out == expected
