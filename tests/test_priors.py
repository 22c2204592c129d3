"""Prior-only parameters: ranges, reproducible draws from the replication's seed, scenario values
win, the switch turns the source off, and paired comparisons stay paired."""

import numpy as np
import pytest

from adoptsim import load_scenario, simulate
from adoptsim.priors import PRIORS, prior_draw
from adoptsim.scenario import SPEC
from adoptsim.simulation import run_replication


def test_every_prior_names_real_scenario_keys_and_a_range():
    for prior in PRIORS:
        p = prior.parameter
        assert p.lo < p.hi, p.name
        assert prior.source and prior.mechanism and prior.unit, p.name
        for key in p.keys:
            node = SPEC if not key.startswith("rule.") else None
            if node is None:
                from adoptsim.rules import LogitRule

                assert key.split(".")[1] in LogitRule.PARAMS, key
                continue
            for part in key.split("."):
                assert part in node, key
                node = node[part]
            # The range lies inside what the schema accepts.
            if node.lo is not None:
                assert p.lo >= node.lo, key
            if node.hi is not None:
                assert p.hi <= node.hi, key


def test_draws_are_reproducible_within_range_and_do_not_depend_on_other_replications():
    a = prior_draw(7, 3)
    assert a == prior_draw(7, 3)
    assert a != prior_draw(7, 4) and a != prior_draw(8, 3)
    values = np.array(
        [[prior_draw(7, r, "all")[p.parameter.keys[0]] for p in PRIORS] for r in range(200)]
    )
    lo = np.array([p.parameter.lo for p in PRIORS])
    hi = np.array([p.parameter.hi for p in PRIORS])
    assert np.all(values >= lo) and np.all(values <= hi)
    # Uniform: the mean of 200 draws is within 4 standard errors of the middle.
    se = (hi - lo) / np.sqrt(12 * 200)
    assert np.all(np.abs(values.mean(axis=0) - (lo + hi) / 2) < 4 * se + 0.5 * (hi - lo) / 200)
    months = [prior_draw(7, r)["levers.projects.months"] for r in range(20)]
    assert all(isinstance(m, int) for m in months)
    # The policy group draws the same values as "all" for its own keys.
    full = prior_draw(7, 3, "all")
    assert all(full[k] == v for k, v in a.items())
    assert "rule.theta_maturity" in full and "rule.theta_maturity" not in a
    # The technology path after the data is not held: drawn by default. The peer effect is
    # fitted (a calibration parameter), so no prior draw sets it.
    assert "shocks.genai.drift" in a and "rule.theta_peer" not in full
    assert prior_draw(7, 3, "none") == {}


@pytest.mark.parametrize("u", [0.0, 1.0])
def test_a_design_at_the_ends_of_every_prior_gives_a_valid_scenario(u):
    """Uniforms of exactly 0 or 1 (a design's corners) stay inside each prior's range: lo + 1 ·
    (hi − lo) can round past hi, which the scenario would refuse."""
    draw = prior_draw(7, 0, "all", np.full(len(PRIORS), u))
    for prior in PRIORS:
        p = prior.parameter
        assert p.lo <= draw[p.keys[0]] <= p.hi, p.name
    load_scenario("baseline").with_draw(draw)  # validates every drawn key


def test_replications_draw_priors_and_the_switch_turns_them_off():
    base = load_scenario("baseline")
    rec = run_replication(base, n_firms=500, seed=5, replication=2, use_posterior=False)
    assert rec.priors == prior_draw(5, 2, "all")  # the baseline draws both groups
    off = run_replication(
        base, n_firms=500, seed=5, replication=2, use_posterior=False, use_priors=False
    )
    assert off.priors == {}
    assert not np.array_equal(rec.users, off.users)  # the draws reach the model


def test_a_scenario_keeps_the_values_it_sets_on_purpose():
    lit = load_scenario("literacy_push")
    drawn = prior_draw(5, 0)
    assert drawn["levers.literacy.nonuser_reach"] != 0.3
    sc = lit.with_draw(drawn)
    assert sc.data["levers"]["literacy"]["nonuser_reach"] == 0.3
    assert sc.data["levers"]["training"]["effect"] == drawn["levers.training.effect"]


def test_paired_differences_stay_zero_before_a_lever_with_priors_drawn():
    kw = {"n_firms": 1500, "seed": 4, "replications": 2, "use_posterior": False}
    a = simulate("baseline", **kw).adoption
    for name, start in (("subsidy_plus", "2027-01"), ("literacy_push", "2025-01")):
        b = simulate(name, **kw).adoption
        before = (a.date < start).to_numpy()
        np.testing.assert_array_equal(
            a.adopters_share.to_numpy()[before], b.adopters_share.to_numpy()[before]
        )


@pytest.mark.parametrize("which", ["policy", "all"])
def test_prior_draws_run(which):
    sc = load_scenario("baseline").with_overrides({"calibration.priors": which})
    res = simulate(sc, n_firms=500, seed=1, replications=2, use_posterior=False)
    assert res.records[0].priors.keys() == prior_draw(1, 0, which).keys()
