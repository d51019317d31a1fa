"""Run a documented shell session and check that each command prints what the document shows.

Conventions for ``console`` blocks (see tests/docs_examples.py for how blocks are found):

- ``$ cat FILE`` followed by text shows a file the reader writes; when FILE does not exist yet the
  runner writes the shown text to it (so the document is the single source of the file).
- ``$ echo $?`` shows the exit status of the command before it.
- In shown output, ``…`` stands for any text within a line, and a line holding only ``…`` for any
  number of lines. JSON output (shown text starting with ``{`` or ``[``) is compared without whitespace,
  so a document may show it compactly.
- Every other command must exit 0 unless an ``echo $?`` after it shows otherwise.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.docs_examples import Example

ELLIPSIS = "…"


@dataclass(frozen=True)
class Step:
    command: str
    shown: str
    printed: str
    status: int


def output_matches(shown: str, printed: str) -> bool:
    """Whether ``printed`` is what ``shown`` shows, ``…`` standing for the parts a document leaves out."""
    if shown.lstrip().startswith(("{", "[")):
        pattern = ".*?".join(re.escape(part) for part in re.sub(r"\s+", "", shown).split(ELLIPSIS))
        return re.fullmatch(pattern, re.sub(r"\s+", "", printed), re.DOTALL) is not None
    pattern = "".join(
        r"(?:.*\n)*?"
        if line.strip() == ELLIPSIS
        else ".*?".join(map(re.escape, line.split(ELLIPSIS))) + r"\n"
        for line in _lines(shown)
    )
    return re.fullmatch(pattern, "".join(f"{line}\n" for line in _lines(printed))) is not None


def _lines(text: str) -> list[str]:
    """The lines without trailing blanks, and without blank lines at the end."""
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def run_console(
    example: Example,
    cwd: Path,
    replace: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
) -> list[Step]:
    """Run every command of a ``console`` example in ``cwd`` and assert each prints what is shown.

    ``replace`` rewrites text in commands and shown output (e.g. a documented ``/tmp/vm`` to a temp dir);
    ``env`` adds environment variables. ``sriov-operator`` is the one installed next to this Python.
    """
    assert example.language == "console", f"{example.where}: {example.id} is not a console block"
    replacements = dict(replace or {})
    environment = _environment(env)
    steps: list[Step] = []
    for raw_command, raw_shown in example.transcript():
        command, shown = _replace(raw_command, replacements), _replace(raw_shown, replacements)
        words = shlex.split(command)
        if words[:2] == ["echo", "$?"]:
            assert steps, f"{example.where}: echo $? before any command"
            assert shown.strip() == str(steps[-1].status), (
                f"{example.id}: {steps[-1].command} exited {steps[-1].status}"
            )
            steps.append(Step(command, shown, shown, 0))
            continue
        if words[0] == "cat" and len(words) == 2 and not (cwd / words[1]).exists():
            (cwd / words[1]).write_text(shown)
        done = subprocess.run(
            ["bash", "-c", command],
            cwd=cwd,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=300,
            check=False,
        )
        steps.append(Step(command, shown, done.stdout, done.returncode))
        assert output_matches(shown, done.stdout), (
            f"{example.id} ({example.where}): `{command}` printed\n{done.stdout}\nthe document shows\n{shown}"
        )
    _check_statuses(example, steps)
    return steps


def run_sh(example: Example, cwd: Path, env: Mapping[str, str] | None = None) -> list[str]:
    """Run every command of an ``sh`` example in ``cwd``; each must exit 0. Returns what each printed."""
    assert example.language == "sh", f"{example.where}: {example.id} is not an sh block"
    printed = []
    for command in example.commands():
        done = subprocess.run(
            ["bash", "-c", command],
            cwd=cwd,
            env=_environment(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, (
            f"{example.id} ({example.where}): `{command}` exited {done.returncode}:\n{done.stdout}"
        )
        printed.append(done.stdout)
    return printed


def _environment(env: Mapping[str, str] | None) -> dict[str, str]:
    """This environment plus ``env``; the ``sriov-operator`` next to this Python comes first on PATH."""
    environment = dict(os.environ, **(env or {}))
    environment["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environment.get('PATH', '')}"
    return environment


def _check_statuses(example: Example, steps: list[Step]) -> None:
    for index, step in enumerate(steps):
        status_shown = index + 1 < len(steps) and steps[index + 1].command.startswith("echo $?")
        assert status_shown or step.status == 0, (
            f"{example.id}: `{step.command}` exited {step.status}, not shown in the document:\n{step.printed}"
        )


def _replace(text: str, replacements: Mapping[str, str]) -> str:
    for old, new in replacements.items():
        text = text.replace(old, new)
    return text
