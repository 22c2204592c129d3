"""`adoptsim validate`: simulate with the shipped calibration and compare with every target.

Each target row is observed through its survey's observation model
([`adoptsim.observe`][adoptsim.observe]) in replications that each use their own joint posterior
draw. Two bands are reported per row:

- the **model-only** band (`model_p05`, `model_p95`): what the simulated survey reads, over
  parameter draws and stochastic replications;
- the **predictive** band (`sim_p05`, `sim_p95`, and `sim_p25`, `sim_p75`): the model-only
  value plus the model discrepancy of the same draw (sd φ·sqrt(p(1 − p))) and the survey's own
  sampling noise (its `se`). This is the band an observed value should fall into.

Rows that cannot be observed are kept, with the reason.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from adoptsim import streams
from adoptsim.fit.discrepancy import conditional_discrepancy, series_lags
from adoptsim.fit.targets import (
    ADOPTION_SEGMENTS,
    calibration_scenario,
    select_targets,
    target_weights,
)
from adoptsim.months import format_month, parse_month
from adoptsim.observe import BREAK_2025_PRIOR, Observation, load_targets, observe
from adoptsim.posterior import (
    COUNTRIES,
    PARAMETERS,
    effective_table,
    joint_table,
    overrides_for,
    split_overrides,
)
from adoptsim.simulation import run_replication

FIT_COLUMNS = [
    "id",
    "observed",
    "sim_mean",
    "sim_p05",
    "sim_p25",
    "sim_p75",
    "sim_p95",
    "model_mean",
    "model_p05",
    "model_p95",
    "se",
    "within",
    "survey",
    "segment_type",
    "segment",
    "date",
    "status",
    "reason",
]
NOISE_DRAWS = 40  # discrepancy and survey-noise draws per replication


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
    posterior: pd.DataFrame | None = None,
    countries: tuple[str, ...] = COUNTRIES,
    cutoff: str | None = None,
) -> pd.DataFrame:
    """Predictive and model-only bands for every target row (or the reason it is not observed).

    Args:
        targets: a targets table or CSV path (default: the shipped targets).
        replications: simulations per country; replication r uses joint draw r mod n_draws.
        n_firms: agents per simulation (default: the agent count the shipped posterior was
            fitted with, else the calibration scenarios' own).
        seed: base seed of the simulations and of the noise draws.
        progress: show a progress bar.
        posterior: joint parameter draws (columns as in `calibration/joint/posterior.csv`);
            default: the shipped posterior.
        countries: which countries' rows to simulate.
        cutoff: last month of rows compared (default 2024-12; later to compare waves a user
            added to `targets`, which the shipped posterior has not seen).

    Returns:
        One row per target with the columns of `FIT_COLUMNS`; `within` applies the acceptance
        rule to the predictive mean.
    """
    from adoptsim import arguments, memory

    replications = arguments.whole_number(replications, "replications", 1)
    n_firms = arguments.n_firms(n_firms)
    seed = arguments.seed(seed)
    table = targets if isinstance(targets, pd.DataFrame) else load_targets(targets)
    # per country: the simulated targets and their noise draws, one row per replication
    needed = len(countries) * replications * len(table) * (1 + NOISE_DRAWS) * 8
    memory.check("replications", replications, needed, "use fewer replications")
    draws = joint_table() if posterior is None else posterior
    fitted_with = _fitted_agents() if posterior is None and n_firms is None else {}
    parts = []
    for country in countries:
        rows, left_out = select_targets(table, country, cutoff=cutoff)
        if not rows.empty:
            n = fitted_with.get(country, n_firms)
            parts.append(predict_rows(rows, country, draws, replications, n, seed, progress))
        if not left_out.empty:
            parts.append(left_out)
    fit = pd.concat(parts, ignore_index=True)
    fit["observed"] = fit["value"]
    for col in FIT_COLUMNS:
        if col not in fit:
            fit[col] = np.nan
    fit["within"] = within_tolerance(fit.observed, fit.sim_mean, fit.se) & fit.sim_mean.notna()
    fit["reason"] = fit["reason"].fillna("")
    order = {k: i for i, k in enumerate(table.id)}
    fit = fit.sort_values("id", key=lambda s: s.map(order)).reset_index(drop=True)
    return fit[FIT_COLUMNS]


def _fitted_agents() -> dict[str, int]:
    """Agents per simulation the shipped joint posterior was fitted with (from its fit.json)."""
    from adoptsim.posterior import fit_report

    return {k: int(v) for k, v in fit_report().get("n_firms", {}).items()}


def predict_rows(
    rows: pd.DataFrame,
    country: str,
    draws: pd.DataFrame,
    replications: int,
    n_firms: int | None,
    seed: int,
    progress: bool = False,
    history: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Model-only and predictive summaries of `rows` (all of one country) under joint `draws`.

    Replication r runs with joint draw r mod n_draws (its effective values for `country`) and
    seed `SeedSequence(seed, (r,))`; each replication's survey reading then gets `NOISE_DRAWS`
    draws of model discrepancy and survey sampling noise, and (for waves from 2025) a draw of the
    questionnaire-change multiplier from its prior. The discrepancy is correlated over time
    within a series (`adoptsim.fit.discrepancy`); with `history` (the fitted waves, for a
    forecast) it is drawn given each replication's residuals at the fitted waves of the same
    series, so a series the model missed up to the origin keeps its miss in expectation.
    """
    history = rows.iloc[:0] if history is None else history
    both = pd.concat([history, rows], ignore_index=True)
    n_hist = len(history)
    eff = effective_table(draws, country)
    phi = draws["discrepancy"].to_numpy() if "discrepancy" in draws else np.zeros(len(draws))
    rho = (
        draws["discrepancy_corr"].to_numpy()
        if "discrepancy_corr" in draws
        else np.zeros(len(draws))
    )
    rho = np.nan_to_num(rho, nan=0.0)
    months = both.date.map(parse_month)
    base = calibration_scenario(country)
    scenario = base.with_overrides(
        {
            "scenario.end": format_month(max(base.start + 1, int(months.max()))),
            "scenario.start": format_month(min(base.start, int(months.min()) - 1)),
        }
    )
    barrier_months = {
        int(m)
        for m, t in zip(months, both.segment_type, strict=True)
        if str(t).startswith("barrier")
    }
    rng = streams.stream(seed, streams.VALIDATION_NOISE)
    model = np.empty((replications, len(rows)))
    adoption = both.segment_type.isin(ADOPTION_SEGMENTS).to_numpy()
    se_all = both.se.to_numpy() / np.sqrt(target_weights(both))
    se = se_all[n_hist:]
    hist_y = history.value.to_numpy(float)
    lag_hh, lag_nh, lag_nn = (
        series_lags(history),
        series_lags(rows, history),
        series_lags(rows),
    )
    noisy = np.empty((replications, NOISE_DRAWS, len(rows)))
    reps = range(replications)
    if progress:
        from tqdm.auto import tqdm

        reps = tqdm(reps, desc=f"validate {country}", unit="run")
    for r in reps:
        k = r % len(draws)
        sc_over, obs_over = split_overrides(
            overrides_for(PARAMETERS[country], eff.iloc[k].to_numpy())
        )
        obs_over["observe.ict_break_2025"] = float(rng.uniform(*BREAK_2025_PRIOR))
        record = run_replication(
            scenario.with_draw(sc_over),
            n_firms=n_firms,
            seed=seed,
            replication=r,
            barrier_months=barrier_months,
            use_posterior=False,
        )
        obs = Observation().with_values(obs_over)
        values = np.array([observe(row, record, obs) for _, row in both.iterrows()])
        model[r] = values[n_hist:]
        p = np.clip(values, 1e-4, 1 - 1e-4)
        sd = np.where(adoption, np.sqrt(p * (1 - p)), 0.0)
        mean, cov = conditional_discrepancy(
            hist_y - values[:n_hist],
            sd[:n_hist],
            sd[n_hist:],
            se_all[:n_hist] ** 2,
            lag_hh,
            lag_nh,
            lag_nn,
            float(phi[k]),
            float(rho[k]),
        )
        disc = rng.multivariate_normal(mean, cov, size=NOISE_DRAWS, method="eigh")
        noisy[r] = model[r] + disc + se * rng.standard_normal((NOISE_DRAWS, len(rows)))
    flat = noisy.reshape(-1, len(rows))
    q = np.quantile(flat, [0.05, 0.25, 0.75, 0.95], axis=0)
    return rows.assign(
        sim_mean=flat.mean(axis=0),
        sim_p05=q[0],
        sim_p25=q[1],
        sim_p75=q[2],
        sim_p95=q[3],
        model_mean=model.mean(axis=0),
        model_p05=np.quantile(model, 0.05, axis=0),
        model_p95=np.quantile(model, 0.95, axis=0),
        reason="",
    )


def skill_report(
    fit: pd.DataFrame, targets: pd.DataFrame | str | Path | None, out: Path, seed: int = 0
) -> str:
    """Write `skill.csv` (the model beside each benchmark) into ``out``; return it as text.

    In sample: the model was fitted on every row, the benchmarks forecast each row one step
    ahead (`adoptsim.fit.skill.validation_skill`).

    Args:
        fit: the table of `validate`.
        targets: the targets table or CSV path it was compared with (None: the shipped one).
        out: output folder.
        seed: seed of the panel benchmark.
    """
    from adoptsim.fit.skill import skill_lines, validation_skill

    table = targets if isinstance(targets, pd.DataFrame) else load_targets(targets)
    skill = validation_skill(fit, table, seed=seed)
    from adoptsim.atomic import write_csv

    write_csv(Path(out) / "skill.csv", skill, float_format="%.5g")
    return "in sample (model fitted on every row) vs benchmarks one step ahead:\n" + skill_lines(
        skill
    )
