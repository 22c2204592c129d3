"""Every forecast beside its benchmarks: the agent model's scores next to naive and panel ones.

`add_benchmarks` puts, beside each forecast row of the agent model, what the three naive
benchmarks ([`adoptsim.fit.scores`][adoptsim.fit.scores]) and the panel benchmark
([`adoptsim.fit.benchmark`][adoptsim.fit.benchmark]) forecast for it from the same data window;
`skill_table` scores the model and each benchmark on the rows that benchmark can forecast (the
common rows of the pair), so no method is scored on easier rows than the one beside it.

The panel benchmark forecasts the rows that are the Eurostat statistic of a panel series: the
all-firm ICT-survey share of Belgium and the Netherlands (``be``, ``nl`` in the EU-27 panel);
the same statistic as ``BE*-ALL`` / ``NL*-ALL`` in the targets, so it is compared, never fitted
twice.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from adoptsim.fit.scores import NAIVE_METHODS, SERIES, naive_forecasts, score_methods
from adoptsim.months import format_month, parse_month
from adoptsim.observe import TARGET_CUTOFF

PANEL_CODES = {"belgium": "be", "netherlands": "nl"}
LABELS = {
    "last_value": "naive: last value",
    "linear_trend": "naive: linear trend",
    "constant_hazard": "naive: constant hazard",
    "panel": "panel benchmark",
}
BAND = ("p05", "p25", "p75", "p95")


def panel_rows(rows: pd.DataFrame) -> pd.Series:
    """Which rows the panel benchmark can forecast (all-firm ICT-survey Belgium/Netherlands)."""
    return (
        (rows.survey == "ict_survey")
        & (rows.segment_type == "all")
        & rows.geography.isin(list(PANEL_CODES))
    )


def add_benchmarks(
    rows: pd.DataFrame,
    targets: pd.DataFrame,
    origin: str | None,
    *,
    panel: pd.DataFrame | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """Add the benchmarks' forecasts of each row, from the data up to the origin.

    Args:
        rows: forecast rows (`SERIES` columns and ``date``).
        targets: the targets table the naive benchmarks extrapolate.
        origin: the last month any benchmark may use ("YYYY-MM"); None: one step ahead, each row
            from the waves dated before it (for in-sample reports).
        panel: the panel of the panel benchmark (default: the shipped EU-27 panel).
        seed: seed of the panel benchmark.

    Returns:
        `rows` with columns ``naive_last_value``, ``naive_linear_trend``,
        ``naive_constant_hazard`` and ``panel_mean``, ``panel_p05`` … ``panel_p95`` (NaN where a
        benchmark cannot forecast the row).
    """
    from adoptsim.fit.benchmark import benchmark_forecast

    out = rows.copy()
    origins = (
        pd.Series(origin, index=rows.index)
        if origin is not None
        else rows.date.astype(str).map(lambda d: format_month(parse_month(d) - 1))
    )
    naive = pd.DataFrame(np.nan, index=rows.index, columns=list(NAIVE_METHODS))
    for o, idx in origins.groupby(origins).groups.items():
        naive.loc[idx] = naive_forecasts(targets, rows.loc[idx], str(o)).to_numpy()
    for m in NAIVE_METHODS:
        out[f"naive_{m}"] = naive[m]
    for col in ("mean", *BAND):
        out[f"panel_{col}"] = np.nan
    can = panel_rows(rows)
    for o, idx in origins[can].groupby(origins[can]).groups.items():
        sub = rows.loc[idx]
        if parse_month(str(o)) < parse_month("2021-03"):  # no panel wave to fit
            continue
        if parse_month(str(o)) > parse_month(TARGET_CUTOFF):
            # The panel benchmark fits the 2021-2024 questionnaire only (`check_dates`): from a
            # later origin (waves a user added) its columns stay NaN, like a row it cannot see.
            continue
        fit = benchmark_forecast(str(o), sorted(set(sub.date.astype(str))), panel, seed=seed)
        key = sub.assign(geography=sub.geography.map(PANEL_CODES), date=sub.date.astype(str))
        got = key[[*SERIES, "date"]].merge(
            fit.forecast.assign(segment=fit.forecast.segment.astype(str)),
            on=["survey", "geography", "segment_type", "date"],
            how="left",
            suffixes=("", "_panel"),
        )
        for col in ("mean", *BAND):
            out.loc[idx, f"panel_{col}"] = got[col].to_numpy()
    return out


def skill_table(
    forecast: pd.DataFrame,
    model: str = "sim",
    observed: str = "observed",
) -> pd.DataFrame:
    """The model and each benchmark, scored on the rows that benchmark can forecast.

    Args:
        forecast: a table from `add_benchmarks` with the model's ``{model}_mean`` and band
            columns ``{model}_p05`` … ``{model}_p95`` and the observed value.
        model: prefix of the model's columns.
        observed: column of the observed value.

    Returns:
        One row per (rows, method): ``rows`` names the row set (``all``, or the benchmark whose
        rows they are), then the columns of `adoptsim.fit.scores.score_methods`.
    """
    y = forecast[observed]
    mine = forecast[[f"{model}_{c}" for c in ("mean", *BAND)]]
    mine.columns = ["mean", *BAND]
    parts = [score_methods(y, {"agent model": mine}).assign(rows="all")]
    for name, label in LABELS.items():
        if name == "panel":
            other = forecast[[f"panel_{c}" for c in ("mean", *BAND)]]
            other.columns = ["mean", *BAND]
        else:
            other = pd.DataFrame({"mean": forecast[f"naive_{name}"]})
        if other["mean"].notna().any():
            table = score_methods(y, {"agent model": mine, label: other})
            parts.append(table.assign(rows=f"{label} rows"))
    out = pd.concat(parts, ignore_index=True)
    return out[["rows", *out.columns.drop("rows")]]


def validation_skill(fit: pd.DataFrame, targets: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """`skill_table` for an in-sample `validate` table, benchmarks one step ahead.

    The agent model's bands are in sample (fitted on every row); each benchmark forecasts a row
    from the waves dated before it only, so the comparison flatters the model: it says whether
    the model fits where a simple extrapolation would have been off, not whether it forecasts.

    Args:
        fit: the table of `adoptsim.fit.validation.validate`.
        targets: the targets it was compared with.
        seed: seed of the panel benchmark.
    """
    from adoptsim.fit.targets import ADOPTION_SEGMENTS

    rows = fit[fit.sim_mean.notna() & fit.segment_type.isin(ADOPTION_SEGMENTS)]
    rows = rows.drop(columns=[c for c in ("geography",) if c in rows]).merge(
        targets[["id", "geography"]], on="id", how="left"
    )
    rows = rows.assign(date=rows.date.astype(str))
    return skill_table(add_benchmarks(rows, targets, None, seed=seed))


def skill_lines(skill: pd.DataFrame) -> str:
    """A skill table as text: one line per (rows, method) with MAE, mean error and the bands'."""
    out = []
    for _, r in skill.iterrows():
        band = (
            ""
            if pd.isna(r.coverage_90)
            else f", cover50 {r.coverage_50:.0%}, cover90 {r.coverage_90:.0%}, "
            f"interval score {r.interval_score_90:.3f}"
        )
        out.append(
            f"  {r.rows:28s} {r.method:24s} n {int(r.n):3d}: MAE {100 * r.mae:.1f} pp, "
            f"mean error {100 * r.mean_error:+.1f} pp{band}"
        )
    return "\n".join(out)
