"""Bad input stops with exit code 2 and one line naming the field, the value and what is allowed."""

import subprocess
import sys
import textwrap

import pytest

from adoptsim import Scenario, ScenarioError, load_scenario
from adoptsim.cli import main

CASES = [
    # (scenario file text, expected fragment of the one-line message)
    ('[rule]\nkind = "bass"\nq = 1.4\n', "rule.q = 1.4 — must be within [0, 1]"),
    (
        "[population]\ninitial_adopters = 1.2\n",
        "population.initial_adopters = 1.2 — must be within",
    ),
    ("[levers.kmo_portefeuille]\nrate_small = -0.1\n", "levers.kmo_portefeuille.rate_small = -0.1"),
    (
        '[levers.kmo_portefeuille]\nrate_small = { "2020-01" = -0.2 }\n',
        "levers.kmo_portefeuille.rate_small.2020-01 = -0.2 — must be within [0, 1]",
    ),
    (
        "[levers.kmo_portefeuille]\nproject_cost_eur = -5\n",
        "levers.kmo_portefeuille.project_cost_eur = -5 — must be >= 0",
    ),
    ("[network]\nmean_degree = -3\n", "network.mean_degree = -3 — must be within [0, 1000]"),
    ("[network]\ndegree = 3\n", "network.degree = 3 — unknown key; allowed: kind, mean_degree"),
    (
        '[network]\nkind = "smallworld"\n',
        "network.kind = 'smallworld' — must be one of complete, erdos_renyi, sector_region",
    ),
    ('[rule]\nkind = "probit"\n', "rule.kind = 'probit' — must be one of bass, logit"),
    ('[rule]\nkind = "bass"\np = "abc"\n', "rule.p = 'abc' — must be a number"),
    ('[rule]\nkind = "bass"\npp = 0.1\n', "rule.pp = 0.1 — unknown key; allowed: p, q"),
    (
        '[scenario]\nstart = "2024-01"\nend = "2023-01"\n',
        "scenario.end = '2023-01' — must be after scenario.start (2024-01)",
    ),
    ('[scenario]\nstart = "2021-13"\n', "scenario.start = '2021-13' — month must be 01..12"),
    ('[scenario]\nstart = "January 2021"\n', 'must be a month written "YYYY-MM"'),
    (
        '[population]\nname = "wallonia"\n',
        "population.name = 'wallonia' — must be one of flanders, belgium, netherlands",
    ),
    (
        "[regulation.high_risk_share_annex_iii]\nZ = 0.1\n",
        "regulation.high_risk_share_annex_iii.Z = 0.1 — unknown key; allowed: C, D",
    ),
    ("[levers.training]\nreach_small = { ramp = 0.3 }\n", "a ramp is written"),
    ("[policy]\nx = 1\n", "policy = {'x': 1} — unknown table; allowed: scenario, population"),
    ('extends = "nonexistent"\n', "scenario = 'nonexistent' — unknown scenario; built-in:"),
    ("[population]\ninclude_micro = 1\n", "population.include_micro = 1 — must be true or false"),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_cli_reports_one_line_and_exit_2(tmp_path, capsys, text, expected):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    assert main(["run", str(path), "--firms", "500", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("adoptsim: error: ")
    assert expected in err
    assert not (tmp_path / "o").exists()


def test_broken_toml_says_where(tmp_path, capsys):
    path = tmp_path / "broken.toml"
    path.write_text("[rule\nkind = 'bass'\n")
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert "not valid TOML" in err and "line 1" in err and err.count("\n") == 1


def test_unknown_scenario_name_lists_builtins(capsys):
    assert main(["run", "basline"]) == 2
    err = capsys.readouterr().err
    assert "scenario = 'basline' — unknown scenario; built-in: " in err and "baseline" in err


@pytest.mark.parametrize("args", [["--firms", "-5"], ["--replications", "0"], ["--seed", "x"]])
def test_bad_cli_arguments_are_one_line(capsys, args):
    with pytest.raises(SystemExit) as exc:
        main(["run", "baseline", *args])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and args[0] in err


def test_no_traceback_from_the_installed_command(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[rule]\nkind = "bass"\nq = 1.4\n')
    proc = subprocess.run(
        [sys.executable, "-m", "adoptsim.cli", "run", str(path)], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip() == "adoptsim: error: rule.q = 1.4 — must be within [0, 1]"


def test_python_api_raises_scenario_error_with_field():
    with pytest.raises(ScenarioError) as exc:
        load_scenario("baseline").with_overrides({"network.within_share": 1.5})
    assert exc.value.field == "network.within_share"
    with pytest.raises(ScenarioError, match="unknown key"):
        Scenario.from_dict({"levers": {"kmo_portefeuille": {"rate_tiny": 0.1}}})


def test_extends_overrides_single_values(tmp_path):
    path = tmp_path / "variant.toml"
    path.write_text(
        textwrap.dedent("""
        extends = "baseline"
        [scenario]
        name = "variant"
        [rule]
        theta_peer = 3.5
    """)
    )
    sc, base = load_scenario(path), load_scenario("baseline")
    assert sc.data["rule"]["theta_peer"] == 3.5
    assert sc.data["rule"]["alpha"] == base.data["rule"]["alpha"]
    assert sc.data["rule"]["alpha_size"] == base.data["rule"]["alpha_size"]
    assert sc.name == "variant"
