"""Dated lever schedules: a value that changes at given months (steps) or along a ramp.

In a scenario file a schedule is written as

* a number — constant over the whole run: ``take_up = 0.3``;
* a table of months to values — a step function, each value in force from its month:
  ``rate_small = { "2016-04" = 0.40, "2019-12" = 0.30 }`` (before the first month the value is 0);
* a table with ``ramp`` — linear interpolation between the points, flat outside them:
  ``reach = { ramp = { "2025-01" = 0.05, "2027-01" = 0.60 } }``.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

import numpy as np

from adoptsim.bounds import check_number
from adoptsim.errors import ScenarioError
from adoptsim.months import format_month, parse_month


@dataclass(frozen=True)
class Schedule:
    """A lever value over time. ``months`` are month indices (see `adoptsim.months`)."""

    months: tuple[int, ...]
    values: tuple[float, ...]
    ramp: bool = False

    @classmethod
    def constant(cls, value: float) -> Schedule:
        """A schedule that is ``value`` at every month."""
        return cls((), (float(value),), False)

    def at(self, month: int) -> float:
        """Value in force at month index ``month``."""
        if not self.months:
            return self.values[0]
        if self.ramp:
            return float(np.interp(month, self.months, self.values))
        # bisect on the tuple: np.searchsorted would first copy it into an array, every call
        i = bisect_right(self.months, month) - 1
        return self.values[i] if i >= 0 else 0.0

    def over(self, months: np.ndarray) -> np.ndarray:
        """Values in force at each of ``months`` (month indices); the same numbers as `at`.

        Used to tabulate a run's months at once instead of asking month by month.
        """
        months = np.asarray(months)
        if not self.months:
            return np.full(months.shape, self.values[0], dtype=np.float64)
        if self.ramp:
            return np.interp(months, self.months, self.values)
        i = np.searchsorted(self.months, months, side="right") - 1
        values = np.asarray(self.values, dtype=np.float64)
        return np.where(i >= 0, values[np.maximum(i, 0)], 0.0)

    def scaled(self, factor: float) -> Schedule:
        """The same schedule with every value multiplied by ``factor``."""
        return Schedule(self.months, tuple(v * factor for v in self.values), self.ramp)

    def to_toml(self) -> float | dict:
        """The scenario-file form of this schedule (inverse of parsing)."""
        if not self.months:
            return self.values[0]
        points = {format_month(m): v for m, v in zip(self.months, self.values, strict=True)}
        return {"ramp": points} if self.ramp else points


def parse_schedule(raw: object, field: str, lo: float | None, hi: float | None) -> Schedule:
    """Turn a scenario-file schedule into a [`Schedule`][adoptsim.schedule.Schedule].

    Every value is checked against the bounds [``lo``, ``hi``]; ``field`` names it in errors.
    """
    if isinstance(raw, Schedule):
        for v in raw.values:
            check_number(v, field, lo, hi)
        return raw
    if not isinstance(raw, dict):
        return Schedule.constant(check_number(raw, field, lo, hi))
    ramp = "ramp" in raw
    points = raw["ramp"] if ramp else raw
    if ramp and (len(raw) != 1 or not isinstance(points, dict)):
        raise ScenarioError(field, raw, 'a ramp is written { ramp = { "YYYY-MM" = value, ... } }')
    if not points:
        raise ScenarioError(field, raw, "a schedule needs at least one month")
    parsed = sorted(
        (parse_month(k, f"{field}.{k}"), check_number(v, f"{field}.{k}", lo, hi))
        for k, v in points.items()
    )
    keys: dict[int, str] = {}
    for key in points:
        month = parse_month(key, f"{field}.{key}")
        if month in keys:
            raise ScenarioError(
                f"{field}.{key}",
                points[key],
                f"names the same month as {keys[month]!r}; give each month once",
            )
        keys[month] = key
    months = tuple(m for m, _ in parsed)
    return Schedule(months, tuple(v for _, v in parsed), ramp)
