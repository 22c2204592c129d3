"""A bounded per-process cache: look a key up, compute it once if missing.

Month tables, lever configuration ids and barrier-sum tables depend only on a run's parameters,
which many replications share; but calibration and prior draws make thousands of distinct
parameter sets, so each cache is emptied when it reaches its limit rather than growing.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TypeVar

T = TypeVar("T")


def memo(cache: dict, key: Hashable, compute: Callable[[], T], limit: int) -> T:
    """``cache[key]``, computed by ``compute()`` and stored first if missing.

    A full cache (``limit`` entries) is emptied before the new entry goes in: what a process
    keeps needing is computed again once, and memory stays bounded.
    """
    out = cache.get(key)
    if out is None:
        if len(cache) >= limit:
            cache.clear()
        out = cache[key] = compute()
    return out
