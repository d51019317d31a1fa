"""The example in docs/policy-engine.md is what the command prints."""

from __future__ import annotations

import json
import shlex

import pytest

from sriov_operator.cli import main
from tests.docs_examples import example
from tests.support import REPO_ROOT


def test_documented_render_example(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    [command] = example("render-dpdk").commands()
    monkeypatch.chdir(REPO_ROOT)
    assert main(shlex.split(command.removeprefix("sriov-operator "))) == 0
    out = json.loads(capsys.readouterr().out)
    expected = json.loads(example("render-dpdk-output").text)
    assert {key: out[key] for key in expected} == expected
    assert out["errors"] == [] and out["networkAttachmentDefinitions"] == []
