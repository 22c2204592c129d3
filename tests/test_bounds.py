"""Whole-number checks: one implementation in `adoptsim.bounds`, two spellings of its refusal."""

import pytest

from adoptsim import schema as S
from adoptsim.bounds import whole_number
from adoptsim.errors import ScenarioError


def test_counts_from_callers_are_ints_only():
    assert whole_number(5, "replications", 1) == 5
    for bad in (0, 5.0, True, "5"):
        with pytest.raises(ScenarioError, match=r"^replications = .* must be a whole number >= 1"):
            whole_number(bad, "replications", 1)


def test_scenario_fields_accept_integral_floats_and_say_the_range():
    field = S.Field("integer", 5, 1, 10)
    assert S.convert(5.0, field, "population.n") == 5
    assert isinstance(S.convert(5.0, field, "population.n"), int)
    with pytest.raises(ScenarioError, match=r"must be a whole number$"):
        S.convert(5.5, field, "population.n")
    with pytest.raises(ScenarioError, match=r"must be within \[1, 10\]"):
        S.convert(11, field, "population.n")
    with pytest.raises(ScenarioError, match=r"must be a number \(must be within \[1, 10\]\)"):
        S.convert("x", field, "population.n")
