"""Measure the peak memory of one run per firm and per peer tie (the memory guard's constants).

Each measurement runs in a fresh process: the peak resident size (``ru_maxrss``) after one
replication minus the peak after the imports. A least-squares fit of
``extra = per_firm · n + per_tie · n · mean_degree`` over the grid below gives the two costs that
``adoptsim/memory.py`` uses. The memory a sweep's plan takes per task is measured with
tracemalloc. The script prints the results, writes ``benchmarks/results_memory.json`` and the
table in docs/performance.md (tests/test_memory.py checks that both agree with memory.py).

    python benchmarks/memory_per_firm.py            # about 2 minutes on 2 cores
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

CHILD = r"""
import resource, sys
import adoptsim
from adoptsim.simulation import run_replication
n, degree, kind = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
sc = adoptsim.load_scenario("baseline").with_overrides(
    {"network.mean_degree": degree, "network.kind": kind, "scenario.end": "2020-12"}
)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
run_replication(sc, n_firms=n, seed=0, replication=0)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print((peak - base) * 1024)
"""

GRID = [(n, d) for n in (250_000, 1_000_000) for d in (5.0, 20.0)]

TASKS_CHILD = r"""
import sys, tracemalloc
from adoptsim.sweeps.spec import load_sweep_spec
points, reps = int(sys.argv[1]), int(sys.argv[2])
spec = {"sweep": {"scenarios": ["baseline"], "replications": reps,
        "grid": {"rule.theta_peer": [1 + i / points for i in range(points)]}}}
tracemalloc.start()
tasks = load_sweep_spec(spec).tasks()
print(tracemalloc.get_traced_memory()[1])
"""


def measure(n: int, degree: float, kind: str = "sector_region") -> int:
    """Extra peak bytes of one replication with ``n`` firms and ``degree`` mean peers."""
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(n), str(degree), kind],
        check=True,
        capture_output=True,
        text=True,
        env={"ADOPTSIM_THREADS": "1", "PATH": ""},
    )
    return int(out.stdout.strip().splitlines()[-1])


def measure_tasks(points: int, replications: int) -> int:
    """Peak bytes (tracemalloc) of planning a sweep of ``points`` × ``replications`` tasks."""
    out = subprocess.run(
        [sys.executable, "-c", TASKS_CHILD, str(points), str(replications)],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(out.stdout.strip().splitlines()[-1])


def main() -> None:
    rows = [(n, d, measure(n, d)) for n, d in GRID]
    A = np.array([[n, n * d] for n, d, _ in rows], dtype=float)
    y = np.array([b for *_, b in rows], dtype=float)
    (per_firm, per_tie), *_ = np.linalg.lstsq(A, y, rcond=None)
    complete = measure(1_000_000, 10.0, "complete") / 1_000_000
    # per task: the larger of what one more point and one more replication cost
    base = measure_tasks(200, 1)
    per_point = (measure_tasks(800, 1) - base) / 600
    per_replication = (measure_tasks(200, 4) - base) / 600
    per_task = max(per_point, per_replication)
    result = {
        "runs": [{"n_firms": n, "mean_degree": d, "extra_bytes": b} for n, d, b in rows],
        "bytes_per_firm": round(float(per_firm), 1),
        "bytes_per_tie": round(float(per_tie), 1),
        "complete_network_bytes_per_firm": round(complete, 1),
        "sweep_plan_bytes_per_task": round(per_task, 1),
    }
    print(json.dumps(result, indent=2))
    Path(__file__).with_name("results_memory.json").write_text(json.dumps(result, indent=2) + "\n")
    write_docs(result)


DOCS = Path(__file__).resolve().parent.parent / "docs" / "performance.md"
BEGIN, END = "<!-- memory-table:begin -->", "<!-- memory-table:end -->"


def memory_table(result: dict) -> str:
    """The docs table of the measurements (docs/performance.md, between the markers)."""
    lines = [
        "| firms | mean degree | extra peak memory, MB | MB per 10⁶ firms |",
        "|---:|---:|---:|---:|",
    ]
    for run in result["runs"]:
        mb = run["extra_bytes"] / 2**20
        lines.append(
            f"| {run['n_firms']:,} | {run['mean_degree']:g} | {mb:,.0f} | "
            f"{mb * 1e6 / run['n_firms']:,.0f} |"
        )
    lines += [
        "",
        f"Fit: **{result['bytes_per_firm']:g} bytes per firm + {result['bytes_per_tie']:g} bytes "
        f"per peer tie**; the complete network (no ties stored): "
        f"**{result['complete_network_bytes_per_firm']:g} bytes per firm**. Planning a sweep: "
        f"**{result['sweep_plan_bytes_per_task']:g} bytes per task**.",
    ]
    return "\n".join(lines)


def write_docs(result: dict) -> None:
    """Replace the table between the markers in docs/performance.md."""
    text = DOCS.read_text()
    head, rest = text.split(BEGIN)
    _, tail = rest.split(END)
    DOCS.write_text(f"{head}{BEGIN}\n{memory_table(result)}\n{END}{tail}")


if __name__ == "__main__":
    main()
