"""Every figure of adoptsim (matplotlib), in one style for people who decide.

Each figure says which firms it covers, what "uses AI" means, which survey points were observed
(points with ± 2 se bars), where the projection starts and what the band is; axes are in percent
and a scenario has the same colour in every panel and every figure. Segments simulated with too
few agents are flagged, not drawn as wide bars.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import PercentFormatter

from adoptsim.figure_style import (  # noqa: F401 (re-exported: the figures' public pieces)
    AT_SCALE_CAVEAT,
    BAND,
    BAND_PARAMETER,
    BAND_STOCHASTIC,
    MIN_AGENTS,
    SURVEY_STYLE,
    USES_AI,
    PointsFormatter,
    _band_text,
    _fan,
    _fan_edges,
    _finish,
    _footer,
    _observed,
    _percent,
    _projection_line,
    observed_points,
    population_label,
    projection_start,
    scenario_colours,
)

if TYPE_CHECKING:
    from adoptsim.comparison import Comparison
    from adoptsim.scenario import Scenario


class IndicesResult(Protocol):
    """What `indices_figure` draws: a sensitivity result (method, outcome, indices table).

    A protocol, so that this module does not import the analysis that returns it.
    """

    method: str
    outcome: str
    indices: pd.DataFrame


FIT_ROWS_SHOWN = 120  # most targets the fit figure shows (a line each); the rest: fit.csv


def fan_chart(
    adoption: pd.DataFrame,
    title: str = "",
    caption: str = "",
    path: str | Path | None = None,
    scenario: Scenario | str | None = None,
    frames: pd.DataFrame | None = None,
) -> plt.Figure:
    """Share of firms using AI and using it at scale, overall and by size class.

    Left: median and 5–95 % band over replications of the share using AI and using it at scale,
    the observed survey points with the model read through each survey's own frame beside them,
    and where the projection starts. Right: the share using AI by size class.

    Args:
        adoption: the tidy table of [`simulate`][adoptsim.simulation.simulate] (``.adoption``).
        title: figure title.
        caption: provenance line (scenario, seed, firms, version).
        path: if given, the figure is saved there (PNG, 120 dpi).
        scenario: the scenario simulated: names the population covered and picks the survey
            points to show.
        frames: the run in each survey's frame
            ([`survey_frames`][adoptsim.observe.survey_frames] of the result); without it the
            survey points are drawn alone.
    """
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 5.2), sharey=True)
    points = observed_points(scenario)
    start = projection_start()
    overall = adoption[adoption.segment_type == "all"]
    _fan(ax1, overall, "adopters_share", "uses AI (all firms of the population)", "tab:blue")
    _fan(
        ax1,
        overall,
        "at_scale_share",
        f"uses AI at scale ({AT_SCALE_CAVEAT})",
        "tab:purple",
        ls="--",
    )
    _observed(ax1, points, start, frames)
    ax1.set_title("All firms")
    sizes = adoption[adoption.segment_type == "size"]
    colours = plt.get_cmap("tab10").colors
    for k, (segment, part) in enumerate(sizes.groupby("segment", sort=False)):
        _fan_edges(ax2, part, "adopters_share", f"{segment} employees", colours[k % 10])
    _projection_line(ax2, start)
    ax2.set_title("Uses AI, by size class (median; dotted: 5–95 %)")
    for ax in (ax1, ax2):
        ax.set_ylim(0, 1)
        _percent(ax)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=7)
    ax1.set_ylabel("share of firms (weighted to the population)")
    n_rep = adoption["replication"].nunique()
    fig.suptitle(f"{title or 'AI adoption'} — {population_label(scenario)}")
    return _finish(
        fig,
        [
            f"{USES_AI} Lines: median of {n_rep} replications. {_band_text(adoption)} "
            "Survey points are in their survey's own frame (denominator, definition); the "
            "dashed line beside them is the model read the same way. At scale: "
            f"{AT_SCALE_CAVEAT}, so it follows its prior.",
            caption,
        ],
        bottom=0.06,
        path=path,
        dpi=120,
    )


def backtest_figure(
    forecast: pd.DataFrame, origin: str, path: str | Path | None = None, caption: str = ""
) -> plt.Figure:
    """Leave-future-out forecasts against what was later observed, one line per target.

    Each target dated after the origin shows the predictive 50 % and 90 % bands, the observed
    value ± 2 se and the naive trend forecast the model has to beat.

    Args:
        forecast: the table written to `forecast.csv` by `adoptsim.fit.backtest.backtest`.
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
        "share of enterprises using AI\n(each survey's own population and definition; ICT "
        "survey: 10+ persons employed)"
    )
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title(
        f"Backtest: fitted on targets up to {origin}, forecasts of every later wave to 2024-12\n"
        "bands: parameter + model discrepancy + survey sampling noise",
        fontsize=9,
    )
    return _finish(fig, [caption], bottom=0.04, path=path, dpi=120)


