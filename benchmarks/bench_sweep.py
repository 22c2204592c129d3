"""Sweep overhead and parent memory.

1. Pure simulation time of one 20,000-firm baseline replication (run_replication + segment_table,
   in this process, warm) vs the same task through ``adoptsim.sweep`` — in-process (workers=1:
   shard + manifest writing only) and on a 2-process pool (spawn start-up, pickling, shards).
   The steady-state rate on the pool is taken from the difference of two sweep sizes, so pool
   start-up (about 3 s: every spawned worker imports numpy, pandas, scipy and mesa) is reported
   separately.
2. Peak RSS of the parent process (``ru_maxrss``, each size in a fresh interpreter) as the number
   of tasks grows, at a small firm count: it stays flat because the parent never holds results.
3. Optionally (``--dask``) the same 20,000-firm tasks on a dask.distributed LocalCluster.

    python3 benchmarks/bench_sweep.py            # ~3 minutes on 2 cores
    python3 benchmarks/bench_sweep.py --quick    # smaller sizes
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

RSS_CHILD = r"""
import json, resource, sys, time
import adoptsim
spec = {"sweep": {"scenarios": ["bass_validation"], "replications": int(sys.argv[1]),
                  "n_firms": 500, "seed": 1}}
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
if __name__ == "__main__":
    s = adoptsim.sweep(spec, out=sys.argv[2], workers=2, progress=False)
    assert s.ok, s.report()
    print(json.dumps({"tasks": s.total, "seconds": time.perf_counter() - t0,
                      "rss_after_import_mb": before / 1024,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def spec(replications: int, n_firms: int = 20000) -> dict:
    return {
        "sweep": {
            "scenarios": ["baseline"],
            "replications": replications,
            "n_firms": n_firms,
            "seed": 7,
        }
    }


CPU: dict[str, float] = {}


def timed_sweep(sp: dict, tmp: Path, name: str, **kw) -> float:
    """Wall seconds of one sweep; CPU seconds of the parent and of its (reaped) workers go to
    ``CPU[name]`` — CPU time is what to compare when other jobs share the machine."""
    import adoptsim

    me, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    t0 = time.perf_counter()
    s = adoptsim.sweep(sp, out=tmp / name, progress=False, **kw)
    assert s.ok, s.report()
    wall = time.perf_counter() - t0
    me2, kids2 = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    CPU[name + ".parent"] = me2.ru_utime + me2.ru_stime - me.ru_utime - me.ru_stime
    CPU[name + ".workers"] = kids2.ru_utime + kids2.ru_stime - kids.ru_utime - kids.ru_stime
    return wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--dask", action="store_true", help="also time a dask LocalCluster")
    args = ap.parse_args()

    import adoptsim
    from adoptsim.results import segment_table
    from adoptsim.simulation import run_replication

    sc = adoptsim.load_scenario("baseline")
    run_replication(sc, n_firms=20000, seed=7, replication=99)  # warm caches
    reps = 3 if args.quick else 6
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    t0, c0 = time.perf_counter(), time.process_time()
    for r in range(reps):
        segment_table(run_replication(sc, n_firms=20000, seed=7, replication=r))
    t_sim = (time.perf_counter() - t0) / reps
    c_sim = (time.process_time() - c0) / reps
    print(
        f"pure simulation, 20k-firm baseline: {t_sim:.3f} s/run wall, {c_sim:.3f} CPU s/run "
        f"({1 / t_sim:.2f} runs/s)"
    )

    from adoptsim.runner import _write_shard, load_sweep_spec

    table = segment_table(run_replication(sc, n_firms=20000, seed=7, replication=0))
    table.insert(0, "replication", 0)
    task = load_sweep_spec(spec(1)).tasks()[0]
    with tempfile.TemporaryDirectory() as td:
        t0 = time.perf_counter()
        for _ in range(20):
            _write_shard(table, task, Path(td), 0.0)
        t_shard = (time.perf_counter() - t0) / 20
    print(f"one shard ({len(table)} rows: Parquet + fsync + os.replace): {t_shard * 1000:.1f} ms")

    small, large = (4, 12) if args.quick else (8, 24)
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        t_inproc = timed_sweep(spec(reps), tmp, "inproc", workers=1) / reps
        c_inproc = CPU["inproc.parent"] / reps
        print(
            f"sweep, workers=1 (in-process): {t_inproc:.3f} s/run wall, {c_inproc:.3f} CPU s/run "
            f"→ overhead {(c_inproc - c_sim) * 1000:.0f} CPU ms/run (shard + manifest)"
        )
        t_small = timed_sweep(spec(small), tmp, "p_small", workers=2)
        t_large = timed_sweep(spec(large), tmp, "p_large", workers=2)
        rate = (large - small) / (t_large - t_small)
        startup = t_small - small / rate
        print(
            f"sweep, 2 processes: {small} runs {t_small:.1f} s, {large} runs {t_large:.1f} s → "
            f"steady {rate:.2f} runs/s (ideal 2 × {1 / t_sim:.2f} = {2 / t_sim:.2f}); "
            f"per-run cost per worker {2 / rate:.3f} s vs {t_sim:.3f} s pure "
            f"→ overhead {(2 / rate - t_sim) * 1000:.0f} ms/run; pool start-up ≈ {startup:.1f} s; "
            f"end to end {large / t_large:.2f} runs/s"
        )
        w_cpu, p_cpu = CPU["p_large.workers"] / large, CPU["p_large.parent"] / large
        print(
            f"  CPU per run ({large} runs): workers {w_cpu:.3f} s (pure {c_sim:.3f} s; the "
            f"difference, {(w_cpu - c_sim) * 1000:.0f} ms, includes each worker's ~3 s of imports "
            f"spread over its runs), parent {p_cpu * 1000:.0f} ms"
        )
        if args.dask:
            from distributed import Client, LocalCluster

            with (
                LocalCluster(
                    n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
                ) as cluster,
                Client(cluster) as client,
            ):
                ex = client.get_executor(pure=False)
                t_ds = timed_sweep(spec(small), tmp, "d_small", executor=ex)
                t_dl = timed_sweep(spec(large), tmp, "d_large", executor=ex)
            d_rate = (large - small) / (t_dl - t_ds)
            print(
                f"sweep, dask LocalCluster 2×1: {small} runs {t_ds:.1f} s, {large} runs "
                f"{t_dl:.1f} s → steady {d_rate:.2f} runs/s, overhead "
                f"{(2 / d_rate - t_sim) * 1000:.0f} ms/run"
            )

        sizes = [8, 32, 64, 256] if args.quick else [8, 32, 64, 256, 1024]
        print("\nparent peak RSS vs number of tasks (bass_validation, 500 firms, 2 processes):")
        print("| tasks | wall s | RSS after import MB | peak RSS MB |")
        print("|---:|---:|---:|---:|")
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        for n in sizes:
            out = subprocess.run(
                [sys.executable, "-c", RSS_CHILD, str(n), str(tmp / f"rss{n}")],
                capture_output=True,
                text=True,
                env=env,
                cwd=tmp,
                check=True,
            ).stdout
            m = json.loads(out.strip().splitlines()[-1])
            print(
                f"| {m['tasks']} | {m['seconds']:.1f} | {m['rss_after_import_mb']:.0f} | "
                f"{m['peak_rss_mb']:.0f} |"
            )
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
