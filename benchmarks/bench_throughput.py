"""Throughput of many small runs: serial in-process ``simulate`` vs a sweep on a process pool.

Calibration, backtests and sensitivity analysis are thousands of runs of 2,000–10,000 firms, so
this is where users wait. Measured side by side in one invocation, because the machine is shared
and only ratios measured together mean anything:

1. **serial**: ``adoptsim.simulate("baseline", n_firms=n, replications=R)`` timed inside one
   fresh interpreter once the model's modules are loaded (as in a user's script or notebook);
2. **sweep**: the same R runs as ``adoptsim sweep SPEC --workers W`` (a fresh CLI process:
   interpreter start, imports, ``spawn`` pool start-up, one Parquet shard per run — everything
   a user waits for);
3. **start-up**: how long a fresh interpreter takes to import adoptsim with its model (Mesa,
   SciPy, pandas): each pool worker pays it once;
4. with ``--baseline REF``: the serial measure with the code of git commit ``REF`` (extracted with
   ``git archive``), interleaved with the current code, for the per-run speed-up;
5. the projected wall time of the full-factor Sobol analysis at N = 1,024 (the sensitivity
   defaults: 5,000 firms, 2 replications per point) on W workers, from the measured sweep rate.

    python3 benchmarks/bench_throughput.py                       # ~3 minutes on 2 cores
    python3 benchmarks/bench_throughput.py --baseline bd7c61b    # adds the old code's serial time
    python3 benchmarks/bench_throughput.py --quick               # seconds; CI runs this

Writes ``benchmarks/results_throughput.json`` and the throughput section of
``docs/performance.md`` (``--quick`` writes nothing: it only shows that the benchmark still runs).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DOC = REPO / "docs" / "performance.md"
BEGIN, END = "<!-- bench_throughput:begin -->", "<!-- bench_throughput:end -->"
SCENARIO = "baseline"

SERIAL = r"""
import sys, time
t0 = time.perf_counter()
import adoptsim
adoptsim.simulate  # the package loads its modules on first use: load the model before timing
imported = time.perf_counter() - t0
n, reps, seed = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
t, c = time.perf_counter(), time.process_time()
adoptsim.simulate(sys.argv[4], n_firms=n, seed=seed, replications=reps)
print(f"seconds={time.perf_counter() - t:.4f} cpu={time.process_time() - c:.4f} "
      f"import={imported:.4f}")
