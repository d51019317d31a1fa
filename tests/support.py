"""Small helpers shared by test packages."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from sriov_operator.runtime.settings import add_runtime_arguments

FIXTURES = Path(__file__).parent / "fixtures"
REPO_ROOT = Path(__file__).parent.parent

# Lines printed at the end of the run, e.g. the version of the real kube-apiserver used.
control_plane_report: list[str] = []


def settings_rows(heading: str) -> dict[str, list[str]]:
    """The rows of the docs/settings.md table under ``## heading``, by flag: flag -> its cells."""
    text = (REPO_ROOT / "docs" / "settings.md").read_text()
    section = text.split(f"## {heading}")[1].split("\n## ")[0]
    return {
        cells[0].strip("` "): cells
        for line in section.splitlines()
        if line.startswith("| `--") and (cells := [c.strip() for c in line.strip("|").split("|")])
    }


def flags_besides_runtime(add_arguments: Callable[[argparse.ArgumentParser], None]) -> list[argparse.Action]:
    """The flags ``add_arguments`` adds to a parser besides the runtime's (`add_runtime_arguments`)."""
    shared, full = argparse.ArgumentParser(), argparse.ArgumentParser()
    add_runtime_arguments(shared, default_lease_name="x", environ={})
    add_arguments(full)
    common = {option for action in shared._actions for option in action.option_strings}
    return [a for a in full._actions if a.option_strings and a.option_strings[0] not in common]
