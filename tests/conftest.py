"""Suite-wide hooks: say which real control plane the integration tests ran against."""

from __future__ import annotations

import pytest

from tests.support import control_plane_report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for line in control_plane_report:
        terminalreporter.write_line(line)
