"""`adoptsim benchmark`: a statistical benchmark forecast of every series of a panel.

The forecaster is the hierarchical hazard model of [`adoptsim.fit.hazard`][adoptsim.fit.hazard]
(annual hazard among non-users on the complementary-log-log scale, country effects partially
pooled, the 2023→24 jump shared with a spread across countries), fitted on the panel's waves
dated up to the origin and nothing later. Forecasts at later dates add:

- **the hazard's path after the jump year** (after ``JUMP_END``, 2024-03): a random walk of the
  log hazard, each year a common step ``N(0, drift_sd²)`` (all countries; default 0.5, judgement:
  no wave after the jump year is fitted, so nothing in the data says whether the hazard keeps
  rising, holds or falls back) plus a country step ``N(0, σⱼ²)`` (the fitted spread of the jump);
- **the 2025 questionnaire break** (the ICT survey asks about 8 technologies from 2025 instead of
  7): from 2025-01 an ICT-survey share is multiplied by ``b ~ U(1.0, 1.4)``, one draw per forecast
  draw shared by all series: the range of `adoptsim.observe.BREAK_2025_PRIOR`, which the agent
  model applies to light users only, here applied to the whole share (the benchmark has no
  light/at-scale split), so it is the wider reading;
- **wave noise**: the survey's sampling error (the series' latest ``se``) and the fitted
  non-sampling wave error.

Which series it forecasts: every country's all-firm series with at least one wave up to the
origin (the pool supplies its hazards), and any other series (EU aggregate, size classes,
technologies) with at least two waves up to the origin.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from adoptsim import streams
from adoptsim.errors import ScenarioError
from adoptsim.fit import hazard
from adoptsim.fit.panel import load_panel
from adoptsim.fit.scores import SERIES, year_fraction
from adoptsim.months import format_month, parse_month
from adoptsim.observe import BREAK_2025_PRIOR, TARGET_CUTOFF

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FORECAST_COLUMNS = [
    "geography",
    "survey",
    "segment_type",
    "segment",
    "date",
    "mean",
    "p05",
    "p25",
    "p75",
    "p95",
]
BREAK_START = "2025-01"
SHARE_SEGMENTS = ("all", "size", "sector", "technology")
QUANTILES = (0.05, 0.25, 0.75, 0.95)


@dataclass
class BenchmarkResult:
    """A panel benchmark forecast and the fit behind it (the caller draws it: `plots`).

    Attributes:
        origin: last month whose waves were fitted ("YYYY-MM").
        dates: forecast months.
        forecast: one row per series and date (`FORECAST_COLUMNS`; shares 0..1).
        history: the panel rows the fit used (all dated up to the origin).
        series: the fitted series (`SERIES` columns, ``pool``, ``waves``), in the column order of
            `eta1`, `eta2`.
        hyper: hyper-parameter draws (mu, jump, sigma_country, sigma_jump, sigma_wave).
        eta1: draws × series of the log pre-jump hazard (per year).
        eta2: draws × series of the log jump-year hazard (per year).
        info: runtime, draws, importance-sampling effective sample size, settings.
    """

    origin: str
    dates: list[str]
    forecast: pd.DataFrame
    history: pd.DataFrame
    series: pd.DataFrame
    hyper: pd.DataFrame
    eta1: np.ndarray
    eta2: np.ndarray
    info: dict = field(default_factory=dict)

    def figure(
        self,
        path: str | Path | None = None,
        caption: str = "",
        observed: pd.DataFrame | None = None,
    ) -> Figure:
        """Draw it: `adoptsim.plots_panel.benchmark_figure` (Belgium and the Netherlands in colour).

        Args:
            path: if given, the PNG is saved there.
            caption: provenance line.
            observed: optional later waves (never fitted) to show beside the forecasts.

        Returns:
            The matplotlib figure.
        """
        from adoptsim.plots_panel import benchmark_figure

        return benchmark_figure(self, path, caption, observed=observed)

    def summary(self) -> str:
        """One line: what was fitted and forecast, and the jump's size."""
        j = np.exp(self.hyper.jump)
        return (
            f"panel benchmark fitted on {len(self.history)} waves up to {self.origin} "
            f"({int(self.series.pool.sum())} countries pooled; jump-year hazard ratio "
            f"{np.median(j):.1f} [{np.quantile(j, 0.05):.1f}, {np.quantile(j, 0.95):.1f}]); "
            f"{len(self.forecast)} forecasts at {', '.join(self.dates)}"
        )


def check_dates(origin: str, dates: list[str] | str) -> tuple[str, list[str]]:
    """Check the origin and forecast months; one-line errors naming the field.

    Returns:
        (origin, sorted unique dates), as "YYYY-MM".
    """
    o = format_month(parse_month(str(origin), "origin"))
    if parse_month(o) > parse_month(TARGET_CUTOFF):
        raise ScenarioError(
            "origin",
            origin,
            f"must be {TARGET_CUTOFF} or earlier: the benchmark does not fit waves from the "
            "2025 questionnaire (8 technologies)",
        )
    if isinstance(dates, str):
        dates = [d for d in dates.split(",") if d.strip()]
    if not dates:
        raise ScenarioError("dates", dates, "give at least one month YYYY-MM after the origin")
    out = sorted({format_month(parse_month(str(d).strip(), "dates")) for d in dates})
    early = [d for d in out if parse_month(d) <= parse_month(o)]
    if early:
        raise ScenarioError("dates", early[0], f"must be after the origin {o}")
    if parse_month(out[-1]) > parse_month("2035-12"):
        raise ScenarioError("dates", out[-1], "must be 2035-12 or earlier")
    return o, out


