"""Matplotlib figures: fan charts of adoption with median and 90 % band, by segment."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

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
