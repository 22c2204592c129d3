"""``adoptsim validate``: simulate with the shipped calibration and compare with every target.

Each target row is observed through its survey's observation model
([`adoptsim.observe`][adoptsim.observe]) in replications that each use their own posterior draw, so
the simulated band (5–95 %) carries parameter and stochastic uncertainty. Rows that cannot be
observed are kept, with the reason.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from adoptsim.calibrate import calibration_scenario, select_targets
from adoptsim.months import format_month, parse_month
from adoptsim.observe import Observation, load_targets, observe
from adoptsim.posterior import (
    GEOGRAPHIES,
    PARAMETERS,
    overrides_for,
    posterior_table,
    split_overrides,
)
from adoptsim.simulation import run_replication

FIT_COLUMNS = [
    "id",
    "observed",
    "sim_mean",
    "sim_p05",
    "sim_p95",
    "se",
    "within",
    "survey",
    "segment_type",
    "segment",
    "date",
    "status",
    "reason",
]


def within_tolerance(observed: np.ndarray, sim: np.ndarray, se: np.ndarray) -> np.ndarray:
    """The acceptance rule of the fit: |observed − simulated mean| <= max(2 se, 0.02)."""
    return np.abs(observed - sim) <= np.maximum(2 * se, 0.02)


def validate(
    targets: pd.DataFrame | str | Path | None = None,
    *,
    replications: int = 10,
    n_firms: int | None = None,
    seed: int = 0,
    progress: bool = False,
    posteriors: dict[str, pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """Simulated mean and 5–95 % band for every target row (or the reason it is not observed).

    Args:
        posteriors: parameter draws per population (columns as in ``posterior.csv``); default:
            the shipped ones. Populations without draws are skipped.
    """
    table = targets if isinstance(targets, pd.DataFrame) else load_targets(targets)
    parts = []
    for population in GEOGRAPHIES:
        rows, left_out = select_targets(table, population)
        if posteriors is not None and population not in posteriors:
            continue
        draws = None if posteriors is None else posteriors[population]
        if not rows.empty:
            parts.append(
                _simulate_rows(rows, population, replications, n_firms, seed, progress, draws)
            )
        if not left_out.empty:
            parts.append(left_out.assign(observed=left_out.value))
    fit = pd.concat(parts, ignore_index=True)
    fit["observed"] = fit["value"]
    for col in ("sim_mean", "sim_p05", "sim_p95"):
        if col not in fit:
            fit[col] = np.nan
    fit["within"] = within_tolerance(fit.observed, fit.sim_mean, fit.se) & fit.sim_mean.notna()
    fit["reason"] = fit["reason"].fillna("")
    order = {k: i for i, k in enumerate(table.id)}
    fit = fit.sort_values("id", key=lambda s: s.map(order)).reset_index(drop=True)
    return fit[FIT_COLUMNS]


def _simulate_rows(
    rows: pd.DataFrame,
    population: str,
    replications: int,
    n_firms: int | None,
    seed: int,
    progress: bool,
    draws: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Observe ``rows`` in ``replications`` runs; run r uses posterior draw r mod n_draws."""
    draws = posterior_table(population) if draws is None else draws
    months = rows.date.map(parse_month)
    base = calibration_scenario(population)
    scenario = base.with_overrides(
        {
            "scenario.end": format_month(max(base.end, int(months.max()))),
            "scenario.start": format_month(min(base.start, int(months.min()) - 1)),
        }
    )
    barrier_months = {
        int(m)
        for m, t in zip(months, rows.segment_type, strict=True)
        if str(t).startswith("barrier")
    }
    sims = np.empty((replications, len(rows)))
    reps = range(replications)
    if progress:
        from tqdm.auto import tqdm

        reps = tqdm(reps, desc=f"validate {population}", unit="run")
    for r in reps:
        theta = draws.iloc[r % len(draws)].to_numpy()
        sc_over, obs_over = split_overrides(overrides_for(PARAMETERS[population], theta))
        record = run_replication(
            scenario.with_draw(sc_over),
            n_firms=n_firms,
            seed=seed,
            replication=r,
            barrier_months=barrier_months,
            use_posterior=False,
        )
        obs = Observation().with_values(obs_over)
        sims[r] = [observe(row, record, obs) for _, row in rows.iterrows()]
    return rows.assign(
        sim_mean=sims.mean(axis=0),
        sim_p05=np.quantile(sims, 0.05, axis=0),
        sim_p95=np.quantile(sims, 0.95, axis=0),
        reason="",
    )
