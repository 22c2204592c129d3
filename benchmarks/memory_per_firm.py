"""Measure the peak memory of one run per firm and per peer tie (the memory guard's constants).

Each measurement runs in a fresh process: the peak resident size (``ru_maxrss``) after one
replication minus the peak after the imports. A least-squares fit of
``extra = per_firm · n + per_tie · n · mean_degree`` over the grid below gives the two costs that
``adoptsim/memory.py`` uses; the script prints them and writes ``benchmarks/results_memory.json``.

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


def main() -> None:
    rows = [(n, d, measure(n, d)) for n, d in GRID]
    A = np.array([[n, n * d] for n, d, _ in rows], dtype=float)
    y = np.array([b for *_, b in rows], dtype=float)
    (per_firm, per_tie), *_ = np.linalg.lstsq(A, y, rcond=None)
    complete = measure(1_000_000, 10.0, "complete") / 1_000_000
    result = {
        "runs": [{"n_firms": n, "mean_degree": d, "extra_bytes": b} for n, d, b in rows],
        "bytes_per_firm": round(float(per_firm), 1),
        "bytes_per_tie": round(float(per_tie), 1),
        "complete_network_bytes_per_firm": round(complete, 1),
    }
    print(json.dumps(result, indent=2))
    Path(__file__).with_name("results_memory.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
