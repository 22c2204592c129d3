"""Levers: schedule values from policy_timeline.csv, and each lever's direction of effect under
common random numbers (same seed ⇒ same firms, network and draws in both runs)."""

import numpy as np
import pytest
from levers_reference import month_signals, project_table

from adoptsim import load_scenario, simulate
from adoptsim.levers import (
    APPLY_ORDER,
    REFERENCE_COVER,
    Levers,
    high_risk_sector_shares,
    monthly_rate,
)
from adoptsim.months import parse_month
from adoptsim.policy import high_risk_dates
from adoptsim.population import build_population
from adoptsim.taxonomy import SECTORS

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


def test_kmo_cover_cap_advice_cut_and_eligibility(baseline):
    firms = build_population("belgium", 3_000, np.random.default_rng(0))
    d = baseline.data
    lev = Levers(d["levers"], d["regulation"], d["shocks"], firms)
    before = lev.kmo_covered(parse_month("2025-06"))
    after = lev.kmo_covered(parse_month("2026-06"))
    # Small firms: 30 % of €20,000 = €6,000 < €7,500 cap, all of the spend in scope.
    assert before[1] == pytest.approx(0.30) and before[2] == pytest.approx(0.20)
    # From 2026-02 advice (half the spend) is no longer covered.
    assert after[1] == pytest.approx(0.15)
    assert before[0] == 0.0 and before[3] == 0.0  # not Flemish / large: not eligible
    # Before the 2019-12 rate cut and 2020-01 cap cut: 40 % of €20,000 = €8,000 < €10,000.
    assert lev.kmo_covered(parse_month("2019-06"))[1] == pytest.approx(0.40)
    capped = baseline.with_overrides({"levers.kmo_portefeuille.project_cost_eur": 100_000})
    lev2 = Levers(capped.data["levers"], d["regulation"], d["shocks"], firms)
    assert lev2.kmo_covered(parse_month("2025-06"))[1] == pytest.approx(7500 / 100_000)
    # Application rate: projects × employer share × AI share over the eligible Flemish SMEs, scaled
    # by (cover now / cover in 2025)^elasticity.
    k = d["levers"]["kmo_portefeuille"]
    p, share = project_table(lev, parse_month("2025-06"))
    per_year = k["projects_per_year"] * k["employer_share"] * k["ai_share"] / lev.eligible_firms
    assert p[1, 0] == pytest.approx(1 - (1 - per_year) ** (1 / 12))
    p_after, _ = project_table(lev, parse_month("2026-06"))
    ratio = 0.5 ** k["take_up_elasticity"]
    assert p_after[1, 0] == pytest.approx(1 - (1 - per_year * ratio) ** (1 / 12))
    assert p[0].sum() == 0.0 and share[1, 0] == pytest.approx(0.30)


def test_project_treats_while_it_runs_with_its_own_start_chance(baseline):
    firms = build_population("flanders", 2_000, np.random.default_rng(0))
    sc = baseline.with_overrides(
        {
            "levers.projects.deadweight": 0.4,
            "levers.projects.months": 6,
            "levers.projects.effect": 0.1,
            # only the portfolio: with u = 0 a firm takes the first instrument in APPLY_ORDER
            "levers.kmo_groeisubsidie.reach": 0.0,
            "levers.ai_support.reach": 0.0,
        }
    )
    d = sc.data
    lev = Levers(d["levers"], d["regulation"], d["shocks"], firms)
    m = parse_month("2021-03")
    started = lev.start_projects(m, np.zeros(firms.n))  # u = 0: every eligible firm applies
    assert started.size == int(np.isin(lev.group, [1, 2]).sum())  # the portfolio's SMEs only
    i = started[lev.group[started] == 1][0]
    assert lev.treatment(m)[i] == 0.0  # applied this month: runs from next month
    assert lev.treatment(m + 1)[i] == pytest.approx(0.30)
    assert lev.treatment(m + 6)[i] == pytest.approx(0.30)  # last project month
    assert lev.treatment(m + 7)[i] == 0.0
    # The lift: the effect × (1 − deadweight) × cover / 30 % (the additional share, expected
    # without draws) as a monthly chance that adds up to it over the project's months (no
    # hazard given: nothing to correct for); nothing after the project.
    expected = monthly_rate(0.1 * 0.6 * 0.30 / REFERENCE_COVER, 6)
    idx, lift = lev.lift(m + 1)
    assert lift[idx == i][0] == pytest.approx(expected)
    assert 1 - (1 - monthly_rate(0.1, 6)) ** 6 == pytest.approx(0.1)
    idx, lift = lev.lift(m + 7)
    assert i not in idx
    # A firm with a running project does not apply again.
    assert lev.start_projects(m + 2, np.zeros(firms.n)).size == 0
    # The portfolio's starts are counted, in real firms.
    assert lev.starts["kmo_portefeuille"][m] == pytest.approx(firms.weight[started].sum())


