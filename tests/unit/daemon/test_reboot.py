"""A reboot, as the daemon's pure core sees it: the hand-off is withdrawn first, given back once configured,
and the devices are re-created without a drain."""

from __future__ import annotations

import dataclasses

import pytest

from sriov_operator.daemon.handoff import (
    HANDED_OVER,
    WITHDRAWN,
    DevicePluginConfig,
    HostHandOff,
    hand_over_needed,
    withdraw_needed,
)
from sriov_operator.daemon.sync import Observation, decide
from sriov_operator.host.actions import SetNumVfs
from sriov_operator.host.boot import BootMarks
from sriov_operator.host.plan import Plan

NUMVFS = SetNumVfs("0000:3b:00.0", 4, reason="0 -> 4 VFs")
REBOOT = SetNumVfs("0000:3b:00.0", 4, requires="reboot", reason="firmware")
HANDED = DevicePluginConfig(for_generation=3, digest="abc", handed_over="abc")
TAKEN_BACK = dataclasses.replace(HANDED, handed_over=None)

BEFORE = HostHandOff(True, BootMarks("boot-1", {HANDED_OVER: "boot-1"}))  # handed over, then the node ran
REBOOTED = HostHandOff(True, BootMarks("boot-2", {HANDED_OVER: "boot-1"}))  # the same file, a new boot
WITHDRAWN_NOW = HostHandOff(False, BootMarks("boot-2", {HANDED_OVER: "boot-1", WITHDRAWN: "boot-2"}))
HANDED_AGAIN = HostHandOff(True, BootMarks("boot-2", {HANDED_OVER: "boot-2", WITHDRAWN: "boot-2"}))

AFTER_REBOOT = Observation(
    generation=3,
    applied_generation=3,
    plan=Plan((NUMVFS,)),
    plan_error=None,
    explanation=("will create 4 VFs on 0000:3b:00.0 (drain): policy intelnics",),
    drain_request="Idle",
    drain_current="Idle",
    device_plugin=HANDED,
    host_handoff=REBOOTED,
    failure=None,
)


def seen(**changes: object) -> Observation:
    return dataclasses.replace(AFTER_REBOOT, **changes)  # type: ignore[arg-type]


def test_a_config_from_an_earlier_boot_is_stale() -> None:
    assert BEFORE.current and not BEFORE.stale
    assert REBOOTED.stale and not REBOOTED.current
    assert HostHandOff(True, BootMarks("boot-2")).stale  # a file without a boot mark (an older daemon's)
    assert not HostHandOff(False, BootMarks("boot-2")).stale


def test_a_host_that_does_not_tell_its_boots_apart_keeps_its_hand_off() -> None:
    unknown = HostHandOff(True, BootMarks(None, {HANDED_OVER: "boot-1"}))
    assert unknown.current and not unknown.stale and not unknown.after_boot


def test_after_boot_lasts_from_the_withdrawal_until_the_next_hand_off() -> None:
    assert not REBOOTED.after_boot  # not withdrawn yet: the plugin may have read the old file
    assert WITHDRAWN_NOW.after_boot
    assert not HANDED_AGAIN.after_boot
    earlier = HostHandOff(False, BootMarks("boot-3", {WITHDRAWN: "boot-2"}))  # withdrawn in another boot
    assert not earlier.after_boot


def test_withdrawal_comes_first_even_when_a_drain_is_pending_or_the_spec_fails() -> None:
    assert decide(AFTER_REBOOT).step == "withdraw"
    assert decide(seen(drain_request="Drain_Required", drain_current="Draining")).step == "withdraw"
    assert decide(seen(plan=None, plan_error="numVfs 99 is more than 7")).step == "withdraw"
    assert decide(AFTER_REBOOT).progress.startswith("new boot: withdrawing the device plugin's config")


def test_withdrawal_is_repeated_until_the_configmap_no_longer_says_handed_over() -> None:
    """A daemon that stopped between removing the file and the annotation finishes the job."""
    assert withdraw_needed(WITHDRAWN_NOW, HANDED)
    assert not withdraw_needed(WITHDRAWN_NOW, TAKEN_BACK)
    assert not withdraw_needed(WITHDRAWN_NOW, None)
    assert not withdraw_needed(BEFORE, HANDED)


def test_after_the_withdrawal_the_vfs_are_recreated_without_a_drain() -> None:
    decision = decide(seen(host_handoff=WITHDRAWN_NOW, device_plugin=TAKEN_BACK))
    assert (decision.step, decision.drain_request) == ("apply", None)
    assert decision.progress == (
        "after a reboot, nothing of ours is advertised yet, so no drain: "
        "will create 4 VFs on 0000:3b:00.0 (drain): policy intelnics"
    )


def test_a_change_that_needs_a_reboot_still_goes_through_the_drain_controller() -> None:
    decision = decide(seen(host_handoff=WITHDRAWN_NOW, device_plugin=TAKEN_BACK, plan=Plan((REBOOT,))))
    assert (decision.step, decision.drain_request) == ("request-drain", "Reboot_Required")


def test_once_handed_over_in_this_boot_a_later_change_drains_again() -> None:
    decision = decide(seen(host_handoff=HANDED_AGAIN))
    assert (decision.step, decision.drain_request) == ("request-drain", "Drain_Required")


@pytest.mark.parametrize(
    ("host", "config", "needed"),
    [
        pytest.param(WITHDRAWN_NOW, TAKEN_BACK, True, id="after withdrawal"),
        pytest.param(WITHDRAWN_NOW, HANDED, True, id="same digest, but not handed over in this boot"),
        pytest.param(HANDED_AGAIN, HANDED, False, id="handed over in this boot"),
        pytest.param(WITHDRAWN_NOW, dataclasses.replace(HANDED, for_generation=4), False, id="newer spec"),
        pytest.param(WITHDRAWN_NOW, None, False, id="no config"),
    ],
)
def test_the_config_is_handed_back_once_the_host_matches(
    host: HostHandOff, config: DevicePluginConfig | None, needed: bool
) -> None:
    assert hand_over_needed(host, config, generation=3) is needed


def test_a_reboot_runs_withdraw_apply_hand_over_and_never_drains() -> None:
    """The daemon's passes after a reboot, each seeing what the previous step left."""
    steps = [decide(AFTER_REBOOT).step]
    withdrawn = seen(host_handoff=WITHDRAWN_NOW, device_plugin=TAKEN_BACK)
    steps.append(decide(withdrawn).step)
    configured = dataclasses.replace(withdrawn, plan=Plan(()), explanation=())
    steps.append(decide(configured).step)
    steps.append(
        decide(dataclasses.replace(configured, host_handoff=HANDED_AGAIN, device_plugin=HANDED)).step
    )
    assert steps == ["withdraw", "apply", "hand-over", "idle"]
