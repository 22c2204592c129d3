"""The shared style of adoptsim's figures: definitions, colours, survey points, axes, footers.

`adoptsim.plots` draws every figure with these pieces (and re-exports the public ones): the
definition of "uses AI" and of the band, one colour per scenario, the survey points with the
model read through each survey's frame, one projection start, percent and percentage-point
axes whose tick labels are exact, and a footer that never runs into the axes.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import Formatter, PercentFormatter

from adoptsim.atomic import save_figure
from adoptsim.results import band_summary

if TYPE_CHECKING:
    from adoptsim.scenario import Scenario

USES_AI = (
    '"Uses AI": at least one AI technology, the AI-barometer\'s broad notion '
    "(about twice the share the official ICT survey reports)."
)
BAND = "Band: 5–95 % of replications (stochastic + parameter uncertainty where the scenario "
BAND_PARAMETER = BAND + "draws from the posterior and the prior-only parameters' priors)."
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
    "ai_act_clarity": _PALETTE[8],
    "nl_policy_mix": _PALETTE[5],
    "bass_validation": _PALETTE[6],
}
_EXTRA = [_PALETTE[9], "tab:olive", "tab:cyan", "navy", "maroon"]


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
    """Observed all-firm survey points a run of the scenario's population can be set beside.

    Each survey measures in its own frame (denominator, definition): figures draw them with the
    model read through the same frame (`adoptsim.observe.survey_frame`), never against the
    model's all-firm line. The barometer for Flanders; the ICT survey where its geography is the
    population simulated.

    Args:
        scenario: the scenario (or its name) whose population picks the series; None gives none.

    Returns:
        Columns date (datetime), value (share, 0–1), se (its standard error), label (target
        id) and survey; empty when the population has no such series.
    """
    from adoptsim.observe import load_targets
    from adoptsim.scenario import load_scenario

    cols = ["date", "value", "se", "label", "survey"]
    if scenario is None:
        return pd.DataFrame(columns=cols)
    from adoptsim.observe import frame_surveys

    population = load_scenario(scenario).data["population"]["name"]
    t = load_targets()
    parts = []
    for survey, geography in frame_surveys(population):
        rows = t[
            (t.survey == survey)
            & (t.geography == geography)
            & (t.segment_type == "all")
            & (t.segment == "all")
        ]
        parts.append(
            pd.DataFrame(
                {
                    "date": pd.to_datetime(rows.date.to_numpy(), format="%Y-%m"),
                    "value": rows.value.to_numpy(float),
                    "se": rows.se.to_numpy(float),
                    "label": rows.id.to_numpy(),
                    "survey": survey,
                }
            )
        )
    if not parts:
        return pd.DataFrame(columns=cols)
    return pd.concat(parts, ignore_index=True)


def projection_start(points: pd.DataFrame | None = None) -> pd.Timestamp:
    """Where every projection starts: the month after the data window (targets to 2024-12).

    The same in every figure, whatever survey points a panel shows (``points`` is ignored and
    kept for callers of the former signature).
    """
    from adoptsim.observe import TARGET_CUTOFF

    return pd.Timestamp(f"{TARGET_CUTOFF}-01") + pd.offsets.MonthBegin(1)


def _projection_line(ax, start: pd.Timestamp | None, where: str = "bottom") -> None:
    """The projection start: a dotted line, labelled low (or high) on the axis, on a white box."""
    if start is None:
        return
    ax.axvline(start, color="0.4", ls=":", lw=1)
    y, va = (0.02, "bottom") if where == "bottom" else (0.98, "top")
    ax.text(
        start,
        y,
        " projection →",
        transform=ax.get_xaxis_transform(),
        fontsize=7,
        color="0.3",
        va=va,
        bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1},
        zorder=6,
    )


class PointsFormatter(Formatter):
    """Tick labels in percentage points (``+0.25 pp``), with as many decimals as the ticks need.

    The decimals are the fewest that write every tick exactly (ticks 0.25 pp apart get two), so
    no two ticks read the same and none is rounded to a neighbour's value.
    """

    def __init__(self) -> None:
        self._ticks: list[float] = []

    def set_locs(self, locs) -> None:  # noqa: D102 (matplotlib's hook: the ticks to label)
        self._ticks = list(locs)

    def __call__(self, x: float, pos: int | None = None) -> str:  # noqa: D102
        pp = 100 * np.asarray(self._ticks or [x], dtype=float)
        decimals = 0
        while decimals < 6 and not np.allclose(pp, np.round(pp, decimals), atol=1e-9, rtol=0):
            decimals += 1
        value = 100 * x
        if abs(value) < 0.5 * 10.0**-decimals:
            return "0"
        return f"{value:+.{decimals}f} pp"


def _percent(ax, axis: str = "y", points: bool = False) -> None:
    fmt = PointsFormatter() if points else PercentFormatter(1.0, decimals=0)
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(fmt)


SURVEY_STYLE = {
    "barometer": ("k", "o", "AI-barometer"),
    "ict_survey": ("tab:brown", "s", "ICT survey"),
}


def _observed(
    ax,
    points: pd.DataFrame,
    start: pd.Timestamp | None,
    frames: pd.DataFrame | None = None,
) -> None:
    """Survey points (± 2 se) and, beside them, the model read through each survey's frame."""
    from adoptsim.observe import FRAME_LABELS

    for survey, part in points.groupby("survey", sort=False) if not points.empty else []:
        colour, marker, name = SURVEY_STYLE.get(survey, ("k", "o", survey))
        ax.errorbar(
            part.date,
            part.value,
            yerr=2 * part.se,
            fmt=marker,
            color=colour,
            ms=4,
            capsize=3,
            lw=1,
            zorder=5,
            label=f"{name}, observed ± 2 se",
        )
        if frames is not None and not frames.empty:
            mine = frames[frames.survey == survey]
            if not mine.empty:
                med = mine.groupby("date").value.median()
                ax.plot(
                    pd.to_datetime(med.index, format="%Y-%m"),
                    med.to_numpy(),
                    color=colour,
                    ls=(0, (4, 2)),
                    lw=1.2,
                    zorder=4,
                    label=f"model read as the {name} ({FRAME_LABELS.get(survey, survey)})",
                )
    _projection_line(ax, start)


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
        save_figure(fig, path, dpi)  # temp file + rename: never a half-written PNG
    return fig


