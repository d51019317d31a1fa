"""The example in docs/policy-engine.md is what the command prints."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from sriov_operator.cli import main

ROOT = Path(__file__).parents[3]


def test_documented_render_example(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = (ROOT / "docs" / "policy-engine.md").read_text()
    command = re.search(r"^sriov-operator (render -f .*)$", doc, re.MULTILINE)
    block = re.search(r"```json\n(.*?)```", doc, re.DOTALL)
    assert command and block
    monkeypatch.chdir(ROOT)
    assert main(command[1].split()) == 0
    out = json.loads(capsys.readouterr().out)
    expected = json.loads(block[1])
    assert {key: out[key] for key in expected} == expected
    assert out["errors"] == [] and out["networkAttachmentDefinitions"] == []
