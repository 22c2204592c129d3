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

Output folder::

    DIR/shards/<task_id>.parquet   one replication: the columns of adoption.csv
    DIR/manifest.jsonl             one line per finished or failed task (appended)

Read the results back with [`load_results`][adoptsim.runner.load_results].
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import hashlib
import itertools
import json
import multiprocessing
import os
import signal
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from adoptsim.errors import AdoptsimError, ScenarioError
from adoptsim.results import ADOPTION_COLUMNS, segment_table
from adoptsim.scenario import Scenario, load_scenario, read_toml
from adoptsim.simulation import run_replication

SWEEP_KEYS = ("scenarios", "replications", "n_firms", "seed", "grid", "sample", "description")
SHARD_DIR = "shards"
MANIFEST = "manifest.jsonl"
META_KEY = b"adoptsim.task"
SORT_TAIL = ["replication", "date", "segment_type", "segment"]


# --------------------------------------------------------------------------------------- spec


def _canonical(obj: Any) -> str:
    """A stable JSON text of ``obj`` (sorted keys), used for task ids and comparisons."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=True)


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
        return self.scenario.name

    def meta(self) -> dict:
        """What identifies the task (stored in the shard and the manifest)."""
        from adoptsim import __version__

        return {
            "task_id": self.task_id,
            "scenario": self.scenario_name,
            "scenario_origin": self.scenario.origin,
            "overrides": self.overrides,
            "seed": self.seed,
            "replication": self.replication,
            "n_firms": self.n_firms,
            "adoptsim": __version__,
        }


def task_id(scenario: Scenario, overrides: dict, seed: int, replication: int, n_firms: int) -> str:
    """Stable id of a task: a hash of the scenario's content, overrides, seed, replication, n."""
    text = _canonical(
        {
            "scenario": scenario.data,
            "overrides": overrides,
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


def _flatten(table: Mapping, prefix: str = "") -> dict:
    """Nested tables (TOML's unquoted dotted keys) → one level of dotted keys."""
    out: dict = {}
    for key, value in table.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, dotted + "."))
        else:
            out[dotted] = value
    return out


def _check_keys(point: dict, section: str) -> None:
    for key in point:
        if "." not in key:
            raise ScenarioError(
                f"{section}.{key}", point[key], "must be a dotted scenario key such as rule.q"
            )


def _grid_points(grid: object) -> tuple[list[dict], list[str]]:
    if not isinstance(grid, Mapping):
        raise ScenarioError("sweep.grid", grid, "must be a table of dotted keys → lists")
    flat = _flatten(grid)
    for key, values in flat.items():
        if not isinstance(values, list) or not values:
            raise ScenarioError(f"sweep.grid.{key}", values, "must be a non-empty list of values")
    _check_keys(flat, "sweep.grid")
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
            point = _flatten(item)
            _check_keys(point, f"sweep.sample[{i}]")
            points.append(point)
            sections.append(f"sweep.sample[{i}]")
        return points, sections
    if isinstance(sample, Mapping):
        flat = _flatten(sample)
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
        points, sections = _grid_points(table["grid"])
    elif "sample" in table:
        points, sections = _sample_points(table["sample"])
    else:
        points, sections = [{}], ["sweep"]
    seen: dict[str, int] = {}
    for i, point in enumerate(points):
        key = _canonical(point)
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


def _worker_init() -> None:
    """Pool workers ignore Ctrl-C: the parent decides what stops (and terminates them)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextlib.contextmanager
def _children_ignore_sigint():
    """Start pool workers with Ctrl-C ignored from birth (a child inherits SIG_IGN), so a Ctrl-C
    in the terminal reaches only the parent, even while the workers are still importing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        if old is not None:
            signal.signal(signal.SIGINT, old)


