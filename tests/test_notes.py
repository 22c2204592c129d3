"""Cap notes: a raised KMO-portefeuille rate that the cap holds back is reported, with numbers."""

import pytest

from adoptsim import load_scenario
from adoptsim.cli import main
from adoptsim.notes import cap_notes


def test_subsidy_plus_rate_small_is_capped_from_2027():
    base = load_scenario("baseline")
    notes = cap_notes(load_scenario("subsidy_plus"), base)
    assert [n.lever for n in notes] == ["rate_small"]
    n = notes[0]
    assert n.month == "2027-01" and n.rate == 0.45 and n.reference_rate == pytest.approx(0.30)
    k = base.data["levers"]["kmo_portefeuille"]
    cost, cap = k["project_cost_eur"], n.cap_eur
    assert n.covered == pytest.approx(cap / cost)  # 7,500 / 20,000
    assert "cap binds" in n.text() and f"{cap / cost:.1%}" in n.text()


def test_no_note_when_the_rate_stays_under_the_cap_or_is_not_raised():
    base = load_scenario("baseline")
    assert cap_notes(base, base) == []
    under = base.with_overrides({"levers.kmo_portefeuille.rate_small": {"2027-01": 0.35}})
    assert cap_notes(under, base) == []  # 35 % × 20,000 = 7,000 < 7,500
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
