"""Local worker processes for sweeps and calibration: started early, set up once, stopped cleanly.

A worker is a spawned Python process. Most of its start-up is importing the model (NumPy,
pandas, SciPy, Mesa: about a second), so the pool is started as early as possible — the CLI asks
for it before it imports the sweep machinery itself ([`prestart`][adoptsim.sweeps.pool.prestart]) —
and each worker imports the model in its initializer, while the parent is still reading the spec
and checking the output folder, instead of inside its first task.

This module imports only the standard library: starting the workers must not wait for the
imports the workers are there to do in parallel.
"""

from __future__ import annotations

import atexit
import concurrent.futures as cf
import contextlib
import importlib
import multiprocessing
import os
import signal
import sys
import threading
import time
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from adoptsim.errors import AdoptsimError

# Imported by every worker as it starts: what a task needs, so no task waits for it.
PRELOAD = ("adoptsim.sweeps.dispatch", "adoptsim.simulation")

# Thread counts of the BLAS libraries NumPy and SciPy may load (OpenBLAS, MKL, OpenMP).
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS")

_current_marker: Path | None = None  # the running task's marker file, in a worker process
_prestarted: tuple[cf.ProcessPoolExecutor, list[cf.Future]] | None = None


def set_marker(path: Path | None) -> None:
    """Name the marker file of the task this worker runs (None when it is done).

    A worker terminated by the pool removes it (see `worker_init`), so a marker that survives a
    pool break names the task whose process died.
    """
    global _current_marker
    _current_marker = path


def _watch_parent(parent_pid: int) -> None:
    """Exit at once when the parent process is gone (the worker was re-parented)."""
    while True:
        if os.getppid() != parent_pid:
            os._exit(1)
        time.sleep(0.5)


def _on_sigterm(signum: int, frame: object) -> None:
    """Terminated by the parent (Ctrl-C, or another worker died).

    This task did not kill the pool, so take its marker away before going.
    """
    if _current_marker is not None:
        with contextlib.suppress(OSError):
            _current_marker.unlink()
    os._exit(143)


def worker_init(parent_pid: int | None = None, preload: tuple[str, ...] = PRELOAD) -> None:
    """Set up a pool worker: one thread, Ctrl-C ignored, death with its parent, model imported.

    - ``ADOPTSIM_THREADS=1`` and one BLAS thread: the workers already use every core between
      them. OpenBLAS's own threads in every worker oversubscribed the cores: a 20,000-firm
      baseline run took 0.75 s in a 2-worker pool against 0.21 s in one process.
    - Ctrl-C is ignored: the parent decides what stops (and terminates the workers).
    - A ``kill -9`` of the parent must not leave workers running for hours: on Linux the kernel
      sends SIGKILL when the parent dies (``prctl(PR_SET_PDEATHSIG)``), and a daemon thread that
      polls ``os.getppid()`` twice a second does the same everywhere else.
    - SIGTERM (sent by the pool when it stops or breaks) removes the running task's marker, so
      the parent can tell the task that killed a worker from the ones stopped with it.
    - The ``preload`` modules are imported now, in parallel with the parent's own start-up,
      rather than by the first task.

    Args:
        parent_pid: the pid of the process that started the pool (None: no parent watch).
        preload: modules to import before the first task.
    """
    os.environ["ADOPTSIM_THREADS"] = "1"
    for blas in BLAS_THREAD_VARIABLES:  # read when NumPy loads its BLAS (if not loaded yet)
        os.environ[blas] = "1"
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _on_sigterm)
    if parent_pid is not None:
        if sys.platform.startswith("linux"):
            with contextlib.suppress(OSError, AttributeError):
                import ctypes

                libc = ctypes.CDLL(None, use_errno=True)
                libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os._exit(1)
        threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()
    for module in preload:
        importlib.import_module(module)
    # NumPy may have been loaded before this function ran (a user's script that spawned the
    # pool is imported first): limit its BLAS pools now as well.
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)


