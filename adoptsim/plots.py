"""Every figure of adoptsim (matplotlib), in one style for people who decide.

Each figure says which firms it covers, what "uses AI" means, which survey points were observed
(points with ± 2 se bars), where the projection starts and what the band is; axes are in percent
and a scenario has the same colour in every panel and every figure. Segments simulated with too
few agents are flagged, not drawn as wide bars.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter, PercentFormatter

from adoptsim.results import band_summary

if TYPE_CHECKING:
    from adoptsim.comparison import Comparison
    from adoptsim.scenario import Scenario
    from adoptsim.sensitivity_analysis import SensitivityResult

USES_AI = (
    '"Uses AI": at least one AI technology, the AI-barometer\'s broad notion '
    "(about twice the share the official ICT survey reports)."
)
BAND = "Band: 5–95 % of replications (stochastic + parameter uncertainty where the scenario "
BAND_PARAMETER = BAND + "draws from the posterior)."
BAND_STOCHASTIC = "Band: 5–95 % of replications (stochastic uncertainty only)."
MIN_AGENTS = 100  # fewer agents in a segment: its share is flagged, not drawn

# One colour per scenario, the same in every figure: the library in a fixed order, others after.
_PALETTE = plt.get_cmap("tab10").colors
_FIXED = {
    "baseline": "0.25",
    "no_policy": _PALETTE[7],
    "subsidy_plus": _PALETTE[0],
    "literacy_push": _PALETTE[2],
    "coaching": _PALETTE[4],
    "combined": _PALETTE[3],
    "ai_act_original": _PALETTE[1],
    "nl_policy_mix": _PALETTE[5],
    "bass_validation": _PALETTE[6],
}
_EXTRA = [_PALETTE[9], _PALETTE[8], "tab:olive", "tab:cyan", "navy", "maroon"]


def scenario_colours(names: Iterable[str]) -> dict[str, object]:
    """A colour per scenario name: library scenarios keep theirs, others get the next free one."""
    out, k = {}, 0
    for name in names:
        if name in _FIXED:
            out[name] = _FIXED[name]
        else:
            out[name] = _EXTRA[k % len(_EXTRA)]
            k += 1
    return out


def population_label(scenario: Scenario | str | None) -> str:
    """Which firms a scenario simulates, e.g. "Flemish firms with 1+ employees, NACE C–N"."""
    from adoptsim.scenario import load_scenario
    from adoptsim.taxonomy import SECTORS

    if scenario is None:
        return "simulated firms"
    pop = load_scenario(scenario).data["population"]
    who = {"flanders": "Flemish", "belgium": "Belgian", "netherlands": "Dutch"}[pop["name"]]
    smallest = 1 if pop["include_micro"] else 10
    return f"{who} firms with {smallest}+ employees, NACE {SECTORS[0]}–{SECTORS[-1]}"


def observed_points(scenario: Scenario | str | None) -> pd.DataFrame:
    """Survey points measured with the model's definition of "uses AI", for the figures.

    Only the AI-barometer's all-firm series matches that definition, so only it is drawn next to
    a projection.

    Args:
        scenario: the scenario (or its name) whose population picks the series; None gives none.

    Returns:
        Columns date (datetime), value (share, 0–1), se (its standard error) and label (target
        id); empty when the population has no such series.
    """
    from adoptsim.observe import load_targets
    from adoptsim.scenario import load_scenario

    cols = ["date", "value", "se", "label"]
    if scenario is None:
        return pd.DataFrame(columns=cols)
    population = load_scenario(scenario).data["population"]["name"]
    t = load_targets()
    rows = t[
        (t.survey == "barometer")
        & (t.geography == population)
        & (t.segment_type == "all")
        & (t.segment == "all")
    ]
    return pd.DataFrame(
        {
            "date": pd.to_datetime(rows.date.to_numpy(), format="%Y-%m"),
            "value": rows.value.to_numpy(float),
            "se": rows.se.to_numpy(float),
            "label": rows.id.to_numpy(),
        }
    )[cols]


def projection_start(points: pd.DataFrame) -> pd.Timestamp | None:
    """The month after the last observed survey point: where the projection starts."""
    if points.empty:
        return None
    return points.date.max() + pd.offsets.MonthBegin(1)


def _percent(ax, axis: str = "y", points: bool = False) -> None:
    fmt = (
        FuncFormatter(lambda v, _: "0" if abs(v) < 5e-5 else f"{100 * v:+.1f} pp")
        if points
        else PercentFormatter(1.0, decimals=0)
    )
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(fmt)


def _observed(ax, points: pd.DataFrame, start: pd.Timestamp | None) -> None:
    if not points.empty:
        ax.errorbar(
            points.date,
            points.value,
            yerr=2 * points.se,
            fmt="o",
            color="k",
            ms=4,
            capsize=3,
            lw=1,
            zorder=5,
            label="AI-barometer (its frame: firms 10+), observed ± 2 se",
        )
    if start is not None:
        ax.axvline(start, color="0.4", ls=":", lw=1)
        ax.text(
            start,
            0.98,
            " projection →",
            transform=ax.get_xaxis_transform(),
            fontsize=7,
            color="0.3",
            va="top",
        )


def _footer(fig, lines: list[str]) -> float:
    """Draw the footer; returns the share of the figure's height it takes."""
    import textwrap

    # characters of 7-pt text per inch: 17, not the average 19, so lines of wide letters fit too
    width = int(fig.get_figwidth() * 17)
    text = "\n".join(textwrap.fill(x, width) for x in lines if x)
    fig.text(0.01, 0.005, text, fontsize=7, color="0.3", va="bottom")
    # 7-pt lines at matplotlib's 1.2 line spacing, plus a little air above the text
    return (text.count("\n") + 1) * 7 * 1.2 / 72 / fig.get_figheight() + 0.01 if text else 0.0


