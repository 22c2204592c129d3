"""Bounds checks of single numbers, shared by the scenario schema and lever schedules.

Kept apart from both so that ``schema`` (which parses schedules) and ``schedule`` (which checks
each dated value) depend on it instead of on each other.
"""

from __future__ import annotations

import argparse
import math
import numbers
from collections.abc import Callable

from adoptsim.errors import ScenarioError

#: Fewest and most agents a run may have (the scenario file's ``population.n_firms`` bounds).
MIN_FIRMS = 100
MAX_FIRMS = 50_000_000


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


def whole_number(
    value: object,
    name: str,
    lo: int | None,
    hi: int | None = None,
    *,
    integral_floats: bool = False,
) -> int:
    """Return ``value`` as an int if it is a whole number in [lo, hi], else a `ScenarioError`.

    The one check behind every count a caller gives (replications, firms, workers, seeds) and
    every whole-number field of a scenario file. A bool, a float (even 3.0) or text is not a
    whole number here; NumPy integers are (``np.int64(500)`` is 500). The error names ``name``.

    Args:
        value: the value given.
        name: the field or argument, as the error message names it.
        lo: the smallest value allowed (None only with ``integral_floats``: no lower bound).
        hi: the largest value allowed (None: no upper bound).
        integral_floats: the scenario schema's variant: a float with no fractional part
            (``5.0``, as TOML may write a count) passes, and a refusal says the range as for
            any number ("must be within [lo, hi]"), or "must be a whole number".
    """
    if integral_floats:
        v = check_number(value, name, lo, hi)
        if v != int(v):
            raise ScenarioError(name, value, "must be a whole number")
        return int(v)
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if ok and lo <= int(value) and (hi is None or int(value) <= hi):  # type: ignore[arg-type,operator]
        return int(value)  # type: ignore[arg-type]
    allowed = (
        f"must be a whole number >= {lo}"
        if hi is None
        else f"must be a whole number within [{lo:,}, {hi:,}]"
    )
    raise ScenarioError(name, value, allowed)


def whole_number_arg(lo: int, hi: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number in [lo, hi] (as `whole_number`), one-line error otherwise.

    Only ASCII digits count: ``int()`` would also take " 12" and full-width "１２".

    Args:
        lo: the smallest value allowed.
        hi: the largest value allowed (None: no bound).

    Returns:
        A function from the option's text to its value, raising ``ArgumentTypeError``.
    """

    def parse(text: str) -> int:
        if not text.isascii() or text != text.strip():
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number")
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < lo:
            raise argparse.ArgumentTypeError(f"{value} must be >= {lo}")
        if hi is not None and value > hi:
            raise argparse.ArgumentTypeError(f"{value} must be <= {hi:,}")
        return value

    return parse


def share_arg(text: str) -> float:
    """An argparse type: a number strictly between 0 and 1, one-line error otherwise."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be within (0, 1), e.g. 0.005 = 0.5 pp")
    return value
