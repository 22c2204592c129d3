"""Steady-state cost of a run, old code against new, and the sweep's steady rate.

Calibration, backtests, the evidence experiments and Sobol are tens of thousands of runs of
2,000–20,000 agents, so what counts is what one run costs once a process is warm, and what a
long sweep runs at. Measured side by side in one invocation (the machine is shared: only ratios
measured together mean anything):

1. **per-run cost**: ``adoptsim.simulate("baseline", n_firms=n, replications=R)`` in a fresh
   interpreter after a warm-up run (imports, first-use caches and Numba's compiled code outside
   the clock), one thread (``ADOPTSIM_THREADS=1``, one BLAS thread), fastest of two rounds,
   divided by R — the method of ``../shared/checks/eng-runcost`` — for the code of commit
   ``--baseline`` (extracted with ``git archive``) and the current code, interleaved;
2. **the RNG floor**: what computing a run's state-change uniforms alone costs (119 months × one
   counter-based word per firm, `adoptsim.uniforms`: the least every run must compute), and each
   run's distance to it;
3. **the sweep's steady rate**: ``adoptsim sweep --workers W`` of 10 and 60 runs of 5,000
   agents (wall = fixed + runs ÷ rate), against the serial steady rate of item 1;
4. **Numba's first use**: a fresh interpreter with an empty Numba cache (the compilation)
   against one with the cache filled, each running one 2,000-agent run.

    python3 benchmarks/bench_throughput.py --baseline 92c63b8   # ~10 minutes on 2 cores
    python3 benchmarks/bench_throughput.py --quick              # seconds; CI runs this

Writes ``benchmarks/results_throughput.json`` and the throughput section of
``docs/performance.md`` (``--quick`` writes nothing: it only shows that the benchmark still runs).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
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
SIZES = ((2000, 30), (5000, 30), (20000, 10), (100000, 3))  # agents, replications per round
MONTHS = 119  # a baseline run's steps
# The shipped calibration (`adoptsim calibrate --budget 640 --rounds 4 --firms 10000
# --replications 2 --mcmc-steps 4000 --workers 2`) takes too long to rerun here: its last
# measured wall time, on the code before this benchmark's kernel.
CALIBRATION_MIN = 31

ONE_THREAD = {"ADOPTSIM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}

COST = r"""
import sys, time, adoptsim
n, reps = int(sys.argv[1]), int(sys.argv[2])
adoptsim.simulate("baseline", n_firms=n, seed=99, replications=1)  # warm-up: imports, caches
best = float("inf")
for k in range(2):
    t = time.perf_counter(); adoptsim.simulate("baseline", n_firms=n, seed=k, replications=reps)
    best = min(best, (time.perf_counter() - t) / reps)
print(f"per_run={best:.6f}")
"""

FLOOR = r"""
import sys, time
import numpy as np
from adoptsim import kernels, uniforms
n = int(sys.argv[1]); months = int(sys.argv[2])
words, z = uniforms.firm_words(n), np.empty((uniforms.WORDS, n), dtype=np.uint64)
kernels._words(np.uint64(1), words, z, 0)  # compiled (or loaded from the cache) outside the clock
best = float("inf")
for _ in range(3):
    t = time.perf_counter()
    for m in range(months):
        kernels._words(np.uint64(kernels._stream_key(np.uint64(1), m, 0)), words, z, 0)
    best = min(best, time.perf_counter() - t)
print(f"floor={best:.6f}")
"""

FIRST_USE = r"""
import time
t = time.perf_counter()
import adoptsim
adoptsim.simulate("baseline", n_firms=2000, seed=1, replications=1)
print(f"first={time.perf_counter() - t:.4f}")
"""


def _parse(out: str) -> dict[str, float]:
    return {k: float(v) for k, v in (item.split("=") for item in out.split())}


def _script(code: str, *argv: object, env: dict | None = None) -> dict[str, float]:
    full = {**os.environ, **ONE_THREAD, **(env or {})}
    out = subprocess.run(
        [sys.executable, "-c", code, *map(str, argv)],
        capture_output=True,
        text=True,
        env=full,
        cwd=tempfile.gettempdir(),
        check=True,
    ).stdout
    return _parse(out.strip().splitlines()[-1])


def per_run(n: int, reps: int, old_dir: Path | None = None) -> float:
    """Seconds per run of ``simulate`` in steady state (see the module docstring, item 1)."""
    env = {"PYTHONPATH": str(old_dir)} if old_dir else None
    return _script(COST, n, reps, env=env)["per_run"]


def rng_floor(n: int) -> float:
    """Seconds to compute one run's state-change uniforms alone: one counter-based 64-bit word
    per firm and month (`adoptsim.uniforms`, compiled), the least every run must compute."""
    return _script(FLOOR, n, MONTHS)["floor"]


def first_use(tmp: Path) -> dict:
    """A fresh interpreter's first 2,000-agent run with an empty Numba cache and a full one."""
    cache = tmp / "numba-cache"
    cold = _script(FIRST_USE, env={"NUMBA_CACHE_DIR": str(cache)})["first"]
    warm = _script(FIRST_USE, env={"NUMBA_CACHE_DIR": str(cache)})["first"]
    off = _script(FIRST_USE, env={"ADOPTSIM_KERNEL": "0"})["first"]
    return {"cold_s": cold, "warm_s": warm, "reference_s": off, "compile_s": cold - warm}