def test_deadweight_firms_get_no_effect_and_more_cover_is_more_additional(baseline):
    firms = build_population("flanders", 2_000, np.random.default_rng(0))
    d = baseline.with_overrides({"levers.projects.deadweight": 0.6}).data
    u = np.random.default_rng(3).random(firms.n)
    lev = Levers(d["levers"], d["regulation"], d["shocks"], firms, deadweight_u=u)
    m = parse_month("2021-03")
    started = lev.start_projects(m, np.zeros(firms.n))
    idx, lift = lev.lift(m + 1)
    got = dict(zip(idx, lift, strict=True))
    cover = lev.project_cover[started]
    additional = u[started] < 0.4 * cover / REFERENCE_COVER
    effect = np.array([got[i] for i in started])
    np.testing.assert_array_equal(effect > 0, additional)
    got = lev.additionality(np.array([0.2, 0.3, 1.0]))
    np.testing.assert_allclose(got, [0.4 * 2 / 3, 0.4, 1.0])


def test_ai_act_burden_only_for_firms_with_a_high_risk_use(baseline):
    firms = build_population("flanders", 20_000, np.random.default_rng(0))
    d = baseline.data
    u = np.random.default_rng(4).random(firms.n)
    lev = Levers(d["levers"], d["regulation"], d["shocks"], firms, high_risk_u=u)
    late = lev.signals(parse_month("2028-12")).burden
    assert parse_month("2028-12") >= max(high_risk_dates(d["regulation"]))
    share_iii, _ = high_risk_sector_shares(d["regulation"], firms)
    k = firms.sector == SECTORS.index("K")
    # Every firm with a high-risk use carries the full burden; the others none.
    assert set(np.unique(late)) <= {0.0, 1.0}
    got = np.average(late[k] > 0, weights=firms.weight[k])
    assert got == pytest.approx(share_iii[SECTORS.index("K")], abs=0.04)
    assert share_iii[SECTORS.index("K")] > 2 * d["regulation"]["high_risk_share"]
    # Over all firms (each a potential user) the share is the evidence's share of users.
    overall = np.average(late > 0, weights=firms.weight)
    assert overall == pytest.approx(d["regulation"]["high_risk_share"], abs=0.01)
    assert not lev.signals(parse_month("2024-06")).burden.any()


def test_clarity_reaches_only_the_unsure_firms(baseline):
    from adoptsim.model import AdoptionModel

    sc = baseline.with_overrides(
        {"regulation.clarity_full_from": "2025-01", "regulation.clarity_effect": 0.05}
    )
    model = AdoptionModel(sc, n_firms=3_000, seed=2)
    unsure = model.levers.unsure
    share = np.average(unsure, weights=model.firms.weight)
    assert share == pytest.approx(sc.data["regulation"]["clarity_share"], abs=0.03)
    while model.month < parse_month("2025-03"):
        model.step()
    start, _ = model.rule.hazards(model._context())
    lifted, with_clarity, treated = model._lifted(start, model.levers.clarity(model.month))
    c = model.levers.clarity_lift(1.0)
    assert c == pytest.approx(monthly_rate(0.05, 12))
    # Without the treated firms' own chances: clarity's chance for the unsure, nothing else.
    np.testing.assert_array_equal(with_clarity[~unsure], start[~unsure])
    np.testing.assert_allclose(with_clarity[unsure], 1 - (1 - start[unsure]) * (1 - c))
    others = np.setdiff1d(np.arange(model.firms.n), treated)
    np.testing.assert_array_equal(lifted[others], with_clarity[others])
    assert treated.size > 0 and np.all(lifted[treated] >= with_clarity[treated])


