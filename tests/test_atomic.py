"""Outputs written atomically and verified, resources bounded up front, one-line errors (issue 23).

A full disk is simulated by making the writer's ``fsync`` fail with ENOSPC (what a full file
system reports on the write or the flush): the writer must end in one line naming the path and
leave the earlier file exactly as it was, with no temporary file behind.
"""

import errno
import json
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import adoptsim
from adoptsim import atomic
from adoptsim.cli import main
from adoptsim.errors import AdoptsimError

RUN = ["run", "bass_validation", "--firms", "500", "--quiet"]


def _one_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _disk_full(monkeypatch):
    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(atomic.os, "fsync", full)


def _hashes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# --- the writer -------------------------------------------------------------------------------
def test_a_symlink_at_the_destination_is_replaced_not_followed(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("victim")
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "run.json").symlink_to(victim)
    atomic.write_text(tmp_path / "o" / "run.json", "new")
    assert victim.read_text() == "victim"
    assert not (tmp_path / "o" / "run.json").is_symlink()
    assert (tmp_path / "o" / "run.json").read_text() == "new"


def test_a_full_disk_leaves_the_earlier_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "table.csv"
    path.write_text("old\n")
    _disk_full(monkeypatch)
    with pytest.raises(atomic.OutputError) as info:
        atomic.write_text(path, "new\n" * 1000)
    assert str(path) in str(info.value) and "No space left" in str(info.value)
    assert "\n" not in str(info.value)
    assert path.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.csv"]


def test_a_folder_where_a_file_goes_is_one_line(tmp_path):
    (tmp_path / "adoption.csv").mkdir()
    with pytest.raises(atomic.OutputError, match=re.escape("adoption.csv: is a folder")):
        atomic.write_text(tmp_path / "adoption.csv", "x")


def test_written_files_get_the_usual_mode(tmp_path):
    atomic.write_text(tmp_path / "f", "x")
    assert (tmp_path / "f").stat().st_mode & 0o777 == atomic.FILE_MODE


# --- a run folder, committed as a whole ---------------------------------------------------------
@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "r"
    assert main([*RUN, "--replications", "2", "--seed", "5", "--out", str(out)]) == 0
    return out


def test_run_json_is_written_last_and_names_its_siblings(run_folder):
    info = json.loads((run_folder / "run.json").read_text())
    assert sorted(info["files"]) == ["adoption.csv", "adoption.png", "scenario.toml"]
    for name, digest in info["files"].items():
        assert atomic.file_sha256(run_folder / name) == digest
    assert len(adoptsim.load_run(run_folder).adoption) > 0


def test_a_full_disk_during_run_keeps_the_earlier_run(run_folder, tmp_path, monkeypatch, capsys):
    out = tmp_path / "r"
    out.mkdir()
    for p in run_folder.iterdir():
        (out / p.name).write_bytes(p.read_bytes())
    before = _hashes(out)
    _disk_full(monkeypatch)
    assert main([*RUN, "--replications", "3", "--seed", "6", "--out", str(out)]) == 2
    line = _one_line(capsys)
    assert "No space left on device" in line and str(out) in line
    assert _hashes(out) == before  # every file of the earlier run, and nothing else


def test_an_interrupted_chart_leaves_the_earlier_run(run_folder, tmp_path, monkeypatch):
    out = tmp_path / "r"
    out.mkdir()
    for p in run_folder.iterdir():
        (out / p.name).write_bytes(p.read_bytes())
    before = _hashes(out)
    from adoptsim import plots

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(plots, "fan_chart", interrupted)
    assert main([*RUN, "--replications", "1", "--seed", "6", "--out", str(out)]) == 130
    assert _hashes(out) == before