def _write_shard(df: pd.DataFrame, task: Task, out: Path, sim_s: float) -> Path:
    """Write ``df`` to ``out/shards/<task_id>.parquet`` atomically (temp file, then replace)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    shard_dir = out / SHARD_DIR
    shard_dir.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(df, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[META_KEY] = json.dumps({**task.meta(), "simulation_s": round(sim_s, 4)}).encode()
    table = table.replace_schema_metadata(meta)
    final = shard_dir / f"{task.task_id}.parquet"
    tmp = shard_dir / f".{task.task_id}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        with tmp.open("wb") as fh:
            pq.write_table(table, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return final


def run_task(task: Task, out: str) -> dict:
    """Run one task and write its shard; returns a small status dict (never the table).

    Exceptions from the model are caught and returned as ``status = "failed"`` with the error,
    so one bad task does not stop a sweep.
    """
    t0 = time.perf_counter()
    status: dict[str, Any] = {"task_id": task.task_id, "host": socket.gethostname()}
    try:
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
    status["runtime_s"] = round(time.perf_counter() - t0, 4)
    return status


# ------------------------------------------------------------------------------------- parent


@dataclass
class SweepSummary:
    """What a call to [`sweep`][adoptsim.runner.sweep] did. ``failures`` holds the manifest entries
    of failed tasks."""

    out: Path
    total: int
    skipped: int
    ran: int = 0
    failures: list[dict] = field(default_factory=list)
    elapsed_s: float = 0.0
    interrupted: bool = False

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
        if not self.failures:
            return line
        lines = [f"{line}; {len(self.failures)} failed — details in {self.out / MANIFEST}"]
        for entry in self.failures[:max_failures]:
            lines.append(
                f"  failed: {entry['scenario']} replication {entry['replication']} "
                f"{_canonical(entry['overrides'])}: {entry['error']}"
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


class _Manifest:
    """Append-only JSON-lines log, written by the parent process only."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def entries(self) -> list[dict]:
        if not self.path.is_file():
            return []
        out = []
        with self.path.open(encoding="utf-8") as fh:
            for line in fh:
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    continue  # a line cut short by a crash
        return out

    def append(self, entry: dict) -> None:
        text = json.dumps(entry, default=str, ensure_ascii=False) + "\n"
        if self.path.is_file() and self.path.stat().st_size > 0:
            with self.path.open("rb") as fh:
                fh.seek(-1, os.SEEK_END)
                if fh.read(1) != b"\n":
                    text = "\n" + text  # the previous writer died mid-line
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()


def read_manifest(out: str | Path) -> pd.DataFrame:
    """The manifest of sweep folder ``out`` as a table: the latest entry of each task."""
    entries = _Manifest(Path(out) / MANIFEST).entries()
    latest = {e["task_id"]: e for e in entries if "task_id" in e}
    return pd.DataFrame(list(latest.values()))


def _capacity(executor: cf.Executor, workers: int | None) -> int:
    """How many tasks the executor runs at once (a hint for how many to keep in flight)."""
    if workers:
        return workers
    n = getattr(executor, "_max_workers", None)
    if isinstance(n, int) and n > 0:
        return n
    client = getattr(executor, "_client", None)  # dask.distributed's ClientExecutor
    if client is not None:
        try:
            return max(1, sum(client.nthreads().values()))
        except Exception:
            pass
    return os.cpu_count() or 1


def _stop_pool(pool: cf.ProcessPoolExecutor) -> None:
    """Cancel what is queued and terminate the workers (a running task is abandoned)."""
    terminate = getattr(pool, "terminate_workers", None)  # Python >= 3.14
    if terminate is not None:
        terminate()
        return
    procs = list((getattr(pool, "_processes", None) or {}).values())  # shutdown() clears it
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.join(timeout=5)


def _shard_ids(shard_dir: Path) -> set[str]:
    if not shard_dir.is_dir():
        return set()
    with os.scandir(shard_dir) as it:
        return {e.name[: -len(".parquet")] for e in it if e.name.endswith(".parquet")}


