"""The EMA Workbench adapter: 8 experiments through perform_experiments, outcomes in [0, 1]."""

import inspect
import warnings

import numpy as np
import pytest

try:
    import ema_workbench
except ImportError as exc:  # a missing extra is a failure, not a skip
    raise ImportError("EMA Workbench missing: pip install -e '.[dev]' (includes [ema])") from exc


def test_model_has_uncertainties_levers_and_outcomes():
    import adoptsim.ema as aema
    from adoptsim import load_scenario
    from adoptsim.posterior import PARAMETERS, posterior_table

    m = aema.model("baseline", n_firms=500, replications=1)
    unc = {u.name for u in m.uncertainties}
    calibrated = {p.name for p in PARAMETERS["flanders"] if not p.keys[0].startswith("observe.")}
    # Parameters the calibration holds fixed (one value in every draw) are constants, not
    # uncertainties, and the model runs them at that value (not the scenario file's fall-back).
    candidates, _ = aema.inputs(load_scenario("baseline"))
    table = posterior_table("flanders")
    fixed = {n for n in calibrated if table[n].min() == table[n].max()}
    assert unc == {p.name for p in candidates}
    assert calibrated - fixed <= unc and not fixed & unc and "subsidy_effect" in unc
    held = aema._held_by_calibration(load_scenario("baseline"), m.uncertainties)
    # the shipped fit holds nothing, so no calibrated parameter is set apart from the draws
    assert not fixed and not held
    # ... and a parameter that is not an uncertainty runs at its posterior median
    only = aema._held_by_calibration(load_scenario("baseline"), [])
    assert only["rule.delta.cost_benefit"] == pytest.approx(table["barrier_penalty"].median())
    assert {lv.name for lv in m.levers} >= {"kmo_rate_small", "training_reach"}
    outs = [o.name for o in m.outcomes]
    assert "uses_ai_2028_12_all" in outs and "uses_ai_2028_12_size_10_19" in outs
    assert "uses_ai_2028_12_sector_J" in outs


def test_eight_experiments_give_shares():
    import adoptsim.ema as aema

    m = aema.model("baseline", n_firms=600, replications=1, dates=("2024-12", "2028-12"))
    # The same eight experiments on every run: EMA 3 takes its sampler's seed, EMA 2's samplers
    # draw from NumPy's global generator (np.random.shuffle, scipy's rvs).
    kwargs = {}
    if (
        "uncertainty_sampling_kwargs"
        in inspect.signature(ema_workbench.perform_experiments).parameters
    ):
        kwargs["uncertainty_sampling_kwargs"] = {"rng": 8}
    np.random.seed(8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        experiments, outcomes = ema_workbench.perform_experiments(m, 8, **kwargs)
    assert len(experiments) == 8
    values = {k: np.asarray(v, dtype=float) for k, v in outcomes.items()}
    for name, v in values.items():
        assert v.shape == (8,), name
        assert np.all((v >= 0) & (v <= 1)), name
    # inputs matter: the eight 2028 shares of all firms are not all the same
    assert np.ptp(values["uses_ai_2028_12_all"]) > 0.01
    # Users can stop (exit hazards up to 10 % a year) and capability can drift down after the
    # data, so one experiment's share may fall from 2024 to 2028; across the eight the use of
    # AI grows, as every band of the shipped model says (2028 median ~35 % vs ~25 % in 2024).
    assert values["uses_ai_2028_12_all"].mean() > values["uses_ai_2024_12_all"].mean()


def test_dated_lever_keeps_history():
    import adoptsim.ema as aema

    m = aema.model("baseline", n_firms=500, replications=1)
    f = m.function
    base = f.scenario.get("levers.kmo_portefeuille.rate_small")
    over = f.overrides({"kmo_rate_small": 0.5})
    sc = f.scenario.with_overrides(over)
    s = sc.get("levers.kmo_portefeuille.rate_small")
    from adoptsim.months import parse_month

    assert s.at(parse_month("2026-12")) == base.at(parse_month("2026-12"))
    assert s.at(parse_month("2027-01")) == 0.5