def _finish(
    fig: plt.Figure, footer: list[str], *, bottom: float, path: str | Path | None, dpi: int
) -> plt.Figure:
    """Every figure of this module ends here: footer, layout, and the PNG if asked for.

    Args:
        fig: the figure, all panels drawn.
        footer: lines of small grey text at the bottom (definition, band meaning, provenance);
            empty ones are left out.
        bottom: share of the figure's height kept free for the footer (more if the footer's
            lines need it, so a long caption never runs into the axes).
        path: where to save the PNG, or None to only return the figure.
        dpi: resolution of the PNG.
    """
    needed = _footer(fig, footer)
    fig.tight_layout(rect=(0, max(bottom, needed), 1, 1))
    if path is not None:
        fig.savefig(path, dpi=dpi)
    return fig


def _band_text(adoption: pd.DataFrame) -> str:
    drawn = "draw" in adoption and adoption["draw"].nunique() > 1
    return BAND_PARAMETER if drawn else BAND_STOCHASTIC


def _fan(ax, table: pd.DataFrame, column: str, label: str, color=None, ls="-") -> None:
    b = band_summary(table, column)
    x = pd.to_datetime(b["date"], format="%Y-%m")
    line = ax.plot(x, b["median"], label=label, color=color, ls=ls)[0]
    ax.fill_between(x, b["p05"], b["p95"], alpha=0.2, color=line.get_color(), linewidth=0)


