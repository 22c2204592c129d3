"""Sweep overhead and parent memory.

1. Pure simulation time of one 20,000-firm baseline replication (run_replication + segment_table,
   in this process, warm) vs the same task through ``adoptsim.sweep`` — in-process (workers=1:
   shard + manifest writing only) and on a 2-process pool (spawn start-up, pickling, shards).
   The steady-state rate on the pool is taken from the difference of two sweep sizes, so pool
   start-up (every spawned worker imports numpy, pandas, scipy and mesa) is reported separately.
2. Peak RSS of the parent process (``ru_maxrss``, each size in a fresh interpreter) as the number
   of tasks grows, at a small firm count: it stays flat because the parent never holds results.
3. Optionally (``--dask``) the same 20,000-firm tasks on a dask.distributed LocalCluster.

    python3 benchmarks/bench_sweep.py --dask     # ~6 minutes on 2 cores; writes the docs table
    python3 benchmarks/bench_sweep.py --quick    # smaller sizes, writes nothing

Writes ``benchmarks/results_sweep.json`` and the measured section of ``docs/sweeps.md``
(``--docs-only`` rewrites the section from the JSON).
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
DOC = REPO / "docs" / "sweeps.md"
RESULTS = REPO / "benchmarks" / "results_sweep.json"
BEGIN, END = "<!-- bench_sweep:begin -->", "<!-- bench_sweep:end -->"

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


def measure(quick: bool, dask: bool) -> dict:
    """Run the measurements; returns the numbers the docs section is written from."""
    import adoptsim
    from adoptsim.segments import segment_table
    from adoptsim.simulation import run_replication
    from adoptsim.sweeps.spec import load_sweep_spec
    from adoptsim.sweeps.store import write_shard

    res: dict = {"load_before": round(os.getloadavg()[0], 2), "cpus": os.cpu_count()}
    res["date_utc"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    sc = adoptsim.load_scenario("baseline")
    run_replication(sc, n_firms=20000, seed=7, replication=99)  # warm caches
    reps = 3 if quick else 6
    t0, c0 = time.perf_counter(), time.process_time()
    for r in range(reps):
        segment_table(run_replication(sc, n_firms=20000, seed=7, replication=r))
    t_sim, c_sim = (time.perf_counter() - t0) / reps, (time.process_time() - c0) / reps
    res["sim"] = {"wall_s": t_sim, "cpu_s": c_sim}
    print(f"pure simulation, 20k-firm baseline: {t_sim:.3f} s/run wall, {c_sim:.3f} CPU s/run")

    table = segment_table(run_replication(sc, n_firms=20000, seed=7, replication=0))
    table.insert(0, "replication", 0)
    task = load_sweep_spec(spec(1)).tasks()[0]
    with tempfile.TemporaryDirectory() as td:
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(20):
            write_shard(table, task.task_id, {**task.meta(), "simulation_s": 0.0}, Path(td))
        res["shard"] = {
            "rows": len(table),
            "wall_s": (time.perf_counter() - t0) / 20,
            "cpu_s": (time.process_time() - c0) / 20,
        }
    print(f"one shard: {res['shard']}")

    small, large = (4, 12) if quick else (8, 24)
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        t_inproc = timed_sweep(spec(reps), tmp, "inproc", workers=1) / reps
        res["inproc"] = {"wall_s": t_inproc, "cpu_s": CPU["inproc.parent"] / reps}
        t_small = timed_sweep(spec(small), tmp, "p_small", workers=2)
        t_large = timed_sweep(spec(large), tmp, "p_large", workers=2)
        rate = (large - small) / (t_large - t_small)
        res["pool"] = {
            "small": small,
            "large": large,
            "wall_small_s": t_small,
            "wall_large_s": t_large,
            "rate": rate,
            "startup_s": t_small - small / rate,
            "worker_cpu_s": CPU["p_large.workers"] / large,
            "parent_cpu_s": CPU["p_large.parent"] / large,
        }
        print(f"2-process pool: {res['pool']}")
        if dask:
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
            res["dask"] = {"rate": (large - small) / (t_dl - t_ds)}
            print(f"dask LocalCluster: {res['dask']}")

        sizes = [8, 32, 64, 256] if quick else [8, 32, 64, 256, 1024]
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        res["rss"] = []
        for n in sizes:
            out = subprocess.run(
                [sys.executable, "-c", RSS_CHILD, str(n), str(tmp / f"rss{n}")],
                capture_output=True,
                text=True,
                env=env,
                cwd=tmp,
                check=True,
            ).stdout
            res["rss"].append(json.loads(out.strip().splitlines()[-1]))
            print(res["rss"][-1])
    res["load_after"] = round(os.getloadavg()[0], 2)
    return res


def markdown(res: dict) -> str:
    """The measured section of docs/sweeps.md, from the results."""
    sim, shard, pool = res["sim"], res["shard"], res["pool"]
    ideal = 2 / sim["wall_s"]
    rows = [
        (
            "pure simulation (`run_replication` + `segment_table`, warm, in-process)",
            f"{sim['cpu_s']:.2f} CPU s/run ({sim['wall_s']:.2f} s wall)",
        ),
        (
            f"one shard: {shard['rows']:,} rows → Parquet, `os.replace`",
            f"{shard['cpu_s'] * 1000:.1f} ms CPU, {shard['wall_s'] * 1000:.1f} ms wall",
        ),
        (
            "sweep in this process (`workers=1`): the run plus its shard and manifest",
            f"{res['inproc']['cpu_s']:.2f} CPU s/run (pure run {sim['cpu_s']:.2f} s: the "
            "difference is within run-to-run noise when it is below a shard's cost)",
        ),
        (
            f"parent CPU per run, 2-process pool, {pool['large']} runs",
            f"{pool['parent_cpu_s'] * 1000:.0f} ms",
        ),
        (
            f"worker CPU per run, 2-process pool, {pool['large']} runs",
            f"{pool['worker_cpu_s']:.2f} s (pure {sim['cpu_s']:.2f} s in this process, which "
            "runs two threads; a worker runs one thread and pays its imports once, spread over "
            "its runs)",
        ),
        (
            f"2-process pool, steady rate from {pool['small']} vs {pool['large']} runs",
            f"{pool['rate']:.2f} runs/s (2 × the pure-simulation wall rate, two threads in one "
            f"process: {ideal:.2f}); "
            f"start-up ≈ {pool['startup_s']:.1f} s",
        ),
    ]
    if res.get("dask"):
        rows.append(
            (
                "dask LocalCluster (2 workers × 1 thread), same runs",
                f"{res['dask']['rate']:.2f} runs/s steady; start-up includes the cluster",
            )
        )
    lines = [
        BEGIN,
        "",
        f"Generated by `python3 benchmarks/bench_sweep.py{' --dask' if res.get('dask') else ''}`"
        f" ({res['date_utc']}, {res['cpus']} CPUs, 1-minute load average {res['load_before']} "
        f"before and {res['load_after']} after). CPU seconds are the robust comparison when "
        "other jobs share the machine.",
        "",
        "| measurement (20,000-firm `baseline` runs) | result |",
        "|---|---|",
        *[f"| {a} | {b} |" for a, b in rows],
        "",
        "Parent peak RSS (`ru_maxrss`, each size in a fresh interpreter) with a 2-process pool, "
        "for `bass_validation` at 500 firms:",
        "",
        "| tasks | wall s | parent RSS after `import adoptsim`, MB | parent peak RSS, MB |",
        "|---:|---:|---:|---:|",
        *[
            f"| {m['tasks']:,} | {m['seconds']:.1f} | {m['rss_after_import_mb']:.0f} | "
            f"{m['peak_rss_mb']:.0f} |"
            for m in res["rss"]
        ],
        "",
        END,
    ]
    return "\n".join(lines)


def write_doc(section: str) -> None:
    text = DOC.read_text(encoding="utf-8")
    head, rest = text.split(BEGIN, 1)
    DOC.write_text(head + section + rest.split(END, 1)[1], encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes; writes nothing")
    ap.add_argument("--dask", action="store_true", help="also time a dask LocalCluster")
    ap.add_argument("--docs-only", action="store_true", help="rewrite the docs from the JSON")
    args = ap.parse_args()
    if args.docs_only:
        write_doc(markdown(json.loads(RESULTS.read_text())))
        return
    res = measure(args.quick, args.dask)
    print(markdown(res))
    if not args.quick:
        RESULTS.write_text(json.dumps(res, indent=2) + "\n")
        write_doc(markdown(res))
        print(f"wrote {RESULTS.relative_to(REPO)} and the measured section of docs/sweeps.md")


if __name__ == "__main__":
    main()