"""


def _parse(out: str) -> dict[str, float]:
    return {k: float(v) for k, v in (item.split("=") for item in out.split())}


def serial(n: int, reps: int, seed: int, pythonpath: str | None = None) -> dict[str, float]:
    """Seconds for ``reps`` runs of ``simulate`` in a fresh interpreter (import not counted)."""
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    out = subprocess.run(
        [sys.executable, "-c", SERIAL, str(n), str(reps), str(seed), SCENARIO],
        capture_output=True,
        text=True,
        env=env,
        cwd=tempfile.gettempdir(),
        check=True,
    ).stdout
    return _parse(out.strip().splitlines()[-1])


def sweep(n: int, reps: int, seed: int, workers: int, tmp: Path) -> tuple[float, float]:
    """Wall and CPU seconds (the command and its workers) of ``adoptsim sweep`` over the same
    runs, from the command's start to its exit."""
    spec = tmp / f"sweep_{n}_{workers}.toml"
    spec.write_text(
        f'[sweep]\nscenarios = ["{SCENARIO}"]\nreplications = {reps}\n'
        f"n_firms = {n}\nseed = {seed}\n"
    )
    out = tmp / f"out_{n}_{workers}"
    cli = [sys.executable, "-c", "import sys; from adoptsim.cli import main; sys.exit(main())"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(
        [*cli, "sweep", str(spec), "--out", str(out), "--workers", str(workers), "--quiet"],
        capture_output=True,
        check=True,
    )
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall, cpu


def import_seconds() -> float:
    """A fresh interpreter's import of adoptsim and its model (each pool worker pays it once)."""
    return serial(500, 1, 0)["import"]


def sobol_runs(samples: int = 1024, replications: int = 2) -> tuple[int, int]:
    """(factors, runs) of the full-factor Sobol design of the baseline (first and total order)."""
    import adoptsim
    from adoptsim.sensitivity_analysis import default_factors

    k = len(default_factors(adoptsim.load_scenario(SCENARIO)))
    return k, 2 * samples * (k + 2) * replications


def machine() -> dict:
    import numpy

    import adoptsim

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "adoptsim": adoptsim.__version__,
        "commit": commit or "unknown",
        "load_before": round(os.getloadavg()[0], 2),
        "date_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def markdown(res: dict) -> str:
    """The throughput section of docs/performance.md, from the results."""
    m, w = res["machine"], res["workers"]
    lines = [
        BEGIN,
        "",
        f"Generated by `python3 benchmarks/bench_throughput.py"
        f"{' --baseline ' + res['baseline']['ref'] if res.get('baseline') else ''}` "
        f"({m['date_utc']}, commit `{m['commit']}`, {m['cpus']} CPUs, {m['cpu']}, Python "
        f"{m['python']}, numpy {m['numpy']}; 1-minute load average {m['load_before']} before the "
        "run). Serial: `adoptsim.simulate` in one process, timed once its modules are loaded. "
        f"Sweep: `adoptsim sweep --workers {w}` from the command line to its exit, including "
        "interpreter and pool start-up and one Parquet shard per run.",
        "",
        f"| firms | runs | serial runs/s | {w}-worker sweep runs/s | sweep ÷ serial "
        "| CPU s per run, serial | CPU s per run, sweep (all processes) |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in res["sizes"]:
        lines.append(
            f"| {row['n_firms']:,} | {row['runs']} | {row['serial_runs_per_s']:.2f} | "
            f"{row['sweep_runs_per_s']:.2f} | {row['sweep_over_serial']:.2f}× | "
            f"{row['serial_cpu_s'] / row['runs']:.3f} | {row['sweep_cpu_s'] / row['runs']:.3f} |"
        )
    lines += [
        "",
        f"A fresh interpreter takes {res['import_s']:.2f} s to import adoptsim and its model; each "
        "pool worker "
        "pays this once per sweep. Wall times depend on what else the machine runs; CPU seconds "
        "much less so: the sweep's CPU per run above the serial one is its start-up and shard "
        "writing spread over the runs.",
    ]
    if res.get("baseline"):
        b = res["baseline"]
        lines += [
            "",
            f"Per-run cost at {b['n_firms']:,} firms against commit `{b['ref']}` (serial, "
            f"{b['runs']} runs, old and current code interleaved, fastest of {b['rounds']}): "
            f"{b['old_s_per_run'] * 1000:.1f} ms then, {b['new_s_per_run'] * 1000:.1f} ms now: "
            f"**{b['speedup']:.2f}×**.",
        ]
    s = res["sobol"]
    lines += [
        "",
        f"Projected full-factor Sobol analysis of the baseline at N = {s['samples']:,} "
        f"({s['factors']} factors, first and total order: 2N·(k + 2) = "
        f"{s['points']:,} points × {s['replications']} replications = {s['runs']:,} runs of "
        f"{s['n_firms']:,} firms) on {w} workers at the measured sweep rate: "
        f"**{s['hours']:.1f} h** ({s['minutes']:.0f} min).",
        "",
        END,
    ]
    return "\n".join(lines)


def write_doc(section: str) -> None:
    text = DOC.read_text(encoding="utf-8")
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        text = head + section + tail
    else:
        text = text.rstrip("\n") + "\n\n## Throughput of many small runs\n\n" + section + "\n"
    DOC.write_text(text, encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one small size, few runs, no docs")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--baseline", help="git commit to compare the serial per-run cost with")
    ap.add_argument("--baseline-firms", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds for --baseline")
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--docs-only", action="store_true", help="rewrite the docs from the JSON")
    args = ap.parse_args()
    if args.docs_only:
        write_doc(markdown(json.loads((HERE / "results_throughput.json").read_text())))
        return

    sizes = [(2000, 8)] if args.quick else [(2000, 60), (5000, 40), (10000, 20), (20000, 12)]
    res: dict = {"mode": "quick" if args.quick else "full", "machine": machine()}
    res["workers"] = args.workers
    print(f"machine: {res['machine']}", flush=True)
    with tempfile.TemporaryDirectory(prefix="adoptsim-bench-") as td:
        tmp = Path(td)
        res["import_s"] = import_seconds()
        rows = []
        for n, reps in sizes:
            measured = serial(n, reps, args.seed)
            t_serial, c_serial = measured["seconds"], measured["cpu"]
            t_sweep, c_sweep = sweep(n, reps, args.seed, args.workers, tmp)
            rows.append(
                {
                    "n_firms": n,
                    "runs": reps,
                    "serial_s": t_serial,
                    "sweep_s": t_sweep,
                    "serial_cpu_s": c_serial,
                    "sweep_cpu_s": c_sweep,
                    "serial_runs_per_s": reps / t_serial,
                    "sweep_runs_per_s": reps / t_sweep,
                    "sweep_over_serial": t_serial / t_sweep,
                }
            )
            print(
                f"{n:>6} firms, {reps} runs: serial {t_serial:.2f} s, "
                f"{args.workers}-worker sweep {t_sweep:.2f} s (x{t_serial / t_sweep:.2f})",
                flush=True,
            )
        res["sizes"] = rows
        if args.baseline:
            old_dir = tmp / "baseline"
            old_dir.mkdir()
            archive = subprocess.run(
                ["git", "-C", str(REPO), "archive", args.baseline],
                capture_output=True,
                check=True,
            ).stdout
            subprocess.run(["tar", "-x", "-C", str(old_dir)], input=archive, check=True)
            n, reps = args.baseline_firms, 20
            old, new = [], []
            for _ in range(args.rounds):
                old.append(serial(n, reps, args.seed, pythonpath=str(old_dir))["seconds"] / reps)
                new.append(serial(n, reps, args.seed)["seconds"] / reps)
            res["baseline"] = {
                "ref": args.baseline,
                "n_firms": n,
                "runs": reps,
                "rounds": args.rounds,
                "old_s_per_run": min(old),
                "new_s_per_run": min(new),
                "speedup": min(old) / min(new),
                "old_all": old,
                "new_all": new,
            }
            print(f"vs {args.baseline}: x{min(old) / min(new):.2f} per run at {n} firms")
    k, runs = sobol_runs()
    rate = next((r["sweep_runs_per_s"] for r in rows if r["n_firms"] == 5000), None)
    rate = rate or rows[-1]["sweep_runs_per_s"]
    seconds = runs / rate
    res["sobol"] = {
        "samples": 1024,
        "factors": k,
        "points": 2 * 1024 * (k + 2),
        "replications": 2,
        "runs": runs,
        "n_firms": 5000,
        "hours": seconds / 3600,
        "minutes": seconds / 60,
    }
    print(f"full-factor Sobol, N=1024: {runs} runs, projected {seconds / 60:.0f} min")
    if args.quick:  # a smoke test (CI): the numbers of a tiny run are not worth keeping
        markdown(res)
        return
    out = HERE / "results_throughput.json"
    out.write_text(json.dumps(res, indent=2) + "\n")
    write_doc(markdown(res))
    print(f"wrote {out.relative_to(REPO)} and the throughput section of docs/performance.md")


if __name__ == "__main__":
    main()