def test_genai_capability_curve():
    from adoptsim.policy import genai_capability

    g = {
        "start": "2022-12",
        "jump": 0.3,
        "speed": 0.1,
        "midpoint_months": 18.0,
        "path_from": "2025-01",
        "drift": 0.0,
        "path_speed": 1.0,
    }
    start, frm = parse_month("2022-12"), parse_month("2025-01")
    assert genai_capability(start - 1, g) == 0.0
    assert genai_capability(start, g) == pytest.approx(0.3)
    before = [genai_capability(start + m, g) for m in range(0, frm - start + 1)]
    assert np.all(np.diff(before) > 0)  # the logistic curve rises up to path_from ...
    # ... and stops there without drift: no acceleration after the data by assumption
    after = [genai_capability(frm + m, g) for m in range(0, 60)]
    assert after == pytest.approx([before[-1]] * 60, abs=0)
    assert genai_capability(start + 5, {**g, "jump": 1.0}) == 1.0  # a one-off step
    # Drift changes the path only after path_from, linearly, by `drift` a year; path_speed is
    # its clock; capability never goes below 0.
    up = {**g, "drift": 0.1}
    assert genai_capability(frm - 3, up) == genai_capability(frm - 3, g)
    assert genai_capability(frm + 12, up) == pytest.approx(before[-1] + 0.1, abs=1e-12)
    fast = {**up, "path_speed": 2.0}
    assert genai_capability(frm + 12, fast) == pytest.approx(before[-1] + 0.2, abs=1e-12)
    assert genai_capability(frm + 600, {**g, "drift": -0.5}) == 0.0


def test_ai_act_dates_original_and_omnibus(baseline):
    omnibus = high_risk_dates(baseline.data["regulation"])
    original = high_risk_dates(
        baseline.with_overrides({"regulation.timeline": "original"}).data["regulation"]
    )
    assert omnibus == (parse_month("2027-12"), parse_month("2028-08"))
    assert original == (parse_month("2026-08"), parse_month("2027-08"))


def _compare(baseline, base_run, overrides, *, start, expect="higher", segment=None, common=None):
    """Same seed, so the same firms, network and uniform numbers in both runs (common random
    numbers). Before ``start`` the paths must be identical, month by month and replication by
    replication; after it the lever must move adoption the expected way.

    A lever that subsidises projects earlier can leave a firm's faded effect below the one a
    later project would have had, and any change reshuffles later draws through the peers, so
    single months may move against the lever by noise: the test allows 0.3 pp the wrong way in
    any month and asks the average effect after ``start`` to point the right way. ``common``
    overrides apply to both runs."""
    if common:
        baseline = baseline.with_overrides(common)
        base_run = simulate(baseline, n_firms=N, seed=SEED, replications=REPS).adoption
    other = simulate(
        baseline.with_overrides(overrides), n_firms=N, seed=SEED, replications=REPS
    ).adoption
    a, b = base_run, other
    seg_type, seg = segment or ("all", "all")
    keep = (a.segment_type == seg_type) & (a.segment == seg)
    a, b = a[keep], b[keep]
    before = (a.date < start).to_numpy()
    assert (~before).any()
    for col in ("adopters_share", "at_scale_share"):
        np.testing.assert_array_equal(a[col].to_numpy()[before], b[col].to_numpy()[before])
    sign = 1.0 if expect == "higher" else -1.0
    diff = sign * (b.adopters_share.to_numpy() - a.adopters_share.to_numpy())[~before]
    assert diff.min() >= -0.003
    assert diff.mean() > 0.0005


# Both runs of a subsidy comparison: more AI projects and a stronger additionality effect than
# the baseline's, so that a rule change moves adoption by more than the tolerance of _compare.
SUBSIDY_VISIBLE = {
    "levers.kmo_portefeuille.ai_share": 0.5,
    "levers.projects.effect": 0.15,
    "levers.projects.deadweight": 0.4,
    # take-up responds to the rate (its prior starts at 0, where a rate change does nothing)
    "levers.kmo_portefeuille.take_up_elasticity": 1.5,
}


