"""The daemon's state machine as a table: what it sees -> next step and the status it publishes."""

from __future__ import annotations

import dataclasses

import pytest

from sriov_operator.daemon.handoff import HANDED_OVER, DevicePluginConfig, HostHandOff
from sriov_operator.daemon.sync import (
    Failure,
    Observation,
    decide,
    record_failure,
    retry_delay,
)
from sriov_operator.host.actions import BindDriver, SetNumVfs
from sriov_operator.host.boot import BootMarks
from sriov_operator.host.bootconfig import REBOOT_REQUESTED as ASKED
from sriov_operator.host.plan import Plan

BIND = BindDriver("0000:00:04.0", "vfio-pci", requires="none", reason="wants vfio-pci")
NUMVFS = SetNumVfs("0000:3b:00.0", 8, reason="0 -> 8 VFs")
REBOOT = SetNumVfs("0000:3b:00.0", 8, requires="reboot", reason="firmware")
CONFIG = DevicePluginConfig(for_generation=3, digest="abc", handed_over=None)

BASE = Observation(
    generation=3,
    applied_generation=2,
    plan=Plan((BIND,)),
    plan_error=None,
    explanation=("will bind 0000:00:04.0 to vfio-pci (no drain): policy dpdk1",),
    drain_request="Idle",
    drain_current="Idle",
    device_plugin=CONFIG,
    host_handoff=HostHandOff(on_host=True, boot=BootMarks("boot-1", {HANDED_OVER: "boot-1"})),
    failure=None,
)
DONE = dataclasses.replace(BASE, plan=Plan(()), explanation=())


def seen(base: Observation = BASE, **changes: object) -> Observation:
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("observation", "step", "sync_status", "drain_request"),
    [
        pytest.param(BASE, "apply", "InProgress", None, id="no-drain plan applies at once"),
        pytest.param(
            seen(plan=Plan((NUMVFS,))), "request-drain", "InProgress", "Drain_Required", id="drain first"
        ),
        pytest.param(
            seen(plan=Plan((REBOOT,))), "request-drain", "InProgress", "Reboot_Required", id="reboot"
        ),
        pytest.param(
            seen(plan=Plan((REBOOT,)), drain_request="Drain_Required"),
            "request-drain",
            "InProgress",
            "Reboot_Required",
            id="a drain request is raised to a reboot request",
        ),
        pytest.param(
            seen(plan=Plan((NUMVFS,)), drain_request="Drain_Required", drain_current="Draining"),
            "wait-drain",
            "InProgress",
            None,
            id="waits while the drain controller drains",
        ),
        pytest.param(
            seen(plan=Plan((NUMVFS,)), drain_request="Drain_Required", drain_current="DrainComplete"),
            "apply",
            "InProgress",
            None,
            id="applies once DrainComplete",
        ),
        pytest.param(
            seen(plan=Plan((REBOOT,)), drain_request="Reboot_Required", drain_current="DrainComplete"),
            "apply",
            "InProgress",
            None,
            id="the reboot runs once drained",
        ),
        pytest.param(
            seen(
                plan=Plan((REBOOT,)),
                drain_request="Reboot_Required",
                drain_current="DrainComplete",
                host_handoff=HostHandOff(True, BootMarks("boot-1", {HANDED_OVER: "boot-1", ASKED: "boot-1"})),
            ),
            "wait-reboot",
            "InProgress",
            None,
            id="a reboot asked for in this boot is waited for, not asked again",
        ),
        pytest.param(
            seen(
                plan=Plan((REBOOT,)),
                host_handoff=HostHandOff(True, BootMarks("boot-2", {HANDED_OVER: "boot-2", ASKED: "boot-1"})),
            ),
            "request-drain",
            "InProgress",
            "Reboot_Required",
            id="a reboot asked for in an earlier boot does not make the next one wait",
        ),
        pytest.param(DONE, "hand-over", "InProgress", None, id="hand over once the host matches"),
        pytest.param(
            seen(DONE, device_plugin=dataclasses.replace(CONFIG, for_generation=4)),
            "record-generation",
            "InProgress",
            None,
            id="config rendered for a spec not seen yet is not handed over",
        ),
        pytest.param(
            seen(
                DONE,
                device_plugin=dataclasses.replace(CONFIG, handed_over="abc"),
                drain_request="Drain_Required",
            ),
            "request-idle",
            "InProgress",
            "Idle",
            id="idle requested after hand-over",
        ),
        pytest.param(
            seen(DONE, device_plugin=dataclasses.replace(CONFIG, handed_over="abc")),
            "record-generation",
            "InProgress",
            None,
            id="generation recorded last",
        ),
        pytest.param(
            seen(DONE, device_plugin=None, applied_generation=3),
            "idle",
            "Succeeded",
            None,
            id="nothing to do",
        ),
        pytest.param(
            seen(plan=None, plan_error="0000:00:04.0: numVfs must be 1"),
            "fail",
            "Failed",
            None,
            id="plan error fails",
        ),
        pytest.param(
            seen(failure=Failure(3, "ApplyFailed", "bindDriver 0000:00:04.0: Permission denied")),
            "apply",
            "Failed",
            None,
            id="retry keeps Failed (no flapping)",
        ),
        pytest.param(
            seen(failure=Failure(2, "ApplyFailed", "old")),
            "apply",
            "InProgress",
            None,
            id="failure of an older generation does not count",
        ),
    ],
)
def test_next_step(observation: Observation, step: str, sync_status: str, drain_request: str | None) -> None:
    decision = decide(observation)
    assert (decision.step, decision.sync_status, decision.drain_request) == (step, sync_status, drain_request)


