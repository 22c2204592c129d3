"""Levers: schedule values from policy_timeline.csv, and each lever's direction of effect under
common random numbers (same seed ⇒ same firms, network and draws in both runs)."""

import numpy as np
import pytest

from adoptsim import load_scenario, simulate
from adoptsim.levers import Levers, high_risk_dates
from adoptsim.months import parse_month
from adoptsim.population import build_population

N, REPS, SEED = 4_000, 2, 7


@pytest.fixture(scope="module")
def baseline():
    return load_scenario("baseline")


@pytest.fixture(scope="module")
def base_run(baseline):
    return simulate(baseline, n_firms=N, seed=SEED, replications=REPS).adoption


def test_kmo_portefeuille_schedule_comes_from_policy_timeline(baseline):
    k = baseline.data["levers"]["kmo_portefeuille"]
    assert k["rate_small"].at(parse_month("2018-06")) == 0.40
    assert k["rate_small"].at(parse_month("2024-06")) == 0.30
    assert k["rate_medium"].at(parse_month("2024-06")) == 0.20
    assert k["cap_small_eur"].at(parse_month("2024-06")) == 7500
    assert k["advice_eligible"].at(parse_month("2026-01")) == 1.0
    assert k["advice_eligible"].at(parse_month("2026-02")) == 0.0


def test_subsidy_signal_cap_advice_cut_and_eligibility(baseline):
    firms = build_population("belgium", 3_000, np.random.default_rng(0))
    d = baseline.data
    lev = Levers(d["levers"], d["regulation"], d["shocks"], firms)
    k = d["levers"]["kmo_portefeuille"]
    before = lev.subsidy_by_group(parse_month("2025-06"))
    after = lev.subsidy_by_group(parse_month("2026-06"))
    extra = before[1] - k["take_up"] * 0.30  # groeisubsidie + AI support part, unchanged
    # Small firms: 30 % of €20,000 = €6,000 < €7,500 cap, all of it covered before the cut.
    assert before[1] == pytest.approx(k["take_up"] * 0.30 + extra)
    # After 2026-02 advice (half the spend) is no longer covered: the KMO part halves.
    assert after[1] == pytest.approx(k["take_up"] * 0.15 + extra)
    assert before[0] == 0.0  # not Flemish → not eligible
    capped = baseline.with_overrides({"levers.kmo_portefeuille.project_cost_eur": 100_000})
    lev2 = Levers(capped.data["levers"], d["regulation"], d["shocks"], firms)
    rate = lev2.subsidy_by_group(parse_month("2025-06"))[1] - extra
    assert rate == pytest.approx(k["take_up"] * 7500 / 100_000)  # cap binds
    sig = lev.signals(parse_month("2025-06"))
    brussels = firms.region >= 5
    assert np.all(sig.subsidy[brussels] == 0) and np.all(sig.subsidy[~brussels] > 0)


def test_ai_act_dates_original_and_omnibus(baseline):
    omnibus = high_risk_dates(baseline.data["regulation"])
    original = high_risk_dates(
        baseline.with_overrides({"regulation.timeline": "original"}).data["regulation"]
    )
    assert omnibus == (parse_month("2027-12"), parse_month("2028-08"))
    assert original == (parse_month("2026-08"), parse_month("2027-08"))


def _compare(baseline, base_run, overrides, *, expect="higher", segment=None):
    other = simulate(
        baseline.with_overrides(overrides), n_firms=N, seed=SEED, replications=REPS
    ).adoption
    a, b = base_run, other
    if segment is not None:
        keep = (a.segment_type == segment[0]) & (a.segment == segment[1])
        a, b = a[keep], b[keep]
    diff = b.adopters_share.to_numpy() - a.adopters_share.to_numpy()
    diff_scale = b.at_scale_share.to_numpy() - a.at_scale_share.to_numpy()
    if expect == "lower":
        diff, diff_scale = -diff, -diff_scale
    # Common random numbers make the effect pathwise: never the wrong way, in any month,
    # replication or segment, and strictly the right way somewhere.
    assert diff.min() >= -1e-12 and diff_scale.min() >= -1e-12
    assert diff.max() > 0.002


def test_higher_subsidy_never_lowers_adoption(baseline, base_run):
    # Raised from 2021: the start state (drawn ∝ each firm's month-0 hazard) stays the same.
    _compare(
        baseline,
        base_run,
        {
            "levers.kmo_portefeuille.rate_small": {"2016-04": 0.4, "2019-12": 0.3, "2021-01": 0.6},
            "levers.kmo_portefeuille.rate_medium": {"2016-04": 0.3, "2019-12": 0.2, "2021-01": 0.5},
        },
    )


def test_keeping_ai_advice_eligible_never_lowers_adoption(baseline, base_run):
    _compare(baseline, base_run, {"levers.kmo_portefeuille.advice_eligible": 1.0})


def test_more_training_never_lowers_adoption(baseline, base_run):
    _compare(
        baseline, base_run, {"levers.training.reach_micro": 0.3, "levers.training.reach_small": 0.4}
    )


def test_more_coaching_never_lowers_adoption(baseline, base_run):
    _compare(baseline, base_run, {"levers.coaching.reach": 0.3})


def test_original_ai_act_dates_never_raise_adoption_in_affected_sectors(baseline, base_run):
    _compare(
        baseline,
        base_run,
        {"regulation.timeline": "original"},
        expect="lower",
        segment=("sector", "K"),
    )


def test_later_generative_ai_never_raises_adoption(baseline, base_run):
    _compare(baseline, base_run, {"shocks.genai.start": "2026-01"}, expect="lower")


def test_stronger_peer_effect_never_lowers_adoption(baseline, base_run):
    _compare(baseline, base_run, {"rule.theta_peer": 3.0})
