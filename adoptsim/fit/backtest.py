"""Leave-future-out backtest: fit on the targets up to an origin, forecast every later target.

`backtest("2023-12", ...)` runs the joint calibration
([`calibrate`][adoptsim.fit.calibrate.calibrate]) on targets dated up to the origin only, then
simulates every observable adoption target dated after it and up to the target cutoff (2024-12:
later waves are never used, not even here) with the posterior draws, and scores the predictive
bands against what was observed. The naive benchmark extrapolates each series' linear trend from
its last two waves before the origin (its last value if it has only one); a model that loses to
it says so in the summary.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from adoptsim.errors import ScenarioError
from adoptsim.fit.calibrate import calibrate
from adoptsim.fit.targets import ADOPTION_SEGMENTS, check_cutoff, check_origin, select_targets
from adoptsim.fit.validation import predict_rows
from adoptsim.months import parse_month
from adoptsim.observe import load_targets
from adoptsim.posterior import COUNTRIES

FORECAST_COLUMNS = [
    "id",
    "date",
    "observed",
    "sim_mean",
    "sim_p05",
    "sim_p25",
    "sim_p75",
    "sim_p95",
    "model_p05",
    "model_p95",
    "se",
    "naive",
    "naive_method",
    "country",
    "survey",
    "segment_type",
    "segment",
    # the benchmarks beside the model (adoptsim.fit.skill)
    "geography",
    "naive_last_value",
    "naive_linear_trend",
    "naive_constant_hazard",
    "panel_mean",
    "panel_p05",
    "panel_p25",
    "panel_p75",
    "panel_p95",
]
SERIES = ["survey", "geography", "segment_type", "segment"]

if TYPE_CHECKING:
    import matplotlib.pyplot as plt


def naive_forecast(history: pd.DataFrame, row: pd.Series) -> tuple[float, str]:
    """Each series' linear trend from its last two waves (its last value if only one).

    Args:
        history: target rows dated up to the origin.
        row: the target to forecast.

    Returns:
        (forecast share clipped to [0, 1], method: `trend`, `last value` or `none`).
    """
    same = history
    for col in SERIES:
        same = same[same[col] == row[col]]
    same = same.assign(m=same.date.map(parse_month)).sort_values("m")
    if same.empty:
        return float("nan"), "none"
    if len(same) == 1:
        return float(same.value.iloc[-1]), "last value"
    (m0, v0), (m1, v1) = same[["m", "value"]].iloc[-2:].to_numpy()
    slope = (v1 - v0) / (m1 - m0)
    return float(np.clip(v1 + slope * (parse_month(str(row["date"])) - m1), 0, 1)), "trend"


def interval_score(y: np.ndarray, lo: np.ndarray, hi: np.ndarray, alpha: float) -> np.ndarray:
    """Gneiting & Raftery (2007) interval score of a central (1 − alpha) band (lower is better)."""
    return (hi - lo) + (2 / alpha) * (lo - y) * (y < lo) + (2 / alpha) * (y - hi) * (y > hi)


def score(forecast: pd.DataFrame) -> pd.DataFrame:
    """Coverage of the 50 % and 90 % bands, MAE, signed error, interval score: model vs naive.

    ``mean_error`` is the mean of forecast − observed (negative: too low) and ``below`` the
    number of rows forecast below the observed value, so a one-sided miss shows.

    The naive benchmark has no band: its coverage and interval score are empty. Both are scored
    on the same rows (those the naive method can forecast) and the model also on all rows.
    """
    f = forecast
    y = f.observed.to_numpy()

    def model_row(sub: pd.DataFrame, label: str) -> dict:
        y = sub.observed.to_numpy()
        return {
            "method": "model",
            "rows": label,
            "n": len(sub),
            "coverage_50": float(np.mean((y >= sub.sim_p25) & (y <= sub.sim_p75))),
            "coverage_90": float(np.mean((y >= sub.sim_p05) & (y <= sub.sim_p95))),
            "mae": float(np.mean(np.abs(sub.sim_mean - y))),
            "interval_score_90": float(
                np.mean(interval_score(y, sub.sim_p05.to_numpy(), sub.sim_p95.to_numpy(), 0.1))
            ),
            "mean_width_90": float(np.mean(sub.sim_p95 - sub.sim_p05)),
            "mean_width_50": float(np.mean(sub.sim_p75 - sub.sim_p25)),
            # A sceptic's first question after the MAE: are the misses one-sided?
            "mean_error": float(np.mean(sub.sim_mean - y)),
            "below": int(np.sum(sub.sim_mean < y)),
        }

    has_naive = f.naive.notna().to_numpy()
    out = [model_row(f, "all")]
    if has_naive.any():
        sub = f[has_naive]
        out.append(model_row(sub, "naive-forecastable"))
        out.append(
            {
                "method": "naive",
                "rows": "naive-forecastable",
                "n": len(sub),
                "mae": float(np.mean(np.abs(sub.naive - sub.observed))),
                "mean_error": float(np.mean(sub.naive - sub.observed)),
                "below": int(np.sum(sub.naive < sub.observed)),
            }
        )
    del y
    return pd.DataFrame(out)


@dataclass
class Backtest:
    """A backtest's forecasts, scores and the fit it used."""

    origin: str
    forecast: pd.DataFrame
    score: pd.DataFrame
    fit_report: dict
    skill: pd.DataFrame | None = None  # model vs naive and panel benchmarks (adoptsim.fit.skill)

    def skill_report(self) -> str:
        """The model beside each benchmark (`skill.csv`), one line per row set and method."""
        from adoptsim.fit.skill import skill_lines

        return "" if self.skill is None else skill_lines(self.skill)

    def summary(self) -> str:
        """Plain statement of how the model did against the naive benchmark."""
        s = self.score.set_index(["method", "rows"])
        m = s.loc[("model", "all")]
        text = (
            f"origin {self.origin}: {int(m.n)} forecasts; 90 % band coverage "
            f"{m.coverage_90:.0%} (mean width {100 * m.mean_width_90:.1f} pp), 50 % band "
            f"coverage {m.coverage_50:.0%}; MAE {100 * m.mae:.1f} pp, mean error "
            f"{100 * m.mean_error:+.1f} pp (forecast below the observed value for {int(m.below)} "
            f"of {int(m.n)})"
        )
        if ("naive", "naive-forecastable") in s.index:
            n = s.loc[("naive", "naive-forecastable")]
            mm = s.loc[("model", "naive-forecastable")]
            verdict = "the model LOSES to" if mm.mae > n.mae else "the model beats"
            text += (
                f". On the {int(n.n)} rows the naive trend can forecast: model MAE "
                f"{100 * mm.mae:.1f} pp vs naive {100 * n.mae:.1f} pp — {verdict} the naive trend"
            )
        return text

    def figure(self, path: str | Path | None = None) -> plt.Figure:
        """Forecasts against what was observed, captioned with the summary.

        Args:
            path: if given, the figure is saved there (PNG).

        Returns:
            The matplotlib figure ([`backtest_figure`][adoptsim.plots.backtest_figure]).
        """
        from adoptsim.plots import backtest_figure

        return backtest_figure(self.forecast, self.origin, path, caption=self.summary())


def backtest(
    origin: str,
    *,
    population: str = "both",
    budget: int = 300,
    n_firms: int | None = None,
    out: str | Path,
    replications: int = 40,
    seed: int = 0,
    workers: int = 2,
    mcmc_steps: int = 1000,
    targets: pd.DataFrame | None = None,
    progress: bool = True,
    fit_replications: int = 1,
    rounds: int = 3,
    cutoff: str | None = None,
) -> Backtest:
    """Fit on targets dated up to `origin`, forecast every later target up to the cutoff.

    Args:
        origin: last month whose targets are fitted ("YYYY-MM", before 2024-12).
        population: `flanders`, `netherlands` or `both` (the joint fit).
        budget: design points of the calibration.
        n_firms: agents per simulation (calibration and forecasts).
        out: folder: `fit/` (the calibration), `forecast.csv`, `score.csv`, `summary.txt`.
        replications: forecast simulations per country (each with its own posterior draw).
        seed: base seed.
        workers: processes for the calibration's simulations.
        mcmc_steps: steps of each emcee ensemble.
        targets: targets table (default: the shipped one).
        progress: progress bars.
        fit_replications: simulations averaged per design point in the calibration.
        rounds: design rounds of the calibration.
        cutoff: last month of targets forecast and scored (default 2024-12, the shipped
            targets' end; later with a `targets` table that holds later waves).
    """
    given = origin
    cutoff = check_cutoff(cutoff)
    origin = check_origin(origin, cutoff)
    if parse_month(origin) >= parse_month(cutoff):
        raise ScenarioError(  # the month given, not the cutoff it was clamped to
            "origin", given, f"must be before the cutoff {cutoff} (nothing to forecast)"
        )
    if population not in (*COUNTRIES, "both"):
        raise ScenarioError("population", population, "must be flanders, netherlands or both")
    countries = COUNTRIES if population == "both" else (population,)
    table = load_targets() if targets is None else targets
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    fit = calibrate(
        countries,
        out=out / "fit",
        budget=budget,
        n_firms=n_firms,
        replications=fit_replications,
        seed=seed,
        workers=workers,
        targets=table,
        origin=origin,
        cutoff=cutoff,
        mcmc_steps=mcmc_steps,
        rounds=rounds,
        progress=progress,
    )
    parts = []
    for country in countries:
        rows, _ = select_targets(table, country, cutoff=cutoff)  # everything up to the cutoff
        rows = rows[
            (rows.date.map(parse_month) > parse_month(origin))
            & rows.segment_type.isin(ADOPTION_SEGMENTS)
        ].reset_index(drop=True)
        if rows.empty:
            continue
        # the fitted waves: the discrepancy of a later wave is drawn given their residuals
        fitted = fit.likelihood.data[country].rows if fit.likelihood is not None else None
        pred = predict_rows(
            rows, country, fit.draws, replications, n_firms, seed, progress, history=fitted
        )
        pred["country"] = country
        parts.append(pred)
    if not parts:
        raise ScenarioError("origin", origin, f"no observable target after it up to {cutoff}")
    forecast = pd.concat(parts, ignore_index=True)
    forecast["observed"] = forecast.value
    history = table[
        (table.date.map(parse_month) <= parse_month(origin))
        & table.segment_type.isin(ADOPTION_SEGMENTS)
    ]
    naive = [naive_forecast(history, r) for _, r in forecast.iterrows()]
    forecast["naive"] = [v for v, _ in naive]
    forecast["naive_method"] = [m for _, m in naive]
    from adoptsim.fit.skill import add_benchmarks

    forecast = add_benchmarks(forecast.assign(date=forecast.date.astype(str)), table, origin)
    forecast = forecast[FORECAST_COLUMNS]
    from adoptsim.atomic import write_csv

    write_csv(out / "forecast.csv", forecast, float_format="%.5g")
    return write_scores(origin, forecast, fit.report, out)


def write_scores(origin: str, forecast: pd.DataFrame, fit_report: dict, out: Path) -> Backtest:
    """Score ``forecast`` and write `score.csv`, `skill.csv` and `summary.txt` into ``out``.

    The figure is the caller's: ``result.figure(out / "backtest.png")``.

    Everything here follows from the forecast table, so a backtest's scores can be written again
    from its `forecast.csv` (e.g. when a score is added) without refitting.
    """
    scores = score(forecast)
    from adoptsim.atomic import write_csv, write_text
    from adoptsim.fit.skill import add_benchmarks, skill_table

    write_csv(out / "score.csv", scores, float_format="%.5g")
    if "panel_mean" not in forecast:  # a forecast.csv written before the benchmarks were added
        tg = load_targets()
        forecast = forecast.drop(columns=["geography"], errors="ignore")
        forecast = forecast.merge(tg[["id", "geography"]], on="id", how="left")
        forecast = add_benchmarks(forecast.assign(date=forecast.date.astype(str)), tg, origin)
    skill = skill_table(forecast)
    write_csv(out / "skill.csv", skill, float_format="%.5g")
    result = Backtest(origin, forecast, scores, fit_report, skill)
    write_text(out / "summary.txt", result.summary() + "\n")
    return result