def test_a_symlink_planted_in_out_is_not_followed(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("victim")
    (tmp_path / "o").mkdir()
    for name in ("run.json", "adoption.csv"):
        (tmp_path / "o" / name).symlink_to(victim)
    assert main([*RUN, "--replications", "1", "--out", str(tmp_path / "o")]) == 0
    assert victim.read_text() == "victim"
    adoptsim.load_run(tmp_path / "o")


# --- load_run checks what it reads --------------------------------------------------------------
def _copy_without_record(src: Path, dst: Path) -> Path:
    dst.mkdir()
    for p in src.iterdir():
        (dst / p.name).write_bytes(p.read_bytes())
    info = json.loads((dst / "run.json").read_text())
    info.pop("files")  # as an older version wrote it: the content checks must hold alone
    (dst / "run.json").write_text(json.dumps(info))
    return dst


def _edit_csv(folder: Path, change) -> None:
    table = pd.read_csv(folder / "adoption.csv", dtype={"date": str, "segment": str})
    change(table).to_csv(folder / "adoption.csv", index=False)


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (lambda t: t.drop(columns="adopters_share"), "column 'adopters_share' missing"),
        (lambda t: t.assign(adopters_share=7.5), "adopters_share = 7.5 in row 2"),
        (lambda t: t.assign(date="banana"), "date = 'banana' in row 2 — must be YYYY-MM"),
        (lambda t: t.assign(date="２０２４-01"), "must be YYYY-MM"),
        (lambda t: t.iloc[: len(t) - 7], "a truncated or edited table"),
        (lambda t: t[t.replication == 0], "but run.json says 2"),
    ],
)
def test_load_run_refuses_a_damaged_table(run_folder, tmp_path, change, said):
    folder = _copy_without_record(run_folder, tmp_path / "r")
    _edit_csv(folder, change)
    with pytest.raises(adoptsim.AdoptsimError, match=re.escape(said)):
        adoptsim.load_run(folder)


