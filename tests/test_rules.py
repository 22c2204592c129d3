"""Adoption rules: the interface, Bass clipping, logit monotonicity, user-supplied rules."""

import numpy as np
import pytest

import adoptsim
from adoptsim import AdoptionRule, StepContext, register_rule
from adoptsim import schema as S
from adoptsim.errors import ScenarioError
from adoptsim.population import build_population
from adoptsim.rules import RULES, BassRule, LogitRule, rule_class

N = 1_000


def _ctx(firms, peer=0.0, subsidy=0.0, genai=0.0, burden=0.0):
    n = firms.n
    return StepContext(
        0,
        0,
        firms,
        np.zeros(n, np.int8),
        np.full(n, peer),
        np.full(n, peer),
        np.full(n, subsidy),
        0.0,
        np.full(n, burden),
        genai,
    )


@pytest.fixture(scope="module")
def firms():
    return build_population(
        "flanders", N, np.random.default_rng(0), barrier_prevalence={"knowledge_skills": 0.5}
    )


def test_bass_hazard_is_p_plus_q_peer_clipped(firms):
    rule = BassRule(p=0.3, q=0.9)
    start, _ = rule.hazards(_ctx(firms, peer=0.5))
    np.testing.assert_allclose(start, 0.75)
    start, _ = rule.hazards(_ctx(firms, peer=1.0))
    np.testing.assert_allclose(start, 1.0)  # 0.3 + 0.9 clipped


def test_logit_hazard_rises_with_peers_genai_and_falls_with_barriers(firms):
    rule = LogitRule()
    rule.prepare(firms)
    base, _ = rule.hazards(_ctx(firms))
    for kwargs in ({"peer": 0.5}, {"genai": 1.0}):
        higher, _ = rule.hazards(_ctx(firms, **kwargs))
        assert np.all(higher > base)
    # Levers are not logit terms: a subsidy signal leaves the rule's hazard as it is (the model
    # adds the project's own start chance, tests/test_levers.py).
    same, _ = rule.hazards(_ctx(firms, subsidy=0.3))
    np.testing.assert_array_equal(same, base)
    burdened, _ = rule.hazards(_ctx(firms, burden=1.0))
    assert np.all(burdened < base)
    has_k = firms.barriers[:, 0].copy()
    firms.barriers[:, 0] = False
    without, _ = rule.hazards(_ctx(firms))
    firms.barriers[:, 0] = has_k
    assert np.all(without[has_k] > base[has_k]) and np.all(without[~has_k] == base[~has_k])


@pytest.fixture
def registry():
    """Registrations made by a test end with it: the global registry is restored afterwards."""
    saved = dict(RULES)
    yield RULES
    RULES.clear()
    RULES.update(saved)


class ConstantRule(AdoptionRule):
    """A user's own rule, defined outside the package: a constant monthly hazard."""

    kind = "constant_test_rule"
    PARAMS = {"h": S.share(0.01, "monthly hazard")}

    def hazards(self, ctx):
        n = ctx.firms.n
        return np.full(n, self.h), np.zeros(n)


def test_user_rule_plugs_in_by_registration_and_by_import_path(registry):
    register_rule(ConstantRule)
    sc = adoptsim.Scenario.from_dict(
        {
            "scenario": {"start": "2020-01", "end": "2021-01"},
            "rule": {"kind": "constant_test_rule", "h": 0.05},
        }
    )
    res = adoptsim.simulate(sc, n_firms=20_000, seed=1)
    final = res.adoption.query("segment_type == 'all'").adopters_share.iloc[-1]
    assert final == pytest.approx(1 - 0.95**12, abs=0.01)
    by_path = sc.with_overrides({"rule.kind": f"{__name__}:ConstantRule"})
    assert by_path.data["rule"]["h"] == 0.05
    res2 = adoptsim.simulate(by_path, n_firms=20_000, seed=1)
    assert res2.adoption.adopters_share.equals(res.adoption.adopters_share)
    # A rule object can also be passed directly.
    res3 = adoptsim.simulate(sc, n_firms=20_000, seed=1, rule=ConstantRule(h=0.05))
    assert res3.adoption.adopters_share.equals(res.adoption.adopters_share)


def test_user_rule_params_are_validated(registry):
    register_rule(ConstantRule)
    with pytest.raises(ScenarioError, match=r"rule\.h = 2 — must be within \[0, 1\]"):
        adoptsim.Scenario.from_dict({"rule": {"kind": "constant_test_rule", "h": 2}})


def test_registrations_do_not_outlive_their_test():
    # Runs after the tests above in file order; their fixture removed what they registered.
    assert "constant_test_rule" not in RULES
    assert {"bass", "logit"} <= set(RULES)


def test_unknown_rule_kind_lists_the_allowed_ones():
    with pytest.raises(ScenarioError, match=r"rule\.kind = 'probit' — must be one of bass, logit"):
        rule_class("probit")