def _cli_sweep(spec_text: str, workers: int, tmp: Path, tag: str) -> float:
    """Wall seconds of ``adoptsim sweep`` (a fresh command) over the runs of ``spec_text``."""
    spec = tmp / f"{tag}.toml"
    spec.write_text(spec_text)
    out = tmp / f"out_{tag}"
    cli = [sys.executable, "-c", "import sys; from adoptsim.cli import main; sys.exit(main())"]
    t = time.perf_counter()
    subprocess.run(
        [*cli, "sweep", str(spec), "--out", str(out), "--workers", str(workers), "--quiet"],
        capture_output=True,
        check=True,
    )
    wall = time.perf_counter() - t
    subprocess.run(["rm", "-rf", str(out)], check=True)  # a rerun must run, not resume
    return wall


def sweep_rate(
    n: int, seed: int, workers: int, tmp: Path, rounds: int = 2, lengths: tuple = (10, 60)
) -> dict:
    """A sweep's fixed cost and steady rate, from sweeps of two lengths (fastest of rounds).

    Wall = fixed + runs ÷ rate: two lengths give both. The fixed part is the command's start,
    its imports and the workers' start-up; the rate is what a long sweep (a Sobol design) runs at.
    """
    best: dict[int, float] = {}
    for r in range(rounds):
        for reps in lengths:
            text = (
                f'[sweep]\nscenarios = ["{SCENARIO}"]\nreplications = {reps}\n'
                f"n_firms = {n}\nseed = {seed}\n"
            )
            wall = _cli_sweep(text, workers, tmp, f"fixed_{reps}_{r}")
            best[reps] = min(best.get(reps, wall), wall)
    (r1, t1), (r2, t2) = sorted(best.items())
    rate = (r2 - r1) / (t2 - t1)
    return {"n_firms": n, "lengths": list(lengths), "walls": [t1, t2], "rate": rate,
            "fixed_s": t1 - r1 / rate}  # fmt: skip


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
    try:
        import numba

        numba_version = numba.__version__
    except ImportError:
        numba_version = "absent"
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "numba": numba_version,
        "adoptsim": adoptsim.__version__,
        "commit": commit or "unknown",
        "load_before": round(os.getloadavg()[0], 2),
        "date_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def markdown(res: dict) -> str:
    """The throughput section of docs/performance.md, from the results."""
    m, w, ref = res["machine"], res["workers"], res["baseline"]
    lines = [
        BEGIN,
        "",
        f"Generated by `python3 benchmarks/bench_throughput.py --baseline {ref}` "
        f"({m['date_utc']}, commit `{m['commit']}`, {m['cpus']} CPUs, {m['cpu']}, Python "
        f"{m['python']}, numpy {m['numpy']}, numba {m['numba']}; 1-minute load average "
        f'{m["load_before"]} before the run). Per run: `adoptsim.simulate("baseline", n_firms=n, '
        "replications=R)` in a fresh interpreter after a warm-up run, one thread, fastest of two "
        f"rounds ÷ R; commit `{ref}` and the current code interleaved. RNG floor: computing the "
        f"run's {MONTHS} state-change uniforms per firm alone (one counter-based word per firm "
        "and month, compiled; the other rows are computed only where a mechanism reads them).",
        "",
        f"| agents | R | `{ref}` ms per run | now ms per run | speed-up | RNG floor ms "
        "| now ÷ floor |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in res["sizes"]:
        lines.append(
            f"| {row['n_firms']:,} | {row['reps']} | {1e3 * row['old_s']:.1f} | "
            f"{1e3 * row['new_s']:.1f} | {row['old_s'] / row['new_s']:.2f}× | "
            f"{1e3 * row['floor_s']:.1f} | {row['new_s'] / row['floor_s']:.1f}× |"
        )
    s, f = res["sweep"], res["first_use"]
    serial_rate = 1.0 / next(r["new_s"] for r in res["sizes"] if r["n_firms"] == s["n_firms"])
    k, runs = res["sobol"]["factors"], res["sobol"]["runs"]
    lines += [
        "",
        f"The sweep's steady rate at {s['n_firms']:,} agents, from `adoptsim sweep` of "
        f"{s['lengths'][0]} and {s['lengths'][1]} runs ({s['walls'][0]:.2f} s and "
        f"{s['walls'][1]:.2f} s, fastest of 2) on {w} workers: **{s['rate']:.2f} runs/s** after "
        f"a fixed {s['fixed_s']:.2f} s (the command's start, imports, the workers' start-up); "
        f"serial steady rate {serial_rate:.2f} runs/s: **{s['rate'] / serial_rate:.2f}×**.",
        "",
        "Numba's first use (compiling the kernels, once per installation: the machine code is "
        "cached beside `adoptsim/kernels.py`, or in Numba's user cache if that folder is "
        f"read-only): a fresh interpreter's first 2,000-agent run takes {f['cold_s']:.2f} s with "
        f"an empty cache, {f['warm_s']:.2f} s with it filled (with the compiled path off, "
        f"`ADOPTSIM_KERNEL=0`: {f['reference_s']:.2f} s), so compiling costs "
        f"**{f['compile_s']:.1f} s**.",
        "",
        f"Projected full-factor Sobol analysis of the baseline at N = 1,024 ({k} factors, first "
        f"and total order: {runs:,} runs of {s['n_firms']:,} agents) on {w} workers at the "
        f"sweep's steady rate: **{runs / s['rate'] / 3600:.1f} h**.",
        "",
        f"The shipped calibration (`adoptsim calibrate --budget 640 --rounds 4 --firms 10000 "
        f"--replications 2 --mcmc-steps 4000 --workers 2`) took about {CALIBRATION_MIN} min at "
        "its last measurement, before the compiled step; it is not rerun by this benchmark. "
        "The backtests' fits use the same settings on the targets up to their origin: "
        + ", ".join(f"{o} {m:.1f} min" for o, m in backtest_minutes().items())
        + " (`calibration/backtest/*/fit.json`, on 2 workers).",
        "",
        END,
    ]
    return "\n".join(lines)


def backtest_minutes() -> dict[str, float]:
    """Wall time of each shipped backtest's fit (the shipped fit's settings), in minutes."""
    out = {}
    for fit in sorted((REPO / "calibration" / "backtest").glob("*/fit.json")):
        out[fit.parent.name] = json.loads(fit.read_text(encoding="utf-8"))["runtime_s"] / 60
    return out


def write_doc(section: str) -> None:
    text = DOC.read_text(encoding="utf-8")
    head, rest = text.split(BEGIN, 1)
    DOC.write_text(head + section + rest.split(END, 1)[1], encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one small size, few runs, no docs")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--baseline", default="92c63b8", help="git commit to compare with")
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--docs-only", action="store_true", help="rewrite the docs from the JSON")
    args = ap.parse_args()
    if args.docs_only:
        write_doc(markdown(json.loads((HERE / "results_throughput.json").read_text())))
        return
    res: dict = {"machine": machine(), "workers": args.workers, "baseline": args.baseline}
    print(f"machine: {res['machine']}", flush=True)
    with tempfile.TemporaryDirectory(prefix="adoptsim-bench-") as td:
        tmp = Path(td)
        if args.quick:
            t = per_run(2000, 2)
            print(f"quick: {1e3 * t:.1f} ms per 2,000-agent run, floor "
                  f"{1e3 * rng_floor(2000):.1f} ms")  # fmt: skip
            return
        old = tmp / "old"
        old.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", args.baseline], capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
        rows = []
        for n, reps in SIZES:
            old_s, new_s = per_run(n, reps, old), per_run(n, reps)
            floor = rng_floor(n)
            rows.append({"n_firms": n, "reps": reps, "old_s": old_s, "new_s": new_s,
                         "floor_s": floor})  # fmt: skip
            print(f"{n}: {1e3 * old_s:.1f} -> {1e3 * new_s:.1f} ms per run "
                  f"(floor {1e3 * floor:.1f} ms)", flush=True)  # fmt: skip
        res["sizes"] = rows
        res["sweep"] = sweep_rate(5000, args.seed, args.workers, tmp)
        print(f"sweep: {res['sweep']}", flush=True)
        res["first_use"] = first_use(tmp)
        print(f"first use: {res['first_use']}", flush=True)
    k, runs = sobol_runs()
    res["sobol"] = {"factors": k, "samples": 1024, "replications": 2, "runs": runs}
    (HERE / "results_throughput.json").write_text(json.dumps(res, indent=2) + "\n")
    write_doc(markdown(res))
    print(markdown(res))


if __name__ == "__main__":
    main()
