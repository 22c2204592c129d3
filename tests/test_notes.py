"""Cap notes: a raised KMO-portefeuille rate that the cap holds back is reported, with numbers."""

import numpy as np
import pytest

from adoptsim import load_scenario
from adoptsim.cli import main
from adoptsim.notes import cap_notes, mean_cover, project_costs
from adoptsim.priors import PRIORS

COST = "levers.kmo_portefeuille.project_cost_eur"


def _plain_mean_cover(rate, cap, lo, hi, n=2_000_001):
    """The mean of min(rate, cap / cost) over a fine grid of costs on [lo, hi] (midpoint rule)."""
    cost = lo + (np.arange(n) + 0.5) * (hi - lo) / n
    return float(np.minimum(rate, cap / cost).mean())


@pytest.mark.parametrize(
    ("rate", "cap", "lo", "hi"),
    [
        (0.45, 7500, 5000, 40000),  # threshold inside the range
        (0.30, 7500, 5000, 40000),
        (0.90, 7500, 10000, 40000),  # threshold below the range: the cap always binds
        (0.10, 7500, 5000, 40000),  # threshold above the range: it never binds
        (0.45, 7500, 20000, 20000),  # one fixed cost
    ],
)
def test_mean_cover_matches_a_plain_average_over_costs(rate, cap, lo, hi):
    expect = min(rate, cap / lo) if lo == hi else _plain_mean_cover(rate, cap, lo, hi)
    assert mean_cover(rate, cap, lo, hi) == pytest.approx(expect, abs=1e-9)


def test_baseline_replications_draw_the_project_cost_from_its_prior():
    prior = next(p.parameter for p in PRIORS if COST in p.parameter.keys)
    assert project_costs(load_scenario("baseline")) == (prior.lo, prior.hi)
    fixed = load_scenario("baseline").with_overrides({COST: 20000.0})
    assert project_costs(fixed) == (20000.0, 20000.0)  # set on purpose: no draw


def test_subsidy_plus_rates_are_capped_for_part_of_the_drawn_costs():
    base = load_scenario("baseline")
    notes = {n.lever: n for n in cap_notes(load_scenario("subsidy_plus"), base)}
    assert set(notes) == {"rate_small", "rate_medium"}
    n = notes["rate_small"]
    assert n.month == "2027-01" and n.rate == 0.45 and n.reference_rate == pytest.approx(0.30)
    lo, hi = project_costs(base)
    assert n.binding_share == pytest.approx((hi - n.cap_eur / 0.45) / (hi - lo))  # 2/3
    assert n.covered == pytest.approx(_plain_mean_cover(0.45, n.cap_eur, lo, hi), abs=1e-9)
    assert n.reference_covered == pytest.approx(_plain_mean_cover(0.30, n.cap_eur, lo, hi), 1e-9)
    # The cap takes most of the raise: 15 points on paper, under 7 points of cover on average.
    assert n.covered - n.reference_covered < 0.07
    text = n.text()
    assert "cap binds for projects above €16,667: 67%" in text and f"{n.covered:.1%}" in text


def test_a_fixed_cost_gives_the_all_or_nothing_note():
    base = load_scenario("baseline")
    fixed = base.with_overrides({COST: 20000.0, "levers.kmo_portefeuille.rate_small": 0.45})
    (n,) = cap_notes(fixed, base.with_overrides({COST: 20000.0}))
    assert n.covered == pytest.approx(7500 / 20000) and n.binding_share == 1.0
    assert n.reference_covered == pytest.approx(0.30)
    assert "every subsidised project" in n.text()
    under = base.with_overrides({COST: 20000.0, "levers.kmo_portefeuille.rate_small": 0.35})
    assert cap_notes(under, base) == []  # 35 % × 20,000 = 7,000 < 7,500


def test_no_note_when_the_rate_is_not_raised_or_the_cap_never_binds():
    base = load_scenario("baseline")
    assert cap_notes(base, base) == []
    bigger_cap = base.with_overrides(
        {
            "levers.kmo_portefeuille.rate_small": {"2027-01": 0.6},
            "levers.kmo_portefeuille.cap_small_eur": 1e9,
        }
    )
    assert cap_notes(bigger_cap, base) == []


def test_run_prints_the_note(tmp_path, capsys):
    argv = ["run", "subsidy_plus", "--firms", "500", "--replications", "1", "--quiet"]
    assert main([*argv, "--out", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "rate_small raised to 45% from 2027-01" in out and "cap binds" in out