def _segment_effects(ax, comp: Comparison, seg: str, colours: dict, last: str) -> None:
    """Median paired difference (dot) and 5–95 % (whisker) per segment, per scenario.

    Segments with fewer than `MIN_AGENTS` agents are marked instead of drawn: their shares are
    mostly sampling noise.
    """
    part = comp.differences[
        (comp.differences.segment_type == seg) & (comp.differences.date == last)
    ]
    labels = list(dict.fromkeys(part.segment))
    names = list(dict.fromkeys(part.scenario))
    agents = getattr(comp, "agents", None)
    small = set()
    if agents is not None and not agents.empty:
        a = agents[agents.segment_type == seg].set_index("segment")["agents"]
        small = {s for s in labels if a.get(s, MIN_AGENTS) < MIN_AGENTS}
    width = 0.8 / max(len(names), 1)
    for k, name in enumerate(names):
        s = part[part.scenario == name].groupby("segment", sort=False).adopters_share
        med = s.median().reindex(labels)
        lo, hi = s.quantile(0.05).reindex(labels), s.quantile(0.95).reindex(labels)
        xs = np.arange(len(labels)) + (k - (len(names) - 1) / 2) * width
        ok = np.array([lab not in small for lab in labels])
        ax.errorbar(
            xs[ok],
            med[ok],
            yerr=[(med - lo)[ok], (hi - med)[ok]],
            fmt="o",
            color=colours[name],
            ms=5,
            capsize=2,
            lw=1.2,
            label=name,
        )
    for j, lab in enumerate(labels):
        if lab in small:
            ax.text(
                j,
                0.5,
                f"too few agents (<{MIN_AGENTS})",
                transform=ax.get_xaxis_transform(),
                rotation=90,
                ha="center",
                va="center",
                fontsize=6,
                color="0.45",
            )
    ax.set_xticks(np.arange(len(labels)), labels, fontsize=8)
    ax.set_xlim(-0.6, len(labels) - 0.4)  # room for a flagged last segment's label
    ax.axhline(0, color="k", lw=0.8)


