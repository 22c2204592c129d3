"""Sweeps: scenario × parameter point × replication, on any ``concurrent.futures`` executor.

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
back ([`load_results`][adoptsim.sweep_store.load_results]) live in
[`adoptsim.sweep_store`][adoptsim.sweep_store]. What a sweep guarantees (no loss, no duplicates,
no mixing, no orphan workers, a dead worker costs one task) is set out in docs/sweeps.md.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import hashlib
import itertools
import json
import math
import os
import socket
import time
import traceback
import uuid
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from adoptsim import worker_pool
from adoptsim.errors import AdoptsimError, ScenarioError
from adoptsim.results import ADOPTION_COLUMNS, segment_table
from adoptsim.scenario import Scenario, flatten, load_scenario, read_toml
from adoptsim.sweep_store import (  # noqa: F401 (SHARD_DIR, MANIFEST, ... are used by importers)
    LOCK,
    MANIFEST,
    META_FIELDS,
    META_KEY,
    SHARD_DIR,
    SORT_TAIL,
    FolderLock,
    Manifest,
    canonical,
    clean_leftovers,
    host_tag,
    load_results,
    normalise,
    now,
    point_key,
    read_manifest,
    run_identity,
    scan_shards,
    set_aside,
)

SWEEP_KEYS = ("scenarios", "replications", "n_firms", "seed", "grid", "sample", "description")
MAX_TRIES = 3  # a task lost in this many pool breaks (without being caught dying) is failed


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
                    n = (sc.with_overrides(point) if point else sc).data["population"]["n_firms"]
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


def _whole(value: object, name: str, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise ScenarioError(name, value, f"must be a whole number >= {lo}")
    return value


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
    if isinstance(entries, str | Path | Scenario):
        entries = [entries]
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
    replications = _whole(table.get("replications", 1), "sweep.replications", 1)
    seed = _whole(table.get("seed", 0), "sweep.seed", 0)
    n_firms = table.get("n_firms")
    if n_firms is not None:
        n_firms = _whole(n_firms, "sweep.n_firms", 100)
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


def _write_shard(df: pd.DataFrame, task: Task, out: Path, sim_s: float) -> Path:
    """Write ``df`` to ``out/shards/<task_id>.parquet`` atomically (temp file, then replace).

    The temporary file is named after its host and process, so a sweep cleaning up after a
    killed one removes only temporary files whose writer is gone. The file is not fsync'ed: a
    killed process loses nothing (the data are in the operating system's cache), and after an
    operating-system crash a shard whose data had not reached the disk is empty or truncated,
    which the resume check finds and reruns. An fsync per shard cost more wall time than
    writing it (12 of 19 ms), per run, on every sweep.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    shard_dir = out / SHARD_DIR
    shard_dir.mkdir(parents=True, exist_ok=True)
    # One thread: pyarrow would otherwise start a thread pool for each small shard.
    table = pa.Table.from_pandas(df, preserve_index=False, nthreads=1)
    meta = dict(table.schema.metadata or {})
    meta[META_KEY] = json.dumps({**task.meta(), "simulation_s": round(sim_s, 4)}).encode()
    table = table.replace_schema_metadata(meta)
    final = shard_dir / f"{task.task_id}.parquet"
    tmp = shard_dir / f".{task.task_id}.{host_tag()}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        with tmp.open("wb") as fh:
            pq.write_table(table, fh)
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return final


def _marker(out: Path, task: Task) -> Path:
    return out / SHARD_DIR / f".{task.task_id}.{host_tag()}.{os.getpid()}.running"


def run_task(task: Task, out: str) -> dict:
    """Run one task and write its shard; returns a small status dict (never the table).

    Exceptions from the model are caught and returned as ``status = "failed"`` with the error,
    so one bad task does not stop a sweep. While the task runs, a marker file
    ``shards/.<task_id>.<host>.<pid>.running`` exists: if the process dies (killed, out of
    memory), the marker stays and tells the parent which task it was.
    """
    t0 = time.perf_counter()
    status: dict[str, Any] = {"task_id": task.task_id, "host": socket.gethostname()}
    marker = _marker(Path(out), task)
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        # Named before the file exists: a SIGTERM in between must remove it.
        worker_pool.set_marker(marker)
        marker.touch()
        from adoptsim.simulation import run_replication  # the model: only where tasks run

        scenario = task.scenario.with_overrides(task.overrides) if task.overrides else task.scenario
        record = run_replication(
            scenario, n_firms=task.n_firms, seed=task.seed, replication=task.replication
        )
        table = segment_table(record)
        table.insert(0, "replication", task.replication)
        if getattr(record, "draw", None) is not None:
            table["draw"] = record.draw  # which posterior draw ran (as in simulate())
        sim_s = time.perf_counter() - t0
        columns = [c for c in ADOPTION_COLUMNS if c in table.columns]
        _write_shard(table[columns], task, Path(out), sim_s)
        status.update(status="ok", error=None)
    except Exception as exc:
        status.update(
            status="failed",
            error=f"{type(exc).__name__}: {exc}",
            traceback=traceback.format_exc(),
        )
    finally:
        worker_pool.set_marker(None)
        marker.unlink(missing_ok=True)
    status["runtime_s"] = round(time.perf_counter() - t0, 4)
    return status


# ------------------------------------------------------------------------------------- parent


@dataclass
class SweepSummary:
    """What a call to [`sweep`][adoptsim.runner.sweep] did.

    ``failures`` holds the manifest entries of failed tasks; ``repaired`` the shards found broken
    (truncated, empty, foreign), set aside and rerun.
    """

    out: Path
    total: int
    skipped: int
    ran: int = 0
    failures: list[dict] = field(default_factory=list)
    elapsed_s: float = 0.0
    interrupted: bool = False
    repaired: list[str] = field(default_factory=list)
    pool_restarts: int = 0

    @property
    def finished(self) -> int:
        """Tasks whose shard exists (skipped as already done + run now)."""
        return self.skipped + self.ran

    @property
    def ok(self) -> bool:
        """All tasks finished, none failed."""
        return self.finished == self.total and not self.failures

    def report(self, max_failures: int = 5) -> str:
        """A short human-readable report (one line, plus one per failure shown)."""
        line = (
            f"sweep: {self.finished} of {self.total} runs finished ({self.skipped} already done, "
            f"{self.ran} run in {self.elapsed_s:.1f} s) in {self.out}"
        )
        if self.repaired:
            line += f"; {len(self.repaired)} broken shard(s) set aside as *.broken and rerun"
        if self.pool_restarts:
            line += f"; worker pool restarted {self.pool_restarts}×"
        if not self.failures:
            return line
        lines = [f"{line}; {len(self.failures)} failed — details in {self.out / MANIFEST}"]
        for entry in self.failures[:max_failures]:
            lines.append(
                f"  failed: {entry['scenario']} replication {entry['replication']} "
                f"{canonical(entry['overrides'])}: {entry['error']}"
            )
        if len(self.failures) > max_failures:
            lines.append(f"  … and {len(self.failures) - max_failures} more")
        return "\n".join(lines)


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C during a sweep; finished shards are kept and ``summary`` says how many."""

    def __init__(self, summary: SweepSummary) -> None:
        self.summary = summary
        super().__init__(
            f"interrupted — {summary.finished} of {summary.total} runs finished and kept in "
            f"{summary.out}; rerun the same command to resume"
        )


def _capacity(executor: cf.Executor, workers: int | None) -> int:
    """How many tasks an outside executor runs at once (a hint for how many to keep queued)."""
    if workers:
        return workers
    client = getattr(executor, "_client", None)  # dask.distributed's ClientExecutor
    if client is not None:
        with contextlib.suppress(Exception):
            return max(1, sum(client.nthreads().values()))
    return os.cpu_count() or 1


# --- the folder: agreement with the spec, repair ------------------------------------------


def _check_folder_agrees(plan: SweepSpec, tasks: list[Task], metas: list[dict], out: Path) -> None:
    """Refuse a folder whose shards were made by another sweep.

    Another seed, firm count, adoptsim version or scenario content: one folder holds one
    sweep's runs, so nothing mixes.
    """
    from adoptsim import __version__

    hashes = {sc.name: scenario_hash(sc) for sc in plan.scenarios}
    firms = {(t.scenario_name, point_key(t.overrides)): t.n_firms for t in tasks}
    for meta in metas:
        name = meta["scenario"]
        problem = None
        if meta["seed"] != plan.seed:
            problem = f"seed {meta['seed']} (this sweep: seed {plan.seed})"
        elif meta.get("adoptsim") != __version__:
            problem = f"adoptsim {meta.get('adoptsim')} (this is adoptsim {__version__})"
        elif name in hashes and meta.get("scenario_hash", hashes[name]) != hashes[name]:
            problem = f"other content for scenario {name} (its file or defaults changed)"
        else:
            want = firms.get((name, point_key(meta["overrides"])), plan.n_firms)
            if want is not None and meta["n_firms"] != want:
                problem = f"{meta['n_firms']} firms (this sweep: {want})"
        if problem is not None:
            raise ScenarioError(
                "out",
                str(out),
                f"holds runs made with {problem}; one folder holds one sweep's runs — "
                "use another --out",
            )


def _open_folder(
    plan: SweepSpec, tasks: list[Task], out: Path, manifest: Manifest
) -> tuple[list[Task], list[str]]:
    """Check the folder against the plan, repair it, and say what is left to run.

    Returns the tasks without a good shard, and the names of the broken shards set aside.
    """
    shard_dir = out / SHARD_DIR
    clean_leftovers(shard_dir)
    good, broken = scan_shards(shard_dir)
    _check_folder_agrees(plan, tasks, list(good.values()), out)
    repaired = set_aside(broken, manifest)
    done = {run_identity(m) for m in good.values()}
    todo = [
        t for t in tasks if (t.scenario_name, point_key(t.overrides), t.replication) not in done
    ]
    _log_unlogged(tasks, good, manifest)
    return todo, repaired


def _log_unlogged(tasks: list[Task], good: dict[Path, dict], manifest: Manifest) -> None:
    """Log shards that were written but not logged (the parent stopped first)."""
    logged = {e["task_id"] for e in manifest.entries() if e.get("status") == "ok"}
    wanted = {t.task_id: t for t in tasks}
    for meta in good.values():
        task = wanted.get(meta["task_id"])
        if task is not None and task.task_id not in logged:
            manifest.append({**task.meta(), "status": "ok", "runtime_s": None, "recovered": True})


# --- running: one process, an own pool that survives dead workers, or any executor ----------


class _Recorder:
    """Logs each finished task in the manifest, the summary and the progress bar."""

    def __init__(self, out: Path, manifest: Manifest, summary: SweepSummary, bar: Any) -> None:
        self.out, self.manifest, self.summary, self.bar = out, manifest, summary, bar

    def __call__(self, task: Task, status: dict) -> None:
        shard = self.out / SHARD_DIR / f"{task.task_id}.parquet"
        if status.get("status") == "ok" and not shard.is_file():
            status = {
                **status,
                "status": "failed",
                "error": f"shard {shard} not visible to the parent process; workers must share "
                "the output folder's file system",
            }
        entry = {
            **task.meta(),
            **{k: v for k, v in status.items() if k != "task_id"},
            "finished": now(),
        }
        self.manifest.append(entry)
        if entry["status"] == "ok":
            self.summary.ran += 1
        else:
            self.summary.failures.append(entry)
        if self.bar is not None:
            self.bar.update(1)
            if self.summary.failures:
                self.bar.set_postfix(failed=len(self.summary.failures))


def _status_of(fut: cf.Future) -> dict:
    exc = fut.exception()
    if exc is None:
        return fut.result()
    return {"status": "failed", "error": f"{type(exc).__name__}: {exc}", "runtime_s": None}


def _drain(
    executor: cf.Executor,
    queue: deque[Task],
    out: Path,
    window: Callable[[], int],
    record: _Recorder,
    restartable: bool,
) -> list[Task]:
    """Keep up to ``window()`` tasks in flight until ``queue`` is empty, recording each result.

    With ``restartable`` (our own process pool), tasks lost because a worker process died are
    not recorded but returned, and submitting stops: the caller restarts the pool.
    """
    inflight: dict[cf.Future, Task] = {}
    crashed: list[Task] = []
    broken = False
    size, checked = 0, -1e9
    try:
        while True:
            if time.monotonic() - checked > 10:  # clusters may grow; look again now and then
                size, checked = window(), time.monotonic()
            while not broken and len(inflight) < size and queue:
                task = queue.popleft()
                try:
                    inflight[executor.submit(run_task, task, str(out))] = task
                except BrokenProcessPool as exc:
                    if restartable:
                        queue.appendleft(task)
                        broken = True
                    else:
                        record(task, {"status": "failed", "error": f"BrokenProcessPool: {exc}"})
            if not inflight:
                break
            done, _ = cf.wait(list(inflight), return_when=cf.FIRST_COMPLETED)
            for fut in done:
                task = inflight.pop(fut)
                if fut.cancelled():
                    continue
                if restartable and isinstance(fut.exception(), BrokenProcessPool):
                    crashed.append(task)
                    broken = True
                else:
                    record(task, _status_of(fut))
    except KeyboardInterrupt:
        for fut in inflight:
            fut.cancel()
        raise _Stopped(inflight) from None
    return crashed


class _Stopped(KeyboardInterrupt):
    """Ctrl-C inside ``_drain``: carries the futures in flight so finished ones are kept."""

    def __init__(self, inflight: dict[cf.Future, Task]) -> None:
        super().__init__()
        self.inflight = inflight


def _keep_finished(inflight: dict[cf.Future, Task], record: _Recorder) -> None:
    """Record futures that finished while the sweep was stopping."""
    for fut, task in inflight.items():
        if fut.done() and not fut.cancelled() and fut.exception() is None:
            record(task, fut.result())


def _who_died(crashed: list[Task], out: Path) -> set[str]:
    """Task ids whose run marker survived a pool break.

    Their process died while running them (workers stopped by the pool remove their marker on
    SIGTERM).
    """
    shard_dir = out / SHARD_DIR
    died = set()
    for task in crashed:
        if any(shard_dir.glob(f".{task.task_id}.*.running")):
            died.add(task.task_id)
    for path in shard_dir.glob(".*.running"):
        path.unlink(missing_ok=True)
    return died


def _sort_out_crash(
    crashed: list[Task], out: Path, queue: deque[Task], record: _Recorder, tries: Counter
) -> None:
    """After a worker died: record the task that killed it, put the others back in the queue.

    Workers stopped by the pool remove their marker, so a surviving marker names a task whose
    process died. One survivor is the culprit. Several (two tasks died at once, or a worker was
    stopped before its handler ran) are suspects: each is charged one try and rerun until
    ``MAX_TRIES``. With none (a worker died before it could leave a marker), every lost task is
    charged. Tasks that never started are never charged when a marker names the suspects.
    """
    survivors = _who_died(crashed, out)
    suspects = survivors if survivors else {t.task_id for t in crashed}
    for task in suspects if len(survivors) != 1 else ():
        tries[task] += 1
    for task in reversed(crashed):
        shard = out / SHARD_DIR / f"{task.task_id}.parquet"
        if shard.is_file():
            record(task, {"status": "ok", "error": None, "runtime_s": None})
        elif survivors == {task.task_id} or (
            task.task_id in suspects and tries[task.task_id] >= MAX_TRIES
        ):
            record(
                task,
                {
                    "status": "failed",
                    "error": "the worker process running this task died (killed, or out of "
                    "memory); the pool was restarted and the other tasks went on",
                    "runtime_s": None,
                },
            )
        else:
            queue.appendleft(task)


def _run_on_own_pool(todo: list[Task], out: Path, n: int, record: _Recorder) -> None:
    """Run ``todo`` on a pool of ``n`` spawned processes, restarting it when a worker dies."""
    queue, tries = deque(todo), Counter()
    while queue:
        pool = worker_pool.started_pool(n)
        try:
            crashed = _drain(pool, queue, out, lambda: max(4 * n, 64), record, restartable=True)
        except _Stopped as stop:
            worker_pool.stop_pool(pool)
            _keep_finished(stop.inflight, record)
            # A worker stopped while writing leaves its temporary file (SIGTERM exits at once).
            clean_leftovers(out / SHARD_DIR)
            raise
        except BaseException:
            worker_pool.stop_pool(pool)
            clean_leftovers(out / SHARD_DIR)
            raise
        if crashed or queue:  # a worker died
            worker_pool.stop_pool(pool)
            record.summary.pool_restarts += 1
            _sort_out_crash(crashed, out, queue, record, tries)
            # Workers stopped in the middle of writing a shard leave its temporary file; they are
            # dead now and we hold the folder lock, so nothing of theirs is still being written.
            # (Only after the run markers have told which task killed the pool.)
            clean_leftovers(out / SHARD_DIR)
        else:
            pool.shutdown(wait=True)


def _run_on_executor(
    todo: list[Task], out: Path, executor: cf.Executor, workers: int | None, record: _Recorder
) -> None:
    """Run ``todo`` on a caller's executor (e.g. dask), keeping a bounded window in flight."""

    def window() -> int:
        return max(4 * _capacity(executor, workers), 64)

    try:
        _drain(executor, deque(todo), out, window, record, restartable=False)
    except _Stopped as stop:
        _keep_finished(stop.inflight, record)
        raise


def _run_here(todo: list[Task], out: Path, record: _Recorder) -> None:
    """Run ``todo`` one after the other in this process."""
    for task in todo:
        record(task, run_task(task, str(out)))


def _check_sweep_memory(tasks: list[Task], local_workers: int) -> None:
    """Refuse a sweep whose largest run, ``local_workers`` at a time, cannot fit in memory."""
    from adoptsim import memory

    def shape(task: Task) -> tuple[int, float, str]:
        net = task.scenario.data["network"]
        degree = task.overrides.get("network.mean_degree", net["mean_degree"])
        return task.n_firms, float(degree), str(task.overrides.get("network.kind", net["kind"]))

    n, degree, kind = max({shape(t) for t in tasks}, key=lambda s: memory.run_bytes(*s))
    memory.check_run(n, degree, kind, concurrent=local_workers, field="sweep.n_firms")


def sweep(
    spec: SweepSpec | str | Path | Mapping,
    executor: cf.Executor | None = None,
    *,
    out: str | Path,
    workers: int | None = None,
    progress: bool = True,
) -> SweepSummary:
    """Run every scenario × parameter point × replication of ``spec`` into folder ``out``.

    The steps: read and validate the spec (nothing runs if it is bad); check the output folder
    and the memory the runs need; lock the folder; check its shards against the spec (refusing
    other seeds, firm counts, versions or scenario content) and set broken shards aside; run what
    is left; report.

    Args:
        spec: a sweep TOML path, a dict with a ``[sweep]`` table, or a
            [`SweepSpec`][adoptsim.runner.SweepSpec].
        executor: any ``concurrent.futures.Executor`` (e.g. ``client.get_executor()`` of a
            ``dask.distributed.Client``); its workers must see ``out`` on a shared file system.
            Default: a process pool (``spawn`` start method) of ``workers`` processes, or the
            current process if ``workers == 1``.
        out: output folder; finished tasks already in it are skipped (resume).
        workers: number of local processes (default: all CPUs); with an executor, a hint for how
            many tasks to keep queued.
        progress: show a progress bar (runs done, rate, ETA).

    Returns:
        A [`SweepSummary`][adoptsim.runner.SweepSummary] (tasks finished, skipped, failed,
        repaired). A failing task is recorded in the manifest with its error and does not stop
        the sweep; a task whose worker process died is recorded and the pool restarted.

    Raises:
        ScenarioError: the spec is invalid, or the folder holds another sweep's runs.
        AdoptsimError: another sweep holds the folder's lock, or the runs cannot fit in memory.
        SweepInterrupted: Ctrl-C; queued tasks are cancelled, finished shards are kept.
    """
    from adoptsim.paths import writable_folder

    t0 = time.perf_counter()
    plan = load_sweep_spec(spec)
    if workers is not None:
        _whole(workers, "workers", 1)
    out = writable_folder(out, "out").resolve()
    tasks = plan.tasks()
    local = 1 if executor is not None else min(workers or os.cpu_count() or 1, len(tasks))
    _check_sweep_memory(tasks, local)
    manifest = Manifest(out / MANIFEST)
    if executor is None:
        # The workers import the model while the folder is locked and checked.
        worker_pool.prestart(local)
    with worker_pool.stopping_unused(), FolderLock(out):
        todo, repaired = _open_folder(plan, tasks, out, manifest)
        summary = SweepSummary(out, len(tasks), len(tasks) - len(todo), repaired=repaired)
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(tasks), initial=summary.skipped, desc="sweep", unit="run")
        record = _Recorder(out, manifest, summary, bar)
        try:
            if executor is not None:
                _run_on_executor(todo, out, executor, workers, record)
            elif min(local, len(todo)) > 1:
                _run_on_own_pool(todo, out, min(local, len(todo)), record)
            else:
                _run_here(todo, out, record)
        except KeyboardInterrupt:
            # a worker may have written its shard before it was stopped: count what is on disk
            done_now = scan_shards(out / SHARD_DIR)[0].values()
            ids = {m["task_id"] for m in done_now}
            summary.ran = len({t.task_id for t in todo} & ids)
            summary.interrupted = True
            summary.elapsed_s = time.perf_counter() - t0
            raise SweepInterrupted(summary) from None
        finally:
            if bar is not None:
                bar.close()
    summary.elapsed_s = time.perf_counter() - t0
    return summary


def connect_scheduler(address: str):
    """A ``dask.distributed.Client`` for a scheduler address or a scheduler JSON file."""
    try:
        from distributed import Client
    except ImportError:
        raise AdoptsimError(
            "--scheduler needs dask.distributed — install it with pip install 'adoptsim[dask]'"
        ) from None
    try:
        if address.endswith(".json") and Path(address).is_file():
            return Client(scheduler_file=address)
        return Client(address)
    except (OSError, TimeoutError, ValueError) as exc:
        raise AdoptsimError(f"--scheduler = {address!r} — cannot connect ({exc})") from None
