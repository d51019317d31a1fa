"""docs/ names every Event reason and every metric the code defines."""

from __future__ import annotations

import importlib
import pkgutil

from prometheus_client import REGISTRY

import sriov_operator
from sriov_operator.api.constants import EVENT_REASON_DOCS, EventReason
from tests.support import REPO_ROOT


def all_docs() -> str:
    return "\n".join(path.read_text() for path in sorted((REPO_ROOT / "docs").glob("*.md")))


def test_every_event_reason_has_a_meaning_and_a_documented_row() -> None:
    assert set(EVENT_REASON_DOCS) == set(EventReason)
    docs = all_docs()
    for reason, meaning in EVENT_REASON_DOCS.items():
        assert f"| `{reason}` | {meaning} |" in docs, reason


def test_every_metric_is_documented() -> None:
    for module in pkgutil.walk_packages(sriov_operator.__path__, "sriov_operator."):
        if not module.name.startswith("sriov_operator.host.simulator"):
            importlib.import_module(module.name)
    ours = {
        metric.name + ("_total" if metric.type == "counter" else "")
        for metric in REGISTRY.collect()
        if metric.name.startswith("sriov_operator_")
    }
    assert "sriov_operator_api_writes_total" in ours
    docs = all_docs()
    missing = sorted(name for name in ours if f"`{name}`" not in docs)
    assert not missing, f"document these metrics in docs/: {missing}"