def _check_same_plan(tasks: list[Task], entries: list[dict], out: Path) -> None:
    """Refuse to mix runs of the same scenario/point/replication made differently in one folder."""
    known = {
        (e["scenario"], _canonical(e["overrides"]), e["replication"]): e
        for e in entries
        if e.get("status") == "ok"
    }
    for task in tasks:
        entry = known.get((task.scenario_name, _canonical(task.overrides), task.replication))
        if entry is not None and entry["task_id"] != task.task_id:
            raise ScenarioError(
                "out",
                str(out),
                f"already holds scenario {task.scenario_name} replication {task.replication} "
                f"run with seed {entry['seed']}, {entry['n_firms']} firms or other scenario "
                "content; use another output folder",
            )


def sweep(
    spec: SweepSpec | str | Path | Mapping,
    executor: cf.Executor | None = None,
    *,
    out: str | Path,
    workers: int | None = None,
    progress: bool = True,
) -> SweepSummary:
    """Run every scenario × parameter point × replication of ``spec`` into folder ``out``.

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
        A [`SweepSummary`][adoptsim.runner.SweepSummary] (tasks finished, skipped, failed). A
        failing task is recorded in the manifest with its error and does not stop the sweep.

    Raises:
        ScenarioError: the spec is invalid (nothing is run).
        SweepInterrupted: Ctrl-C; queued tasks are cancelled, finished shards are kept.
    """
    t0 = time.perf_counter()
    plan = load_sweep_spec(spec)
    if workers is not None:
        _whole(workers, "workers", 1)
    out = Path(out).resolve()
    tasks = plan.tasks()
    manifest = _Manifest(out / MANIFEST)
    entries = manifest.entries()
    _check_same_plan(tasks, entries, out)

    shard_dir = out / SHARD_DIR
    shard_dir.mkdir(parents=True, exist_ok=True)
    for stale in shard_dir.glob(".*.tmp"):  # left by a killed run
        stale.unlink(missing_ok=True)
    existing = _shard_ids(shard_dir)
    logged_ok = {e["task_id"] for e in entries if e.get("status") == "ok"}
    todo = [t for t in tasks if t.task_id not in existing]
    summary = SweepSummary(out, len(tasks), len(tasks) - len(todo))
    for task in tasks:
        if task.task_id in existing and task.task_id not in logged_ok:
            # the shard was written but the parent stopped before logging it
            manifest.append({**task.meta(), "status": "ok", "runtime_s": None, "recovered": True})

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(tasks), initial=summary.skipped, desc="sweep", unit="run")

    def record(task: Task, status: dict) -> None:
        shard = shard_dir / f"{task.task_id}.parquet"
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
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        manifest.append(entry)
        if entry["status"] == "ok":
            summary.ran += 1
        else:
            summary.failures.append(entry)
        if bar is not None:
            bar.update(1)
            if summary.failures:
                bar.set_postfix(failed=len(summary.failures))

    def from_future(fut: cf.Future) -> dict:
        exc = fut.exception()
        if exc is None:
            return fut.result()
        return {"status": "failed", "error": f"{type(exc).__name__}: {exc}", "runtime_s": None}

    own_pool: cf.ProcessPoolExecutor | None = None
    if executor is None and todo:
        n = min(workers or os.cpu_count() or 1, len(todo))
        if n > 1:
            own_pool = cf.ProcessPoolExecutor(
                max_workers=n,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_worker_init,
            )
            executor = own_pool

    inflight: dict[cf.Future, Task] = {}
    try:
        if executor is None:
            for task in todo:
                record(task, run_task(task, str(out)))
        else:
            queue = iter(todo)
            window, checked = 0, -1e9

            def top_up() -> None:
                nonlocal window, checked
                if time.monotonic() - checked > 10:  # clusters may grow; look again now and then
                    window = max(4 * _capacity(executor, workers), 64)
                    checked = time.monotonic()
                while len(inflight) < window:
                    task = next(queue, None)
                    if task is None:
                        return
                    inflight[executor.submit(run_task, task, str(out))] = task

            with _children_ignore_sigint() if own_pool is not None else contextlib.nullcontext():
                top_up()  # the pool starts its worker processes here
            while inflight:
                done, _ = cf.wait(list(inflight), return_when=cf.FIRST_COMPLETED)
                for fut in done:
                    task = inflight.pop(fut)
                    if not fut.cancelled():
                        record(task, from_future(fut))
                top_up()
    except KeyboardInterrupt:
        for fut in inflight:
            fut.cancel()
        if own_pool is not None:
            _stop_pool(own_pool)
            own_pool = None
        for fut, task in inflight.items():  # finished while we were stopping: keep them
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                record(task, fut.result())
        # a worker may have written its shard before it was stopped: it is kept (and logged on
        # the next run), so count what is on disk
        summary.ran = len({t.task_id for t in todo} & _shard_ids(shard_dir))
        summary.interrupted = True
        summary.elapsed_s = time.perf_counter() - t0
        raise SweepInterrupted(summary) from None
    finally:
        if bar is not None:
            bar.close()
        if own_pool is not None:
            own_pool.shutdown(wait=True)
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


