"""Generated documentation is current: each generated page equals its generator's output."""

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _generator():
    spec = importlib.util.spec_from_file_location("gen_parameters", ROOT / "docs/gen_parameters.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_parameters_doc_is_current():
    expected = _generator().parameters_markdown()
    actual = (ROOT / "docs/parameters.md").read_text(encoding="utf-8")
    assert actual == expected, "regenerate: python docs/gen_parameters.py > docs/parameters.md"


def test_parameters_doc_lists_every_calibrated_key():
    from adoptsim.posterior import PARAMETERS

    text = (ROOT / "docs/parameters.md").read_text(encoding="utf-8")
    for p in PARAMETERS["flanders"]:
        for key in p.keys:
            assert f"`{key}`" in text, key


def test_held_calibration_parameters_are_not_called_calibrated():
    """A parameter the shipped fit holds constant is marked held on both pages, never given a
    degenerate 'calibrated' interval that reads as a precise estimate (the shipped fit holds
    none: then no row may say held, and every calibrated key says calibrated)."""
    from adoptsim.posterior import PARAMETERS

    held = json.loads((ROOT / "calibration/joint/fit.json").read_text())["fixed"]
    rows = (ROOT / "docs/parameters.md").read_text(encoding="utf-8").splitlines()
    evidence = (ROOT / "docs/evidence.md").read_text(encoding="utf-8").splitlines()
    for p in PARAMETERS["flanders"]:
        for key in p.keys:
            (row,) = [r for r in rows if r.startswith(f"| `{key}` |")]
            assert ("(held)" in row) == (p.name in held), row
            assert ("calibrated (" in row) == (p.name not in held), row
        (ev,) = [r for r in evidence if r.startswith(f"| {p.name} |")]
        assert ("*held* at" in ev) == (p.name in held), ev


def _load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / f"docs/{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_evidence_doc_is_current():
    expected = _load("gen_evidence").evidence_markdown()
    actual = (ROOT / "docs/evidence.md").read_text(encoding="utf-8")
    assert actual == expected, "regenerate: python docs/gen_evidence.py > docs/evidence.md"


def test_evidence_doc_covers_every_lever_and_behavioural_parameter():
    """Every lever and regulation key appears; each is a prior with a range, a calibrated
    parameter, or a policy setting with a source; every logit effect size is listed."""
    from adoptsim.policy import LEVER_SPEC, REGULATION_SPEC, SHOCK_SPEC
    from adoptsim.posterior import PARAMETERS
    from adoptsim.priors import PRIORS

    gen = _load("gen_evidence")
    text = (ROOT / "docs/evidence.md").read_text(encoding="utf-8")
    for name, _field in [
        *gen._leaves(LEVER_SPEC, "levers"),
        *gen._leaves(REGULATION_SPEC, "regulation"),
        *gen._leaves(SHOCK_SPEC, "shocks"),
    ]:
        assert f"`{name}`" in text, name
    prior_keys = {k for p in PRIORS for k in p.parameter.keys}
    calibrated = {k for ps in PARAMETERS.values() for p in ps for k in p.keys}
    # Effect sizes of the logit rule: prior or calibrated, never a bare point value.
    for key in (
        "theta_peer",
        "theta_genai",
        "theta_burden",
        "theta_maturity",
        "scale_theta_peer",
        "scale_theta_genai",
    ):
        assert f"rule.{key}" in prior_keys | calibrated, key
    # Lever effect sizes (in the evidence's units), deadweight, windows, legal clarity, the
    # high-risk share and the exit hazards all have ranges.
    for key in (
        "levers.projects.effect",
        "levers.projects.deadweight",
        "levers.projects.months",
        "levers.training.effect",
        "levers.training.effect_months",
        "levers.coaching.effect",
        "levers.coaching.effect_months",
        "levers.information.effect",
        "levers.information.reach",
        "levers.kmo_portefeuille.ai_share",
        "levers.kmo_portefeuille.employer_share",
        "levers.peer_learning.knowledge_skills",
        "levers.peer_learning.hard_to_assess",
        "levers.peer_learning.cost_benefit",
        "regulation.clarity_effect",
        "regulation.clarity_share",
        "regulation.clarity_level",
        "regulation.high_risk_share",
        "exit.light",
        "exit.induced_extra",
        "exit.at_scale",
    ):
        assert key in prior_keys, key


def test_evidence_table_is_the_shared_one_with_sources_intact():
    """The shipped table keeps every shared row as it is; added rows say judgement or a source."""
    import pandas as pd

    shipped = pd.read_csv(ROOT / "adoptsim/data/lever_evidence.csv")
    shared = [  # the eleven rows of shared/data/lever_evidence.csv, first and in order
        "kmo_ai_projects_per_year",
        "subsidy_effect_12m",
        "subsidy_retention_24m",
        "coaching_effect_12m",
        "training_effect_12m",
        "information_effect_12m",
        "peer_slope_12m",
        "high_risk_share_of_users",
        "clarity_target_share",
        "genai_hazard_multiplier",
        "intensive_share_2025",
    ]
    assert shipped.quantity.tolist()[: len(shared)] == shared
    added = shipped.iloc[len(shared) :]
    assert set(added.confidence) == {"judgement"}  # added rows are labelled as such
    assert shipped.quantity.is_unique
    assert (shipped.low <= shipped.central).all() and (shipped.central <= shipped.high).all()
    assert shipped.sources.str.len().min() > 40


def test_evidence_run_is_of_the_current_baseline_and_table():
    from adoptsim.data import read_table
    from adoptsim.scenario import load_scenario
    from adoptsim.sweeps.spec import scenario_hash

    gen = _load("gen_evidence")
    run = json.loads((gen.DATA / "run.json").read_text())
    sim = __import__("pandas").read_csv(gen.DATA / "evidence.csv")
    assert run["evidence_table"] == read_table("lever_evidence").quantity.tolist()
    assert sim.quantity.tolist() == run["evidence_table"]
    assert run["scenario_hash"] == scenario_hash(load_scenario(run["scenario"])), (
        "the baseline changed: rerun python docs/gen_evidence.py --run"
    )


@pytest.mark.slow
def test_uncertainty_doc_is_current():
    expected = _load("gen_uncertainty").uncertainty_markdown()
    actual = (ROOT / "docs/uncertainty.md").read_text(encoding="utf-8")
    assert actual == expected, "regenerate: python docs/gen_uncertainty.py > docs/uncertainty.md"


@pytest.mark.slow
def test_ema_doc_is_current():
    # 64 experiments at 2,000 agents (about 15 s) on a design drawn from a fixed seed, so the page
    # is the same on EMA 2.5 (Python 3.11) and 3.x (3.12+).
    expected = _load("gen_ema").ema_markdown()
    actual = (ROOT / "docs/ema.md").read_text(encoding="utf-8")
    assert actual == expected, "regenerate: python docs/gen_ema.py > docs/ema.md"


def test_sensitivity_doc_is_current():
    """The page is written from the kept analysis, and that analysis is of today's baseline."""
    from adoptsim.scenario import load_scenario
    from adoptsim.sensitivity_analysis import default_factors
    from adoptsim.sweeps.spec import scenario_hash

    gen = _load("gen_sensitivity")
    actual = (ROOT / "docs/sensitivity.md").read_text(encoding="utf-8")
    assert actual == gen.markdown(), "regenerate: python docs/gen_sensitivity.py --docs-only"
    design = json.loads((gen.DATA / "design.json").read_text())
    run = json.loads((gen.DATA / "run.json").read_text())
    sc = load_scenario(gen.SCENARIO)
    want = [(f.name, f.lo, f.hi, f.role) for f in default_factors(sc, True)]
    got = [(f["name"], f["lo"], f["hi"], f["role"]) for f in design["factors"]]
    assert got == want, "the factors changed: rerun python docs/gen_sensitivity.py"
    assert run["scenario_hash"] == scenario_hash(sc), "the baseline changed: rerun the analysis"
    assert run["runs"] == 2 * design["samples"] * (len(want) + 2)


def test_scenarios_doc_is_of_the_current_scenarios_and_posterior():
    """docs/scenarios.md is written by scenarios/report.py from one run; the run's record must
    match today's scenario files and shipped posterior (else: rerun the report)."""
    spec = importlib.util.spec_from_file_location("scenario_report", ROOT / "scenarios/report.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    kept = json.loads((ROOT / "docs/data/scenarios/run.json").read_text())
    now = module.run_record()
    assert kept["scenario_hash"] == now["scenario_hash"], (
        "a scenario changed: rerun python scenarios/report.py"
    )
    assert kept["posterior_sha256"] == now["posterior_sha256"], (
        "the posterior changed: rerun python scenarios/report.py"
    )
    page = (ROOT / "docs/scenarios.md").read_text(encoding="utf-8")
    assert f"{kept['replications']} paired replications of {kept['firms']:,} agents" in page
