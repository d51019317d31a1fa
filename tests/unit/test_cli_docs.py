"""Command lines in the docs use real commands and flags; docs/cli.md documents every command and flag."""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import pytest
import yaml

from sriov_operator.api.models import ALL_KINDS
from sriov_operator.cli import build_parser
from sriov_operator.errors import EXIT_FAILURE
from tests.doc_runner import run_console
from tests.docs_examples import REPO_ROOT, Example, example
from tests.unit.engine.builders import worker


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return {option for action in parser._actions for option in action.option_strings}


def _flags(words: list[str]) -> set[str]:
    """The ``--flags`` of a synopsis, optional ones written ``[--flag VALUE]``."""
    return {word.strip("[]").split("=")[0] for word in words if word.lstrip("[").startswith("--")}


SYNOPSES = [
    example("operator-usage"),
    example("diff-usage"),
    example("render-validate-usage"),
    example("webhook-usage"),
    example("daemon-usage"),
]


@pytest.mark.parametrize("synopsis", SYNOPSES, ids=[s.id for s in SYNOPSES])
def test_documented_synopses_use_real_commands_and_flags(synopsis: Example) -> None:
    commands = _subcommands()
    for line in synopsis.commands():
        words = shlex.split(line, comments=True)
        assert words[:1] == ["sriov-operator"] and words[1] in commands, line
        unknown = _flags(words) - _options(commands[words[1]])
        assert not unknown, f"{synopsis.where}: {words[1]} has no {sorted(unknown)}"


def test_the_documented_operator_command_line_parses() -> None:
    [line] = example("operator-usage").commands()
    args = build_parser().parse_args(shlex.split(line)[1:])
    assert (args.command, args.namespace) == ("operator", "sriov-network-operator")


CLI_DOC = (REPO_ROOT / "docs" / "cli.md").read_text()
SECTION = re.compile(r"^#{2,3} (.+)$", re.MULTILINE)
LINK = re.compile(r"\]\(#([a-z0-9-]+)\)")


def _sections(text: str) -> dict[str, str]:
    """Each heading's anchor (GitHub's slug) and the text under it, up to the next heading."""
    parts = SECTION.split(text)
    return {slug(title): body for title, body in zip(parts[1::2], parts[2::2], strict=True)}


def slug(title: str) -> str:
    return re.sub(r"[^a-z0-9 -]", "", title.lower()).replace(" ", "-")


def _documented_flags(section: str, sections: dict[str, str]) -> set[str]:
    """Flags in a command's section and in the sections it links to (the shared options)."""
    texts = [section, *(sections[anchor] for anchor in LINK.findall(section) if anchor in sections)]
    return {flag for text in texts for flag in re.findall(r"`(--?[a-z][a-z-]*)`", text)}


@pytest.mark.parametrize("command", sorted(_subcommands()))
def test_every_command_and_its_flags_are_in_cli_md(command: str) -> None:
    sections = _sections(CLI_DOC)
    anchor = slug(f"`sriov-operator {command}`")
    assert anchor in sections, f"docs/cli.md has no section '## `sriov-operator {command}`'"
    assert f"(#{anchor})" in CLI_DOC.split("## Exit codes")[0], f"the command table does not link {command}"
    undocumented = (
        _options(_subcommands()[command]) - {"-h", "--help"} - _documented_flags(sections[anchor], sections)
    )
    assert not undocumented, f"docs/cli.md does not document {command} {sorted(undocumented)}"


def test_cli_md_documents_no_flag_a_command_lacks() -> None:
    sections = _sections(CLI_DOC)
    for command, parser in _subcommands().items():
        own = set(
            re.findall(
                r"^\| `(--?[a-z][a-z-]*)`", sections[slug(f"`sriov-operator {command}`")], re.MULTILINE
            )
        )
        assert own <= _options(parser), f"docs/cli.md lists {sorted(own - _options(parser))} under {command}"


def test_the_crds_example_writes_the_files_it_shows(tmp_path: Path) -> None:
    run_console(example("cli-crds"), tmp_path)
    assert len(list((tmp_path / "crds").glob("*.yaml"))) == len(ALL_KINDS)


def test_the_validate_example_prints_the_error_and_exits_1(tmp_path: Path) -> None:
    steps = run_console(example("cli-validate"), tmp_path)
    assert steps[-1].shown.strip() == str(EXIT_FAILURE)


def test_the_diff_example_shows_the_refusal_not_a_change_list(tmp_path: Path) -> None:
    """``cluster.yaml``: saved objects, a discovered worker (the example shows only the new policy)."""
    (tmp_path / "cluster.yaml").write_text(yaml.safe_dump_all(worker()))
    steps = run_console(example("cli-diff-refused"), tmp_path)
    assert steps[-1].shown.strip() == str(EXIT_FAILURE)


def test_the_offline_chain_plans_from_render_output(tmp_path: Path) -> None:
    steps = run_console(example("cli-offline-chain"), tmp_path)
    assert all(step.status == 0 for step in steps)
    assert "kind: SriovNetworkNodeState" in (tmp_path / "worker-0.yaml").read_text()
