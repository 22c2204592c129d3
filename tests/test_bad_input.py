"""Bad input stops with exit code 2 and one line naming the field, the value and what is allowed."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

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
        "[regulation.high_risk_profile_annex_iii]\nZ = 0.1\n",
        "regulation.high_risk_profile_annex_iii.Z = 0.1 — unknown key; allowed: C, D",
    ),
    ("[levers.training]\nreach_small = { ramp = 0.3 }\n", "a ramp is written"),
    # Effect sizes, retention and shares outside their documented (evidence) bounds.
    (
        "[levers.coaching]\neffect = 0.5\n",
        "levers.coaching.effect = 0.5 — must be within [0.03, 0.3]",
    ),
    (
        "[levers.training]\neffect = -0.1\n",
        "levers.training.effect = -0.1 — must be within [0, 0.1]",
    ),
    (
        "[levers.projects]\ndeadweight = 0.1\n",
        "levers.projects.deadweight = 0.1 — must be within [0.4, 0.8]",
    ),
    (
        "[levers.benefit]\nbarrier_tilt = 4\n",
        "levers.benefit.barrier_tilt = 4 — must be within [0, 3]",
    ),
    ("[exit]\ninduced_extra = 0.6\n", "exit.induced_extra = 0.6 — must be within [0, 0.3]"),
    ("[exit]\nlight = 0.5\n", "exit.light = 0.5 — must be within [0, 0.1]"),
    (
        "[regulation]\nclarity_share = 0.9\n",
        "regulation.clarity_share = 0.9 — must be within [0.2, 0.4]",
    ),
    (
        "[regulation]\nhigh_risk_share = 0.5\n",
        "regulation.high_risk_share = 0.5 — must be within [0.02, 0.15]",
    ),
    ("[policy]\nx = 1\n", "policy = {'x': 1} — unknown table; allowed: scenario, population"),
    ('extends = "nonexistent"\n', "extends = 'nonexistent' — unknown scenario; built-in:"),
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


# --- paths that ended in a traceback in 0.1.0 (issue 10) -----------------------------------


def _one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("adoptsim: error: "), err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize(
    "make",
    [
        lambda d: (d / "x.toml").write_bytes(bytes(range(256)) * 2),
        lambda d: (d / "x.toml").write_bytes('[scenario]\nname = "caf\xe9"\n'.encode("latin-1")),
        lambda d: (
            (d / "parent.toml").write_bytes(b'[scenario]\nname = "\xff\xfe"\n'),
            (d / "x.toml").write_text('extends = "parent.toml"\n'),
        ),
    ],
    ids=["binary", "latin-1", "binary-parent"],
)
def test_scenario_file_that_is_not_utf8_text(tmp_path, capsys, make):
    make(tmp_path)
    assert main(["run", str(tmp_path / "x.toml"), "--out", str(tmp_path / "o")]) == 2
    assert "not a TOML text file (not UTF-8" in _one_line(capsys)
    assert not (tmp_path / "o").exists()


def test_sweep_spec_that_is_not_utf8_text(tmp_path, capsys):
    spec = tmp_path / "s.toml"
    spec.write_bytes(b'[sweep]\nscenarios = ["\xc0\xc1"]\n')
    assert main(["sweep", str(spec), "--out", str(tmp_path / "o")]) == 2
    assert "not a TOML text file" in _one_line(capsys)


@pytest.mark.parametrize(
    ("kind", "said"),
    [
        (":X", "rule.kind = ':X' — must be a rule name or 'package.module:ClassName'"),
        (".foo:X", "rule.kind = '.foo:X' — must be a rule name or 'package.module:ClassName'"),
        ("adoptsim.rules:AdoptionRule", "is an abstract rule; name a class that implements"),
        ("adoptsim.rules:Nope", "module 'adoptsim.rules' has no 'Nope'"),
        ("adoptsim.months:parse_month", "must name an AdoptionRule subclass"),
        ("no_such_pkg.mod:X", "cannot import it (ModuleNotFoundError"),
    ],
)
def test_rule_kind_paths_are_checked_at_load(tmp_path, capsys, kind, said):
    path = tmp_path / "k.toml"
    path.write_text(f'[rule]\nkind = "{kind}"\n')
    assert main(["run", str(path), "--firms", "500", "--out", str(tmp_path / "o")]) == 2
    assert said in _one_line(capsys)
    assert not (tmp_path / "o").exists()


def test_module_that_fails_on_import_is_one_line(tmp_path, monkeypatch, capsys):
    (tmp_path / "brokenrule_mod.py").write_text("raise RuntimeError('half-written module')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    path = tmp_path / "k.toml"
    path.write_text('[rule]\nkind = "brokenrule_mod:X"\n')
    assert main(["run", str(path), "--firms", "500", "--out", str(tmp_path / "o")]) == 2
    assert "cannot import it (RuntimeError: half-written module)" in _one_line(capsys)


GOOD_RULE = """
from adoptsim.rules import BassRule

