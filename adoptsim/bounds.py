"""Bounds checks of single numbers, shared by the scenario schema and lever schedules.

Kept apart from both so that ``schema`` (which parses schedules) and ``schedule`` (which checks
each dated value) depend on it instead of on each other.
"""

from __future__ import annotations

import math

from adoptsim.errors import ScenarioError


def _range_text(lo: float | None, hi: float | None) -> str:
    if lo is not None and hi is not None:
        return f"must be within [{lo:g}, {hi:g}]"
    if lo is not None:
        return f"must be >= {lo:g}"
    if hi is not None:
        return f"must be <= {hi:g}"
    return "must be a number"


def check_number(value: object, name: str, lo: float | None, hi: float | None) -> float:
    """Return ``value`` as a float, or raise a `ScenarioError` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScenarioError(name, value, f"must be a number ({_range_text(lo, hi)})")
    v = float(value)
    if math.isnan(v) or math.isinf(v):
        raise ScenarioError(name, value, "must be a finite number")
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise ScenarioError(name, value, _range_text(lo, hi))
    return v
