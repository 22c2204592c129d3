"""Calibration machinery: emulator, MCMC, objective weights, determinism, resume, bad input."""

import json

import numpy as np
import pandas as pd
import pytest

from adoptsim.calibrate import (
    Emulator,
    calibrate,
    metropolis,
    select_targets,
    split_rhat,
    target_weights,
)
from adoptsim.errors import ScenarioError
from adoptsim.observe import load_targets


def test_emulator_reproduces_a_quadratic_surface():
    rng = np.random.default_rng(0)
    lo, hi = np.array([-1.0, 0.0, 2.0]), np.array([1.0, 3.0, 5.0])
    theta = lo + rng.random((80, 3)) * (hi - lo)
    truth = np.column_stack(
        [
            1 + theta[:, 0] - 2 * theta[:, 1] ** 2 + theta[:, 0] * theta[:, 2],
            0.5 * theta[:, 2],
        ]
    )
    emu = Emulator.fit(theta, truth, lo, hi, ridge=1e-9)
    test = lo + rng.random((20, 3)) * (hi - lo)
    expected = np.column_stack(
        [1 + test[:, 0] - 2 * test[:, 1] ** 2 + test[:, 0] * test[:, 2], 0.5 * test[:, 2]]
    )
    np.testing.assert_allclose(emu.predict(test), expected, atol=1e-5)
    assert emu.r2.min() > 0.999999


def test_metropolis_recovers_a_known_gaussian():
    mean, sd = np.array([1.0, -2.0]), np.array([0.5, 2.0])

    def log_post(x):
        return -0.5 * np.sum(((x - mean) / sd) ** 2, axis=1)

    draws, acc = metropolis(
        log_post, np.zeros(2), np.array([1.0, 1.0]), np.random.default_rng(1), steps=20_000
    )
    flat = draws.reshape(-1, 2)
    np.testing.assert_allclose(flat.mean(axis=0), mean, atol=0.1)
    np.testing.assert_allclose(flat.std(axis=0), sd, rtol=0.1)
    assert 0.15 < acc < 0.6
    assert np.all(split_rhat(draws) < 1.05)


def test_split_rhat_flags_chains_that_disagree():
    rng = np.random.default_rng(2)
    good = rng.standard_normal((4, 500, 1))
    bad = good + np.arange(4)[:, None, None]
    assert split_rhat(good)[0] < 1.02 and split_rhat(bad)[0] > 1.5


def test_soft_targets_are_down_weighted_and_unobservable_ones_left_out():
    rows, left = select_targets(load_targets(), "flanders")
    w = dict(zip(rows.id, target_weights(rows), strict=True))
    assert w["BAR23-ALL"] == 1.0 and w["SEED-BAR-KNOW-A"] == 0.25
    assert "BAR21-TECH-TEXT" in set(left.id) and "NL24-ALL" not in set(rows.id)
    nl, _ = select_targets(load_targets(), "netherlands")
    assert dict(zip(nl.id, target_weights(nl), strict=True))["NL19-ALL"] == 0.25
    held, _ = select_targets(load_targets(), "flanders", before="2023-01")
    assert "BAR23-ALL" not in set(held.id) and "BAR22-ALL" in set(held.id)


SMOKE = {
    "budget": 16,
    "n_firms": 1000,
    "replications": 1,
    "workers": 1,
    "mcmc_steps": 1000,
    "n_draws": 50,
    "progress": False,
}


def test_smoke_calibration_is_deterministic_and_resumable(tmp_path):
    a = calibrate("flanders", out=tmp_path / "a", seed=4, **SMOKE)
    b = calibrate("flanders", out=tmp_path / "b", seed=4, **SMOKE)
    posterior = (tmp_path / "a" / "posterior.csv").read_text()
    assert posterior == (tmp_path / "b" / "posterior.csv").read_text()
    assert len(a.draws) == 50 and next(iter(a.draws.columns)) == "alpha"
    report = json.loads((tmp_path / "a" / "fit.json").read_text())
    assert report["evaluations"] >= 16 and "BAR21-TECH-TEXT" in report["left_out"]
    # Interrupt: keep only the first half of the finished evaluations, then rerun.
    evals = (tmp_path / "b" / "evals.jsonl").read_text().splitlines()
    (tmp_path / "b" / "evals.jsonl").write_text("\n".join(evals[: len(evals) // 2]) + '\n{"tr')
    c = calibrate("flanders", out=tmp_path / "b", seed=4, **SMOKE)
    assert (tmp_path / "b" / "posterior.csv").read_text() == posterior
    assert c.point == a.point == b.point
    fit = pd.read_csv(tmp_path / "a" / "fit.csv")
    assert {"id", "value", "sim_at_point", "emulator_r2"} <= set(fit.columns)


def test_calibration_bad_input():
    with pytest.raises(ScenarioError, match="population = 'wallonia'"):
        calibrate("wallonia", out="/tmp/never")
    with pytest.raises(ScenarioError, match="fixed = 'gamma' — must be a parameter name"):
        calibrate("flanders", out="/tmp/never", fixed={"gamma": 1.0})
