"""The scenario library: every file validates and says why; extends; paired comparisons."""

import numpy as np
import pytest

from adoptsim import ScenarioError, builtin_scenarios, load_scenario
from adoptsim.comparison import compare
from adoptsim.reference import reference_markdown

LIBRARY = [
    "baseline",
    "no_policy",
    "subsidy_plus",
    "literacy_push",
    "ai_act_original",
    "ai_act_clarity",
    "coaching",
    "tech_slow",
    "tech_fast",
    "combined",
    "bass_validation",
]


def test_library_is_complete_and_every_scenario_explains_itself():
    assert set(LIBRARY) <= set(builtin_scenarios())
    for name in LIBRARY:
        sc = load_scenario(name)
        assert sc.name == name
        if name != "bass_validation":
            assert len(sc.data["scenario"]["rationale"]) > 40, name


def test_combined_lays_three_scenarios_over_one_baseline():
    combined = load_scenario("combined")
    assert len(combined.layers) == 5  # baseline + three parents + its own table
    for part in ("subsidy_plus", "literacy_push", "coaching"):
        levers = load_scenario(part).raw["levers"]
        for table, values in levers.items():
            for key in values:
                assert combined.raw["levers"][table][key] == levers[table][key]


def test_extends_cycle_is_an_error(tmp_path):
    (tmp_path / "a.toml").write_text('extends = "b.toml"\n')
    (tmp_path / "b.toml").write_text('extends = "a.toml"\n')
    with pytest.raises(ScenarioError, match="cycle"):
        load_scenario(tmp_path / "a.toml")


def test_scenario_reference_doc_is_current():
    with open("docs/scenario_reference.md") as fh:
        assert fh.read().strip() == reference_markdown().strip(), (
            "regenerate: python -m adoptsim.reference > docs/scenario_reference.md"
        )


@pytest.fixture(scope="module")
def comparison():
    return compare(
        ["baseline", "subsidy_plus", "no_policy", "ai_act_original"],
        n_firms=3000,
        seed=2,
        replications=3,
    )


def test_paired_difference_is_exactly_zero_before_a_lever_changes(comparison):
    d = comparison.differences
    before = d[(d.scenario == "subsidy_plus") & (d.date < "2027-01")]
    assert np.all(before.adopters_share == 0) and np.all(before.at_scale_share == 0)
    # The original text's first high-risk deadline is 2026-08; the burden ramps up over
    # anticipation_months before it, a policy prior drawn per replication (6–18 months), so
    # the runs can differ from 2025-02 on.
    orig = d[(d.scenario == "ai_act_original") & (d.date < "2025-02")]
    assert np.all(orig.adopters_share == 0)


def test_policy_effect_signs(comparison):
    # Subsidised projects are transient treatments: a firm treated earlier may have a faded
    # effect when the other run treats it later, and peers pass such differences on, so single
    # months of a paired difference may go the wrong way by noise (tolerance 0.5 pp, all firms);
    # the average effect must have the expected sign.
    d = comparison.differences
    d = d[d.segment_type == "all"]
    none = d[d.scenario == "no_policy"].adopters_share
    assert none.max() <= 0.005 and none.mean() < 0
    plus = d[(d.scenario == "subsidy_plus") & (d.date >= "2027-01")].adopters_share
    assert plus.min() >= -0.005 and plus.mean() > 0
    s = comparison.summary
    row = s[(s.scenario == "no_policy") & (s.year == 2028) & (s.segment_type == "all")].iloc[0]
    assert row.diff_uses_ai_p05 <= row.diff_uses_ai_median <= row.diff_uses_ai_p95 < 0
    assert set(s.year) == {2024, 2025, 2026, 2027, 2028}