def benchmark_forecast(
    origin: str,
    dates: list[str] | str,
    panel: pd.DataFrame | str | Path | None = None,
    *,
    draws: int = 4000,
    seed: int = 0,
    drift_sd: float = 0.5,
) -> BenchmarkResult:
    """Fit the hierarchical hazard model on the waves up to `origin`, forecast every series.

    Args:
        origin: last month whose waves are fitted ("YYYY-MM", at most 2024-12). Waves dated
            after it are dropped before anything is fitted.
        dates: forecast months ("YYYY-MM", list or comma-separated), each after the origin.
        panel: a panel table or CSV path in the targets' columns (default: the shipped EU-27
            panel, `adoptsim/data/eu_panel.csv`).
        draws: forecast draws (hyper-parameter and series draws alike).
        seed: seed of the Laplace proposals, the resampling and the forecast noise.
        drift_sd: sd of the common yearly step of the log hazard after the jump year.

    Returns:
        The forecasts (mean and the 5, 25, 75, 95 % quantiles of what the survey would read) and
        the fit's draws.
    """
    t0 = time.perf_counter()
    origin, dates = check_dates(origin, dates)
    if not isinstance(draws, int) or draws < 100:
        raise ScenarioError("draws", draws, "must be a whole number >= 100")
    if not np.isfinite(drift_sd) or drift_sd < 0:
        raise ScenarioError("drift_sd", drift_sd, "must be a number >= 0")
    table = panel if isinstance(panel, pd.DataFrame) else load_panel(panel)
    # Nothing dated after the origin enters the fit (later waves are for evaluation).
    history = table[table.date.astype(str).map(parse_month) <= parse_month(origin)]
    # shares of firms using AI (or one technology) only: barrier and intention rows are not
    # adoption series with a hazard
    history = history[history.segment_type.astype(str).isin(SHARE_SEGMENTS)]
    if history.empty:
        raise ScenarioError("origin", origin, "no panel wave is dated up to it")
    data = hazard.series_data(history)
    rng = streams.stream(seed, streams.PANEL_BENCHMARK)
    hyper = hazard.fit_hyper(data, rng, draws)
    eta1, eta2, level = hazard.sample_states(data, hyper, rng)
    keys = data.keys
    ok = (keys.pool | (keys.waves >= 2)).to_numpy()
    last = data.mask.sum(axis=1) - 1
    idx = np.arange(len(keys))
    se_last = np.sqrt(data.var[idx, last])  # on the L scale
    s_w = np.exp(hyper.draws[:, 4])[:, None]
    s_j = np.exp(hyper.draws[:, 3])[:, None]
    horizon = max(1, int(np.ceil(year_fraction(dates[-1]) - hazard._TE)) + 1)
    common = rng.normal(0.0, drift_sd, (draws, 1, horizon))
    own = rng.standard_normal((draws, len(keys), horizon)) * s_j[..., None]
    steps = np.cumsum(common + own, axis=2)
    factor = rng.uniform(*BREAK_2025_PRIOR, size=(draws, 1))
    rows = []
    for d in dates:
        t = year_fraction(d)
        L = level + hazard.cumulative(t, eta1, eta2, steps)
        noise = rng.standard_normal(L.shape) * np.sqrt(se_last[None] ** 2 + s_w**2)
        p = np.clip(1 - np.exp(-(L + noise)), 0.0, 1.0)
        if parse_month(d) >= parse_month(BREAK_START):
            ict = (keys.survey == "ict_survey").to_numpy()[None]
            p = np.where(ict, np.minimum(p * factor, 1.0), p)
        q = np.quantile(p, QUANTILES, axis=0)
        for i in np.flatnonzero(ok):
            rows.append(
                {**keys.iloc[i][SERIES].to_dict(), "date": d, "mean": float(p[:, i].mean())}
                | {f"p{int(100 * a):02d}": float(q[k, i]) for k, a in enumerate(QUANTILES)}
            )
    forecast = pd.DataFrame(rows)[FORECAST_COLUMNS]
    info = {
        "draws": draws,
        "seed": seed,
        "drift_sd": drift_sd,
        "break_2025_prior": list(BREAK_2025_PRIOR),
        "importance_ess": round(hyper.ess, 1),
        "proposals": hyper.proposals,
        "runtime_s": round(time.perf_counter() - t0, 2),
        "not_forecast": keys.loc[~ok, SERIES].to_dict("records"),
    }
    return BenchmarkResult(
        origin,
        dates,
        forecast,
        history.reset_index(drop=True),
        keys,
        hyper.table(),
        eta1,
        eta2,
        info,
    )


def write_forecast(result: BenchmarkResult, out: str | Path) -> Path:
    """Write ``forecast.csv`` into `out` (atomically: a finished file or none)."""
    from adoptsim.atomic import output_error, write_csv

    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise output_error(out, exc) from None
    return write_csv(out / "forecast.csv", result.forecast, float_format="%.5f")