def fan_chart(
    adoption: pd.DataFrame,
    title: str = "",
    caption: str = "",
    path: str | Path | None = None,
    scenario: Scenario | str | None = None,
) -> plt.Figure:
    """Share of firms using AI and using it at scale, overall and by size class.

    Left: median and 5–95 % band over replications of the share using AI and using it at scale,
    with the observed survey points and where the projection starts. Right: the share using AI
    by size class.

    Args:
        adoption: the tidy table of [`simulate`][adoptsim.simulation.simulate] (``.adoption``).
        title: figure title.
        caption: provenance line (scenario, seed, firms, version).
        path: if given, the figure is saved there (PNG, 120 dpi).
        scenario: the scenario simulated: names the population covered and picks the survey
            points to show.
    """
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 5), sharey=True)
    points = observed_points(scenario)
    start = projection_start(points)
    overall = adoption[adoption.segment_type == "all"]
    _fan(ax1, overall, "adopters_share", "uses AI", "tab:blue")
    _fan(ax1, overall, "at_scale_share", "uses AI at scale", "tab:purple", ls="--")
    _observed(ax1, points, start)
    ax1.set_title("All firms")
    sizes = adoption[adoption.segment_type == "size"]
    greens = plt.get_cmap("viridis")(np.linspace(0.05, 0.85, sizes.segment.nunique()))
    for colour, (segment, part) in zip(greens, sizes.groupby("segment", sort=False), strict=True):
        _fan(ax2, part, "adopters_share", f"{segment} employees", colour)
    if start is not None:
        ax2.axvline(start, color="0.4", ls=":", lw=1)
    ax2.set_title("Uses AI, by size class")
    for ax in (ax1, ax2):
        ax.set_ylim(0, 1)
        _percent(ax)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=8)
    ax1.set_ylabel("share of firms (weighted to the population)")
    n_rep = adoption["replication"].nunique()
    fig.suptitle(f"{title or 'AI adoption'} — {population_label(scenario)}")
    return _finish(
        fig,
        [
            f"{USES_AI} Lines: median of {n_rep} replications. {_band_text(adoption)}",
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
                0,
                f"too few\nagents\n(<{MIN_AGENTS})",
                ha="center",
                va="center",
                fontsize=6,
                color="0.45",
            )
    ax.set_xticks(np.arange(len(labels)), labels, fontsize=8)
    ax.axhline(0, color="k", lw=0.8)


def comparison_figure(
    comp: Comparison, path: str | Path | None = None, caption: str = ""
) -> plt.Figure:
    """Figure of a scenario comparison: trajectories, paired differences and effects by segment.

    Panels: the share using AI per scenario with bands and survey points; the paired difference
    with the reference over time; and the final-month effect by size class and by sector (median
    and 5–95 % of the paired differences). One colour per scenario in every panel.

    Args:
        comp: the result of [`compare`][adoptsim.comparison.compare].
        path: if given, the figure is saved there (PNG, 110 dpi).
        caption: provenance line (scenarios, seed, firms, version).

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
    start = projection_start(points)
    overall = comp.adoption[comp.adoption.segment_type == "all"]
    for name, part in overall.groupby("scenario", sort=False):
        _fan(ax1, part, "adopters_share", name, colours[name])
    _observed(ax1, points, start)
    ax1.set_ylim(0, 1)
    _percent(ax1)
    ax1.set_title("Uses AI, all firms (median, 5–95 % band)")
    dall = comp.differences[comp.differences.segment_type == "all"]
    for name, part in dall.groupby("scenario", sort=False):
        g = part.groupby("date").adopters_share
        x = pd.to_datetime(g.median().index, format="%Y-%m")
        ax2.plot(x, g.median().to_numpy(), label=name, color=colours[name])
        ax2.fill_between(
            x, g.quantile(0.05), g.quantile(0.95), alpha=0.2, color=colours[name], lw=0
        )
    ax2.axhline(0, color="k", lw=0.8)
    if start is not None:
        ax2.axvline(start, color="0.4", ls=":", lw=1)
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
    return _finish(
        fig,
        [
            f"{USES_AI} Differences are the median (dot/line) and 5–95 % (whisker/band) of "
            "paired differences: each replication of a scenario against the same replication "
            "of the reference (common random numbers).",
            caption,
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
        fit: the fit table of [`validate`][adoptsim.validation.validate] (columns id, survey,
            observed, se, sim_mean, sim_p05, sim_p95, within); targets not simulated are left
            out.
        path: if given, the figure is saved there (PNG, 120 dpi).
        caption: provenance line.

    Returns:
        The matplotlib figure.
    """
    shown = fit[fit.sim_mean.notna()].reset_index(drop=True)
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
            caption,
        ],
        bottom=0.04,
        path=path,
        dpi=120,
    )


def indices_figure(
    result: SensitivityResult, path: str | Path | None = None, title: str = "", caption: str = ""
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
    return _finish(fig, [caption], bottom=0.07, path=path, dpi=120)
