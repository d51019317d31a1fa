"""The README and docs describe commands that exist."""

from __future__ import annotations

import os
import re

from sriov_operator.cli import build_parser
from tests.support import REPO_ROOT

COMMAND_MENTION = re.compile(r"sriov-operator ([a-z][a-z-]+)")


def _registered_commands() -> set[str]:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    return set(subparsers.choices or {})


def test_readme_opens_with_the_two_commands_and_ci_runs_the_test_one() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    first_block = readme.split("```")[1]
    commands = [line.split()[0] for line in first_block.splitlines()[1:] if line.strip()]
    assert commands == ["scripts/sandbox", "scripts/test"]
    for command in commands:
        assert os.access(REPO_ROOT / command, os.X_OK), command
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    assert "exec scripts/test" in ci


def test_every_documented_sub_command_exists() -> None:
    registered = _registered_commands()
    documents = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
    mentioned = {(doc.name, match) for doc in documents for match in COMMAND_MENTION.findall(doc.read_text())}
    assert mentioned, "no command mentioned in the docs"
    missing = sorted(f"{doc}: sriov-operator {cmd}" for doc, cmd in mentioned if cmd not in registered)
    assert not missing, f"documented but not registered: {missing}"


def test_every_registered_sub_command_is_in_the_readme() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    undocumented = sorted(c for c in _registered_commands() if f"sriov-operator {c}" not in readme)
    assert not undocumented, f"add these to the README's command table: {undocumented}"