def test_higher_subsidy_raises_adoption(baseline, base_run):
    _compare(
        baseline,
        base_run,
        {
            "levers.kmo_portefeuille.rate_small": {"2016-04": 0.4, "2019-12": 0.3, "2021-01": 0.6},
            "levers.kmo_portefeuille.rate_medium": {"2016-04": 0.3, "2019-12": 0.2, "2021-01": 0.5},
        },
        start="2021-01",
        common=SUBSIDY_VISIBLE,
    )


def test_keeping_ai_advice_eligible_raises_adoption(baseline, base_run):
    _compare(
        baseline,
        base_run,
        {
            "levers.kmo_portefeuille.advice_eligible": 1.0,
        },
        start="2026-02",
        common=SUBSIDY_VISIBLE,
    )


def test_more_training_raises_adoption(baseline, base_run):
    # Training is a treatment with its own effect size (not a barrier penalty): at the top of
    # its range in both runs.
    _compare(
        baseline,
        base_run,
        {
            "levers.training.reach_micro": {"2019-01": 0.03, "2022-01": 0.3},
            "levers.training.reach_small": {"2019-01": 0.05, "2022-01": 0.4},
        },
        start="2022-01",
        common={"levers.training.effect": 0.1},
    )


def test_literacy_reaching_non_users_raises_adoption(baseline, base_run):
    # Acts from the Art. 4 date (2025-02) on non-users, with the training effect size (at the
    # top of its range in both runs).
    _compare(
        baseline,
        base_run,
        {"levers.literacy.nonuser_reach": 0.5},
        start="2025-02",
        common={"levers.training.effect": 0.1},
    )


def test_more_coaching_raises_adoption(baseline, base_run):
    _compare(
        baseline,
        base_run,
        {"levers.coaching.reach": {"2019-01": 0.01, "2022-01": 0.3}},
        start="2022-01",
    )


def test_original_ai_act_dates_lower_adoption_in_affected_sectors(baseline, base_run):
    # Anticipation starts regulation.anticipation_months before the original Annex III date
    # (2026-08); that prior reaches 18 months, so the paths may part from 2025-02 on.
    _compare(
        baseline,
        base_run,
        {"regulation.timeline": "original"},
        start="2025-02",
        expect="lower",
        segment=("sector", "K"),
        common={"regulation.high_risk_share": 0.15, "rule.theta_burden": 1.5},
    )


def test_later_generative_ai_lowers_adoption(baseline, base_run):
    _compare(baseline, base_run, {"shocks.genai.start": "2026-01"}, start="2022-12", expect="lower")


def test_faster_technology_path_raises_adoption(baseline, base_run):
    # the drift at the top of its prior against the baseline's drawn drifts (all below it),
    # identical before the month the fitted curve stops
    _compare(baseline, base_run, {"shocks.genai.drift": 0.15}, start="2024-04")


def test_stronger_peer_effect_raises_adoption(baseline, base_run):
    # θ_peer is fitted: a replication's draw can exceed 3 (90 % interval 1.1–3.8), so both runs
    # set it, 1 against 3, rather than 3 against whatever each replication drew
    _compare(
        baseline,
        base_run,
        {"rule.theta_peer": 3.0},
        start="2019-01",
        common={"rule.theta_peer": 1.0},
    )


