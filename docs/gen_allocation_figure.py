"""Figure for the allocation check: `python docs/gen_allocation_figure.py` →
docs/img/allocation.png.

Baseline scenario, 40,000 agents, 8 paired replications (seed 2, as the acceptance check
`model-weights`), agents allocated to size classes ∝ √firms and ∝ firms.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's adoptsim

import matplotlib

matplotlib.use("Agg")

from adoptsim import load_scenario, simulate
from adoptsim.plots import allocation_figure

N_FIRMS, REPLICATIONS, SEED = 40_000, 8, 2


def main() -> None:
    base = load_scenario("baseline")
    runs = {}
    for allocation, label in (("sqrt", "√firms"), ("proportional", "firms")):
        sc = base.with_overrides({"population.allocation": allocation})
        runs[label] = simulate(
            sc, n_firms=N_FIRMS, seed=SEED, replications=REPLICATIONS, progress=True
        ).adoption
    caption = (
        f"Flanders, firms with 1+ employees; baseline scenario; {N_FIRMS:,} agents; "
        f"{REPLICATIONS} paired replications (seed {SEED}); 'uses AI' in the AI barometer's "
        "broad sense;\nbands: 5–95 % over replications (calibrated-parameter draws, policy "
        "priors and stochastic); the projection starts after the last target (2024-12)."
    )
    out = Path(__file__).resolve().parent / "img" / "allocation.png"
    allocation_figure(runs, caption, out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
