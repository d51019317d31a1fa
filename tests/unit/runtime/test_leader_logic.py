"""Leader-election decisions that need no API server: when writes stop, when a Lease may be taken."""

from __future__ import annotations

from typing import Any, cast

import pytest

from sriov_operator.kube.objects import KubeObjects
from sriov_operator.runtime.leader import LeaderElector, NotLeaderError
from sriov_operator.runtime.settings import RuntimeSettings
from sriov_operator.runtime.testing import FakeClock

SETTINGS = RuntimeSettings(
    namespace="ns", leader_elect=True, lease_name="l", lease_duration=15, renew_deadline=10, retry_period=2,
    identity="me",
)  # fmt: skip


def elector(clock: FakeClock) -> LeaderElector:
    return LeaderElector(cast(KubeObjects, None), SETTINGS, clock)  # the decisions below never call the API


def lease(holder: str, version: str) -> dict[str, Any]:
    return {
        "metadata": {"name": "l", "namespace": "ns", "resourceVersion": version},
        "spec": {"holderIdentity": holder, "leaseDurationSeconds": 15},
    }


async def test_writes_are_refused_once_the_renew_deadline_has_passed() -> None:
    clock = FakeClock()
    leader = elector(clock)
    with pytest.raises(NotLeaderError):
        leader.check_leading()  # never led
    leader.is_leader = True
    leader._renewed_at = clock.monotonic()
    await clock.advance(9.9)
    leader.check_leading()
    await clock.advance(0.1)
    with pytest.raises(NotLeaderError, match="does not hold Lease/ns/l"):
        leader.check_leading()


async def test_a_held_lease_is_taken_only_after_it_stayed_unchanged_for_its_duration() -> None:
    clock = FakeClock()
    standby = elector(clock)
    assert not standby._may_take(lease("other", "1"))  # first sight starts the clock
    await clock.advance(14)
    assert not standby._may_take(lease("other", "1"))
    assert not standby._may_take(lease("other", "2"))  # renewed: the clock starts again
    await clock.advance(14.9)
    assert not standby._may_take(lease("other", "2"))
    await clock.advance(0.1)
    assert standby._may_take(lease("other", "2"))


def test_a_released_or_own_lease_may_be_taken_at_once() -> None:
    standby = elector(FakeClock())
    assert standby._may_take(lease("", "5"))
    assert standby._may_take(lease("me", "5"))
