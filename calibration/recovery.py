"""Parameter recovery: fit synthetic targets made by the model at known parameters.

    python calibration/recovery.py --out calibration/recovery [--datasets 6] [--budget 80]

For each data set, the free parameters' true values are drawn from the middle 80 % of their
prior range, the model simulates every target at them (another seed than the calibration's, with
--truth-firms agents) plus survey noise, and the same calibration pipeline as the shipped one
fits them (Flanders/Belgium targets; the other parameters held at the values below).
Writes recovery.csv: truth, posterior median and 90 % interval per parameter and data set.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from adoptsim.fit.calibrate import calibrate
from adoptsim.fit.recovery import held_at_reference, synthetic_targets
from adoptsim.observe import load_targets
from adoptsim.posterior import joint_parameters

FREE = ("alpha", "theta_genai", "size_small", "scale_alpha", "ict_detect_pre", "ict_detect_gen")
HELD = held_at_reference(FREE)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="calibration/recovery")
    ap.add_argument("--datasets", type=int, default=6)
    ap.add_argument("--budget", type=int, default=80)
    ap.add_argument("--firms", type=int, default=1500)
    ap.add_argument("--truth-firms", type=int, default=6000)
    ap.add_argument("--mcmc-steps", type=int, default=600)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    params = {p.name: p for p in joint_parameters(["flanders"])}
    rng = np.random.default_rng(2024)
    rows = []
    t0 = time.perf_counter()
    for k in range(args.datasets):
        truth = dict(HELD)
        for name in FREE:
            p = params[name]
            truth[name] = float(rng.uniform(p.lo + 0.1 * (p.hi - p.lo), p.hi - 0.1 * (p.hi - p.lo)))
        data = synthetic_targets(
            load_targets(), truth, countries=("flanders",), n_firms=args.truth_firms, seed=500 + k
        )
        fit = calibrate(
            "flanders",
            out=Path("results") / "recovery" / f"set{k}",
            targets=data,
            fixed=HELD,
            budget=args.budget,
            n_firms=args.firms,
            replications=1,
            workers=args.workers,
            mcmc_steps=args.mcmc_steps,
            progress=False,
        )
        for name in FREE:
            q05, q50, q95 = np.quantile(fit.draws[name], [0.05, 0.5, 0.95])
            rows.append(
                {
                    "dataset": k,
                    "parameter": name,
                    "truth": truth[name],
                    "median": q50,
                    "q05": q05,
                    "q95": q95,
                    "covered": bool(q05 <= truth[name] <= q95),
                    "prior_width": params[name].hi - params[name].lo,
                }
            )
        print(f"data set {k}: {sum(r['covered'] for r in rows[-len(FREE) :])}/{len(FREE)} covered")
    table = pd.DataFrame(rows)
    table.to_csv(out / "recovery.csv", index=False, float_format="%.5g")
    meta = {
        "datasets": args.datasets,
        "budget": args.budget,
        "firms": args.firms,
        "truth_firms": args.truth_firms,
        "mcmc_steps": args.mcmc_steps,
        "free": list(FREE),
        "held": HELD,
        "runtime_s": time.perf_counter() - t0,
        "coverage_90": float(table.covered.mean()),
    }
    (out / "recovery.json").write_text(json.dumps(meta, indent=2))
    print(f"coverage of 90 % intervals: {table.covered.mean():.0%} of {len(table)}")


if __name__ == "__main__":
    main()
