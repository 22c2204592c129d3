"""`validate`: the model-only band is what the simulated survey reads; the predictive band adds
model discrepancy and survey noise (numbers checked against a direct computation)."""

import numpy as np
import pandas as pd
import pytest

from adoptsim.fit.recovery import REFERENCE_POINT
from adoptsim.fit.targets import calibration_scenario
from adoptsim.fit.validation import predict_rows, validate, within_tolerance
from adoptsim.months import format_month, parse_month
from adoptsim.observe import Observation, load_targets, observe
from adoptsim.posterior import PARAMETERS, effective_table, overrides_for, split_overrides
from adoptsim.simulation import run_replication

DRAW = dict(REFERENCE_POINT)


def test_model_band_equals_direct_simulation_and_predictive_band_adds_noise():
    t = load_targets()
    rows = t[t.id.isin(["BAR23-ALL", "BE23-ALL", "BE24-ALL"])].reset_index(drop=True)
    draws = pd.DataFrame([DRAW | {"discrepancy": 0.0}, DRAW | {"discrepancy": 0.2}])
    fit = validate(rows, replications=4, n_firms=800, posterior=draws, countries=("flanders",))
    fit = fit.set_index("id").loc[rows.id]
    # Direct: replication r with draw r mod 2, observed through the survey's model.
    eff = effective_table(draws, "flanders")
    base = calibration_scenario("flanders")
    end = format_month(max(rows.date.map(parse_month)))
    direct = np.empty((4, len(rows)))
    for r in range(4):
        sc, ob = split_overrides(overrides_for(PARAMETERS["flanders"], eff.iloc[r % 2].to_numpy()))
        record = run_replication(
            base.with_overrides({"scenario.end": end}).with_draw(sc),
            n_firms=800,
            seed=0,
            replication=r,
            use_posterior=False,
        )
        obs = Observation().with_values(ob)
        direct[r] = [observe(row, record, obs) for _, row in rows.iterrows()]
    np.testing.assert_allclose(fit.model_mean, direct.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(fit.model_p05, np.quantile(direct, 0.05, axis=0), rtol=1e-12)
    # Predictive: mean within Monte-Carlo error of the model mean; band at least the survey's
    # own 90 % band wide, and wider than the model-only band.
    se = rows.se.to_numpy()
    assert np.all(np.abs(fit.sim_mean - fit.model_mean) < 4 * (se + 0.2 * 0.4) / np.sqrt(160))
    width = (fit.sim_p95 - fit.sim_p05).to_numpy()
    assert np.all(width >= 2 * 1.645 * se * 0.9)
    assert np.all(width > (fit.model_p95 - fit.model_p05).to_numpy())
    assert np.all(fit.sim_p05 <= fit.sim_p25) and np.all(fit.sim_p75 <= fit.sim_p95)
    expected = within_tolerance(fit.observed.to_numpy(), fit.sim_mean.to_numpy(), se)
    assert list(fit.within) == list(expected)


def test_within_tolerance_is_max_of_two_se_and_two_points():
    obs = np.array([0.10, 0.10, 0.50, 0.50])
    sim = np.array([0.119, 0.121, 0.55, 0.561])
    se = np.array([0.005, 0.005, 0.03, 0.03])
    assert list(within_tolerance(obs, sim, se)) == [True, False, True, False]


def test_predictive_band_widens_with_the_discrepancy_scale():
    t = load_targets()
    rows = t[t.id.isin(["BE23-ALL"])].reset_index(drop=True)
    narrow = predict_rows(rows, "flanders", pd.DataFrame([DRAW | {"discrepancy": 0.0}]), 2, 800, 0)
    wide = predict_rows(rows, "flanders", pd.DataFrame([DRAW | {"discrepancy": 0.3}]), 2, 800, 0)
    w0 = float(narrow.sim_p95.iloc[0] - narrow.sim_p05.iloc[0])
    w1 = float(wide.sim_p95.iloc[0] - wide.sim_p05.iloc[0])
    p = float(narrow.model_mean.iloc[0])
    expected = 2 * 1.645 * np.sqrt(0.006**2 + 0.09 * p * (1 - p))
    assert w1 > w0 and w1 == pytest.approx(expected, rel=0.25)
