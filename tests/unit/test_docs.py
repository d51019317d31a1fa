"""The README and docs describe commands that exist."""

from __future__ import annotations

import importlib
import os
import re
from pathlib import Path

import pytest

from sriov_operator.api.supported_nics import DEFAULT_SUPPORTED_NICS
from sriov_operator.cli import build_parser
from tests.docs_examples import Example, example
from tests.support import REPO_ROOT

COMMAND_MENTION = re.compile(r"sriov-operator ([a-z][a-z-]+)")


def _registered_commands() -> set[str]:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    return set(subparsers.choices or {})


def test_readme_opens_with_the_two_commands_and_ci_runs_the_test_one() -> None:
    first = example("readme-first-commands")
    readme_blocks = (REPO_ROOT / "README.md").read_text().split("```")
    assert readme_blocks[1].startswith("sh\n") and first.text in readme_blocks[1], (
        "the README opens with this block"
    )
    commands = [command.split()[0] for command in first.commands()]
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


@pytest.mark.parametrize(
    ("diagram", "parts"),
    [
        (
            example("architecture-layers"),
            {
                "operator (controllers)": "sriov_operator.operator",
                "webhook": "sriov_operator.webhook",
                "config daemon": "sriov_operator.daemon",
                "engine (pure)": "sriov_operator.engine",
                "host layer": "sriov_operator.host",
                "discover ─► plan ─► apply": "sriov_operator.host.discovery",
                "modules, OpenStack metadata": "sriov_operator.host.openstack",
            },
        ),
        (
            example("runtime-flow"),
            {
                "Informer": "sriov_operator.runtime.informer:Informer",
                "Controller.queue (WorkQueue)": "sriov_operator.runtime.workqueue:WorkQueue",
                "KubeObjects writes": "sriov_operator.kube.objects:KubeObjects",
                "guarded by the Lease": "sriov_operator.runtime.leader",
                "reconcile(key)": "sriov_operator.runtime.controller:Controller",
            },
        ),
    ],
    ids=["architecture", "runtime"],
)
def test_each_part_a_diagram_names_exists(diagram: Example, parts: dict[str, str]) -> None:
    for label, target in parts.items():
        assert label in diagram.text, f"{diagram.where} no longer shows {label!r}"
        module, _, name = target.partition(":")
        assert not name or hasattr(importlib.import_module(module), name), target


MARKDOWN_LINK = re.compile(r"\]\(([^)\s]+)\)")


def _anchors(path: Path) -> set[str]:
    """GitHub's anchors for a document's headings."""
    titles = re.findall(
        r"^#+ (.+)$", re.sub(r"```.*?```", "", path.read_text(), flags=re.DOTALL), re.MULTILINE
    )
    return {re.sub(r"[^a-z0-9 _-]", "", title.lower()).replace(" ", "-") for title in titles}


def test_every_relative_link_in_the_docs_leads_somewhere() -> None:
    broken = []
    for doc in [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]:
        for target in MARKDOWN_LINK.findall(doc.read_text()):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            file, _, anchor = target.partition("#")
            path = (doc.parent / file).resolve() if file else doc
            if not path.exists() or (anchor and path.suffix == ".md" and anchor not in _anchors(path)):
                broken.append(f"{doc.relative_to(REPO_ROOT)}: {target}")
    assert not broken, f"links to nothing: {broken}"


def test_the_readme_indexes_every_document() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    unlisted = [
        doc.name for doc in sorted((REPO_ROOT / "docs").glob("*.md")) if f"](docs/{doc.name})" not in readme
    ]
    assert not unlisted, f"add these to the README's documentation index: {unlisted}"


def test_the_readme_counts_the_supported_nic_list_as_it_is() -> None:
    """The README's count is checked against the list, not written from memory."""
    readme = (REPO_ROOT / "README.md").read_text()
    counts = re.findall(r"supported-NIC list \((\d+) entries\)", readme)
    assert counts == [str(len(DEFAULT_SUPPORTED_NICS))]
