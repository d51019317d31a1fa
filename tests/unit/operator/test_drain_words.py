"""What the Draining condition and drain Events say; reading the state back from annotations."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sriov_operator.api.constants import EventReason
from sriov_operator.operator import drain
from sriov_operator.operator.drain import bookkeeping, messages
from tests.docs_examples import example

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def test_a_drain_that_gave_up_names_the_pod_its_budget_and_what_happens_next() -> None:
    blockers = messages.blockers_of(
        {"apps/web-1": "Cannot evict pod as it would violate the pod's disruption budget."},
        {"apps/web-1": ("apps/web-pdb",)},
        ["apps/stuck"],
    )
    text = messages.gave_up("Drain_Required", 600, blockers[0], uncordoned=True, retry_at=NOW, attempt=1)
    assert text == (
        "drain before device changes gave up after the 10m00s deadline: pod apps/web-1 cannot be evicted "
        "(PodDisruptionBudget apps/web-pdb: "
        "Cannot evict pod as it would violate the pod's disruption budget.); "
        "node uncordoned; retry at 2026-01-01T12:00:00Z (attempt 2)"
    )
    assert blockers[1].describe() == "pod apps/stuck is still terminating"


def test_a_node_cordoned_by_someone_else_is_said_to_stay_cordoned() -> None:
    blocker = messages.Blocker("apps/a", (), "Too Many Requests")
    text = messages.gave_up("Reboot_Required", 5, blocker, uncordoned=False, retry_at=NOW, attempt=0)
    assert "no PodDisruptionBudget found: Too Many Requests" in text
    assert "node was cordoned before the drain and stays so" in text
    assert messages.released(uncordoned=False, cordoned_by_others=True) == (
        "no drain requested; node left cordoned as it was before the drain"
    )


def test_progress_lists_at_most_five_pods() -> None:
    left = [f"apps/p{i}" for i in range(7)]
    text = messages.progress("Reboot_Required", left, [], NOW)
    assert "waiting for 7 pod(s) to leave: apps/p0, apps/p1, apps/p2, apps/p3, apps/p4 and 2 more" in text


def test_state_is_read_from_node_and_node_state_annotations() -> None:
    node = {
        "metadata": {
            "annotations": {
                "sriovnetwork.openshift.io/state": "Drain_Required",
                "sriovnetwork.openshift.io/cordoned-by": "sriov-fdp-operator",
            }
        }
    }
    node_state = {
        "metadata": {
            "annotations": {
                "sriovnetwork.openshift.io/current-state": "Idle",
                "sriovnetwork.openshift.io/drain-retry-at": NOW.isoformat(),
                "sriovnetwork.openshift.io/drain-attempts": "3",
            }
        }
    }
    state = bookkeeping.read_state(node, node_state)
    assert (state.request, state.current, state.cordoned_by_us, state.retry_at) == (
        "Drain_Required",
        "Idle",
        True,
        NOW,
    )
    assert state.has_bookkeeping
    assert bookkeeping.attempts(node_state) == 3
    # someone else's cordon is not ours to lift
    node["metadata"]["annotations"]["sriovnetwork.openshift.io/cordoned-by"] = "admin"
    assert not bookkeeping.read_state(node, node_state).cordoned_by_us


def test_a_garbled_retry_time_is_ignored_rather_than_blocking_forever() -> None:
    node_state = {"metadata": {"annotations": {"sriovnetwork.openshift.io/drain-retry-at": "soon"}}}
    assert bookkeeping.read_state({}, node_state).retry_at is None


def test_idle_clears_every_bookkeeping_annotation() -> None:
    cleared = bookkeeping.idle_annotations()
    assert cleared.pop("sriovnetwork.openshift.io/current-state") == "Idle"
    assert set(cleared.values()) == {None}
    assert len(cleared) == 4


def test_the_documented_drain_blocked_event_is_what_a_user_sees() -> None:
    blockers = messages.blockers_of(
        {"shop/web-1": "Cannot evict pod as it would violate the pod's disruption budget."},
        {"shop/web-1": ("shop/web-pdb",)},
        [],
    )
    retry_at = datetime(2026, 11, 26, 12, 41, 7, tzinfo=UTC)
    text = messages.gave_up("Drain_Required", 600, blockers[0], uncordoned=True, retry_at=retry_at, attempt=1)
    component = "sriov-drain-controller"
    assert f'events("{component}")' in Path(drain.__file__).read_text()
    shown = " ".join(example("drain-blocked-event").text.split())
    assert shown == f"Warning {EventReason.DRAIN_BLOCKED} {component} {text}"


def test_drain_words_name_the_evicted_pods_and_say_what_the_request_is_for() -> None:
    """Events said "(1 eviction(s))" without naming the pod, and "for Drain_Required"."""
    done = messages.complete("Drain_Required", 12, ["shop/web-0", "shop/web-1"])
    assert (
        done == "drained before device changes in 12s (evicted shop/web-0, shop/web-1); node stays cordoned"
    )
    assert messages.complete("Reboot_Required", 3, []) == (
        "drained before a reboot in 3s (nothing left to evict); node stays cordoned"
    )
    started = messages.started("Reboot_Required", "openshift.io", "pool default: 1 of 1 may drain", NOW)
    assert started.startswith("draining before a reboot: cordoned, evicting every pod except")
    assert "(none on the node now)" in started
    named = messages.started("Drain_Required", "openshift.io", "pool p", NOW, ["apps/web-1"])
    assert named.startswith(
        "draining before device changes: cordoned, evicting pods using openshift.io/* devices "
        "(apps/web-1); pool p; gives up at"
    )
    assert messages.disabled("Drain_Required").startswith("drain before device changes answered at once")
    for text in (done, started, messages.progress("Drain_Required", ["a/b"], [], NOW)):
        assert "_Required" not in text