RAN = []


class PlainRule(BassRule):
    pass


RAN.append("module code ran")
"""


@pytest.mark.parametrize("how", ["flag", "env"])
def test_imports_from_scenario_files_can_be_refused(tmp_path, monkeypatch, capsys, how):
    module = f"plainrule_{how}"
    (tmp_path / f"{module}.py").write_text(GOOD_RULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    path = tmp_path / "k.toml"
    path.write_text(f'[rule]\nkind = "{module}:PlainRule"\n')
    args = ["run", str(path), "--firms", "500", "--replications", "1"]
    if how == "flag":
        args.append("--no-import")
    else:
        monkeypatch.setenv("ADOPTSIM_TRUSTED_RULES", "0")
    assert main([*args, "--out", str(tmp_path / "o")]) == 2
    err = _one_line(capsys)
    assert f"would import and run module '{module}'" in err and "--no-import" in err
    assert module not in sys.modules  # its code never ran
    assert os.environ.get("ADOPTSIM_TRUSTED_RULES") == (None if how == "flag" else "0")
    monkeypatch.delenv("ADOPTSIM_TRUSTED_RULES", raising=False)
    assert main([*[a for a in args if a != "--no-import"], "--out", str(tmp_path / "o")]) == 0
    assert sys.modules[module].RAN == ["module code ran"]  # trusted (the default): it runs
    monkeypatch.setenv("ADOPTSIM_TRUSTED_RULES", "0")  # an already imported module is allowed
    assert load_scenario(path).data["rule"]["kind"] == f"{module}:PlainRule"


def test_builtin_rule_names_cannot_be_taken_over():
    from adoptsim.rules import RULES, BassRule, register_rule

    class Impostor(BassRule):
        kind = "logit"

    with pytest.raises(ScenarioError, match="is a built-in rule"):
        register_rule(Impostor)
    assert RULES["logit"] is not Impostor
    register_rule(BassRule)  # registering the built-in class itself again is harmless

    class Mine(BassRule):
        kind = "my_test_rule"

    try:
        assert register_rule(Mine) is Mine and RULES["my_test_rule"] is Mine
    finally:
        RULES.pop("my_test_rule", None)


def _not_writable(tmp_path):
    if os.geteuid() == 0:  # root writes through permissions: use a file system that refuses
        return "/proc/adoptsim-out"
    folder = tmp_path / "ro"
    folder.mkdir(mode=0o500)
    return str(folder / "o")


@pytest.mark.parametrize("command", ["run", "compare"])
@pytest.mark.parametrize("where", ["file", "under-file", "not-writable"])
def test_bad_out_is_refused_before_simulating(tmp_path, monkeypatch, capsys, command, where):
    import adoptsim
    import adoptsim.comparison

    def never(*args, **kwargs):
        raise AssertionError("simulated before checking --out")

    monkeypatch.setattr(adoptsim, "simulate", never)
    monkeypatch.setattr(adoptsim.comparison, "compare", never)
    (tmp_path / "afile").write_text("x")
    out = {
        "file": str(tmp_path / "afile"),
        "under-file": str(tmp_path / "afile" / "sub"),
        "not-writable": _not_writable(tmp_path),
    }[where]
    names = ["baseline"] if command == "run" else ["baseline", "no_policy"]
    assert main([command, *names, "--firms", "500", "--out", out]) == 2
    err = _one_line(capsys)
    assert f"--out = {out!r}" in err
    assert (tmp_path / "afile").read_text() == "x"


@pytest.mark.parametrize(
    ("name", "folder"), [("../escaped", "escaped"), ("/tmp/abs", "tmp_abs"), ("a/../../b", "a_b")]
)
def test_default_output_folder_stays_inside_results(tmp_path, monkeypatch, name, folder):
    from adoptsim.paths import default_out

    assert default_out(name) == Path("results") / folder
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    (work / "esc.toml").write_text(f'extends = "baseline"\n[scenario]\nname = "{name}"\n')
    assert main(["run", "esc.toml", "--firms", "500", "--replications", "1", "--quiet"]) == 0
    assert (work / "results" / folder / "adoption.csv").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"]
    assert sorted(p.name for p in work.iterdir()) == ["esc.toml", "results"]


def test_scenario_name_that_looks_like_math_gets_its_figure(tmp_path):
    path = tmp_path / "m.toml"
    path.write_text('extends = "bass_validation"\n[scenario]\nname = "$\\\\frac{$"\n')
    out = tmp_path / "o"
    assert main(["run", str(path), "--firms", "500", "--replications", "1", "--out", str(out)]) == 0
    assert (out / "adoption.csv").is_file() and (out / "adoption.png").stat().st_size > 1000


HEADER = "id,survey,geography,segment_type,segment,date,value,se,n,definition,source,status,note\n"
ROW = "X1,ict_survey,belgium,all,10+,{date},0.1,0.01,,d,s,V,n{extra}\n"


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("", "empty file; a targets CSV has a header line"),
        ("\n\n", "empty file"),
        (HEADER, "has a header but no target rows"),
        (HEADER + ROW.format(date="2023-03", extra=",EXTRA,MORE"), "line 2 has 15 fields"),
        (HEADER + ROW.format(date="2023-03", extra=",EXTRA"), "line 2 has 14 fields"),
        (HEADER.strip() + ",bonus\n" + ROW.format(date="2023-03", extra=",b"), "column 'bonus'"),
        (HEADER + ROW.format(date="1899-03", extra=""), "row X1 (line 2), column date: '1899-03'"),
        (HEADER + ROW.format(date="1900-01", extra=""), "'1900-01' — must be 1900-02 or later"),
    ],
)
def test_bad_targets_csv_is_one_line_naming_the_row(tmp_path, monkeypatch, capsys, text, said):
    import adoptsim.fit.validation

    def never(*args, **kwargs):
        raise AssertionError("simulated before checking the targets")

    monkeypatch.setattr(adoptsim.fit.validation, "simulate", never, raising=False)
    path = tmp_path / "t.csv"
    path.write_text(text)
    out = tmp_path / "v"
    args = ["validate", "--targets", str(path), "--firms", "500", "--replications", "1"]
    assert main([*args, "--out", str(out), "--quiet"]) == 2
    assert said in _one_line(capsys)
    assert not out.exists()


@pytest.mark.parametrize("second", ["2016-04-15", "2016-04-01"])
def test_schedule_with_two_keys_for_one_month_is_refused(tmp_path, capsys, second):
    path = tmp_path / "dup.toml"
    path.write_text(
        'extends = "baseline"\n[levers.kmo_portefeuille]\n'
        f'rate_small = {{ "2016-04" = 0.4, "{second}" = 0.1 }}\n'
    )
    assert main(["run", str(path), "--firms", "500", "--out", str(tmp_path / "o")]) == 2
    err = _one_line(capsys)
    assert f"levers.kmo_portefeuille.rate_small.{second} = 0.1 — names the same month" in err


def test_firm_counts_that_cannot_fit_are_one_line(tmp_path, monkeypatch, capsys):
    import time

    from adoptsim import memory

    out = str(tmp_path / "o")
    t0 = time.monotonic()
    assert main(["run", "baseline", "--firms", str(10**12), "--out", out]) == 2
    err = _one_line(capsys)
    assert "n_firms = 1000000000000 — needs about" in err and "GB available" in err
    assert time.monotonic() - t0 < 20 and not (tmp_path / "o").exists()

    # the schema's own maximum on a machine with 22 GB free: 31.9 GB at mean degree 10
    monkeypatch.setattr(memory, "available_bytes", lambda: 22 * 10**9)
    assert main(["run", "baseline", "--firms", "50000000", "--out", out]) == 2
    err = _one_line(capsys)
    assert "n_firms = 50000000 — needs about 32 GB, 22 GB available; use fewer firms" in err
    assert not (tmp_path / "o").exists()
    assert main(["compare", "baseline", "no_policy", "--firms", "50000000", "--out", out]) == 2
    assert "needs about 32 GB" in _one_line(capsys)

    with pytest.raises(SystemExit):
        main(["run", "baseline", "--firms", "10**12"])
    assert "not a whole number" in capsys.readouterr().err


@pytest.mark.parametrize(
    "command",
    [["calibrate", "--population", "flanders"], ["validate"], ["sensitivity", "baseline"]],
)
def test_other_commands_refuse_firm_counts_that_cannot_fit(tmp_path, capsys, command):
    out = tmp_path / "o"
    assert main([*command, "--firms", str(10**12), "--out", str(out), "--quiet"]) == 2
    assert "n_firms = 1000000000000 — needs about" in _one_line(capsys)
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["calibrate", "--cutoff", "2024-13"], "cutoff = '2024-13' — must be a month"),
        (["calibrate", "--cutoff", "2026-12"], "--cutoff = 2026-12 — must be at most the last"),
        (["backtest", "--origin", "2023-12", "--cutoff", "2023-06"], "at or after --origin"),
        (["validate", "--cutoff", "2027-01"], "add the later waves with --targets FILE"),
    ],
)
def test_bad_cutoff_is_one_line_before_any_work(tmp_path, capsys, args, said):
    assert main([*args, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and said in err
    assert not (tmp_path / "o").exists()
