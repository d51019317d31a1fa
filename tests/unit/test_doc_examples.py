"""Every fenced block of README.md and docs/*.md has an id, once, and a test that runs or checks it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.doc_runner import output_matches
from tests.docs_examples import (
    ID_FORMAT,
    REPO_ROOT,
    Block,
    Example,
    blocks_in,
    documents,
    example,
    stray_markers,
)

TESTS = REPO_ROOT / "tests"
HARNESS = TESTS / "docs_examples.py"
USE = re.compile(r"""\bexample\(\s*["']([a-z0-9][a-z0-9-]*)["']\s*\)""")


def _blocks() -> list[Block]:
    return [block for path in documents() for block in blocks_in(path)]


def _where(block: Block) -> str:
    return f"{block.path.relative_to(REPO_ROOT)}:{block.line}"


def _ids_used_by_tests() -> dict[str, list[str]]:
    used: dict[str, list[str]] = {}
    for path in sorted(TESTS.rglob("*.py")):
        if path != HARNESS:
            for match in USE.finditer(path.read_text()):
                used.setdefault(match[1], []).append(str(path.relative_to(REPO_ROOT)))
    return used


def test_every_code_block_is_marked_with_an_id() -> None:
    unmarked = [_where(b) for b in _blocks() if not b.id]
    assert not unmarked, (
        f"put <!-- example: <id> --> on the line before each of these code blocks: {unmarked}"
    )
    badly_named = [f"{_where(b)}: {b.id!r}" for b in _blocks() if not ID_FORMAT.match(b.id)]
    assert not badly_named, f"ids are lower-case words joined by '-': {badly_named}"


def test_every_marker_sits_just_before_a_code_block() -> None:
    stray = [f"{path.relative_to(REPO_ROOT)}:{line}" for path in documents() for line in stray_markers(path)]
    assert not stray, f"example markers not followed by a code block: {stray}"


def test_no_id_marks_two_code_blocks() -> None:
    places: dict[str, list[str]] = {}
    for block in _blocks():
        places.setdefault(block.id, []).append(_where(block))
    duplicated = {id_: where for id_, where in places.items() if len(where) > 1}
    assert not duplicated, f"example ids used more than once: {duplicated}"


def test_every_example_is_run_by_a_test() -> None:
    used = _ids_used_by_tests()
    untested = [f"{_where(b)}: {b.id}" for b in _blocks() if b.id not in used]
    assert not untested, f'no test under tests/ calls example("<id>") for: {untested}'


def test_every_example_a_test_asks_for_exists() -> None:
    known = {block.id for block in _blocks()}
    unknown = {id_: files for id_, files in _ids_used_by_tests().items() if id_ not in known}
    assert not unknown, f"tests ask for examples no document has: {unknown}"


# The harness itself, on documents written for the purpose.


def _doc(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "doc.md"
    path.write_text(text)
    return path


def test_blocks_carry_their_marker_language_and_line(tmp_path: Path) -> None:
    path = _doc(tmp_path, "intro\n<!-- example: one -->\n```json tagged\n{}\n```\n\n```\nplain\n```\n")
    assert blocks_in(path) == [Block("one", path, 3, "json", "{}\n"), Block("", path, 7, "", "plain\n")]


def test_a_marker_with_a_gap_before_the_block_does_not_count(tmp_path: Path) -> None:
    path = _doc(tmp_path, "<!-- example: one -->\n\n```sh\nls\n```\n")
    assert blocks_in(path)[0].id == "" and stray_markers(path) == [1]


def test_an_unclosed_block_is_reported_with_its_line(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"doc.md:2: code block never closed"):
        blocks_in(_doc(tmp_path, "text\n```sh\nls\n"))


def test_sh_commands_skip_comments_and_join_continuations() -> None:
    sh = Example("x", REPO_ROOT / "README.md", "sh", "# setup\nmake a \\\n  --flag\n\n  ls   # list\n")
    assert sh.commands() == ["make a --flag", "ls   # list"]


def test_console_commands_are_the_prompted_lines_and_the_rest_is_their_output() -> None:
    console = Example("x", REPO_ROOT / "README.md", "console", "$ a \\\n   --b\nout 1\nout 2\n$ c\n")
    assert console.commands() == ["a --b", "c"]
    assert console.transcript() == [("a --b", "out 1\nout 2\n"), ("c", "")]


def test_commands_of_a_non_shell_block_is_an_error_naming_it() -> None:
    with pytest.raises(ValueError, match=r"'x' .* is json, not sh or console"):
        Example("x", REPO_ROOT / "README.md", "json", "{}").commands()


def test_an_unknown_id_is_an_error_naming_it() -> None:
    absent = "no-such-example"  # a variable, so the scan for example("<id>") does not see it
    with pytest.raises(LookupError, match=f"no code block marked <!-- example: {absent} -->"):
        example(absent)


@pytest.mark.parametrize(
    ("shown", "printed", "matches"),
    [
        ("a\nb\n", "a\nb\n", True),
        ("a\nb\n", "a\nc\n", False),
        ("a\n…\nz\n", "a\nb\nc\nz\n", True),
        ("a\n…\nz\n", "a\nz\n", True),
        ("ready in …s\n", "ready in 2.8s\n", True),
        ("ready in …s\n", "ready in 2.8s\nextra\n", False),
        ('{"a": 1, "b": […]}', '{\n  "a": 1,\n  "b": [\n    2\n  ]\n}\n', True),
        ('{"a": 1, "b": […]}', '{"a": 2, "b": []}', False),
    ],
)
def test_shown_output_leaves_out_only_what_an_ellipsis_marks(shown: str, printed: str, matches: bool) -> None:
    assert output_matches(shown, printed) is matches
