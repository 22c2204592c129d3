"""Run folders carry their provenance and reproduce themselves; results as xarray."""

import json
import tomllib

import numpy as np
import pandas as pd
import pytest

import adoptsim
from adoptsim.cli import main
from adoptsim.precision import run_design


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "a"
    argv = ["run", "subsidy_plus", "--firms", "1500", "--replications", "2", "--seed", "4"]
    assert main([*argv, "--out", str(out), "--quiet"]) == 0
    return out


def test_run_folder_has_resolved_scenario_and_run_json(run_dir):
    text = (run_dir / "scenario.toml").read_text("utf-8")
    assert not any(line.startswith("extends") for line in text.splitlines())
    resolved = tomllib.loads(text)
    assert resolved["scenario"]["name"] == "subsidy_plus"
    assert resolved["levers"]["kmo_portefeuille"]["rate_small"]["2027-01"] == 0.45
    info = json.loads((run_dir / "run.json").read_text("utf-8"))
    assert info["seed"] == 4 and info["n_firms"] == 1500 and info["replications"] == 2
    # the draws of the run's stratified design (adoptsim.precision.run_design), one per stratum
    assert info["posterior"] == "flanders"
    assert info["posterior_draws"] == [int(d) for d in run_design(4, 2)[0]]
    assert info["adoptsim"] == adoptsim.__version__
    assert {"numpy", "pandas", "mesa", "python"} <= set(info["versions"])
    assert info["command"][1:3] == ["run", "subsidy_plus"]
    assert info["wall_time_s"] > 0
    assert len(info["parameters"]) == 2 and "rule.alpha" in info["parameters"][0]
    assert info["parameters"][0]["rule.alpha"] != info["parameters"][1]["rule.alpha"]


def test_rerun_from_saved_scenario_is_byte_identical(run_dir, tmp_path):
    argv = ["run", str(run_dir / "scenario.toml"), "--firms", "1500", "--replications", "2"]
    assert main([*argv, "--seed", "4", "--out", str(tmp_path / "b"), "--quiet"]) == 0
    assert (tmp_path / "b" / "adoption.csv").read_bytes() == (run_dir / "adoption.csv").read_bytes()


def test_resolved_scenario_keeps_a_childs_deliberate_calibrated_value(tmp_path):
    path = tmp_path / "fixed_alpha.toml"
    path.write_text('extends = "baseline"\n[rule]\nalpha = -7.5\n', encoding="utf-8")
    sc = adoptsim.load_scenario(path)
    assert sc.resolved()["calibration"]["keep"] == ["rule.alpha"]
    res = adoptsim.simulate(sc, n_firms=500, replications=2, seed=1)
    res.save(tmp_path / "r")
    again = adoptsim.simulate(tmp_path / "r" / "scenario.toml", n_firms=500, replications=2, seed=1)
    pd.testing.assert_frame_equal(res.adoption, again.adoption)
    assert "rule.alpha" not in res.parameters[0]  # the draw did not touch it


def test_load_run_returns_the_result(run_dir):
    res = adoptsim.load_run(run_dir)
    assert res.scenario == "subsidy_plus" and res.seed == 4 and res.n_firms == 1500
    direct = adoptsim.simulate("subsidy_plus", n_firms=1500, replications=2, seed=4)
    # exact round trip: the CSV holds every digit of the run's shares
    for column in ("adopters_share", "at_scale_share"):
        assert np.array_equal(res.adoption[column].to_numpy(), direct.adoption[column].to_numpy())
    assert list(res.adoption.date[:2]) == ["2019-01", "2019-02"]
    assert res.parameters == json.loads(json.dumps(direct.parameters))


def test_load_run_refuses_a_folder_without_results(tmp_path):
    with pytest.raises(adoptsim.AdoptsimError, match=r"adoption\.csv"):
        adoptsim.load_run(tmp_path)


def test_xarray_and_datetimes():
    res = adoptsim.simulate("baseline", n_firms=500, replications=2, seed=3)
    ds = res.to_xarray()
    assert ds.adopters_share.dims == ("replication", "date", "segment")
    assert np.issubdtype(ds.date.dtype, np.datetime64)
    assert ds.sizes["replication"] == 2 and ds.sizes["date"] == 120
    value = float(ds.adopters_share.sel(replication=1, date="2024-12-01", segment="size:10-19"))
    row = res.adoption.query(
        "replication == 1 and date == '2024-12' and segment_type == 'size' and segment == '10-19'"
    )
    assert value == pytest.approx(float(row.adopters_share.iloc[0]))
    assert list(ds.draw.values) == [int(d) for d in run_design(3, 2)[0]]
    assert np.issubdtype(res.tidy().date.dtype, np.datetime64)


def test_version_scenarios_and_sweep_by_name(capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"adoptsim {adoptsim.__version__}"
    assert main(["scenarios"]) == 0
    lines = capsys.readouterr().out.splitlines()
    for name in adoptsim.builtin_scenarios():
        assert any(line.startswith(name + " ") for line in lines), name
    from adoptsim.cli.sweep import _sweep_path

    assert _sweep_path("peer_grid").endswith("peer_grid.toml")
    assert main(["sweep", "no_such_sweep", "--out", str(tmp_path / "s")]) == 2
    assert "peer_grid" in capsys.readouterr().err