def comparison_figure(
    comp: Comparison, path: str | Path | None = None, caption: str = ""
) -> plt.Figure:
    """Figure of a scenario comparison: trajectories, paired differences and effects by segment.

    Panels: the share using AI per scenario with bands, the survey points and the reference read
    through each survey's frame, every scenario's last value in the legend (levels that
    coincide stay legible); the paired difference with the reference over time; and the
    final-month effect by size class and by sector (median and 5–95 % of the paired
    differences). One colour per scenario in every panel. The footer names the replications and
    seed of the comparison.

    Args:
        comp: the result of [`compare`][adoptsim.comparison.compare].
        path: if given, the figure is saved there (PNG, 110 dpi).
        caption: provenance line (e.g. the adoptsim version).

    Returns:
        The matplotlib figure.
    """
    fig, axes = plt.subplots(2, 2, figsize=(13, 9))
    (ax1, ax2), (ax3, ax4) = axes
    names = list(dict.fromkeys(comp.adoption.scenario))
    colours = scenario_colours(names)
    scenario = (
        getattr(comp, "scenarios", {}).get(comp.reference) if hasattr(comp, "scenarios") else None
    )
    points = observed_points(scenario)
    start = projection_start()
    overall = comp.adoption[comp.adoption.segment_type == "all"]
    for name, part in overall.groupby("scenario", sort=False):
        final = part[part.date == part.date.max()]
        # the last value in the legend: where levels coincide the lines hide each other
        value = f"{final.date.iloc[0]}: {100 * final.adopters_share.median():.1f} %"
        _fan(ax1, part, "adopters_share", f"{name} ({value})", colours[name])
    frames = getattr(comp, "frames", None)
    if frames is not None and not frames.empty:
        frames = frames[frames.scenario == comp.reference]
    _observed(ax1, points, start, frames)
    ax1.set_ylim(0, 1)
    _percent(ax1)
    ax1.set_title("Uses AI, all firms (median, 5–95 % band)")
    dall = comp.differences[comp.differences.segment_type == "all"]
    for name, part in dall.groupby("scenario", sort=False):
        g = part.groupby("date").adopters_share
        x = pd.to_datetime(g.median().index, format="%Y-%m")
        label = f"{name} ({g.median().index[-1]}: {100 * g.median().iloc[-1]:+.2f} pp)"
        ax2.plot(x, g.median().to_numpy(), label=label, color=colours[name])
        ax2.fill_between(
            x, g.quantile(0.05), g.quantile(0.95), alpha=0.2, color=colours[name], lw=0
        )
    ax2.axhline(0, color="k", lw=0.8)
    _projection_line(ax2, start)
    _percent(ax2, points=True)
    ax2.set_title(f"Difference with {comp.reference}: median of paired differences")
    last = comp.differences.date.max()
    for ax, seg, what in (
        (ax3, "size", "size class (employees)"),
        (ax4, "sector", "sector (NACE)"),
    ):
        _segment_effects(ax, comp, seg, colours, last)
        _percent(ax, points=True)
        ax.set_title(f"Difference with {comp.reference} in {last}, by {what}")
    for ax in axes.ravel():
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")
    fig.suptitle(f"Scenarios compared — {population_label(scenario)}")
    n_rep = comp.adoption["replication"].nunique()
    seed = getattr(comp, "seed", None)
    n_firms = getattr(comp, "n_firms", None)
    run = f"{n_rep} paired replications" + (f", seed {seed}" if seed is not None else "")
    run += f", {n_firms:,} agents" if n_firms else ""
    return _finish(
        fig,
        [
            f"{USES_AI} Differences are the median (dot/line) and 5–95 % (whisker/band) of "
            "paired differences: each replication of a scenario against the same replication "
            "of the reference (common random numbers). Survey points are in their survey's own "
            f"frame; the dashed line beside them is {comp.reference} read the same way.",
            f"{run} (each with its own posterior and prior draws where the scenario names them: "
            f"bands = parameter + stochastic uncertainty). {caption}".strip(),
        ],
        bottom=0.06,
        path=path,
        dpi=110,
    )


