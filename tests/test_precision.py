"""The stratified design over replications and the Monte-Carlo error of medians."""

import numpy as np
import pytest

from adoptsim import precision as P
from adoptsim.posterior import n_draws
from adoptsim.priors import PRIORS


def test_shipped_surrogate_is_current():
    """The shipped proxies belong to the shipped posterior (else every run recomputes them)."""
    import json

    doc = json.loads(P._proxy_path().read_text())
    assert doc["posterior_sha256"] == P._posterior_sha(), (
        "posterior.csv changed: regenerate with `python -m adoptsim.precision`"
    )
    assert doc["scenario_sha256"] == P._scenario_sha(), (
        "the baseline changed: regenerate with `python -m adoptsim.precision`"
    )
    proxy, effects = P.surrogate()
    assert len(proxy) == n_draws("flanders") and np.all((proxy >= 0) & (proxy <= 1))
    assert len(effects) == len(PRIORS) and np.all(np.isfinite(effects))
    # a spot check of the stored proxies against a fresh simulation of two draws
    from adoptsim.posterior import posterior_draw, split_overrides
    from adoptsim.scenario import load_scenario

    sc = load_scenario("baseline")
    for j in (0, len(proxy) - 1):
        layer = split_overrides(posterior_draw("flanders", j)[1])[0]
        assert P._final_use(sc, layer, j) == pytest.approx(proxy[j], abs=1e-8)


def test_few_replications_span_the_posterior():
    """Ten replications take one draw from each tenth of the draws ordered by surrogate value."""
    proxy, _ = P.surrogate()
    for seed in range(5):
        draws, _, value = P.run_design(seed, 10)
        # the surrogate rises with the stratum, and the draws' proxies reach both tails
        assert np.all(np.diff(value) >= 0)
        q = np.searchsorted(np.sort(proxy), proxy[draws]) / len(proxy)
        assert q.min() < 0.25 and q.max() > 0.75, q


def test_every_draw_keeps_its_probability():
    """Over many designs each joint draw is used about equally often (chi-square, p > 1e-4)."""
    from scipy.stats import chisquare

    rng = np.random.default_rng(0)
    draws, u, _ = P._designs(rng, 20, 100)
    counts = np.bincount(draws.ravel(), minlength=n_draws("flanders"))
    assert chisquare(counts).pvalue > 1e-4
    # and each prior's uniforms are uniform on [0, 1) (mean and spread of a uniform)
    assert abs(u.mean() - 0.5) < 0.01 and abs(u.std() - np.sqrt(1 / 12)) < 0.01


def test_design_depends_on_seed_and_count_only():
    a = P.run_design(3, 12)
    P.run_design.cache_clear()
    b = P.run_design(3, 12)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(P.run_design(4, 12)[0], a[0])


def test_mc_error_matches_the_spread_over_designs():
    """For values that follow the surrogate plus noise, the estimated MC error of the median is
    within a factor 1.6 of the spread of the median over independent designs."""
    rng = np.random.default_rng(1)
    sigma = 0.01
    designs = P._designs(rng, 40, 60, effects_only=True)[2]
    spread = np.std(np.median(designs + sigma * rng.standard_normal(designs.shape), axis=1))
    s = P.run_design(7, 40)[2]
    values = s + sigma * np.random.default_rng(2).standard_normal(40)
    se = P.median_mc_error(values, seed=7)
    assert spread / 1.6 < se < spread * 1.6, (se, spread)


def test_mc_error_falls_back_to_a_simple_random_sample():
    """Values the design does not explain: the error of a median of R independent normals."""
    values = np.random.default_rng(3).normal(0.5, 0.1, 40)
    se = P.median_mc_error(values, seed=0)
    assert se == pytest.approx(1.2533 * 0.1 / np.sqrt(40), rel=0.3)
    assert np.isnan(P.median_mc_error([0.1, 0.2], seed=0))


def test_warning_only_above_one_point():
    assert P.precision_warning(0.004, "x") is None
    assert "above 1 pp" in P.precision_warning(0.02, "the 2028-12 median")
    assert P.precision_note(0.0123) == "± 1.2 pp MC s.e."
