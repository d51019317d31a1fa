"""docs/reference.md stays true: its conditions, Event reasons and metrics are the code's."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from functools import cache
from typing import get_args

import pytest

from sriov_operator.api import conditions
from sriov_operator.api.constants import EventReason
from sriov_operator.daemon.status import STEP_REASONS
from sriov_operator.daemon.sync import FailureReason
from tests.docs_examples import REPO_ROOT

REFERENCE = (REPO_ROOT / "docs" / "reference.md").read_text()
PROCESSES = ("operator", "daemon", "webhook")


def _table(heading: str) -> list[list[str]]:
    """The rows of the first table under ``## heading``, as cells."""
    section = REFERENCE.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")][2:]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows]


def _names(cell: str) -> list[str]:
    return re.findall(r"`([A-Za-z_]+)`", cell)


def _constants(module: object, prefix: str) -> set[str]:
    return {
        value for name, value in vars(module).items() if name.startswith(prefix) and isinstance(value, str)
    }


def _documented_conditions() -> dict[tuple[str, str], set[str]]:
    documented: dict[tuple[str, str], set[str]] = {}
    for kinds, types, _, reasons, _ in _table("Conditions"):
        for kind in kinds.split(", "):
            for type_ in _names(types):
                documented.setdefault((kind, type_), set()).update(_names(reasons))
    return documented


def _daemon_reasons() -> set[str]:
    return (
        _constants(conditions, "DAEMON_") - set(conditions.DAEMON_CONDITIONS)
        | set(STEP_REASONS.values())
        | set(get_args(FailureReason))
    )


def test_conditions_and_reasons_are_those_the_code_sets() -> None:
    network_reasons = {conditions.NETWORK_READY, conditions.NAD_INVALID, conditions.NAMESPACE_NOT_FOUND}
    expected = {
        ("SriovNetworkNodeState", "Draining"): _constants(conditions, "DRAIN_"),
        ("SriovNetworkNodePolicy", "Ready"): _constants(conditions, "POLICY_"),
        ("SriovOperatorConfig", "Ready"): _constants(conditions, "CONFIG_")
        | {conditions.WORKLOADS_NOT_READY},
        **{
            (kind, "Ready"): network_reasons | {conditions.NAD_OWNED_BY_OTHER}
            for kind in ("SriovNetwork", "SriovIBNetwork", "OVSNetwork")
        },
    }
    documented = _documented_conditions()
    daemon_types = set(conditions.DAEMON_CONDITIONS)
    assert {t for k, t in documented if k == "SriovNetworkNodeState"} == daemon_types | {"Draining"}
    daemon_documented = set().union(
        *(r for (k, t), r in documented.items() if k == "SriovNetworkNodeState" and t in daemon_types)
    )
    assert daemon_documented == _daemon_reasons()
    assert {key: documented[key] for key in expected} == expected


def test_event_reasons_are_every_reason_each_with_its_meaning_where_linked() -> None:
    listed: list[str] = []
    for _, _, reasons, link in _table("Event reasons"):
        target = re.fullmatch(r"\[[^\]]+\]\(([^)#]+)(#[^)]*)?\)", link)
        assert target, link
        linked = (REPO_ROOT / "docs" / target[1]).read_text()
        for reason in _names(reasons):
            assert f"| `{reason}` |" in linked, f"{target[1]} has no row for {reason}"
            listed.append(reason)
    assert sorted(listed) == sorted(reason.value for reason in EventReason)


@cache
def _registered_by(command: str) -> frozenset[str]:
    """The metric names a process registers once its command module is loaded (what its /metrics lists)."""
    probe = (
        f"import json, sriov_operator.commands.{command}\n"
        "from prometheus_client import REGISTRY\n"
        "names = [m.name + ('_total' if m.type == 'counter' else '') for m in REGISTRY.collect()]\n"
        "print(json.dumps(names))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    return frozenset(name for name in json.loads(done.stdout) if name.startswith("sriov_operator_"))


def test_every_registered_metric_has_one_row() -> None:
    documented = [_names(row[0])[0] for row in _table("Metrics")]
    assert len(documented) == len(set(documented)), "a metric is listed twice"
    registered = set().union(*(_registered_by(process) for process in PROCESSES))
    assert set(documented) == registered


@pytest.mark.parametrize("process", PROCESSES)
def test_each_process_serves_the_metrics_documented_for_it(process: str) -> None:
    served_by = {_names(row[0])[0]: row[4].split(", ") for row in _table("Metrics")}
    documented = {name for name, processes in served_by.items() if process in processes}
    assert documented, process
    assert documented <= _registered_by(process)