def _band_text(adoption: pd.DataFrame) -> str:
    drawn = "draw" in adoption and adoption["draw"].nunique() > 1
    return BAND_PARAMETER if drawn else BAND_STOCHASTIC


def _fan(ax, table: pd.DataFrame, column: str, label: str, color=None, ls="-") -> None:
    b = band_summary(table, column)
    x = pd.to_datetime(b["date"], format="%Y-%m")
    line = ax.plot(x, b["median"], label=label, color=color, ls=ls)[0]
    ax.fill_between(x, b["p05"], b["p95"], alpha=0.2, color=line.get_color(), linewidth=0)


AT_SCALE_CAVEAT = "not identified: no survey measures it"


def _fan_edges(ax, table: pd.DataFrame, column: str, label: str, color, ls="-") -> None:
    """Median line, its 5–95 % band as thin dotted edges and a faint fill.

    Overlapping bands of several lines stay readable, unlike stacked fills.
    """
    b = band_summary(table, column)
    x = pd.to_datetime(b["date"], format="%Y-%m")
    ax.plot(x, b["median"], label=label, color=color, ls=ls, lw=1.6)
    for edge in ("p05", "p95"):
        ax.plot(x, b[edge], color=color, lw=0.7, alpha=0.8, ls=(0, (1, 1.5)))
    ax.fill_between(x, b["p05"], b["p95"], alpha=0.06, color=color, linewidth=0)
