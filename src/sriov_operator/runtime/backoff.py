"""Capped exponential backoff, optionally jittered so that many clients do not retry in step."""

from __future__ import annotations

import random


def backoff_delay(
    failures: int, base: float, cap: float, jitter: float = 0.0, rand: random.Random | None = None
) -> float:
    """Seconds to wait after ``failures`` consecutive failures (1 = the first failure).

    ``base * 2**(failures-1)``, capped at ``cap``; with ``jitter`` j the result
    is spread uniformly over ``[d*(1-j), d]`` (never above the cap).
    """
    if failures <= 0:
        return 0.0
    delay = min(cap, base * 2.0 ** min(failures - 1, 64))
    if jitter:
        delay *= 1.0 - jitter * (rand or random).random()
    return delay
