"""The panel benchmark's figure (its own module: `adoptsim.plots` is at the 600-line limit).

Drawn from a [`BenchmarkResult`][adoptsim.fit.benchmark.BenchmarkResult] with the helpers of
`adoptsim.plots` (same footer, layout and percent axes as every other figure).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from adoptsim.plots import _finish, _percent

if TYPE_CHECKING:
    from adoptsim.fit.benchmark import BenchmarkResult


def benchmark_figure(
    result: BenchmarkResult,
    path: str | Path | None = None,
    caption: str = "",
    highlight: tuple[str, ...] = ("be", "nl"),
    observed: pd.DataFrame | None = None,
) -> plt.Figure:
    """Panel benchmark: every country's waves and forecast, Belgium and the Netherlands in colour.

    Left: the fitted waves up to the origin and the forecast mean at each date (grey: the other
    countries), with the 50 % and 90 % bands of the highlighted countries. Right: each
    country's forecast at the first date with its bands.

    Args:
        result: a `adoptsim.fit.benchmark.BenchmarkResult`.
        path: if given, the figure is saved there (PNG, 120 dpi).
        caption: provenance line.
        highlight: country codes drawn in colour.
        observed: optional later waves (``geography``, ``date``, ``value``; never fitted), drawn
            as open circles so a backtest shows what happened.
    """
    import matplotlib.dates as mdates

    def countries(t: pd.DataFrame) -> pd.DataFrame:
        return t[(t.segment_type == "all") & (t.geography.str.len() == 2)]

    f, h = countries(result.forecast), countries(result.history)
    obs = countries(observed) if observed is not None else h.iloc[:0]
    colours = dict(zip(highlight, ("tab:red", "tab:orange", "tab:green"), strict=False))
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 5.2), width_ratios=(1.4, 1))
    for geo in sorted(set(h.geography) | set(f.geography)):
        hist = h[h.geography == geo].sort_values("date")
        fc = f[f.geography == geo].sort_values("date")
        c, on = colours.get(geo, "0.7"), geo in colours
        lw = 2.0 if on else 0.8
        ax.plot(pd.to_datetime(hist.date), hist.value, "o-", color=c, lw=lw, ms=3 if on else 1.5)
        if not fc.empty and not hist.empty:
            xs = pd.to_datetime(pd.concat([hist.date.iloc[-1:], fc.date]))
            ax.plot(xs, [hist.value.iloc[-1], *fc["mean"]], "--", color=c, lw=lw)
        if on and not fc.empty:
            # side by side, not on top of each other
            xf = pd.to_datetime(fc.date) + pd.Timedelta(days=14 * list(colours).index(geo))
            ax.vlines(xf, fc.p05, fc.p95, color=c, lw=3, alpha=0.35)
            ax.vlines(xf, fc.p25, fc.p75, color=c, lw=6, alpha=0.7)
            ax.plot([], [], color=c, lw=2, label=f"{geo.upper()}: waves, forecast, 50/90 % band")
            later = obs[obs.geography == geo]
            ax.plot(pd.to_datetime(later.date), later.value, "o", mfc="white", mec=c, ms=6)
    ax.plot([], [], color="0.7", lw=0.8, label="other EU countries")
    if not obs.empty:
        ax.plot([], [], "o", mfc="white", mec="k", ms=6, label="observed later (not fitted)")
    ax.axvline(pd.Timestamp(result.origin), color="k", lw=0.8, ls=":")
    ax.text(pd.Timestamp(result.origin), 0.005, " origin", fontsize=7, va="bottom")
    ax.xaxis.set_major_locator(mdates.YearLocator())
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))
    _percent(ax)
    ax.set_ylim(0, None)
    ax.set_ylabel("enterprises (10+ persons employed) using AI\nEurostat isoc_eb_ai, ICT survey")
    ax.legend(fontsize=7, loc="upper left")
    ax.grid(alpha=0.3)
    first = f[f.date == result.dates[0]].sort_values("mean").reset_index(drop=True)
    y = np.arange(len(first))
    cs = [colours.get(g, "tab:blue") for g in first.geography]
    bx.hlines(y, first.p05, first.p95, color=cs, lw=5, alpha=0.3)
    bx.hlines(y, first.p25, first.p75, color=cs, lw=5, alpha=0.7)
    bx.plot(first["mean"], y, "|", color="k", ms=8, label="forecast mean")
    seen = first.merge(obs[obs.date == result.dates[0]], on="geography", how="left")
    if seen.value.notna().any():
        bx.plot(seen.value, y, "o", mfc="white", mec="k", ms=4, label="observed (not fitted)")
        bx.legend(fontsize=7, loc="lower right")
    bx.set_yticks(y, [g.upper() for g in first.geography], fontsize=7)
    for tick in bx.get_yticklabels():
        if tick.get_text().lower() in colours:
            tick.set_color(colours[tick.get_text().lower()])
            tick.set_fontweight("bold")
    _percent(bx, "x")
    bx.set_title(f"forecast for {result.dates[0]}: mean, 50 % and 90 % band", fontsize=9)
    bx.grid(axis="x", alpha=0.3)
    fig.suptitle(
        f"Panel benchmark (hierarchical hazard model of the EU-27) fitted on waves up to "
        f"{result.origin}",
        fontsize=10,
    )
    return _finish(fig, [caption], bottom=0.08, path=path, dpi=120)