def test_subsidised_projects_raise_starts_while_running_then_stop():
    """One month in which many firms start a subsidised project (AI support reach 90 % a year
    in 2021-03 only), same seed with and without it. The treated firms' excess monthly start
    rate is large while the projects run and gone after they end (catch-up makes it negative:
    firms the projects made start earlier are not there to start later)."""
    from adoptsim.model import AdoptionModel

    base = load_scenario("baseline").with_overrides(
        {
            "levers.projects.deadweight": 0.4,
            "levers.projects.months": 6,
            "levers.projects.effect": 0.15,
        }
    )
    pulse = base.with_overrides(
        {"levers.ai_support.reach": {"2019-03": 0.0035, "2021-03": 0.9, "2021-04": 0.0035}}
    )
    m0 = parse_month("2021-03")
    runs = {}
    for name, sc in (("base", base), ("pulse", pulse)):
        model = AdoptionModel(sc, n_firms=6_000, seed=3)
        starts = []
        while model.month <= m0 + 30:
            before = model.state.copy()
            if model.month == m0 + 1:
                treated = model.levers.project_start == m0 + 1
            model.step()
            starts.append((before == 0) & (model.state > 0))
        runs[name] = (np.array(starts), treated)
    (base_starts, _), (pulse_starts, treated) = runs["base"], runs["pulse"]
    first = m0 - parse_month("2019-01")  # index of month m0 in the lists
    # Zero before the pulse: identical starts in every month up to and including it.
    np.testing.assert_array_equal(base_starts[: first + 1], pulse_starts[: first + 1])
    excess = (pulse_starts[:, treated].sum(1) - base_starts[:, treated].sum(1)).astype(float)
    running = excess[first + 1 : first + 7].mean()
    after = excess[first + 7 + 6 : first + 7 + 24].mean()
    assert treated.sum() > 500
    assert running > 5 and after < 0.1 * running


@pytest.mark.parametrize("name", ["baseline", "combined", "coaching", "ai_act_original"])
@pytest.mark.parametrize("high_risk", [False, True])
def test_month_tables_equal_the_month_by_month_reference(name, high_risk):
    """A run's tables computed at once (arrays over months) against the per-month functions.

    The same formulas in the same order: agreement to 1e-15 relative (at most the last bit of a
    power may differ between NumPy's array and scalar paths), over 1990-2035 so that every
    schedule's steps, ramps, the literacy date and the AI Act ramps are inside, with prior draws.
    """
    from adoptsim.priors import prior_draw

    sc = load_scenario(name).with_draw(prior_draw(11, 3, "policy"))
    d = sc.data
    firms = build_population("belgium", 2_000, np.random.default_rng(1))
    u = np.random.default_rng(2).random(firms.n) if high_risk else None
    lev = Levers(d["levers"], d["regulation"], d["shocks"], firms, high_risk_u=u)
    months = range(parse_month("1990-01"), parse_month("2035-12") + 1)
    w = lev.month_tables(months)
    close = {"rtol": 1e-15, "atol": 0.0}
    for i, month in enumerate(months):
        p, share = project_table(lev, month)
        order = list(APPLY_ORDER)
        np.testing.assert_allclose(w.project_cum[i], np.cumsum(p[:, order], axis=1), **close)
        np.testing.assert_array_equal(w.project_share[i], share[:, order])
        burden, clarity, genai = month_signals(lev, month)
        np.testing.assert_array_equal(w.burden[i], burden)
        assert (w.clarity[i], w.genai[i]) == (clarity, genai)
    assert np.ptp(w.project_total, axis=0).max() > 0  # the dated rule changes are inside


def test_schedule_over_months_equals_at():
    from adoptsim.schedule import parse_schedule

    cases = [
        0.3,
        {"2016-04": 0.40, "2019-12": 0.30},
        {"ramp": {"2025-01": 0.05, "2027-01": 0.60}},
        {"ramp": {"2020-01": 0.5}},
    ]
    months = np.arange(parse_month("2014-01"), parse_month("2030-01"))
    for raw in cases:
        sched = parse_schedule(raw, "x", 0, 1)
        assert sched.over(months).tolist() == [sched.at(int(m)) for m in months]


@pytest.mark.parametrize("kernel", ["0", "1"])
def test_a_run_reads_every_month_from_its_window(monkeypatch, kernel):
    """The run's precomputed tables cover every month it reaches (no one-month tables).

    The reference step asks month by month; the compiled path (adoptsim.block) reads the run's
    months as slices of the same window.
    """
    from adoptsim.model import AdoptionModel

    monkeypatch.setenv("ADOPTSIM_KERNEL", kernel)

    real, seen = Levers._tables_at, []

    def spy(self, month):
        w, i = real(self, month)
        seen.append(w is self._window)
        return w, i

    monkeypatch.setattr(Levers, "_tables_at", spy)
    AdoptionModel("combined", n_firms=500, seed=1).run()
    assert len(seen) > (100 if kernel == "0" else 0) and all(seen)
