"""Leave-one-wave-out check: fit Flanders/Belgium on targets dated before 2023, predict 2023.

Predicts the 2023 AI-barometer (BAR23-ALL) and the 2023 Belgian ICT-survey figures from a fit on
2021–2022 data only. The generative-AI effect cannot be identified before 2023 (the shock starts
2022-12), so it is fixed at the Dutch posterior mean — a cross-country transfer, not Flemish 2023
data. Writes DIR/holdout.csv and prints the errors.

    python calibration/holdout.py --out results/holdout [--budget 600]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from adoptsim.calibrate import calibrate, calibration_dir
from adoptsim.observe import load_targets
from adoptsim.validation import validate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="results/holdout")
    ap.add_argument("--budget", type=int, default=600)
    ap.add_argument("--firms", type=int, default=10000)
    ap.add_argument("--replications", type=int, default=20)
    args = ap.parse_args()
    out = Path(args.out)
    genai = float(
        pd.read_csv(calibration_dir() / "netherlands" / "posterior.csv").theta_genai.mean()
    )
    fit = calibrate(
        "flanders",
        out=out / "fit",
        budget=args.budget,
        n_firms=args.firms,
        before="2023-01",
        fixed={"theta_genai": genai},
    )
    targets = load_targets()
    held = targets[
        (targets.geography != "netherlands")
        & (targets.date >= "2023-01")
        & targets.segment_type.isin(["all", "size"])
    ]
    pred = validate(
        held, replications=args.replications, n_firms=args.firms, posteriors={"flanders": fit.draws}
    )
    pred["error"] = pred.sim_mean - pred.observed
    pred.to_csv(out / "holdout.csv", index=False, float_format="%.4f")
    print(pred[["id", "observed", "sim_mean", "sim_p05", "sim_p95", "error", "within"]])
    print(
        f"mean absolute error {np.abs(pred.error).mean():.4f}; "
        f"{int(pred.within.sum())} of {len(pred)} within max(2 se, 0.02)"
    )


if __name__ == "__main__":
    main()
