"""The controller builder wires what it is told: watches, fed keys (with their delay), first keys."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from sriov_operator.runtime.builder import always, by_name, controller_for
from sriov_operator.runtime.controller import Controller, Result
from sriov_operator.runtime.manager import Manager
from sriov_operator.runtime.settings import RuntimeSettings
from sriov_operator.runtime.testing import FakeClock


async def _reconcile(_: Any) -> Result | None:
    return None


def _manager(clock: FakeClock) -> Manager:
    return Manager(RuntimeSettings(namespace="ns", health_port=-1, leader_elect=False), clock)


async def test_fed_keys_and_first_keys_reach_the_queue_and_the_controller_is_managed() -> None:
    clock = FakeClock()
    manager = _manager(clock)
    sinks: list[Any] = []
    delayed: list[Any] = []
    controller = (
        controller_for(manager)
        .named("demo")
        .workers(3)
        .fed_by(sinks.append)
        .fed_by(delayed.append, delay=2.0)
        .starts_with("first")
        .complete(_reconcile)
    )
    assert isinstance(controller, Controller)
    assert (controller.name, controller.workers, controller.clock) == ("demo", 3, clock)
    assert manager._controllers == [controller]
    assert len(controller.queue) == 1
    sinks[0](["a", "b"])
    assert len(controller.queue) == 3
    delayed[0](["late"])
    assert len(controller.queue) == 3, "a delayed key waits"
    await clock.advance(2.0)
    await asyncio.sleep(0)
    assert len(controller.queue) == 4
    controller.stop()


def test_a_controller_needs_a_name() -> None:
    with pytest.raises(ValueError, match="named"):
        controller_for(_manager(FakeClock())).complete(_reconcile)


def test_the_shared_mappers() -> None:
    assert by_name({"metadata": {"name": "n1"}}) == ["n1"]
    assert always("default")({"metadata": {"name": "other"}}) == ["default"]
