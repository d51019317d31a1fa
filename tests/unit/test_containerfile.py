"""The Containerfile can be built from this tree and starts the installed program.

No container runtime runs here, so these check what a build needs from the repository:
every COPY source exists and is not excluded from the build context, the entrypoint is the
console script pyproject.toml registers, the base image is pinned and the user is not root.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import tomllib

from sriov_operator.install.values import version_tag
from tests.docs_examples import example
from tests.support import REPO_ROOT

CONTAINERFILE = REPO_ROOT / "Containerfile"


def _instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", CONTAINERFILE.read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def _context_excludes(path: str) -> bool:
    """Whether .containerignore keeps ``path`` out of the build context (last matching rule wins)."""
    excluded = False
    for line in (REPO_ROOT / ".containerignore").read_text().splitlines():
        rule = line.strip()
        if not rule or rule.startswith("#"):
            continue
        negate, pattern = rule.startswith("!"), rule.lstrip("!").rstrip("/")
        if fnmatch.fnmatch(path, pattern) or path.startswith(pattern + "/"):
            excluded = not negate
    return excluded


def test_every_copy_source_is_in_the_build_context() -> None:
    copies = [shlex.split(args) for op, args in _instructions() if op == "COPY"]
    local = [words for words in copies if not any(w.startswith("--from=") for w in words)]
    sources = [source for words in local for source in words[:-1]]
    assert sources == ["pyproject.toml", "README.md", "src"]
    for source in sources:
        assert (REPO_ROOT / source).exists(), source
        assert not _context_excludes(source), f"{source} is excluded by .containerignore"
    assert _context_excludes(".venv") and _context_excludes("tests")


def test_the_entrypoint_is_the_registered_console_script() -> None:
    entrypoint = json.loads(next(args for op, args in _instructions() if op == "ENTRYPOINT"))
    scripts = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert entrypoint == ["sriov-operator"]
    assert scripts["sriov-operator"] == "sriov_operator.cli:main"


def test_the_wheel_is_built_in_a_builder_stage_and_only_its_environment_is_copied() -> None:
    stages = [args for op, args in _instructions() if op == "FROM"]
    assert stages[0].endswith(" AS builder") and len(stages) == 2
    runtime_copies = [args for op, args in _instructions() if op == "COPY" and "--from=builder" in args]
    assert runtime_copies == ["--from=builder /opt/sriov-operator /opt/sriov-operator"]


def test_the_base_image_is_pinned_and_the_user_is_not_root() -> None:
    base = next(args for op, args in _instructions() if op == "ARG" and args.startswith("PYTHON_IMAGE="))
    tag = base.split("=", 1)[1].rpartition(":")[2]
    python = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert tag.startswith("3.11-") and python == ">=3.11"
    user = next(args for op, args in _instructions() if op == "USER")
    assert user.split(":")[0] not in ("0", "root")


def test_the_documented_build_command_builds_this_file_with_the_default_tag() -> None:
    [command] = example("build-image").commands()
    words = shlex.split(command)
    assert words[:2] == ["podman", "build"]
    assert words[words.index("-f") + 1] == CONTAINERFILE.name
    assert words[words.index("-t") + 1] == f"ghcr.io/sriov-fdp/sriov-fdp-operator:{version_tag()}"
