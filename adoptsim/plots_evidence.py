"""The evidence figure: each lever quantity's simulated interval against the evidence's.

Beside `adoptsim.plots` (which is at the 600-line bound), with its shared footer and layout.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from adoptsim.plots import _finish


def evidence_figure(
    table: pd.DataFrame, path: str | Path | None = None, caption: str = ""
) -> plt.Figure:
    """Each lever quantity: its simulated interval against the evidence's interval.

    One row per quantity, each on its own scale (the quantities have different units): the
    evidence's low–high range shaded with its central value as a tick, the simulated 5–95 %
    interval over replications as a bar with its median as a dot. ✗ marks a quantity whose
    median is outside the evidence range or whose interval misses it.

    Args:
        table: `EvidenceResult.table` of [`evidence_check`][adoptsim.evidence.evidence_check].
        path: if given, the figure is saved there (PNG, 120 dpi).
        caption: provenance line.

    Returns:
        The matplotlib figure.
    """
    n = len(table)
    fig, axes = plt.subplots(n, 1, figsize=(8.5, 0.55 * n + 1.6), squeeze=False)
    for ax, row in zip(axes[:, 0], table.itertuples(), strict=True):
        lo, hi = row.low, row.high
        vals = [lo, hi, row.simulated_p05, row.simulated_p95]
        vals = [v for v in vals if np.isfinite(v)]
        left, right = min(vals), max(vals)
        pad = 0.08 * (right - left or abs(right) or 1.0)
        ax.axvspan(lo, hi, color="tab:green", alpha=0.2, lw=0)
        ax.plot([row.central], [0], "|", color="tab:green", ms=14, mew=2)
        if np.isfinite(row.simulated_median):
            ax.hlines(0, row.simulated_p05, row.simulated_p95, color="tab:blue", lw=4)
            ax.plot([row.simulated_median], [0], "o", color="tab:blue", ms=5)
        ax.set_xlim(left - pad, right + pad)
        ax.set_ylim(-1, 1)
        ax.set_yticks([])
        ax.tick_params(axis="x", labelsize=7, pad=1)
        mark = "" if row.inside else "  ✗"
        ax.set_ylabel(
            f"{row.quantity}{mark}\n({row.unit})",
            rotation=0,
            ha="right",
            va="center",
            fontsize=7,
        )
        for side in ("top", "right", "left"):
            ax.spines[side].set_visible(False)
    axes[0, 0].set_title(
        "Lever quantities simulated through the model (blue: 5–95 % over posterior and prior "
        "draws,\ndot: median) against the evidence (green: low–high, tick: central)",
        fontsize=8,
    )
    return _finish(
        fig,
        [
            "Effects: treated vs untreated copies of the same model, same random numbers; "
            "counts and shares recorded from the untreated run. Evidence: "
            "adoptsim/data/lever_evidence.csv (sources there).",
            caption,
        ],
        bottom=0.03,
        path=path,
        dpi=120,
    )