@contextlib.contextmanager
def environment():
    """Start pool workers in the environment they need from their first instruction.

    Ctrl-C is ignored from birth (a child inherits SIG_IGN), so a Ctrl-C in the terminal reaches
    only the parent even while workers import, with ``ADOPTSIM_THREADS=1`` in their environment
    before anything reads it, and with this process's pid for ``adoptsim.sweeps.guard`` (death
    with the parent from the first import).
    """
    from adoptsim.sweeps.guard import ENV as PARENT_ENV

    saved = {k: os.environ.get(k) for k in ("ADOPTSIM_THREADS", PARENT_ENV)}
    os.environ["ADOPTSIM_THREADS"] = "1"
    os.environ[PARENT_ENV] = str(os.getpid())  # read by adoptsim/__init__ in the worker
    main = threading.current_thread() is threading.main_thread()
    old = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        yield
    finally:
        if main and old is not None:
            signal.signal(signal.SIGINT, old)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def new_pool(n: int) -> cf.ProcessPoolExecutor:
    """A pool of ``n`` spawned workers set up by `worker_init` (call inside `environment`)."""
    return cf.ProcessPoolExecutor(
        max_workers=n,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=worker_init,
        initargs=(os.getpid(),),
    )


def stop_pool(pool: cf.ProcessPoolExecutor) -> None:
    """Cancel what is queued and terminate the workers (a running task is abandoned)."""
    terminate = getattr(pool, "terminate_workers", None)  # Python >= 3.14
    if terminate is not None:
        terminate()
        return
    procs = list((getattr(pool, "_processes", None) or {}).values())  # no public API before 3.14
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.join(timeout=5)


def _launch(n: int) -> tuple[cf.ProcessPoolExecutor, list[cf.Future]]:
    """Create a pool and make it start all ``n`` workers now (without waiting for them)."""
    with environment():
        pool = new_pool(n)
        # The pool starts a process per submitted call while none is idle, so n calls start n.
        return pool, [pool.submit(os.getpid) for _ in range(n)]


def prestart(n: int) -> None:
    """Start ``n`` workers now, for the next `started_pool` of this process to take over.

    They import the model while this process goes on with its own work. A second call, or one
    with ``n`` < 2, does nothing; workers nobody takes are stopped at exit (`discard_prestarted`).
    """
    global _prestarted
    if _prestarted is not None or n < 2:
        return
    _prestarted = _launch(n)


def discard_prestarted() -> None:
    """Stop prestarted workers that no sweep took (bad input, nothing left to run)."""
    global _prestarted
    if _prestarted is not None:
        stop_pool(_prestarted[0])
        _prestarted = None


@contextlib.contextmanager
def stopping_unused():
    """On leaving, stop prestarted workers that nothing took (refused, or nothing to run)."""
    try:
        yield
    finally:
        discard_prestarted()


def started_pool(n: int, attempts: int = 3) -> cf.ProcessPoolExecutor:
    """A pool of (at least) ``n`` workers, all started and set up before it returns.

    Takes over the workers of `prestart` when there are enough of them.

    Raises:
        AdoptsimError: the workers die as they start, ``attempts`` times over.
    """
    global _prestarted
    error: BaseException | None = None
    for _ in range(attempts):
        if _prestarted is not None and len(_prestarted[1]) >= n:
            (pool, ready), _prestarted = _prestarted, None
        else:
            discard_prestarted()
            pool, ready = _launch(n)
        try:
            for fut in ready:
                fut.result()
            return pool
        except BrokenProcessPool as exc:
            error = exc
            stop_pool(pool)
    # The usual cause from Python: a script that starts workers at its top level. Each spawned
    # worker imports the script as a module and so tries to start workers of its own.
    raise AdoptsimError(
        f"worker processes die as they start ({error}); in a script, start them under "
        '`if __name__ == "__main__":` (each worker imports the script); otherwise run with one '
        "worker (--workers 1, workers=1) to see why"
    )


atexit.register(discard_prestarted)  # workers nobody took must not outlive this process
