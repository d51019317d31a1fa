"""The command lines the docs show use commands and flags the parser has; docs/cli.md covers every one."""

from __future__ import annotations

import argparse
import shlex

import pytest

from sriov_operator.cli import build_parser
from tests.docs_examples import Example, example


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
