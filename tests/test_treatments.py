"""Levers as treatments: each lever's 12-month effect on treated firms, measured through the
model's step (treated vs untreated copies, common random numbers), against its effect size;
exit bookkeeping; clarity acting on the unsure firms only; the evidence command."""

import copy

import numpy as np
import pandas as pd
import pytest

from adoptsim import load_scenario, uniforms
from adoptsim.cli import main
from adoptsim.evidence import COLUMNS, _step_to, _treatment_effect, evidence_check
from adoptsim.model import AdoptionModel
from adoptsim.months import parse_month
from adoptsim.policy import evidence_range
from adoptsim.posterior import posterior_draw, split_overrides
from adoptsim.programmes import BENEFIT_BARRIER, tilted
from adoptsim.taxonomy import AT_SCALE, BARRIER_INDEX, NON_USER, USER

N = 4_000


@pytest.fixture(scope="module")
def calibrated():
    """The baseline at posterior draw 0 (fall-back values for the prior-only parameters)."""
    _, draw = posterior_draw("flanders", 0)
    return load_scenario("baseline").with_draw(split_overrides(draw)[0])


# Effect size at the top of its range → the 12-month effect on the treated firms, measured
# before the generative-AI shock (2021-01, when few non-users would have started anyway).
# The measured effect is below the parameter by the treated firms that a lever cannot move
# (those whose own hazard makes them start anyway and the policy-induced users that stop again,
# which `Levers.own_chance` corrects for on average only) and binomial noise (about 300-1,000
# treated firms): tolerance 0.6-1.15 × the top of the evidence range.
TOP = [
    ("kmo_portefeuille", "subsidy_effect_12m", {"levers.projects.effect": 0.15}),
    ("coaching", "coaching_effect_12m", {"levers.coaching.effect": 0.30}),
    ("training", "training_effect_12m", {"levers.training.effect": 0.10}),
]


@pytest.mark.parametrize(("lever", "quantity", "top"), TOP)
def test_effect_at_the_top_of_its_range_is_near_the_top_of_the_evidence(
    calibrated, lever, quantity, top
):
    sc = calibrated.with_overrides({**top, "levers.projects.deadweight": 0.4})
    model = AdoptionModel(sc, n_firms=N, seed=1)
    _step_to(model, parse_month("2021-01"))
    effect, retention = _treatment_effect(model, lever, np.random.default_rng(0))
    high = evidence_range(quantity)[1]
    assert 0.6 * high <= effect <= 1.15 * high, (quantity, effect, high)
    assert 0.3 < retention < 1.0  # the effect fades (catch-up, induced exit) but stays positive


def test_a_lever_at_zero_effect_does_nothing(calibrated):
    # The other programmes off: a firm in a training window is not reached by coaching or
    # information meanwhile, which its untreated copy can be (a real, small difference).
    sc = calibrated.with_overrides(
        {
            "levers.training.effect": 0.0,
            "levers.coaching.reach": 0.0,
            "levers.information.reach": 0.0,
        }
    )
    model = AdoptionModel(sc, n_firms=N, seed=1)
    _step_to(model, parse_month("2021-01"))
    effect, _ = _treatment_effect(model, "training", np.random.default_rng(0))
    assert effect == 0.0


def test_effect_grows_with_its_parameter(calibrated):
    got = []
    for e in (0.03, 0.15, 0.30):
        model = AdoptionModel(
            calibrated.with_overrides({"levers.coaching.effect": e}), n_firms=N, seed=1
        )
        _step_to(model, parse_month("2021-01"))
        got.append(_treatment_effect(model, "coaching", np.random.default_rng(0))[0])
    assert got[0] < got[1] < got[2]
    assert got[0] == pytest.approx(0.03, abs=0.02)