# ------------------------------------------------------------------------------------ results


def _uniform(values: pd.Series) -> pd.Series:
    """Leave a column as is if its non-missing values share one kind, else make it JSON text."""
    kinds = set()
    for v in values:
        if v is None or (isinstance(v, float) and v != v):
            continue
        if isinstance(v, bool):
            kinds.add("bool")
        elif isinstance(v, int | float):
            kinds.add("number")
        elif isinstance(v, str):
            kinds.add("str")
        else:
            kinds.add("other")
    if len(kinds) <= 1 and "other" not in kinds:
        return values
    return values.map(lambda v: None if v is None else _canonical(v))


def load_results(out: str | Path) -> pd.DataFrame:
    """All finished runs of sweep folder ``out`` as one tidy table.

    Columns: ``scenario``, one column per override key (sorted; missing where a task did not set
    it; lists and tables as JSON text), then the columns of ``adoption.csv``
    (``replication, date, segment_type, segment, adopters_share, at_scale_share``). Rows are sorted
    by scenario, override values, replication, date, segment type and segment, so two runs of the
    same spec give equal tables however many workers ran them and in whatever order.
    """
    import pyarrow.parquet as pq

    out = Path(out)
    if not out.is_dir():
        raise AdoptsimError(f"out = {str(out)!r} — no such folder")
    shard_dir = out / SHARD_DIR
    paths = sorted(shard_dir.glob("*.parquet")) if shard_dir.is_dir() else []
    frames, metas, seen = [], [], {}
    for i, path in enumerate(paths):
        table = pq.read_table(path)
        meta = json.loads((table.schema.metadata or {})[META_KEY])
        key = (meta["scenario"], _canonical(meta["overrides"]), meta["replication"])
        if key in seen:
            raise AdoptsimError(
                f"out = {str(out)!r} — holds two different runs of scenario {key[0]} replication "
                f"{key[2]} {key[1]} ({seen[key]}, {meta['task_id']}: another seed, firm count or "
                "scenario content); keep each sweep in its own folder"
            )
        seen[key] = meta["task_id"]
        df = table.to_pandas()
        df["_task"] = i
        frames.append(df)
        metas.append(meta)
    keys = sorted({k for m in metas for k in m["overrides"]})
    if not frames:
        return pd.DataFrame(columns=["scenario", *ADOPTION_COLUMNS])
    meta_df = pd.DataFrame(
        [{"scenario": m["scenario"], **{k: m["overrides"].get(k) for k in keys}} for m in metas],
        columns=["scenario", *keys],
    )
    for k in keys:
        meta_df[k] = _uniform(meta_df[k])
    data = pd.concat(frames, ignore_index=True)
    lead = meta_df.iloc[data.pop("_task").to_numpy()].reset_index(drop=True)
    columns = [c for c in ADOPTION_COLUMNS if c in data.columns]
    result = pd.concat([lead, data[columns]], axis=1)
    return result.sort_values(["scenario", *keys, *SORT_TAIL]).reset_index(drop=True)
