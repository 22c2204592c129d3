"""Sensitivity analysis: the SALib plumbing against Ishigami's known indices, then the model
path (sweep-backed, resumable, deterministic), outcomes and bad input."""

import json

import numpy as np
import pandas as pd
import pytest
from png_content import assert_drawn_figure

from adoptsim import load_scenario
from adoptsim.cli import main
from adoptsim.parameters import Parameter
from adoptsim.sensitivity_analysis import Outcome, run_sensitivity, sensitivity

# Ishigami (a = 7, b = 0.1) on [-π, π]³: analytic first-order and total indices.
ISHIGAMI_S1 = np.array([0.3139, 0.4424, 0.0])
ISHIGAMI_ST = np.array([0.5576, 0.4424, 0.2437])


def ishigami(x: np.ndarray) -> np.ndarray:
    return np.sin(x[:, 0]) + 7 * np.sin(x[:, 1]) ** 2 + 0.1 * x[:, 2] ** 4 * np.sin(x[:, 0])


def test_sobol_path_recovers_ishigami_indices_and_dummy_is_zero():
    factors = [Parameter(f"x{i}", (), -np.pi, np.pi) for i in (1, 2, 3)]
    factors.append(Parameter("dummy", (), 0.0, 1.0, role="dummy"))
    result = run_sensitivity(factors, ishigami, samples=1024, seed=3)
    t = result.indices.set_index("parameter")
    np.testing.assert_allclose(t.S1[["x1", "x2", "x3"]], ISHIGAMI_S1, atol=0.05)
    np.testing.assert_allclose(t.ST[["x1", "x2", "x3"]], ISHIGAMI_ST, atol=0.05)
    assert abs(t.ST["dummy"]) < 0.01
    conv = result.convergence
    assert set(conv.N) == {1024, 2048}
    at_n = conv[conv.N == 1024].set_index("parameter").ST
    assert np.all(np.abs(at_n - t.ST) < 0.05)  # converged: N and 2N agree


def test_morris_path_ranks_ishigami_inputs():
    factors = [Parameter(f"x{i}", (), -np.pi, np.pi) for i in (1, 2, 3)]
    factors.append(Parameter("dummy", (), 0.0, 1.0, role="dummy"))
    result = run_sensitivity(factors, ishigami, method="morris", samples=50, seed=1)
    mu = result.indices.set_index("parameter").mu_star
    assert mu["dummy"] == 0 and min(mu["x1"], mu["x2"], mu["x3"]) > 1.0


def test_model_sensitivity_with_dummy_noise_floor_and_rerun(tmp_path):
    kw = {
        "samples": 16,
        # the technology drift after the data moves 2028 most; the peer effect is fitted now
        # (its factor range is the posterior's 90 % interval), so it moves it less
        "params": ["theta_peer", "genai_drift"],
        "dummy": True,
        "n_firms": 2000,
        "replications": 1,
        "workers": 2,
        "out": tmp_path,
        "progress": False,
    }
    first = sensitivity("baseline", **kw)
    t = first.indices.set_index("parameter")
    assert t.ST["genai_drift"] > 0.2
    assert t.ST["dummy"] < 0.05 and t.ST["theta_peer"] > t.ST["dummy"]
    assert list(pd.read_csv(tmp_path / "indices.csv").columns) == [
        "parameter",
        "S1",
        "S1_conf",
        "ST",
        "ST_conf",
        "role",
    ]
    assert not (tmp_path / "indices.png").exists()  # the computation draws nothing
    first.figure(tmp_path / "indices.png")
    assert_drawn_figure(tmp_path / "indices.png", min_width=400, min_height=150)
    design = json.loads((tmp_path / "design.json").read_text())
    assert design["runs"] == len(first.Y) == 2 * 16 * (3 + 2)  # Saltelli, 3 factors with dummy
    assert [f["name"] for f in design["factors"]] == ["theta_peer", "genai_drift", "dummy"]
    again = sensitivity("baseline", **{**kw, "workers": 1})  # resumes: all tasks are done
    pd.testing.assert_frame_equal(first.indices, again.indices)


def test_outcomes_parse_and_measure():
    table = pd.DataFrame(
        {
            "date": ["2020-01", "2020-02", "2020-03", "2020-03"],
            "segment_type": ["all", "all", "all", "size"],
            "segment": ["all", "all", "all", "10-19"],
            "adopters_share": [0.1, 0.3, 0.6, 0.7],
            "at_scale_share": [0.0, 0.1, 0.2, 0.4],
        }
    )
    assert Outcome.parse("share:2020-03").measure(table) == 0.6
    assert Outcome.parse("at_scale:2020-03:size:10-19").measure(table) == 0.4
    assert Outcome.parse("time_to:0.25").measure(table) == 1.0
    assert Outcome.parse("time_to:0.9").measure(table) == 3.0  # censored at the horizon


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--outcome", "share:2031-01"], "outcome = 'share:2031-01' — date must lie within"),
        (["--outcome", "shares:2028-12"], "outcome = 'shares:2028-12' — must be share:YYYY-MM"),
        (["--params", "theta_pear"], "params = 'theta_pear' — must be one of"),
        (["--outcome", "time_to:1.5"], "time_to needs a share in (0, 1)"),
    ],
)
def test_bad_sensitivity_input(tmp_path, capsys, args, message):
    assert main(["sensitivity", "baseline", "--out", str(tmp_path), *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_sensitivity_without_out_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = sensitivity(
        "baseline",
        samples=2,
        params=["theta_peer"],
        n_firms=300,
        replications=1,
        workers=1,
        progress=False,
    )
    assert len(result.Y) == 2 * 2 * (1 + 2)  # Saltelli: 2N base points × (k + 2)
    assert np.isfinite(result.Y).all() and ((result.Y >= 0) & (result.Y <= 1)).all()
    assert list(tmp_path.iterdir()) == []


def test_default_factors_have_a_range_in_every_builtin_scenario():
    """Parameters the calibration holds fixed are constants, not factors (SALib refuses lo = hi)."""
    from adoptsim.scenario import builtin_scenarios, load_scenario
    from adoptsim.sensitivity_analysis import default_factors

    for name in builtin_scenarios():
        factors = default_factors(load_scenario(name), dummy=True)
        assert factors, name
        assert all(f.hi > f.lo for f in factors), [(f.name, f.lo, f.hi) for f in factors]


def test_the_kmo_ai_share_has_one_name_and_one_range():
    """Prior, sensitivity factor and explorer slider of ``levers.kmo_portefeuille.ai_share``."""
    from adoptsim.explorer import SLIDERS
    from adoptsim.policy import LEVER_SPEC
    from adoptsim.priors import PRIORS
    from adoptsim.sensitivity_analysis import default_factors

    key = "levers.kmo_portefeuille.ai_share"
    (prior,) = [p.parameter for p in PRIORS if key in p.parameter.keys]
    assert (prior.name, prior.lo, prior.hi) == ("kmo_ai_share", 0.01, 0.05)
    assert "kmo_ai_projects_per_year" in next(p for p in PRIORS if p.parameter is prior).source
    factors = [f for f in default_factors(load_scenario("baseline")) if key in f.keys]
    assert [(f.name, f.lo, f.hi) for f in factors] == [("kmo_ai_share", 0.01, 0.05)]
    sliders = [s for s in SLIDERS if key in s.keys]
    assert [(s.name, s.lo, s.hi) for s in sliders] == [("kmo_ai_share", 0.01, 0.05)]
    assert "prior 0.01–0.05" in LEVER_SPEC["kmo_portefeuille"]["ai_share"].doc
