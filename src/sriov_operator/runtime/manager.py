"""Runs one process: API client, shared informers, controllers, leader election, health server.

``async with Manager(settings) as manager:`` opens the API client; the process
registers informers and controllers, then ``await manager.run()``:

1. the health server starts (``/readyz`` fails until step 3 is done);
2. every informer lists and starts watching;
3. once all caches are synced, the controllers run — at once, or, with leader
   election on, only while this process holds the Lease;
4. SIGTERM/SIGINT (or `stop`) ends it gracefully: controllers finish the key
   they are on (up to `DRAIN_TIMEOUT`), the Lease is released, the server stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from types import TracebackType
from typing import Any, Self

from sriov_operator.kube.objects import KubeObjects
from sriov_operator.kube.resources import Resource
from sriov_operator.kube.session import ApiSession, api_session
from sriov_operator.runtime.clock import SYSTEM_CLOCK, Clock
from sriov_operator.runtime.controller import Controller
from sriov_operator.runtime.events import EventRecorder
from sriov_operator.runtime.http import HealthServer
from sriov_operator.runtime.informer import Informer, Transform
from sriov_operator.runtime.leader import LeaderElector
from sriov_operator.runtime.settings import RuntimeSettings

logger = logging.getLogger(__name__)

DRAIN_TIMEOUT = 10.0  # seconds controllers get to finish the reconcile they are in at shutdown

InformerKey = tuple[Resource, str | None, str | None, str | None]


class InformerConflictError(ValueError):
    """Two callers asked for one shared informer with different transforms or options.

    A programming error, not a failure the process can meet at run time: it is
    raised while controllers register, before anything runs, and so is outside
    the error tree (`sriov_operator.errors`) on purpose.
    """


class Manager:
    def __init__(self, settings: RuntimeSettings, clock: Clock = SYSTEM_CLOCK) -> None:
        self.settings = settings
        self.clock = clock
        self.objects: KubeObjects
        self.elector: LeaderElector | None = None
        self.health: HealthServer | None = None
        self._api: ApiSession | None = None
        self._exit = AsyncExitStack()
        self._informers: dict[InformerKey, Informer] = {}
        self._informer_options: dict[InformerKey, tuple[Transform | None, dict[str, Any]]] = {}
        self._controllers: list[Controller] = []
        self._stopping = asyncio.Event()
        self._elector_task: asyncio.Task[None] | None = None

    # ---------------------------------------------------------------- set-up
    async def __aenter__(self) -> Self:
        self._api = await self._exit.enter_async_context(
            api_session(self.settings.kubeconfig, self.settings.in_cluster_server)
        )
        if self.settings.leader_elect:
            unguarded = KubeObjects(self._api)  # the elector's own writes: the Lease and its Events
            recorder = EventRecorder(
                unguarded, "leader-election", self.clock, instance=self.settings.identity
            )
            self.elector = LeaderElector(unguarded, self.settings, self.clock, events=recorder)
            self.objects = KubeObjects(self._api, write_guard=self.elector.check_leading)
        else:
            self.objects = KubeObjects(self._api)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._exit.aclose()

    def events(self, component: str) -> EventRecorder:
        return EventRecorder(
            self.objects, component, self.clock, instance=self.settings.identity or component
        )

    def informer(
        self,
        resource: Resource,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        transform: Transform | None = None,
        **options: Any,
    ) -> Informer:
        """The informer for these selectors, shared by all who ask.

        Every caller of one informer must ask for the same ``transform`` and
        options: the cache holds one shape of object, so a second caller expecting
        another would silently read the first one's (`InformerConflictError`).
        """
        key = (resource, namespace, label_selector, field_selector)
        asked = (transform, options)
        if key in self._informers:
            if self._informer_options[key] != asked:
                raise InformerConflictError(_conflict_message(key, self._informer_options[key], asked))
            return self._informers[key]
        self._informers[key] = Informer(
            self.objects,
            resource,
            namespace=namespace,
            label_selector=label_selector,
            field_selector=field_selector,
            transform=transform,
            clock=self.clock,
            **options,
        )
        self._informer_options[key] = asked
        return self._informers[key]

    def add_controller(self, controller: Controller) -> None:
        self._controllers.append(controller)

    @property
    def health_port(self) -> int | None:
        return self.health.port if self.health is not None else None

    @property
    def informers(self) -> list[Informer]:
        return list(self._informers.values())

    # -------------------------------------------------------------------- run
    def readiness(self) -> tuple[bool, str]:
        """Ready when every cache is synced and we lead or stand by (the elector runs)."""
        pending = [informer.name for informer in self._informers.values() if not informer.synced]
        if pending:
            return False, f"caches not synced: {', '.join(sorted(pending))}"
        if self.elector is not None:
            if self._elector_task is None or self._elector_task.done():
                return False, "leader election not running"
            return True, "leading" if self.elector.is_leader else "standing by"
        return True, "ok"

    def stop(self) -> None:
        """Begin a graceful stop (also what SIGTERM and SIGINT do)."""
        self._stopping.set()

    async def run(self) -> None:
        """Run until `stop` (or a signal); an unexpected failure of any part ends the run with it."""
        async with self._running():
            tasks = [
                asyncio.create_task(i.run(), name=f"informer {i.name}") for i in self._informers.values()
            ]
            main = asyncio.create_task(self._sync_then_control(), name="controllers")
            stopping = asyncio.create_task(self._wait_stopping(), name="stop signal")
            tasks += [main, stopping]
            try:
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    if task is not stopping and not task.cancelled() and task.exception() is not None:
                        raise task.exception()  # type: ignore[misc]
                await self._shut_down(main)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    async def _wait_stopping(self) -> None:
        await self._stopping.wait()

    @asynccontextmanager
    async def _running(self) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.stop)
        if self.settings.health_port >= 0:
            self.health = HealthServer(
                self.settings.health_port, self.readiness, self.settings.health_address
            )
            await self.health.start()
        try:
            yield
        finally:
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(signum)
            if self.health is not None:
                await self.health.stop()

    async def _sync_then_control(self) -> None:
        await asyncio.gather(*(informer.wait_synced() for informer in self._informers.values()))
        logger.info("caches synced (%d informers)", len(self._informers))
        if self.elector is not None:
            self._elector_task = asyncio.current_task()
            await self.elector.run(self._run_controllers)
        else:
            await self._run_controllers()

    async def _run_controllers(self) -> None:
        """Run every controller; each starts from everything in its caches (a new leader catches up)."""
        async with asyncio.TaskGroup() as group:
            for controller in self._controllers:
                controller.enqueue_all()
                group.create_task(controller.run(), name=f"controller {controller.name}")
        await self._stopping.wait()  # a process without controllers (the webhook) keeps its caches

    async def _shut_down(self, main: asyncio.Task[None]) -> None:
        """Let controllers finish the key they are on, then cancel (a leader releases its Lease)."""
        logger.info("stopping: controllers finish their current keys")
        for controller in self._controllers:
            controller.stop()
        if self.elector is None or self.elector.is_leader:
            await asyncio.wait({main}, timeout=DRAIN_TIMEOUT)
        main.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await main


def _conflict_message(
    key: InformerKey,
    first: tuple[Transform | None, dict[str, Any]],
    second: tuple[Transform | None, dict[str, Any]],
) -> str:
    resource, namespace, label_selector, field_selector = key
    selectors = ", ".join(
        f"{name}={value}"
        for name, value in (
            ("namespace", namespace),
            ("labels", label_selector),
            ("fields", field_selector),
        )
        if value is not None
    )

    def shape(asked: tuple[Transform | None, dict[str, Any]]) -> str:
        transform, options = asked
        name = getattr(transform, "__qualname__", repr(transform)) if transform else "None"
        return f"transform={name}" + "".join(f", {k}={v!r}" for k, v in sorted(options.items()))

    where = f" ({selectors})" if selectors else ""
    return (
        f"informer {resource.qualified_name}{where} registered with {shape(first)}, "
        f"asked again with {shape(second)}; every caller of a shared informer must ask for the same"
    )
