"""The ``diff`` examples in docs/operator.md are what the command prints."""

from __future__ import annotations

import re

import pytest

from sriov_operator.cli import main
from sriov_operator.errors import EXIT_CHANGES
from tests.support import REPO_ROOT


def test_documented_diff_examples(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = (REPO_ROOT / "docs" / "operator.md").read_text()
    block = doc.split("With the saved bare-metal worker")[1].split("```")[1]
    examples = re.findall(r"^\$ sriov-operator (.*)\n((?:(?!\$ ).*\n)*)", block, re.MULTILINE)
    assert len(examples) == 2
    monkeypatch.chdir(REPO_ROOT)
    for command, expected in examples:
        assert main(command.split()) == EXIT_CHANGES
        assert capsys.readouterr().out == expected
