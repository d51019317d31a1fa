"""The one recipe for wiring a controller, after controller-runtime's builder.

controller-runtime writes ``NewControllerManagedBy(mgr).Named("x").Watches(src, handler).Complete(r)``;
here::

    controller = (
        controller_for(manager)
        .named("node-states")
        .workers(4)
        .watches(manager.informer(NODES), by_name)  # informer events -> keys
        .fed_by(view.listeners.nodes.append)      # keys another component computes
        .complete(reconciler.reconcile)           # builds it and adds it to the manager
    )

Every controller module has ``register(manager, settings) -> Controller`` that
ends in such a chain; informers come from ``manager.informer`` (one shared cache
per resource and options), and the mappers most controllers need are here.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import Any, Self

from sriov_operator.runtime.controller import Controller, Mapper, Reconcile
from sriov_operator.runtime.informer import Informer
from sriov_operator.runtime.manager import Manager

KeySink = Callable[[Iterable[Hashable]], None]


def by_name(obj: dict[str, Any]) -> list[Hashable]:
    """The object's own name as the key."""
    return [obj["metadata"]["name"]]


def always(*keys: Hashable) -> Mapper:
    """Every change maps to the same ``keys`` (a singleton controller)."""

    def mapper(_: dict[str, Any]) -> list[Hashable]:
        return list(keys)

    return mapper


class ControllerBuilder:
    def __init__(self, manager: Manager) -> None:
        self._manager = manager
        self._name: str | None = None
        self._workers = 1
        self._resync: float | None = None
        self._watches: list[tuple[Informer, Mapper]] = []
        self._feeds: list[tuple[Callable[[KeySink], object], float]] = []
        self._initial: list[Hashable] = []

    def named(self, name: str) -> Self:
        """The controller's name: its queue's, its logs' and its metrics' label."""
        self._name = name
        return self

    def workers(self, count: int) -> Self:
        self._workers = count
        return self

    def resync_every(self, seconds: float) -> Self:
        """Re-enqueue every key the watched caches map to this often (repairs drift)."""
        self._resync = seconds
        return self

    def watches(self, informer: Informer, mapper: Mapper) -> Self:
        """Enqueue ``mapper(obj)`` for the old and new object of every change ``informer`` sees."""
        self._watches.append((informer, mapper))
        return self

    def fed_by(self, subscribe: Callable[[KeySink], object], *, delay: float = 0.0) -> Self:
        """Hand ``subscribe`` a sink for keys computed elsewhere (e.g. the operator view's fan-out);
        with ``delay`` each key waits that long (status controllers let changes settle)."""
        self._feeds.append((subscribe, delay))
        return self

    def starts_with(self, *keys: Hashable) -> Self:
        """Keys enqueued once, before any event (work that exists before anything asks for it)."""
        self._initial.extend(keys)
        return self

    def complete(self, reconcile: Reconcile) -> Controller:
        """Build the controller, connect its sources and add it to the manager."""
        if self._name is None:
            raise ValueError("a controller needs a name: call .named(...) before .complete(...)")
        controller = Controller(
            self._name,
            reconcile,
            workers=self._workers,
            resync_period=self._resync,
            clock=self._manager.clock,
        )
        for informer, mapper in self._watches:
            controller.watch(informer, mapper)
        for subscribe, delay in self._feeds:
            subscribe(_sink(controller, delay))
        for key in self._initial:
            controller.queue.add(key)
        self._manager.add_controller(controller)
        return controller


def _sink(controller: Controller, delay: float) -> KeySink:
    def enqueue(keys: Iterable[Hashable]) -> None:
        for key in keys:
            controller.queue.add_after(key, delay)

    return enqueue


def controller_for(manager: Manager) -> ControllerBuilder:
    """Start a controller managed by ``manager`` (controller-runtime's ``NewControllerManagedBy``)."""
    return ControllerBuilder(manager)