def test_exit_bookkeeping(calibrated):
    """High exit rates: users never negative, shares within [0, 1], the induced flag only on
    light users, firms do stop (and some start again), the record agrees with the state."""
    sc = calibrated.with_overrides(
        {
            "exit.light": 0.1,
            "exit.induced_extra": 0.3,
            "exit.at_scale": 0.1,
            "levers.coaching.reach": 0.3,
            "levers.coaching.effect": 0.3,
        }
    )
    model = AdoptionModel(sc, n_firms=3_000, seed=4)
    w = model.firms.weight
    stopped = fell = restarted = 0
    ever_stopped = np.zeros(model.firms.n, dtype=bool)
    while model.running:
        before = model.state.copy()
        model.step()
        s = model.state
        assert set(np.unique(s)) <= {NON_USER, USER, AT_SCALE}
        assert not model.induced[s != USER].any()
        stop = (before == USER) & (s == NON_USER)
        stopped += stop.sum()
        fell += ((before == AT_SCALE) & (s == USER)).sum()
        restarted += ((before == NON_USER) & (s > NON_USER) & ever_stopped).sum()
        ever_stopped |= stop
        users = model.share()
        assert 0.0 <= model.share(at_scale=True) <= users <= 1.0
        rec = model.recorder
        t = model.t
        assert rec.users[t].sum() == pytest.approx(w[s > NON_USER].sum(), rel=1e-6)
        assert rec.users[t].min() >= 0.0
    assert stopped > 100 and fell > 10 and restarted > 0
    # No exit: no firm ever stops.
    calm = calibrated.with_overrides({"exit.light": 0.0, "exit.at_scale": 0.0})
    calm = calm.with_overrides({"exit.induced_extra": 0.0})
    model = AdoptionModel(calm, n_firms=2_000, seed=4)
    while model.running:
        before = model.state.copy()
        model.step()
        assert np.all(model.state >= before)


def test_an_induced_user_that_would_have_started_anyway_becomes_an_ordinary_user(calibrated):
    """A policy-induced user whose own draw in a later month clears its hazard without the
    levers would be a user by then without them: it loses the induced flag (and with it the
    higher lapse rate), so a stronger lever cannot turn a would-be adopter into a lapser.
    Checked month by month on the reference step's own uniforms."""
    sc = calibrated.with_overrides(
        {"exit.induced_extra": 0.3, "levers.coaching.reach": 0.3, "levers.coaching.effect": 0.3}
    )
    model = AdoptionModel(sc, n_firms=3_000, seed=6)
    words = uniforms.firm_words(model.firms.n)
    cleared = kept = 0
    while model.running:
        base = model.start_hazard()  # what the step sets the draw against, without treatments
        was = model.induced.copy()
        u = uniforms.month_uniforms(model._key, model.t, (uniforms.ROW_STATE,), words)[0]
        model.step()
        still = was & (model.state == USER)
        assert not model.induced[still & (u < base)].any()
        assert model.induced[still & (u >= base)].all()
        cleared += int((still & (u < base)).sum())
        kept += int((still & (u >= base)).sum())
    assert cleared > 10 and kept > 1_000


def test_tilted_keeps_the_mean_effect_and_favours_the_barrier_holders():
    """With the reference share equal to the treated firms' own weighted share of holders, the
    weighted mean effect is the lever's effect size; holders get (1 + tilt)x the others'."""
    rng = np.random.default_rng(3)
    held, w = rng.random(500) < 0.4, rng.uniform(1.0, 30.0, 500)
    share = w[held].sum() / w.sum()
    e = tilted(0.1, held, share, 3.0)
    assert w @ e / w.sum() == pytest.approx(0.1, rel=1e-12)
    np.testing.assert_allclose(e[held], 0.1 * 4.0 / (1.0 + 3.0 * share), rtol=1e-12)
    np.testing.assert_allclose(e[~held], 0.1 / (1.0 + 3.0 * share), rtol=1e-12)
    np.testing.assert_array_equal(tilted(0.1, held, share, 0.0), np.full(500, 0.1))


