"""Matplotlib figures: fan charts of adoption with median and 90 % band, by segment."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import PercentFormatter

from adoptsim.results import band_summary


def _fan(ax, table: pd.DataFrame, column: str, label: str, color: str | None = None) -> None:
    b = band_summary(table, column)
    x = pd.to_datetime(b["date"])
    line = ax.plot(x, b["median"], label=label, color=color)[0]
    ax.fill_between(x, b["p05"], b["p95"], alpha=0.25, color=line.get_color(), linewidth=0)


def fan_chart(
    adoption: pd.DataFrame, title: str = "", caption: str = "", path: str | Path | None = None
) -> plt.Figure:
    """Overall share using AI and at scale (median, 5–95 % band over replications), plus the
    "uses AI" share by size class.

    Args:
        adoption: the tidy table of [`simulate`][adoptsim.simulation.simulate] (``.adoption``).
        title: figure title; caption: provenance line (scenario, seed, firms, version).
        path: if given, the figure is saved there (PNG, 120 dpi).
    """
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    overall = adoption[adoption.segment_type == "all"]
    _fan(ax1, overall, "adopters_share", "uses AI")
    _fan(ax1, overall, "at_scale_share", "uses AI at scale")
    ax1.set_title("All firms")
    sizes = adoption[adoption.segment_type == "size"]
    for segment, part in sizes.groupby("segment", sort=False):
        _fan(ax2, part, "adopters_share", str(segment))
    ax2.set_title("Uses AI, by size class (employees)")
    for ax in (ax1, ax2):
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=8)
    ax1.set_ylabel("share of firms (weighted)")
    n_rep = adoption["replication"].nunique()
    fig.suptitle(title or "AI adoption")
    fig.text(
        0.01,
        0.01,
        f"{caption}  Lines: median of {n_rep} replications; bands: 5–95 %.",
        fontsize=7,
        color="0.3",
    )
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


def backtest_figure(
    forecast: pd.DataFrame, origin: str, path: str | Path | None = None, caption: str = ""
) -> plt.Figure:
    """Leave-future-out forecasts: predictive 50 % and 90 % bands, the observed value ± 2 se and
    the naive trend forecast, one line per target dated after the origin.

    Args:
        forecast: the table written to `forecast.csv` by `adoptsim.backtest.backtest`.
        origin: the last month whose targets were fitted ("YYYY-MM").
        path: if given, the figure is saved there (PNG, 120 dpi).
        caption: provenance and scores line.
    """
    from matplotlib.ticker import PercentFormatter

    f = forecast.reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(8.5, 0.32 * len(f) + 2.0))
    y = np.arange(len(f))[::-1]
    ax.hlines(y, f.sim_p05, f.sim_p95, color="tab:blue", lw=7, alpha=0.25, label="90 % band")
    ax.hlines(y, f.sim_p25, f.sim_p75, color="tab:blue", lw=7, alpha=0.6, label="50 % band")
    ax.plot(f.sim_mean, y, "|", color="tab:blue", ms=14, label="forecast mean")
    ax.errorbar(
        f.observed, y, xerr=2 * f.se, fmt="o", color="k", ms=4, lw=1, label="observed ± 2 se"
    )
    has = f.naive.notna().to_numpy()
    ax.plot(f.naive[has], y[has], "x", color="tab:red", ms=7, label="naive: trend of last 2 waves")
    ax.set_yticks(y, [f"{i} ({d})" for i, d in zip(f.id, f.date, strict=True)], fontsize=7)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlim(0, max(0.8, float(np.nanmax(f.sim_p95)) + 0.05))
    ax.set_xlabel(
        "share of enterprises using AI (each survey's own population and definition; ICT "
        "survey: 10+ persons employed)"
    )
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title(
        f"Backtest: fitted on targets up to {origin}, forecasts of every later wave to 2024-12\n"
        "bands: parameter + model discrepancy + survey sampling noise",
        fontsize=9,
    )
    if caption:
        fig.text(0.01, 0.005, caption, fontsize=6, color="0.3", wrap=True)
    fig.tight_layout(rect=(0, 0.04, 1, 1))


def allocation_figure(
    runs: dict[str, pd.DataFrame], caption: str = "", path: str | Path | None = None
) -> plt.Figure:
    """Weighted adoption under two allocations of agents to cells, and their paired difference.

    Args:
        runs: allocation name → tidy adoption table (same seed and replications in each).
        caption: provenance line (population, agents, replications, seed, definition).
        path: if given, the figure is saved there (PNG, 120 dpi).
    """
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    means = {}
    for name, table in runs.items():
        overall = table[table.segment_type == "all"]
        _fan(ax1, overall, "adopters_share", f"agents ∝ {name}")
        means[name] = overall.groupby("date").adopters_share.mean()
    ax1.set_ylim(0, 1)
    ax1.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax1.set_ylabel("share of firms using AI (weighted)")
    ax1.set_title("All firms: median and 5–95 % band over replications")
    a, b = list(means.values())[:2]
    diff = (a - b) * 100
    x = pd.to_datetime(diff.index)
    ax2.plot(x, diff.to_numpy(), color="0.2", label="mean difference")
    ax2.axhspan(-1, 1, color="tab:green", alpha=0.12, label="±1 pp (acceptance bar)")
    ax2.axhline(0, color="0.5", lw=0.8)
    worst = float(diff.abs().max())
    names = list(means)
    ax2.set_title(f"{names[0]} − {names[1]}: max |mean difference| {worst:.2f} pp")
    ax2.set_ylabel("percentage points")
    ax2.set_ylim(-2, 2)
    ax2.legend(loc="upper left", fontsize=8)
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.axvline(pd.Timestamp("2025-01-01"), color="0.4", ls=":", lw=1)
        ax.text(
            pd.Timestamp("2025-02-01"),
            ax.get_ylim()[1],
            " projection →",
            va="top",
            fontsize=8,
            color="0.3",
        )
    ax1.legend(loc="upper left", fontsize=8)
    fig.suptitle("Weighted adoption does not depend on how agents are allocated to cells")
    fig.text(0.01, 0.01, caption, fontsize=7, color="0.3")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig
