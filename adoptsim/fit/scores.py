"""Naive forecast benchmarks and forecast scores, shared by `backtest`, `validate` and `benchmark`.

Three naive benchmarks extrapolate each series (survey, geography, segment type, segment) from its
own waves dated up to an origin:

- **last value**: the latest wave's value;
- **linear trend**: the line through the two latest waves, clipped to [0, 1];
- **constant hazard**: the annual hazard among non-users between the two latest waves,
  ``h = 1 − ((1 − v₂)/(1 − v₁))^(1/Δt)``, held constant: ``1 − (1 − v₂)(1 − h)^(t − t₂)``
  (exactly as the acceptance check ``calib-skill`` computes it; time in years).

The scores (MAE, mean signed error, 50 % and 90 % coverage, mean 90 % width, the 90 % interval
score of Gneiting & Raftery 2007) are computed on the rows every compared method can forecast, so
no method is scored on easier rows than another.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SERIES = ["survey", "geography", "segment_type", "segment"]
NAIVE_METHODS = ("last_value", "linear_trend", "constant_hazard")
SCORE_COLUMNS = [
    "method",
    "n",
    "mae",
    "mean_error",
    "below",
    "coverage_50",
    "coverage_90",
    "mean_width_90",
    "interval_score_90",
]


def year_fraction(date: object) -> float:
    """A "YYYY-MM" month as a decimal year (March 2023 → 2023 + 2/12)."""
    y, m = map(int, str(date).split("-")[:2])
    return y + (m - 1) / 12


def interval_score(y: np.ndarray, lo: np.ndarray, hi: np.ndarray, alpha: float) -> np.ndarray:
    """Gneiting & Raftery (2007) interval score of a central (1 − alpha) band (lower is better).

    ``(hi − lo) + (2/alpha)(lo − y)·[y < lo] + (2/alpha)(y − hi)·[y > hi]``, in the units of
    ``y`` (shares here): the width plus a penalty for each miss, proportional to its distance.
    """
    y, lo, hi = (np.asarray(a, dtype=float) for a in (y, lo, hi))
    return (hi - lo) + (2 / alpha) * (lo - y) * (y < lo) + (2 / alpha) * (y - hi) * (y > hi)


def naive_forecasts(history: pd.DataFrame, rows: pd.DataFrame, origin: str) -> pd.DataFrame:
    """The three naive benchmarks for every row, from its series' waves dated up to `origin`.

    Args:
        history: rows with the columns of `SERIES`, ``date`` ("YYYY-MM") and ``value`` (share);
            only those dated up to `origin` are used, whatever else the table holds.
        rows: the rows to forecast (`SERIES` columns and ``date``).
        origin: the last month whose values may be used ("YYYY-MM").

    Returns:
        One row per row of `rows` (same index) with columns `last_value`, `linear_trend` and
        `constant_hazard` (shares; NaN where the series has too few waves up to the origin:
        one for the last value, two for the others).
    """
    used = history[history.date.astype(str).map(year_fraction) <= year_fraction(origin)]
    waves = {
        key: g.assign(t=g.date.astype(str).map(year_fraction)).sort_values("t")[["t", "value"]]
        for key, g in used.groupby(SERIES, sort=False)
    }
    out = np.full((len(rows), 3), np.nan)
    for i, (_, r) in enumerate(rows.iterrows()):
        g = waves.get(tuple(r[c] for c in SERIES))
        if g is None or g.empty:
            continue
        t = year_fraction(r["date"])
        t2, v2 = g.iloc[-1]
        out[i, 0] = v2
        if len(g) < 2:
            continue
        t1, v1 = g.iloc[-2]
        out[i, 1] = np.clip(v2 + (v2 - v1) / (t2 - t1) * (t - t2), 0.0, 1.0)
        h = 1 - ((1 - v2) / (1 - v1)) ** (1 / (t2 - t1))
        out[i, 2] = 1 - (1 - v2) * (1 - h) ** (t - t2)
    return pd.DataFrame(out, index=rows.index, columns=list(NAIVE_METHODS))


def score_methods(observed: pd.Series, methods: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Score every method on the rows all of them can forecast (the common rows).

    Args:
        observed: observed shares, indexed like the method tables.
        methods: method name → table with a ``mean`` column and, for methods with bands,
            ``p05``, ``p25``, ``p75``, ``p95`` (NaN ``mean``: the method cannot forecast that row).

    Returns:
        One row per method with the columns of `SCORE_COLUMNS`: ``mae`` and ``mean_error``
        (forecast − observed; negative: too low) in share units, ``below`` (rows forecast below
        the observed value), coverage of the 50 % and 90 % bands, their mean 90 % width and mean
        90 % interval score (NaN for methods without bands). ``n`` is the number of common rows.
    """
    common = observed.notna()
    for table in methods.values():
        common &= table["mean"].reindex(observed.index).notna()
    y = observed[common].to_numpy(dtype=float)
    rows = []
    for name, table in methods.items():
        t = table.reindex(observed.index)[common]
        m = t["mean"].to_numpy(dtype=float)
        row = {
            "method": name,
            "n": int(common.sum()),
            "mae": float(np.mean(np.abs(m - y))) if len(y) else np.nan,
            "mean_error": float(np.mean(m - y)) if len(y) else np.nan,
            "below": int(np.sum(m < y)),
        }
        if {"p05", "p25", "p75", "p95"} <= set(t.columns) and len(y):
            lo, q1, q3, hi = (t[c].to_numpy(dtype=float) for c in ("p05", "p25", "p75", "p95"))
            row |= {
                "coverage_50": float(np.mean((y >= q1) & (y <= q3))),
                "coverage_90": float(np.mean((y >= lo) & (y <= hi))),
                "mean_width_90": float(np.mean(hi - lo)),
                "interval_score_90": float(np.mean(interval_score(y, lo, hi, 0.1))),
            }
        rows.append(row)
    return pd.DataFrame(rows).reindex(columns=SCORE_COLUMNS)


def scores_markdown(table: pd.DataFrame) -> str:
    """A scores table (from `score_methods`) as a Markdown table, shares in percent."""

    def cell(v: object, fmt) -> str:
        return "—" if pd.isna(v) else fmt(v)

    lines = [
        "| method | n | MAE | mean error | coverage 50 % | coverage 90 % | mean width 90 % | "
        "interval score 90 % |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for _, r in table.iterrows():
        lines.append(
            f"| {r.method} | {int(r.n)} | {cell(r.mae, lambda v: f'{100 * v:.1f} pp')} | "
            f"{cell(r.mean_error, lambda v: f'{100 * v:+.1f} pp')} | "
            f"{cell(r.coverage_50, lambda v: f'{v:.0%}')} | "
            f"{cell(r.coverage_90, lambda v: f'{v:.0%}')} | "
            f"{cell(r.mean_width_90, lambda v: f'{100 * v:.1f} pp')} | "
            f"{cell(r.interval_score_90, lambda v: f'{v:.3f}')} |"
        )
    return "\n".join(lines)
