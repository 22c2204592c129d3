"""Sweep specs: the ``[sweep]`` table, validated, and the tasks it expands to.

A sweep spec is a TOML file (or a dict) with one ``[sweep]`` table::

    [sweep]
    scenarios = ["baseline", "bass_validation"]   # built-in names or paths to TOML files
    replications = 6
    n_firms = 20000                                # default: each scenario's population.n_firms
    seed = 3

    [sweep.grid]                                   # optional: full factorial of dotted keys
    "network.mean_degree" = [5, 10, 20]

or ``[sweep.sample]`` instead of the grid: a list of override tables (``[[sweep.sample]]``) or a
table of dotted keys → equal-length lists. Every task runs one replication with
``replication_seed(seed, r)`` and writes its own Parquet shard, so the results never depend on the
number of workers or on the order in which tasks finish, a rerun on the same folder skips what is
done, and the parent process holds only a small status dict per task in flight.

The folder (shards that carry their identity, the manifest log, the lock) and reading results
back ([`load_results`][adoptsim.sweeps.store.load_results]) live in
[`adoptsim.sweeps.store`][adoptsim.sweeps.store]. What a sweep guarantees (no loss, no duplicates,
no mixing, no orphan workers, a dead worker costs one task) is set out in docs/sweeps.md.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from adoptsim.bounds import whole_number
from adoptsim.errors import ScenarioError
from adoptsim.scenario import Scenario, flatten, load_scenario, read_toml
from adoptsim.sweeps.store import (
    canonical,
    normalise,
    point_key,
)

SWEEP_KEYS = ("scenarios", "replications", "n_firms", "seed", "grid", "sample", "description")


# --------------------------------------------------------------------------------------- spec


def scenario_hash(scenario: Scenario) -> str:
    """A short SHA-256 of a scenario's validated content (changes when its file changes)."""
    return hashlib.sha256(canonical(scenario.data).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Task:
    """One run: a scenario with overrides, one replication. Small and picklable."""

    task_id: str
    scenario: Scenario  # the base scenario; the worker applies ``overrides``
    overrides: dict
    seed: int
    replication: int
    n_firms: int

    @property
    def scenario_name(self) -> str:
        """The task's scenario's short name."""
        return self.scenario.name

    def meta(self) -> dict:
        """What identifies the task (stored in the shard and the manifest)."""
        from adoptsim import __version__

        return {
            "task_id": self.task_id,
            "scenario": self.scenario_name,
            "scenario_origin": self.scenario.origin,
            "scenario_hash": scenario_hash(self.scenario),
            "overrides": self.overrides,
            "seed": self.seed,
            "replication": self.replication,
            "n_firms": self.n_firms,
            "adoptsim": __version__,
        }


def task_id(scenario: Scenario, overrides: dict, seed: int, replication: int, n_firms: int) -> str:
    """Stable id of a task: a hash of the scenario's content, overrides, seed, replication, n.

    Overrides are normalised first (``10.0`` → ``10``), so equal points share one id.
    """
    text = canonical(
        {
            "scenario": scenario.data,
            "overrides": normalise(dict(overrides)),
            "seed": seed,
            "replication": replication,
            "n_firms": n_firms,
        }
    )
    return hashlib.sha256(text.encode()).hexdigest()[:20]


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep: scenarios × parameter points × replications."""

    scenarios: tuple[Scenario, ...]
    points: tuple[dict, ...]
    replications: int
    seed: int
    n_firms: int | None
    origin: str = "<dict>"

    def tasks(self) -> list[Task]:
        """All tasks, in a fixed order (scenario, point, replication)."""
        out = []
        for sc in self.scenarios:
            for point in self.points:
                n = self.n_firms
                if n is None:
                    n = (sc.with_overrides(point) if point else sc).n_agents()
                for r in range(self.replications):
                    tid = task_id(sc, point, self.seed, r, n)
                    out.append(Task(tid, sc, point, self.seed, r, n))
        return out


def _check_keys(point: dict, section: str) -> None:
    for key in point:
        if "." not in key:
            raise ScenarioError(
                f"{section}.{key}", point[key], "must be a dotted scenario key such as rule.q"
            )


def _grid_points(grid: object, tasks_per_point: int = 1) -> tuple[list[dict], list[str]]:
    if not isinstance(grid, Mapping):
        raise ScenarioError("sweep.grid", grid, "must be a table of dotted keys → lists")
    flat = flatten(grid)
    for key, values in flat.items():
        if not isinstance(values, list) or not values:
            raise ScenarioError(f"sweep.grid.{key}", values, "must be a non-empty list of values")
    _check_keys(flat, "sweep.grid")
    from adoptsim import memory

    count = math.prod(len(v) for v in flat.values())
    memory.check_tasks(count * tasks_per_point, "sweep.grid")
    keys = list(flat)
    points = [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*flat.values())]
    return points, ["sweep.grid"] * len(points)


def _sample_points(sample: object) -> tuple[list[dict], list[str]]:
    if isinstance(sample, list):
        if not sample:
            raise ScenarioError("sweep.sample", sample, "must not be empty")
        points, sections = [], []
        for i, item in enumerate(sample):
            if not isinstance(item, Mapping):
                raise ScenarioError(f"sweep.sample[{i}]", item, "must be a table of dotted keys")
            point = flatten(item)
            _check_keys(point, f"sweep.sample[{i}]")
            points.append(point)
            sections.append(f"sweep.sample[{i}]")
        return points, sections
    if isinstance(sample, Mapping):
        flat = flatten(sample)
        for key, values in flat.items():
            if not isinstance(values, list) or not values:
                raise ScenarioError(
                    f"sweep.sample.{key}", values, "must be a non-empty list of values"
                )
        lengths = {key: len(values) for key, values in flat.items()}
        if len(set(lengths.values())) > 1:
            raise ScenarioError("sweep.sample", lengths, "all lists must have the same length")
        _check_keys(flat, "sweep.sample")
        keys = list(flat)
        points = [dict(zip(keys, vals, strict=True)) for vals in zip(*flat.values(), strict=True)]
        return points or [{}], ["sweep.sample"] * max(len(points), 1)
    raise ScenarioError(
        "sweep.sample", sample, "must be a list of override tables or a table of equal-length lists"
    )


def _load_one(entry: object, base_dir: Path | None) -> Scenario:
    if isinstance(entry, Scenario):
        return entry
    if not isinstance(entry, str | Path):
        raise ScenarioError("sweep.scenarios", entry, "must be a scenario name or a path")
    path = Path(entry)
    if base_dir is not None and not path.is_absolute() and (base_dir / path).is_file():
        entry = base_dir / path  # paths in a spec file are relative to the spec file
    try:
        return load_scenario(entry)
    except ScenarioError as exc:
        allowed = exc.allowed if exc.field == "scenario" else str(exc)
        raise ScenarioError("sweep.scenarios", str(entry), allowed) from None


def load_sweep_spec(spec: SweepSpec | str | Path | Mapping) -> SweepSpec:
    """Read and validate a sweep spec (TOML path or dict with a ``[sweep]`` table).

    Every override is applied to every scenario up front (``Scenario.with_overrides``), so a bad
    key or value stops the sweep before anything runs.

    Raises:
        ScenarioError: naming the field, e.g. ``sweep.replications = 0 — must be ...``.
    """
    if isinstance(spec, SweepSpec):
        return spec
    base_dir: Path | None = None
    if isinstance(spec, str | Path):
        path = Path(spec)
        if not path.is_file():
            raise ScenarioError("sweep spec", str(spec), "no such file")
        raw, base_dir, origin = read_toml(path), path.parent, str(path)
    elif isinstance(spec, Mapping):
        raw, origin = dict(spec), "<dict>"
    else:
        raise ScenarioError(
            "sweep spec", spec, "must be a TOML path or a dict with a [sweep] table"
        )
    if "sweep" not in raw:
        raise ScenarioError(
            "sweep", origin, "no [sweep] table; a sweep spec needs [sweep] with scenarios = [...]"
        )
    for key in raw:
        if key != "sweep":
            raise ScenarioError(key, raw[key], "unknown table; a sweep spec has only [sweep]")
    table = raw["sweep"]
    if not isinstance(table, Mapping):
        raise ScenarioError("sweep", table, "must be a table")
    for key in table:
        if key not in SWEEP_KEYS:
            raise ScenarioError(
                f"sweep.{key}", table[key], f"unknown key; allowed: {', '.join(SWEEP_KEYS)}"
            )
    entries = table.get("scenarios")
    if isinstance(entries, Scenario):
        entries = [entries]  # one scenario object (Python); a file writes a list of names
    if not isinstance(entries, Sequence) or isinstance(entries, str) or not entries:
        raise ScenarioError(
            "sweep.scenarios", entries, "must be a non-empty list of scenario names or paths"
        )
    scenarios = tuple(_load_one(e, base_dir) for e in entries)
    names = [sc.name for sc in scenarios]
    for name in names:
        if names.count(name) > 1:
            raise ScenarioError(
                "sweep.scenarios", names, f"{name!r} appears twice; scenario names must differ"
            )
    replications = whole_number(table.get("replications", 1), "sweep.replications", 1)
    seed = whole_number(table.get("seed", 0), "sweep.seed", 0)
    n_firms = table.get("n_firms")
    if n_firms is not None:
        n_firms = whole_number(n_firms, "sweep.n_firms", 100)
    if "grid" in table and "sample" in table:
        raise ScenarioError("sweep.sample", table["sample"], "give [sweep.grid] or it, not both")
    if "grid" in table:
        points, sections = _grid_points(table["grid"], len(scenarios) * replications)
    elif "sample" in table:
        points, sections = _sample_points(table["sample"])
    else:
        points, sections = [{}], ["sweep"]
    from adoptsim import memory

    memory.check_tasks(len(points) * len(scenarios) * replications, "sweep")
    seen: dict[str, int] = {}
    for i, point in enumerate(points):
        key = point_key(point)
        if key in seen:
            raise ScenarioError(sections[i], point, "this parameter point appears twice")
        seen[key] = i
    for sc in scenarios:
        for point, section in zip(points, sections, strict=True):
            try:
                sc.with_overrides(point)
            except ScenarioError as exc:
                raise ScenarioError(
                    f"{section}.{exc.field}", exc.value, f"{exc.allowed} (scenario {sc.name})"
                ) from None
    return SweepSpec(scenarios, tuple(points), replications, seed, n_firms, origin)


# ------------------------------------------------------------------------------------- worker
