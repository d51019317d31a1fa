"""docs/daemon.md stays true: its command line, Event reasons and condition reasons exist in the code."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from sriov_operator.api import conditions
from sriov_operator.api.constants import EventReason
from sriov_operator.commands.daemon import add_daemon_arguments
from sriov_operator.daemon import node_daemon
from sriov_operator.daemon.status import STEP_REASONS
from tests.docs_examples import example
from tests.support import REPO_ROOT

DOC = (REPO_ROOT / "docs" / "daemon.md").read_text()


def test_every_flag_of_the_documented_command_line_exists() -> None:
    parser = argparse.ArgumentParser()
    add_daemon_arguments(parser, {})
    known = {option for action in parser._actions for option in action.option_strings}
    usage = example("daemon-usage").commands()[0]
    documented = set(re.findall(r"(--[a-z-]+)", usage)) | set(re.findall(r"`(--[a-z-]+)", DOC))
    assert documented - known == set()


def test_every_event_reason_the_daemon_records_is_documented() -> None:
    source = Path(node_daemon.__file__).read_text()
    used = {EventReason[name].value for name in re.findall(r"EventReason\.([A-Z_]+)", source)}
    assert used, "the daemon records Events"
    assert {reason for reason in used if f"`{reason}`" not in DOC} == set()


def test_every_condition_and_reason_is_documented() -> None:
    daemon_names = {v for k, v in vars(conditions).items() if k.startswith("DAEMON_") and isinstance(v, str)}
    reasons = daemon_names | set(conditions.DAEMON_CONDITIONS) | set(STEP_REASONS.values())
    assert {"Ready", "Progressing", "Degraded", "NoIOMMU", "Synced", "WaitingForDrain"} <= reasons
    assert {reason for reason in reasons if f"`{reason}`" not in DOC} == set()
