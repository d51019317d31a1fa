"""The tests' one way to wait: `eventually` re-checks a condition until it holds, or fails naming it.

Tests wait for a state, never for a fixed time: ``check`` reads the state the
assertion that follows reads (best from the same source: the object the
assertion looks at, not a sibling written in another request).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

T = TypeVar("T")
WAIT_SECONDS = 90.0  # a loaded 2-core machine runs several control planes at once
INTERVAL = 0.1  # seconds between checks


async def eventually(
    check: Callable[[], Awaitable[T | None] | T | None],
    what: str = "",
    timeout: float = WAIT_SECONDS,
    *,
    details: Callable[[], str] | None = None,
) -> T:
    """Call ``check`` (sync or async) until it returns something truthy, and return that; on timeout
    fail the test naming ``what`` (and ``details()``, e.g. the logs of the processes involved)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result  # type: ignore[return-value]
        if time.monotonic() > deadline:
            extra = f"\n{details()}" if details is not None else ""
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what or check}{extra}", pytrace=False)
        await asyncio.sleep(INTERVAL)


def eventually_blocking(check: Callable[[], T | None], what: str, timeout: float = 120.0) -> T:
    """`eventually` for tests that drive blocking tools (helm, kubectl as subprocesses), outside a loop;
    each check runs a subprocess, hence the longer default."""
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}", pytrace=False)
        time.sleep(INTERVAL)
    return value