def fit_figure(fit: pd.DataFrame, path: str | Path | None = None, caption: str = "") -> plt.Figure:
    """Calibration fit: each target's observed value against what the model simulates for it.

    Observed ± 2 se in black; the simulated 5–95 % band and mean in the colour of the survey.
    Targets outside max(2 se, 2 pp) are marked ✗.

    Args:
        fit: the fit table of [`validate`][adoptsim.fit.validation.validate] (columns id, survey,
            observed, se, sim_mean, sim_p05, sim_p95, within); targets not simulated are left
            out.
        path: if given, the figure is saved there (PNG, 120 dpi).
        caption: provenance line.

    Returns:
        The matplotlib figure.
    """
    shown = fit[fit.sim_mean.notna()].reset_index(drop=True)
    left_out = max(len(shown) - FIT_ROWS_SHOWN, 0)
    if left_out:  # a readable figure: the targets outside first, the rest in fit.csv only
        order = np.argsort(shown.within.to_numpy().astype(bool), kind="stable")
        shown = shown.iloc[np.sort(order[:FIT_ROWS_SHOWN])].reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(8.5, 0.28 * len(shown) + 2))
    y = np.arange(len(shown))[::-1]
    colours = {"barometer": "tab:blue", "ict_survey": "tab:orange", "ict_survey_old": "tab:gray"}
    for survey, colour in colours.items():
        m = (shown.survey == survey).to_numpy()
        if m.any():
            ax.hlines(
                y[m],
                shown.sim_p05[m],
                shown.sim_p95[m],
                color=colour,
                lw=5,
                alpha=0.5,
                label=f"simulated 5–95 % ({survey})",
            )
            ax.plot(shown.sim_mean[m], y[m], "|", color=colour, ms=12)
    ax.errorbar(
        shown.observed,
        y,
        xerr=2 * shown.se,
        fmt="o",
        color="k",
        ms=3,
        lw=1,
        label="observed ± 2 se",
    )
    ax.set_yticks(
        y,
        [f"{i}{'' if w else '  ✗'}" for i, w in zip(shown.id, shown.within, strict=True)],
        fontsize=7,
    )
    ax.set_xlabel("share of firms (each survey's own population and definition)")
    ax.set_xlim(0, 1)
    _percent(ax, "x")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title("Calibration fit (✗: outside max(2 se, 2 pp))")
    return _finish(
        fig,
        [
            "Each target is simulated through its survey's observation model (population, "
            "definition: barometer = broad notion, ICT survey about half of it).",
            f"{left_out} more targets in fit.csv only (those outside shown)." if left_out else "",
            caption,
        ],
        bottom=0.04,
        path=path,
        dpi=120,
    )


def indices_figure(
    result: IndicesResult, path: str | Path | None = None, title: str = "", caption: str = ""
) -> plt.Figure:
    """Bar chart of the sensitivity indices with their confidence intervals.

    Sobol: first-order (S1) and total (ST) indices; Morris: μ*. Each input is labelled with its
    role (uncertainty, lever or dummy), and the dummy's index shows the noise floor.

    Args:
        result: the result of [`sensitivity`][adoptsim.sensitivity_analysis.sensitivity].
        path: if given, the figure is saved there (PNG, 110 dpi).
        title: figure title; default: the outcome measured.
        caption: provenance line (population, definition, design), printed under the key.

    Returns:
        The matplotlib figure.
    """
    t = result.indices
    fig, ax = plt.subplots(figsize=(9, 0.35 * len(t) + 1.8))
    y = np.arange(len(t))[::-1]
    if result.method == "sobol":
        ax.barh(y + 0.2, t.ST, 0.4, xerr=t.ST_conf, label="total (ST)", color="tab:blue")
        ax.barh(y - 0.2, t.S1, 0.4, xerr=t.S1_conf, label="first order (S1)", color="tab:orange")
        ax.set_xlabel("Sobol index: share of the outcome's variance (95 % confidence interval)")
    else:
        ax.barh(y, t.mu_star, 0.6, xerr=t.mu_star_conf, color="tab:blue", label="μ*")
        ax.set_xlabel("Morris μ* (outcome units)")
    labels = [f"{p} [{r[0]}]" for p, r in zip(t.parameter, t.role, strict=True)]
    ax.set_yticks(y, labels, fontsize=8)
    ax.axvline(0, color="k", lw=0.8)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title or result.outcome, fontsize=10)
    return _finish(
        fig,
        [
            "[u] uncertainty, [l] policy lever, [d] dummy (noise floor).",
            *([caption] if caption else []),
        ],
        bottom=0.03,
        path=path,
        dpi=110,
    )


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
        _projection_line(ax, projection_start())  # the same start as every other figure
    ax1.legend(loc="upper left", fontsize=8)
    fig.suptitle("Weighted adoption does not depend on how agents are allocated to cells")
    return _finish(fig, [caption], bottom=0.07, path=path, dpi=120)
