"""Running a sweep's tasks: one process, an own pool that survives dead workers, or any executor.

Each task writes its own shard ([`adoptsim.sweeps.store`][adoptsim.sweeps.store]); the parent
logs it in the manifest, skips what a folder already holds, and sorts out crashed workers. What a
sweep guarantees (no loss, no duplicates, no mixing, no orphan workers, a dead worker costs one
task) is set out in docs/sweeps.md.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import os
import socket
import time
import traceback
from collections import Counter, deque
from collections.abc import Callable, Mapping
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adoptsim.errors import AdoptsimError, ScenarioError
from adoptsim.segments import ADOPTION_COLUMNS, segment_table
from adoptsim.sweeps import pool as worker_pool
from adoptsim.sweeps.spec import SweepSpec, Task, load_sweep_spec, scenario_hash
from adoptsim.sweeps.store import (
    MANIFEST,
    FolderLock,
    Manifest,
    canonical,
    clean_leftovers,
    marker_path,
    now,
    point_key,
    run_identity,
    running_markers,
    scan_shards,
    set_aside,
    shard_dir,
    shard_path,
    write_shard,
)

MAX_TRIES = 3  # a task lost in this many pool breaks (without being caught dying) is failed


def run_task(task: Task, out: str) -> dict:
    """Run one task and write its shard; returns a small status dict (never the table).

    Exceptions from the model are caught and returned as ``status = "failed"`` with the error,
    so one bad task does not stop a sweep. While the task runs, a marker file
    ``shards/.<task_id>.<host>.<pid>.running`` exists: if the process dies (killed, out of
    memory), the marker stays and tells the parent which task it was.
    """
    t0 = time.perf_counter()
    status: dict[str, Any] = {"task_id": task.task_id, "host": socket.gethostname()}
    marker = marker_path(Path(out), task.task_id)
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        # Named before the file exists: a SIGTERM in between must remove it.
        worker_pool.set_marker(marker)
        marker.touch()
        from adoptsim.simulation import run_replication  # the model: only where tasks run

        record = run_replication(  # the overrides and the draws validated together, once
            task.scenario,
            n_firms=task.n_firms,
            seed=task.seed,
            replication=task.replication,
            overrides=task.overrides,
        )
        table = segment_table(record)
        table.insert(0, "replication", task.replication)
        if getattr(record, "draw", None) is not None:
            table["draw"] = record.draw  # which posterior draw ran (as in simulate())
        sim_s = time.perf_counter() - t0
        columns = [c for c in ADOPTION_COLUMNS if c in table.columns]
        write_shard(
            table[columns],
            task.task_id,
            {**task.meta(), "simulation_s": round(sim_s, 4)},
            Path(out),
        )
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
    """What a call to [`sweep`][adoptsim.sweeps.dispatch.sweep] did.

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
    folder = shard_dir(out)
    clean_leftovers(folder)
    good, broken = scan_shards(folder)
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
        shard = shard_path(self.out, task.task_id)
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
    died = set()
    for task in crashed:
        if running_markers(out, task.task_id):
            died.add(task.task_id)
    for path in running_markers(out):
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
        shard = shard_path(out, task.task_id)
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
            clean_leftovers(shard_dir(out))
            raise
        except BaseException:
            worker_pool.stop_pool(pool)
            clean_leftovers(shard_dir(out))
            raise
        if crashed or queue:  # a worker died
            worker_pool.stop_pool(pool)
            record.summary.pool_restarts += 1
            _sort_out_crash(crashed, out, queue, record, tries)
            # Workers stopped in the middle of writing a shard leave its temporary file; they are
            # dead now and we hold the folder lock, so nothing of theirs is still being written.
            # (Only after the run markers have told which task killed the pool.)
            clean_leftovers(shard_dir(out))
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
            [`SweepSpec`][adoptsim.sweeps.spec.SweepSpec].
        executor: any ``concurrent.futures.Executor`` (e.g. ``client.get_executor()`` of a
            ``dask.distributed.Client``); its workers must see ``out`` on a shared file system.
            Default: a process pool (``spawn`` start method) of ``workers`` processes, or the
            current process if ``workers == 1``.
        out: output folder; finished tasks already in it are skipped (resume).
        workers: number of local processes (default: all CPUs); with an executor, a hint for how
            many tasks to keep queued.
        progress: show a progress bar (runs done, rate, ETA).

    Returns:
        A [`SweepSummary`][adoptsim.sweeps.dispatch.SweepSummary] (tasks finished, skipped, failed,
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
        from adoptsim.arguments import workers as check_workers

        workers = check_workers(workers)
    out = writable_folder(out, "out").resolve()
    tasks = plan.tasks()
    from adoptsim.arguments import usable_cpus

    local = 1 if executor is not None else min(workers or usable_cpus(), len(tasks))
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
            done_now = scan_shards(shard_dir(out))[0].values()
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
