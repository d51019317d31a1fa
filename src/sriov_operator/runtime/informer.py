"""A watched cache of one resource (optionally narrowed by namespace and selectors).

List (paged), then watch with bookmarks, resuming from the last resourceVersion
seen. A 410 Gone (the version was compacted away) makes it list again from
scratch; a relist diffs the new list against the cache and tells the handlers
what was added, changed or deleted meanwhile. Connection errors are retried
with jittered exponential backoff. Objects pass through ``transform`` before
they are stored, so the cache holds only what controllers read; a ``decoder``
(`~sriov_operator.runtime.decoding.PartialDecoder`) does not even decode the rest.
"""

from __future__ import annotations

import asyncio
import builtins
import json
import logging
import random
from collections.abc import Callable
from typing import Literal

from sriov_operator.errors import SriovOperatorError, describe
from sriov_operator.kube.errors import ResourceExpiredError
from sriov_operator.kube.objects import KubeObjects, Object
from sriov_operator.kube.resources import Resource
from sriov_operator.runtime.backoff import backoff_delay
from sriov_operator.runtime.clock import SYSTEM_CLOCK, Clock
from sriov_operator.runtime.decoding import PartialDecoder

logger = logging.getLogger(__name__)

EventKind = Literal["added", "modified", "deleted", "relisted"]
Handler = Callable[[EventKind, Object | None, Object | None], None]
Transform = Callable[[Object], Object]
CacheKey = tuple[str | None, str]

PAGE_SIZE = 100  # smaller pages: less memory held while a page is parsed (measured: bench_runtime.py)
WATCH_TIMEOUT = 300  # seconds; each watch asks for a random timeout between this and twice this
BACKOFF_BASE = 0.5
BACKOFF_CAP = 30.0
BACKOFF_JITTER = 0.5
MIN_WATCH_SECONDS = 1.0


def cache_key(obj: Object) -> CacheKey:
    metadata = obj["metadata"]
    return (metadata.get("namespace"), metadata["name"])


def resource_version(obj: Object) -> str:
    return str(obj["metadata"].get("resourceVersion") or "")


class Informer:
    def __init__(
        self,
        objects: KubeObjects,
        resource: Resource,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        transform: Transform | None = None,
        decoder: PartialDecoder | None = None,
        clock: Clock = SYSTEM_CLOCK,
        name: str | None = None,
        page_size: int = PAGE_SIZE,
        watch_timeout: int = WATCH_TIMEOUT,
    ) -> None:
        self.objects = objects
        self.resource = resource
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.transform = transform
        self.decoder = decoder  # reads only the fields the cache keeps; None: every field
        self.clock = clock
        self.name = name or resource.qualified_name
        self.page_size = page_size
        self.watch_timeout = watch_timeout
        self.resource_version: str | None = None  # the last version seen; None: list next
        self.relists = 0  # full lists done (the first one included)
        self._store: dict[CacheKey, Object] = {}
        self._handlers: list[Handler] = []
        self._synced = asyncio.Event()
        self._random = random.Random()

    # ------------------------------------------------------------------ reads
    @property
    def synced(self) -> bool:
        return self._synced.is_set()

    async def wait_synced(self) -> None:
        await self._synced.wait()

    def get(self, name: str, namespace: str | None = None) -> Object | None:
        if namespace is None and self.resource.namespaced:
            namespace = self.namespace
        return self._store.get((namespace, name))

    def list(self) -> list[Object]:
        return list(self._store.values())

    def keys(self) -> builtins.list[CacheKey]:
        return list(self._store)

    def __len__(self) -> int:
        return len(self._store)

    def add_handler(self, handler: Handler) -> None:
        """Call ``handler(kind, old, new)`` on every change; it must be fast and must not block."""
        self._handlers.append(handler)

    # -------------------------------------------------------------------- run
    async def run(self) -> None:
        """Keep the cache in step with the API server until cancelled."""
        failures = 0
        while True:
            try:
                if self.resource_version is None:
                    await self._relist()
                started = self.clock.monotonic()
                await self._watch()
                failures = 0
                if self.clock.monotonic() - started < MIN_WATCH_SECONDS:
                    await self.clock.sleep(MIN_WATCH_SECONDS)  # never spin on watches that end at once
            except ResourceExpiredError as error:
                logger.info("%s: %s; listing again", self.name, describe(error))
                self.resource_version = None
            except SriovOperatorError as error:
                failures += 1
                delay = backoff_delay(failures, BACKOFF_BASE, BACKOFF_CAP, BACKOFF_JITTER, self._random)
                level = logging.INFO if failures == 1 else logging.WARNING
                logger.log(level, "%s: %s; retry in %.1fs", self.name, describe(error), delay)
                await self.clock.sleep(delay)

    async def _relist(self) -> None:
        fresh: dict[CacheKey, Object] = {}
        continue_token: str | None = None
        list_version = ""
        while True:
            page = await self.objects.list(
                self.resource,
                namespace=self.namespace,
                label_selector=self.label_selector,
                field_selector=self.field_selector,
                limit=self.page_size,
                continue_=continue_token,
                decode=self.decoder.page if self.decoder else json.loads,
            )
            metadata = page.get("metadata") or {}
            list_version = list_version or str(metadata.get("resourceVersion") or "")
            for item in page.get("items") or []:
                obj = self._prepare(item)
                fresh[cache_key(obj)] = obj
            del page  # let a page of full objects go before the next arrives
            continue_token = metadata.get("continue") or None
            if continue_token is None:
                break
        self._replace(fresh)
        self.resource_version = list_version
        self.relists += 1
        self._synced.set()
        logger.debug("%s: listed %d objects at version %s", self.name, len(fresh), list_version)

    def _replace(self, fresh: dict[CacheKey, Object]) -> None:
        old_store, self._store = self._store, fresh
        for key, obj in fresh.items():
            old = old_store.get(key)
            if old is None:
                self._emit("added", None, obj)
            elif resource_version(old) != resource_version(obj):
                self._emit("modified", old, obj)
        for key, old in old_store.items():
            if key not in fresh:
                self._emit("deleted", old, None)
        self._emit("relisted", None, None)

    async def _watch(self) -> None:
        timeout = int(self.watch_timeout * (1 + self._random.random()))
        async for event in self.objects.watch(
            self.resource,
            namespace=self.namespace,
            label_selector=self.label_selector,
            field_selector=self.field_selector,
            resource_version=self.resource_version,
            timeout_seconds=timeout,
            allow_bookmarks=True,
            decode=self.decoder.event if self.decoder else json.loads,
        ):
            kind = event.get("type")
            raw = event.get("object") or {}
            if kind == "BOOKMARK":
                self.resource_version = resource_version(raw) or self.resource_version
                continue
            obj = self._prepare(raw)
            key = cache_key(obj)
            old = self._store.get(key)
            if kind == "DELETED":
                self._store.pop(key, None)
                self._emit("deleted", old or obj, None)
            elif kind in ("ADDED", "MODIFIED"):
                self._store[key] = obj
                self._emit("added" if old is None else "modified", old, obj)
            self.resource_version = resource_version(obj) or self.resource_version

    def _prepare(self, obj: Object) -> Object:
        """Name the kind (list items come without it), then transform."""
        obj.setdefault("kind", self.resource.kind)
        obj.setdefault("apiVersion", self.resource.api_version)
        return self.transform(obj) if self.transform is not None else obj

    def _emit(self, kind: EventKind, old: Object | None, new: Object | None) -> None:
        for handler in self._handlers:
            try:
                handler(kind, old, new)
            except Exception:
                logger.exception("%s: a %s handler failed", self.name, kind)
