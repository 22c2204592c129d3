"""Checks of the arguments of public functions: one line naming the argument, as on the CLI.

The Python API answers a wrong type or value the way the command line does: a
[`ScenarioError`][adoptsim.errors.ScenarioError] (an `AdoptsimError`) whose message reads
``field = value — what is allowed``, never a numpy or Python exception from deep inside.
NumPy integers count as whole numbers (``np.int64(500)`` is 500 firms).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from adoptsim.bounds import MAX_FIRMS, MIN_FIRMS, whole_number
from adoptsim.errors import ScenarioError

__all__ = ["MAX_FIRMS", "MIN_FIRMS", "n_firms", "path_or_name", "seed", "table", "whole_number"]
__all__ += ["cap_workers", "usable_cpus", "workers"]
#: Largest seed: ``numpy.random.SeedSequence`` takes any int >= 0; 2**63 - 1 keeps it one int64.
MAX_SEED = 2**63 - 1


def seed(value: Any, field: str = "seed") -> int:
    """A base seed: a whole number within [0, 2**63 - 1]."""
    value = whole_number(value, field, 0)
    if value > MAX_SEED:
        raise ScenarioError(field, value, "must be below 2**63")
    return value


def n_firms(value: Any, field: str = "n_firms") -> int | None:
    """Agents per run (None: the scenario's own) within [100, 5·10⁷]."""
    return None if value is None else whole_number(value, field, MIN_FIRMS, MAX_FIRMS)


def workers(value: Any, field: str = "workers") -> int:
    """Worker processes: a whole number >= 1, clamped (with a warning) to the CPUs available.

    More processes than cores make nothing faster and each holds a model in memory.
    """
    import warnings

    wanted = whole_number(value, field, 1)
    capped, note = cap_workers(wanted, field)
    if note:
        warnings.warn(note, stacklevel=3)
    return capped  # type: ignore[return-value]


def cap_workers(workers: int | None, field: str = "--workers") -> tuple[int | None, str | None]:
    """``workers`` capped at the CPUs this process may use; returns (workers, note or None).

    More processes than cores make nothing faster and each holds a model in memory, so a larger
    value is clamped, with a one-line note for the caller to print.
    """
    if workers is None:
        return None, None
    cores = usable_cpus()
    if workers <= cores:
        return workers, None
    return cores, f"{field} {workers} is more than the {cores} CPUs available; using {cores}"


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask), at least 1."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except (AttributeError, OSError):
        return max(os.cpu_count() or 1, 1)


def path_or_name(value: Any, field: str) -> str | Path:
    """A file path or a name (text or ``os.PathLike``), not empty."""
    if isinstance(value, Path) or (isinstance(value, str) and value.strip()):
        return value
    if hasattr(value, "__fspath__"):
        return Path(value)
    raise ScenarioError(field, value, "must be a name or a path (text)")


def table(value: Any, field: str) -> dict:
    """A mapping with text keys (a scenario table, overrides)."""
    if not isinstance(value, dict):
        raise ScenarioError(field, value, "must be a table (a dict with text keys)")
    for key in value:
        if not isinstance(key, str) or not key:
            raise ScenarioError(f"{field} key", key, "must be non-empty text")
    return value