def test_progress_shows_the_plan_before_it_runs() -> None:
    assert decide(BASE).progress == "will bind 0000:00:04.0 to vfio-pci (no drain): policy dpdk1"
    waiting = decide(seen(plan=Plan((NUMVFS,)), drain_request="Drain_Required", drain_current="Draining"))
    assert waiting.progress.startswith("waiting for the drain (now Draining) before: will bind")


def test_failed_sync_names_the_error_and_clears_on_success() -> None:
    failing = decide(seen(failure=Failure(3, "ApplyFailed", "bindDriver 0000:00:04.0: Permission denied")))
    assert failing.last_sync_error == "bindDriver 0000:00:04.0: Permission denied"
    assert failing.progress.startswith("retrying (attempt 2): will bind")
    done = decide(seen(DONE, device_plugin=None, applied_generation=3))
    assert (done.sync_status, done.last_sync_error) == ("Succeeded", "")


def test_plan_error_says_which_generation_and_why() -> None:
    decision = decide(seen(plan=None, plan_error="0000:00:04.0: virtual platform: numVfs must be 1, not 2"))
    assert decision.last_sync_error == (
        "generation 3 cannot be applied on this host: 0000:00:04.0: virtual platform: numVfs must be 1, not 2"
    )


def test_backoff_doubles_and_is_capped() -> None:
    assert [retry_delay(n) for n in (1, 2, 3, 4)] == [5.0, 10.0, 20.0, 40.0]
    assert retry_delay(30) == 300.0


def test_attempts_count_per_generation() -> None:
    first = record_failure(None, 3, "ApplyFailed", "x", at=100.0)
    second = record_failure(first, 3, "ApplyFailed", "x", at=105.0)
    assert (first.attempts, second.attempts) == (1, 2)
    assert second.retry_after == 10.0
    assert record_failure(second, 4, "ApplyFailed", "x", at=106.0).attempts == 1


def test_retry_waits_for_the_backoff_unless_the_spec_changed() -> None:
    failure = record_failure(None, 3, "ApplyFailed", "x", at=100.0)
    assert failure.wait_before_retry(3, now=101.0) == 4.0
    assert failure.wait_before_retry(3, now=106.0) == 0.0
    assert failure.wait_before_retry(4, now=101.0) == 0.0


def test_after_a_release_the_old_drain_complete_does_not_count() -> None:
    """A failed apply gives the node back (Idle): the retry asks for a new drain before applying."""
    released = seen(plan=Plan((NUMVFS,)), drain_request="Idle", drain_current="DrainComplete")
    decision = decide(released)
    assert (decision.step, decision.drain_request) == ("request-drain", "Drain_Required")


def test_a_drain_request_is_said_in_words() -> None:
    """The DrainRequested Event said "Drain_Required before: …", the annotation's token."""
    drain = decide(seen(plan=Plan((NUMVFS,))))
    assert drain.progress.startswith("requesting a drain before: ")
    assert decide(seen(plan=Plan((REBOOT,)))).progress.startswith("requesting a drain and a reboot before: ")
