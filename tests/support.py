"""Small helpers shared by test packages."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
REPO_ROOT = Path(__file__).parent.parent

# Lines printed at the end of the run, e.g. the version of the real kube-apiserver used.
control_plane_report: list[str] = []