def test_load_run_refuses_a_table_another_run_wrote(run_folder, tmp_path):
    folder = tmp_path / "r"
    folder.mkdir()
    for p in run_folder.iterdir():
        (folder / p.name).write_bytes(p.read_bytes())
    data = (folder / "adoption.csv").read_bytes()
    (folder / "adoption.csv").write_bytes(data[: len(data) // 2])  # truncated mid-row
    with pytest.raises(adoptsim.AdoptsimError, match=re.escape("SHA-256 differs from run.json")):
        adoptsim.load_run(folder)


def test_load_run_refuses_a_run_json_that_is_a_folder(run_folder, tmp_path):
    folder = tmp_path / "r"
    folder.mkdir()
    (folder / "adoption.csv").write_bytes((run_folder / "adoption.csv").read_bytes())
    (folder / "run.json").mkdir()
    with pytest.raises(adoptsim.AdoptsimError, match=re.escape("run.json: is not a file")):
        adoptsim.load_run(folder)


# --- resources bounded before anything starts ---------------------------------------------------
@pytest.mark.parametrize(
    ("command", "said"),
    [
        ([*RUN, "--replications", str(10**8)], "replications = 100000000 — needs about"),
        (
            ["compare", "baseline", "no_policy", "--firms", "500", "--replications", str(10**9)],
            "replications = 1000000000 — needs about",
        ),
        (["validate", "--replications", str(10**9)], "--replications = 1000000000 — needs"),
        (["calibrate", "--budget", str(10**9)], "--budget = 1000000000 — needs about"),
        (["sensitivity", "baseline", "--samples", str(10**9)], "samples = 1000000000 — needs"),
    ],
)
def test_work_that_cannot_fit_is_refused_up_front(tmp_path, capsys, command, said):
    out = tmp_path / "o"
    assert main([*command, "--out", str(out), "--quiet"]) == 2
    line = _one_line(capsys)
    assert said in line and "available" in line
    assert not out.exists()


def test_workers_beyond_the_cores_are_clamped_with_a_line(capsys):
    from adoptsim import arguments

    cores = arguments.usable_cpus()
    assert arguments.cap_workers(cores) == (cores, None)
    workers, note = arguments.cap_workers(999)
    assert workers == cores and note == (
        f"--workers 999 is more than the {cores} CPUs available; using {cores}"
    )
    # the CLI prints the note before starting anything
    assert main(["calibrate", "--workers", "999", "--budget", str(10**9), "--out", "x"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert (
        err[0] == f"adoptsim: --workers 999 is more than the {cores} CPUs available; using {cores}"
    )
    assert "--budget = 1000000000" in err[1]


def test_the_fit_figure_stays_readable_with_many_targets():
    from adoptsim.plots import FIT_ROWS_SHOWN, fit_figure

    n = 1000
    fit = pd.DataFrame(
        {
            "id": [f"T{i}" for i in range(n)],
            "survey": "barometer",
            "observed": 0.3,
            "se": 0.01,
            "sim_mean": 0.3,
            "sim_p05": 0.25,
            "sim_p95": 0.35,
            "within": np.arange(n) % 10 != 0,
        }
    )
    fig = fit_figure(fit)
    width, height = fig.get_size_inches() * fig.dpi
    assert max(width, height) <= 8000
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert len(labels) == FIT_ROWS_SHOWN
    assert sum("✗" in s for s in labels) == 100  # every target outside is shown


def test_target_files_are_bounded_and_n_must_be_a_count(tmp_path):
    from adoptsim.observe import MAX_TARGET_ROWS, TargetsError, load_targets

    shipped = load_targets()
    bad = shipped.copy()
    bad.loc[bad.index[0], "n"] = -5
    bad.to_csv(tmp_path / "neg.csv", index=False)
    with pytest.raises(
        TargetsError, match=re.escape("column n: -5.0 — must be empty or a whole number >= 1")
    ):
        load_targets(tmp_path / "neg.csv")
    many = pd.concat([shipped] * (MAX_TARGET_ROWS // len(shipped) + 1), ignore_index=True)
    many["id"] = [f"X{i}" for i in range(len(many))]
    many.to_csv(tmp_path / "many.csv", index=False)
    with pytest.raises(TargetsError, match=f"at most {MAX_TARGET_ROWS:,}"):
        load_targets(tmp_path / "many.csv")


# --- one line at every entry point --------------------------------------------------------------


def _calls():
    from adoptsim import (
        AdoptionModel,
        Scenario,
        compare,
        load_run,
        load_scenario,
        load_targets,
        register_rule,
        sensitivity,
        simulate,
    )

    sc = load_scenario("bass_validation")
    return {
        "simulate seed text": lambda: simulate(sc, seed="x", n_firms=500),
        "simulate seed -1": lambda: simulate(sc, seed=-1, n_firms=500),
        "simulate seed 1.5": lambda: simulate(sc, seed=1.5, n_firms=500),
        "simulate n_firms text": lambda: simulate(sc, n_firms="500"),
        "simulate n_firms too many": lambda: simulate(sc, n_firms=50_000_001),
        "simulate replications 0": lambda: simulate(sc, n_firms=500, replications=0),
        "simulate workers text": lambda: simulate(sc, n_firms=500, workers="2"),
        "simulate None": lambda: simulate(None, n_firms=500),
        "load_scenario int": lambda: load_scenario(5),
        "load_scenario None": lambda: load_scenario(None),
        "from_dict None": lambda: Scenario.from_dict(None),
        "from_dict list": lambda: Scenario.from_dict([1]),
        "from_dict table as text": lambda: Scenario.from_dict({"scenario": "hello"}),
        "with_overrides list": lambda: sc.with_overrides([1]),
        "with_overrides int key": lambda: sc.with_overrides({5: 0.1}),
        "with_overrides None": lambda: sc.with_overrides(None),
        "get int": lambda: sc.get(5),
        "compare one text": lambda: compare("baseline", n_firms=500),
        "compare ints": lambda: compare([1, 2], n_firms=500),
        "compare seed": lambda: compare(["baseline", "no_policy"], n_firms=500, seed="x"),
        "load_run None": lambda: load_run(None),
        "load_run int": lambda: load_run(5),
        "load_targets int": lambda: load_targets(5),
        "AdoptionModel 5 firms": lambda: AdoptionModel(sc, n_firms=5),
        "AdoptionModel seed": lambda: AdoptionModel(sc, n_firms=500, seed="x"),
        "sensitivity samples": lambda: sensitivity("baseline", samples="x"),
        "sensitivity params int": lambda: sensitivity("baseline", params=5),
        "sensitivity params empty": lambda: sensitivity("baseline", params=[]),
        "register_rule int": lambda: register_rule(5),
        "sweep spec None": lambda: adoptsim.sweep(None, out="x"),
        "sweep out None": lambda: adoptsim.sweep({"sweep": {"scenarios": ["baseline"]}}, out=None),
        "sweep scenarios text": lambda: adoptsim.sweep({"sweep": {"scenarios": "a"}}, out="x"),
        "load_results None": lambda: adoptsim.load_results(None),
    }


@pytest.mark.parametrize("name", list(_calls()))
def test_public_functions_answer_wrong_types_in_one_line(name):
    with pytest.raises(AdoptsimError) as info:
        _calls()[name]()
    message = str(info.value)
    assert message.strip() and "\n" not in message
    assert " — " in message  # field = value — what is allowed


def test_numpy_integers_are_whole_numbers():
    res = adoptsim.simulate(
        "bass_validation", n_firms=np.int64(500), replications=np.int64(1), seed=np.uint8(3)
    )
    assert res.n_firms == 500 and type(res.n_firms) is int and res.seed == 3
    assert json.dumps(res.run_info["n_firms"]) == "500"
    same = adoptsim.simulate("bass_validation", n_firms=500, replications=1, seed=3)
    pd.testing.assert_frame_equal(res.adoption, same.adoption)


def test_model_refuses_few_firms_with_the_bound_of_everything_else():
    with pytest.raises(AdoptsimError, match=r"n_firms = 5 — must be a whole number within \[100,"):
        adoptsim.AdoptionModel("bass_validation", n_firms=5)


def test_load_scenario_and_simulate_take_a_table():
    sc = adoptsim.load_scenario({"extends": "bass_validation", "scenario": {"name": "mine"}})
    assert sc.name == "mine"
    res = adoptsim.simulate({"extends": "bass_validation"}, n_firms=500)
    assert len(res.adoption) > 0


def test_an_extends_chain_of_500_files_is_one_line(tmp_path, capsys):
    (tmp_path / "s0.toml").write_text('extends = "bass_validation"\n')
    for i in range(1, 500):
        (tmp_path / f"s{i}.toml").write_text(f'extends = "s{i - 1}.toml"\n')
    with pytest.raises(AdoptsimError, match=r"extends = .* chain of more than 64 files"):
        adoptsim.load_scenario(tmp_path / "s499.toml")
    assert main(["run", str(tmp_path / "s499.toml"), "--out", str(tmp_path / "o")]) == 2
    assert "extends" in _one_line(capsys)


@pytest.mark.parametrize("body", ["x = " + "[" * 2000 + "]" * 2000, "a" + ".a" * 600 + " = 1"])
def test_deeply_nested_toml_is_one_line(tmp_path, capsys, body):
    (tmp_path / "deep.toml").write_text(body + "\n")
    assert main(["run", str(tmp_path / "deep.toml"), "--out", str(tmp_path / "o")]) == 2
    assert "nested" in _one_line(capsys)


def test_a_string_where_a_table_belongs_is_refused(tmp_path):
    (tmp_path / "s.toml").write_text('extends = "baseline"\nscenario = "hello"\n')
    with pytest.raises(AdoptsimError, match=re.escape("scenario = 'hello' — must be a table")):
        adoptsim.load_scenario(tmp_path / "s.toml")


@pytest.mark.parametrize("month", [" 2024-01", "2024-01 ", "２０２４-01", "2024-0１"])
def test_months_are_ascii_without_blanks(month):
    from adoptsim.months import parse_month

    with pytest.raises(AdoptsimError, match='must be a month written "YYYY-MM"'):
        parse_month(month, "scenario.start")


def test_a_folder_named_like_a_builtin_does_not_hide_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "baseline").mkdir()
    assert adoptsim.load_scenario("baseline").name == "baseline"
    (tmp_path / "mine").mkdir()
    with pytest.raises(AdoptsimError, match=re.escape("mine' — is a folder, not a scenario file")):
        adoptsim.load_scenario("mine")
    with pytest.raises(AdoptsimError, match=re.escape("is not a regular file")):
        adoptsim.load_scenario("/dev/zero")


# --- every path error of --out -----------------------------------------------------------------
def _loop(tmp_path):
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    return "loop"


def _file_is_a_folder(name):
    def make(tmp_path):
        (tmp_path / "o" / name).mkdir(parents=True)
        return "o"

    return make


@pytest.mark.parametrize(
    ("make", "said"),
    [
        (lambda tmp: "x" * 300, "too long"),
        (lambda tmp: "", "is empty; give a folder"),
        (_loop, "a symlink to nothing (or a loop of symlinks)"),
        (_file_is_a_folder("adoption.csv"), "holds 'adoption.csv', which is not a file"),
        (_file_is_a_folder("run.json"), "holds 'run.json', which is not a file"),
    ],
)
def test_out_path_errors_are_one_line(tmp_path, monkeypatch, capsys, make, said):
    monkeypatch.chdir(tmp_path)
    out = make(tmp_path)
    assert main([*RUN, "--replications", "1", "--out", out]) == 2
    assert said in _one_line(capsys)
    assert not (tmp_path / "results").exists()


# --- the explorer checks its settings before it announces the URL -------------------------------
@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--port", "70000"], "70000 must be <= 65,535"),
        (["--scenario", "nope"], "scenario = 'nope' — unknown scenario"),
        (["--firms", "10"], "firms = 10 — must be a whole number within [100, 200,000]"),
        (["--firms", "900000000"], "firms = 900000000 — must be a whole number within"),
    ],
)
def test_explorer_settings_are_checked_before_serving(capsys, args, said):
    try:
        code = main(["explore", *args])
    except SystemExit as exc:  # argparse's own one-line errors
        code = exc.code
    assert code == 2
    captured = capsys.readouterr()
    assert said in captured.err and "http://" not in captured.out


def test_explorer_refuses_a_port_in_use(capsys):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert main(["explore", "--port", str(port)]) == 2
    captured = capsys.readouterr()
    assert f"port = {port} — cannot be used" in captured.err and "http://" not in captured.out


# --- calibrate: the folder lock and its evaluations log -----------------------------------------
def test_calibrate_takes_the_folder_lock(tmp_path):
    from adoptsim.fit.calibrate import calibrate
    from adoptsim.sweeps.store import FolderLock

    with FolderLock(tmp_path / "c", what="calibration"):
        with pytest.raises(AdoptsimError, match="another calibration is running in this folder"):
            calibrate("flanders", out=tmp_path / "c", budget=10, progress=False)


def test_calibrate_refuses_a_budget_that_cannot_fit_and_leaves_no_folder(tmp_path):
    from adoptsim.fit.calibrate import calibrate

    with pytest.raises(AdoptsimError, match=re.escape("budget = 1000000000 — needs about")):
        calibrate("flanders", out=tmp_path / "c", budget=10**9, progress=False)
    with pytest.raises(AdoptsimError, match=re.escape("budget = 5 — must be a whole number >= 10")):
        calibrate("flanders", out=tmp_path / "c", budget=5, progress=False)
    with pytest.raises(AdoptsimError, match=re.escape("origin = 'banana'")):
        calibrate("flanders", out=tmp_path / "c", budget=10, origin="banana", progress=False)
    assert not (tmp_path / "c").exists()


@pytest.mark.parametrize("kind", ["folder", "random bytes"])
def test_a_damaged_evaluations_log_is_one_line(tmp_path, capsys, kind):
    out = tmp_path / "c"
    out.mkdir()
    if kind == "folder":
        (out / "evals.jsonl").mkdir()
        said = "holds 'evals.jsonl', which is not a file"
        from adoptsim.fit.evaluations import EvaluationStore

        with pytest.raises(AdoptsimError, match=re.escape("evals.jsonl: is not a plain file")):
            EvaluationStore(out / "evals.jsonl", "tag")
    else:
        (out / "evals.jsonl").write_bytes(bytes(range(256)) * 4)
        said = "evals.jsonl: not an evaluations log (not UTF-8 at byte 128)"
    args = ["calibrate", "--population", "flanders", "--budget", "10", "--firms", "500"]
    assert main([*args, "--out", str(out), "--quiet"]) == 2
    assert said in _one_line(capsys)


def test_backtest_names_the_origin_given(tmp_path, capsys):
    assert main(["backtest", "--origin", "2030-01", "--out", str(tmp_path / "b"), "--quiet"]) == 2
    assert "origin = '2030-01' — must be before the cutoff 2024-12" in _one_line(capsys)


def test_the_bytes_per_result_row_hold_what_a_run_needs():
    import tracemalloc

    from adoptsim import memory

    sc = adoptsim.load_scenario("bass_validation")
    adoptsim.simulate(sc, n_firms=500, replications=1)  # imports and caches outside the count
    tracemalloc.start()
    try:
        res = adoptsim.simulate(sc, n_firms=500, replications=10, seed=1)
        atomic.csv_bytes(res.adoption, float_format="%.6f")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    per_row = peak / len(res.adoption)
    assert per_row <= memory.BYTES_PER_RESULT_ROW <= 2 * per_row, per_row
    assert len(res.adoption) <= 10 * memory.result_rows(sc)  # rows are not undercounted


def test_a_saved_figure_is_at_most_max_pixels_a_side(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    fig, ax = plt.subplots(figsize=(8, 400))  # a line per target of a 10⁴-row file would be taller
    ax.plot([0, 1], [0, 1])
    atomic.save_figure(fig, tmp_path / "tall.png", dpi=120)
    plt.close(fig)
    with Image.open(tmp_path / "tall.png") as img:
        assert max(img.size) <= atomic.MAX_PIXELS and img.size[1] > 7000
