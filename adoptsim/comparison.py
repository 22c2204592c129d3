"""Comparing scenarios with common random numbers: paired differences and their bands.

Every scenario is run with the same seed, so replication r of each scenario has the same firms,
network, uniform draws and (with a posterior) the same parameter draw; the difference between two
scenarios in replication r is then the policy effect alone, and its band over replications is far
narrower than the difference of two independent bands.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from adoptsim import memory
from adoptsim.scenario import Scenario, load_scenario
from adoptsim.simulation import simulate

KEYS = ["replication", "date", "segment_type", "segment"]


@dataclass
class Comparison:
    """Adoption of several scenarios and their paired differences with the first (reference).

    Attributes:
        adoption: tidy table of every scenario (``scenario`` column added).
        differences: per replication, scenario − reference for each row (same keys).
        summary: year-end table: median and 5–95 % band of levels and of paired differences.
    """

    reference: str
    adoption: pd.DataFrame
    differences: pd.DataFrame
    summary: pd.DataFrame


def compare(
    scenarios: list[str | Scenario],
    *,
    n_firms: int | None = None,
    seed: int = 0,
    replications: int = 10,
    progress: bool = False,
    years: tuple[int, ...] = (2024, 2025, 2026, 2027, 2028),
) -> Comparison:
    """Run ``scenarios`` with common random numbers and compare each with the first.

    Replication r of every scenario uses the same seed, hence the same firms, network and
    uniform draws, so a paired difference shows the effect of the scenarios' differences and
    little noise.

    Args:
        scenarios: two or more scenarios (built-in names, TOML paths or
            [`Scenario`][adoptsim.scenario.Scenario] objects); the first is the reference.
        n_firms: agents per run (default: each scenario's ``population.n_firms``).
        seed: base seed shared by all scenarios (common random numbers).
        replications: runs per scenario; the bands are taken over them.
        progress: show a progress bar.
        years: years whose last month goes into ``summary``.

    Returns:
        A [`Comparison`][adoptsim.comparison.Comparison]: the tidy adoption of every scenario,
        the paired differences with the reference and a year-end summary.
    """
    from adoptsim.errors import ScenarioError

    loaded = [load_scenario(s) for s in scenarios]
    for sc in loaded:  # all of them before the first runs
        memory.check_scenario(sc, n_firms)
    if len(loaded) < 2:
        raise ScenarioError("scenarios", [s.name for s in loaded], "name at least two scenarios")
    names = [s.name for s in loaded]
    if len(set(names)) != len(names):
        raise ScenarioError("scenarios", names, "each scenario must appear once")
    frames = []
    for sc in loaded:
        res = simulate(sc, n_firms=n_firms, seed=seed, replications=replications, progress=progress)
        frames.append(res.adoption.assign(scenario=sc.name))
    adoption = pd.concat(frames, ignore_index=True)
    ref = adoption[adoption.scenario == names[0]].set_index(KEYS)
    diffs = []
    for name in names[1:]:
        other = adoption[adoption.scenario == name].set_index(KEYS)
        d = other[["adopters_share", "at_scale_share"]] - ref[["adopters_share", "at_scale_share"]]
        diffs.append(d.reset_index().assign(scenario=name))
    differences = pd.concat(diffs, ignore_index=True)
    ends = {f"{y}-12" for y in years}
    summary = _summary(adoption[adoption.date.isin(ends)], differences[differences.date.isin(ends)])
    return Comparison(names[0], adoption, differences, summary)


def _bands(frame: pd.DataFrame, prefix: str) -> pd.DataFrame:
    g = frame.groupby(["scenario", "date", "segment_type", "segment"], sort=False)
    out = []
    for col, short in (("adopters_share", "uses_ai"), ("at_scale_share", "at_scale")):
        q = g[col].quantile([0.05, 0.5, 0.95]).unstack()
        q.columns = [f"{prefix}{short}_{c}" for c in ("p05", "median", "p95")]
        out.append(q)
    return pd.concat(out, axis=1)


def _summary(levels: pd.DataFrame, diffs: pd.DataFrame) -> pd.DataFrame:
    table = _bands(levels, "").join(_bands(diffs, "diff_"), how="left").reset_index()
    table["year"] = table.date.str[:4].astype(int)
    return table


def comparison_figure(comp: Comparison, path: str | Path | None = None, caption: str = ""):
    """Trajectories with bands, paired difference with the reference, and 2028 effects by size
    class and sector (median and 5–95 % band of the paired difference)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(13, 8.5))
    (ax1, ax2), (ax3, ax4) = axes
    overall = comp.adoption[comp.adoption.segment_type == "all"]
    for name, part in overall.groupby("scenario", sort=False):
        g = part.groupby("date").adopters_share
        x = pd.to_datetime(g.median().index)
        line = ax1.plot(x, g.median().to_numpy(), label=name)[0]
        ax1.fill_between(
            x, g.quantile(0.05), g.quantile(0.95), alpha=0.15, color=line.get_color(), lw=0
        )
    ax1.set_title("Uses AI, all firms (median, 5–95 % band)")
    dall = comp.differences[comp.differences.segment_type == "all"]
    for name, part in dall.groupby("scenario", sort=False):
        g = part.groupby("date").adopters_share
        x = pd.to_datetime(g.median().index)
        line = ax2.plot(x, 100 * g.median().to_numpy(), label=name)[0]
        ax2.fill_between(
            x,
            100 * g.quantile(0.05),
            100 * g.quantile(0.95),
            alpha=0.15,
            color=line.get_color(),
            lw=0,
        )
    ax2.axhline(0, color="k", lw=0.8)
    ax2.set_title(f"Paired difference with {comp.reference} (percentage points)")
    last = comp.differences.date.max()
    for ax, seg in ((ax3, "size"), (ax4, "sector")):
        part = comp.differences[
            (comp.differences.segment_type == seg) & (comp.differences.date == last)
        ]
        labels = list(dict.fromkeys(part.segment))
        names = list(dict.fromkeys(part.scenario))
        width = 0.8 / max(len(names), 1)
        for k, name in enumerate(names):
            s = part[part.scenario == name].groupby("segment", sort=False).adopters_share
            med = 100 * s.median().reindex(labels)
            lo, hi = 100 * s.quantile(0.05).reindex(labels), 100 * s.quantile(0.95).reindex(labels)
            xs = np.arange(len(labels)) + (k - (len(names) - 1) / 2) * width
            ax.bar(xs, med, width, label=name, alpha=0.8)
            ax.errorbar(xs, med, yerr=[med - lo, hi - med], fmt="none", color="k", lw=0.8)
        ax.set_xticks(np.arange(len(labels)), labels, fontsize=8)
        ax.axhline(0, color="k", lw=0.8)
        ax.set_title(f"Difference with {comp.reference} in {last}, by {seg} (pp)")
    for ax in axes.ravel():
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    if caption:
        fig.text(0.01, 0.005, caption, fontsize=7, color="0.3")
    fig.tight_layout(rect=(0, 0.02, 1, 1))
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig
