"""The fenced code blocks of README.md and docs/*.md, by id, so tests can run what the docs show.

Every fenced block is preceded, on the line just before its opening fence, by a marker naming it::

    <!-- example: render-dpdk -->
    ```sh
    sriov-operator render -f ...
    ```

A test fetches the block with ``example("render-dpdk")`` and runs or checks it; the unit test
tests/unit/test_doc_examples.py fails when a block has no id, an id is used twice, or no test under
tests/ calls ``example("<id>")`` for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

REPO_ROOT = Path(__file__).parent.parent
FENCE = "```"
MARKER = re.compile(r"^<!-- example: (?P<id>\S+) -->\s*$")
ID_FORMAT = re.compile(r"^[a-z0-9][a-z0-9-]*$")
SHELL_LANGUAGES = ("sh", "console")


@dataclass(frozen=True)
class Example:
    """One fenced block: id, document, language (first word of the info string), body."""

    id: str
    path: Path
    language: str
    text: str
    line: int = 0  # 1-based line of the opening fence, for messages

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(REPO_ROOT)}:{self.line}"

    def commands(self) -> list[str]:
        """The shell commands of an ``sh`` or ``console`` block, continuation lines joined.

        ``sh``: every non-empty line that is not a comment. ``console``: the lines starting with ``$ ``,
        without the prompt; everything else is output (see :meth:`transcript`).
        """
        return [command for command, _ in self.transcript()]

    def transcript(self) -> list[tuple[str, str]]:
        """(command, output shown after it up to the next command) pairs; "" output in ``sh`` blocks."""
        if self.language not in SHELL_LANGUAGES:
            raise ValueError(
                f"example {self.id!r} ({self.where}) is {self.language or 'untagged'}, not sh or console"
            )
        steps: list[tuple[str, list[str]]] = []
        continuing = False
        for line in self.text.splitlines():
            if continuing:
                steps[-1] = (_join(steps[-1][0], line), steps[-1][1])
            elif self.language == "sh" and line.strip() and not line.lstrip().startswith("#"):
                steps.append((line.strip(), []))
            elif self.language == "console" and line.startswith("$ "):
                steps.append((line[2:].strip(), []))
            elif self.language == "console" and steps:
                steps[-1][1].append(line)
            else:
                continue
            continuing = line.endswith("\\")
        return [(command, "".join(f"{out}\n" for out in output)) for command, output in steps]


def _join(command: str, continuation: str) -> str:
    return f"{command.removesuffix(chr(92)).rstrip()} {continuation.strip()}"


def documents(root: Path = REPO_ROOT) -> list[Path]:
    """README.md and docs/*.md: the documents whose examples must run."""
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


@dataclass(frozen=True)
class Block:
    """A fenced block as found, with or without a marker; ``id`` is "" when the marker is missing."""

    id: str
    path: Path
    line: int
    language: str
    text: str


def blocks_in(path: Path) -> list[Block]:
    """Every fenced block of one document, with the id on the line before it (or "")."""
    lines = path.read_text().splitlines()
    found: list[Block] = []
    index = 0
    while index < len(lines):
        if not lines[index].startswith(FENCE):
            index += 1
            continue
        opening = index
        info = lines[opening][len(FENCE) :].split()
        index += 1
        while index < len(lines) and lines[index].rstrip() != FENCE:
            index += 1
        if index == len(lines):
            raise ValueError(f"{path}:{opening + 1}: code block never closed")
        marker = MARKER.match(lines[opening - 1]) if opening else None
        body = "".join(f"{line}\n" for line in lines[opening + 1 : index])
        found.append(Block(marker["id"] if marker else "", path, opening + 1, info[0] if info else "", body))
        index += 1
    return found


def stray_markers(path: Path) -> list[int]:
    """1-based lines of markers that are not immediately followed by an opening fence."""
    lines = path.read_text().splitlines()
    return [
        number + 1
        for number, line in enumerate(lines)
        if MARKER.match(line) and not (number + 1 < len(lines) and lines[number + 1].startswith(FENCE))
    ]


@cache
def _all_blocks() -> tuple[Block, ...]:
    return tuple(block for path in documents() for block in blocks_in(path))


def example(id: str) -> Example:
    """The block marked ``<!-- example: <id> -->``; LookupError naming the id if absent or duplicated."""
    matches = [block for block in _all_blocks() if block.id == id]
    if not matches:
        raise LookupError(f"no code block marked <!-- example: {id} --> in README.md or docs/*.md")
    if len(matches) > 1:
        places = ", ".join(f"{b.path.relative_to(REPO_ROOT)}:{b.line}" for b in matches)
        raise LookupError(f"example id {id!r} marks {len(matches)} code blocks: {places}")
    block = matches[0]
    return Example(id=block.id, path=block.path, language=block.language, text=block.text, line=block.line)
