"""Tables and figures for docs/calibration.md from the shipped calibration.

python calibration/report.py            # prints markdown, writes docs/img/posterior_*.png
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from adoptsim.posterior import PARAMETERS, calibration_dir

IMG = Path("docs/img")


def posterior_section(pop: str) -> str:
    folder = calibration_dir() / pop
    draws = pd.read_csv(folder / "posterior.csv")
    report = json.loads((folder / "fit.json").read_text())
    lines = [
        f"### {pop}",
        "",
        f"{report['evaluations']} model evaluations × {report['replications']} replications "
        f"of {report['n_firms']:,} agents; {report['runtime_s'] / 60:.1f} min on 2 cores; "
        f"DE distance {report['de']['distance']:.1f}; MCMC acceptance "
        f"{report['mcmc']['acceptance']:.2f}; emulator R² ≥ {report['emulator_r2_min']:.3f}.",
        "",
        "| parameter | meaning | bounds | DE point | posterior median | 90 % interval "
        "| R-hat | mass at box edge |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for p in PARAMETERS[pop]:
        col = draws[p.name]
        q05, q50, q95 = np.quantile(col, [0.05, 0.5, 0.95])
        rhat = report["mcmc"]["rhat"].get(p.name, float("nan"))
        edge = report["posterior_at_box_edge"].get(p.name, float("nan"))
        lines.append(
            f"| `{p.name}` | {p.doc} | [{p.lo:g}, {p.hi:g}] | {report['point'][p.name]:.3f}"
            f" | {q50:.3f} | [{q05:.3f}, {q95:.3f}] | {rhat:.3f} | {edge:.1%} |"
        )
    corr = draws.corr()
    strong = [
        (a, b, corr.loc[a, b])
        for i, a in enumerate(corr)
        for b in list(corr)[i + 1 :]
        if abs(corr.loc[a, b]) >= 0.5
    ]
    lines += [
        "",
        "Posterior correlations with |r| ≥ 0.5: "
        + (", ".join(f"{a}–{b} {r:+.2f}" for a, b, r in strong) or "none")
        + ".",
        "",
    ]
    fig, axes = plt.subplots(2, (len(draws.columns) + 1) // 2, figsize=(14, 5))
    for ax, name in zip(axes.ravel(), draws.columns, strict=False):
        ax.hist(draws[name], bins=20, color="tab:blue", alpha=0.7)
        ax.set_title(name, fontsize=8)
        ax.tick_params(labelsize=6)
    for ax in axes.ravel()[len(draws.columns) :]:
        ax.axis("off")
    fig.suptitle(f"Posterior marginals — {pop} ({len(draws)} draws)")
    fig.tight_layout()
    IMG.mkdir(parents=True, exist_ok=True)
    fig.savefig(IMG / f"posterior_{pop}.png", dpi=100)
    lines.append(f"![posterior {pop}](img/posterior_{pop}.png)")
    return "\n".join(lines)


if __name__ == "__main__":
    print(
        "\n\n".join(
            posterior_section(p)
            for p in PARAMETERS
            if (calibration_dir() / p / "posterior.csv").exists()
        )
    )