def test_barriers_set_who_benefits_not_how_much_the_lever_does(calibrated):
    """Coaching at the top of its range, tilt 3: measured through the step as the evidence is
    (treated vs untreated copies, same draws), the coached firms lacking a knowledge partner
    gain clearly more than the others (4× in the parameter, less after the firms that would
    start anyway), and the mean over all coached firms stays near the effect size."""
    from adoptsim.evidence import _eligible, _pick

    sc = calibrated.with_overrides(
        {"levers.coaching.effect": 0.3, "levers.benefit.barrier_tilt": 3.0}
    )
    base = AdoptionModel(sc, n_firms=N, seed=1)
    _step_to(base, parse_month("2021-01"))
    treated = _pick(np.random.default_rng(0), _eligible(base, "coaching"))
    held = base.firms.barriers[treated, BARRIER_INDEX[BENEFIT_BARRIER["coaching"]]]
    month = base.month
    a, b = copy.deepcopy(base), copy.deepcopy(base)
    b.levers.assign_programme("coaching", treated, month, base.start_hazard())
    _step_to(a, month + 13)
    _step_to(b, month + 13)
    gain = (b.state[treated] > NON_USER).astype(float) - (a.state[treated] > NON_USER)
    w = base.firms.weight[treated]
    with_barrier = w[held] @ gain[held] / w[held].sum()
    without = w[~held] @ gain[~held] / w[~held].sum()
    assert held.sum() > 100 and (~held).sum() > 100
    assert with_barrier > 2.0 * without > 0.0, (with_barrier, without)
    assert 0.6 * 0.3 <= w @ gain / w.sum() <= 1.15 * 0.3


def test_clarity_moves_only_the_unsure_firms_in_its_first_month(calibrated):
    """Full clarity from 2027-01 against the baseline's: same seed, so the same draws. In the
    first month with full clarity only unsure non-users start differently (the others' hazards
    do not change until the peers do). The largest clarity effect and 20,000 firms, so that some
    of them do (about ten expected)."""
    clear = calibrated.with_overrides(
        {"regulation.clarity_full_from": "2027-01", "regulation.clarity_effect": 0.05}
    )
    base = calibrated.with_overrides({"regulation.clarity_effect": 0.05})
    a, b = AdoptionModel(base, n_firms=20_000, seed=5), AdoptionModel(clear, n_firms=20_000, seed=5)
    month = parse_month("2027-01")
    _step_to(a, month)
    _step_to(b, month)
    np.testing.assert_array_equal(a.state, b.state)
    a.step()
    b.step()
    differ = a.state != b.state
    assert differ.any() and np.all(b.levers.unsure[differ])
    assert np.all(b.state[differ] > a.state[differ])


def test_evidence_command_writes_the_table_and_the_figure(tmp_path, capsys):
    out = tmp_path / "ev"
    code = main(
        [
            *("evidence", "--firms", "1500", "--replications", "2", "--seed", "1"),
            *("--out", str(out), "--quiet"),
        ]
    )
    assert code == 0
    table = pd.read_csv(out / "evidence.csv")
    assert tuple(table.columns[: len(COLUMNS)]) == COLUMNS
    shipped = pd.read_csv("adoptsim/data/lever_evidence.csv")
    assert list(table.quantity) == list(shipped.quantity)
    assert table.simulated_median.notna().all()
    assert (table.simulated_p05 <= table.simulated_median).all()
    assert (table.simulated_median <= table.simulated_p95).all()
    assert (out / "evidence.png").stat().st_size > 10_000
    assert "quantities inside their evidence range" in capsys.readouterr().out


def test_evidence_check_is_reproducible():
    a = evidence_check(n_firms=800, replications=1, seed=2, progress=False).table
    b = evidence_check(n_firms=800, replications=1, seed=2, progress=False).table
    pd.testing.assert_frame_equal(a, b)


def test_evidence_refuses_a_run_that_ends_before_the_experiments(tmp_path, capsys):
    path = tmp_path / "short.toml"
    path.write_text('extends = "baseline"\n[scenario]\nend = "2025-06"\n')
    assert main(["evidence", str(path), "--firms", "500", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "scenario.end" in err
