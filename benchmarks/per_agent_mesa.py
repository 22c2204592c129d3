"""The same Bass rule the classic Mesa way: one ``mesa.Agent`` per firm, stepped in Python.

Each month every firm that has not adopted counts its adopting neighbours in a Python loop over
its neighbour list, computes hazard = clip(p + q · share, 0, 1) and draws from the model's random
generator (``step``); then all firms apply their decision at once (``advance``), i.e. a
synchronous update as in adoptsim. The graph is G(n, m) with m = n·k/2 uniform pairs (loops and
repeats dropped), built with NumPy so that only the agent stepping is timed as "Mesa".

    python3 benchmarks/per_agent_mesa.py 100000 --steps 84
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import mesa
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bare_numpy import erdos_renyi_csr


class BassFirm(mesa.Agent):
    """A firm that adopts with hazard p + q · (share of its neighbours that have adopted)."""

    def __init__(self, model: BassModel) -> None:
        super().__init__(model)
        self.neighbours: list[BassFirm] = []
        self.adopted = False
        self.adopts_now = False

    def step(self) -> None:
        if self.adopted:
            return
        neighbours = self.neighbours
        share = sum(nb.adopted for nb in neighbours) / len(neighbours) if neighbours else 0.0
        hazard = min(max(self.model.p + self.model.q * share, 0.0), 1.0)
        self.adopts_now = self.random.random() < hazard

    def advance(self) -> None:
        if self.adopts_now:
            self.adopted = True
            self.adopts_now = False


class BassModel(mesa.Model):
    """n :class:`BassFirm` agents on an Erdős–Rényi network, stepped synchronously."""

    def __init__(
        self, n: int, p: float = 0.004, q: float = 0.06, mean_degree: float = 10.0, seed: int = 0
    ) -> None:
        super().__init__(seed=seed)
        self.p, self.q = p, q
        adjacency = erdos_renyi_csr(n, mean_degree, np.random.default_rng(seed))
        firms = [BassFirm(self) for _ in range(n)]
        indptr, indices = adjacency.indptr.tolist(), adjacency.indices.tolist()
        for i, firm in enumerate(firms):
            firm.neighbours = [firms[j] for j in indices[indptr[i] : indptr[i + 1]]]
        self.firms = firms

    def step(self) -> None:
        self.agents.do("step")
        self.agents.do("advance")

    def share(self) -> float:
        """Share of firms that have adopted."""
        return sum(f.adopted for f in self.firms) / len(self.firms)


def run(n: int, steps: int = 84, seed: int = 0) -> dict:
    """Build the model and run ``steps`` months; per-step times are returned too."""
    t0 = time.perf_counter()
    model = BassModel(n, seed=seed)
    t1 = time.perf_counter()
    step_times = []
    for _ in range(steps):
        s = time.perf_counter()
        model.step()
        step_times.append(time.perf_counter() - s)
    return {
        "n": n,
        "steps": steps,
        "build_s": t1 - t0,
        "steps_s": sum(step_times),
        "step_times_s": step_times,
        "final_share": model.share(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int, nargs="?", default=100_000)
    parser.add_argument("--steps", type=int, default=84)
    args = parser.parse_args()
    out = run(args.n, args.steps)
    out.pop("step_times_s")
    print(out)


if __name__ == "__main__":
    main()
