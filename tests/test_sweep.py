"""Sweeps: results independent of workers, order and interruption; failures recorded; bad specs."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import adoptsim
from adoptsim import ScenarioError, load_results, sweep
from adoptsim.cli import main
from adoptsim.sweeps.spec import load_sweep_spec
from adoptsim.sweeps.store import MANIFEST, SHARD_DIR, read_manifest

REPO = Path(adoptsim.__file__).resolve().parent.parent

# The sweep of the issue: baseline vs the no_policy counterfactual (common random numbers).
SPEC = {
    "sweep": {
        "scenarios": ["baseline", "no_policy"],
        "replications": 6,
        "n_firms": 20000,
        "seed": 3,
    }
}
SMALL = {
    "sweep": {
        "scenarios": ["baseline", "bass_validation"],
        "replications": 2,
        "n_firms": 3000,
        "seed": 5,
        "grid": {"network.mean_degree": [5, 10]},
    }
}
TOML_SPEC = """[sweep]
scenarios = ["baseline", "no_policy"]
replications = 6
n_firms = 20000
seed = 3
"""


def _shards(out: Path) -> set[str]:
    return {p.stem for p in (out / SHARD_DIR).glob("*.parquet")}


@pytest.fixture(scope="module")
def one_worker(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep") / "w1"
    summary = sweep(SPEC, out=out, workers=1, progress=False)
    assert summary.ok and summary.ran == 12 and summary.skipped == 0
    return load_results(out)


def test_table_shape_and_order(one_worker):
    df = one_worker
    assert list(df.columns) == ["scenario", "seed", "n_firms", *adoptsim.results.ADOPTION_COLUMNS]
    assert set(df.seed) == {3} and set(df.n_firms) == {20000}
    assert set(df.scenario) == {"baseline", "no_policy"}
    assert sorted(df.replication.unique()) == list(range(6))
    keys = ["scenario", "replication", "date", "segment_type", "segment"]
    assert not df.duplicated(keys).any()
    assert df.equals(df.sort_values(keys).reset_index(drop=True))


def test_two_workers_and_interrupted_resume_give_the_same_table(one_worker, tmp_path):
    out2 = tmp_path / "w2"
    summary = sweep(SPEC, out=out2, workers=2, progress=False)
    assert summary.ok and summary.ran == 12
    pd.testing.assert_frame_equal(load_results(out2), one_worker)

    # Interrupt a 2-worker CLI sweep with Ctrl-C (SIGINT) once a few shards exist, then resume.
    spec_file = tmp_path / "spec.toml"
    spec_file.write_text(TOML_SPEC)
    out3 = tmp_path / "interrupted"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "adoptsim.cli",
            "sweep",
            str(spec_file),
            "--out",
            str(out3),
            "--workers",
            "2",
            "--quiet",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while len(_shards(out3)) < 3 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, (stdout, stderr)
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("adoptsim: interrupted — "), stderr
    kept = _shards(out3)
    assert 3 <= len(kept) < 12
    assert not list((out3 / SHARD_DIR).glob(".*.tmp"))  # no half-written shard left behind

    resumed = sweep(spec_file, out=out3, workers=2, progress=False)
    assert resumed.skipped == len(kept) and resumed.ran == 12 - len(kept) and resumed.ok
    pd.testing.assert_frame_equal(load_results(out3), one_worker)
    manifest = read_manifest(out3)
    assert len(manifest) == 12 and set(manifest.status) == {"ok"}
    for column in (
        "scenario",
        "overrides",
        "seed",
        "replication",
        "n_firms",
        "adoptsim",
        "status",
        "runtime_s",
    ):
        assert column in manifest.columns

    again = sweep(spec_file, out=out3, workers=2, progress=False)  # nothing left to do
    assert again.skipped == 12 and again.ran == 0


def test_dask_localcluster_gives_the_same_table(tmp_path):
    distributed = pytest.importorskip("distributed")
    local = tmp_path / "local"
    assert sweep(SMALL, out=local, workers=1, progress=False).ok
    expected = load_results(local)
    assert list(expected.columns[:2]) == ["scenario", "network.mean_degree"]
    assert len(expected.groupby(["scenario", "network.mean_degree", "replication"])) == 8

    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        summary = sweep(SMALL, client.get_executor(), out=tmp_path / "dask", progress=False)
        assert summary.ok and summary.ran == 8
        pd.testing.assert_frame_equal(load_results(tmp_path / "dask"), expected)

        spec_file = tmp_path / "small.toml"
        spec_file.write_text(
            '[sweep]\nscenarios = ["baseline", "bass_validation"]\nreplications = 2\n'
            'n_firms = 3000\nseed = 5\n[sweep.grid]\n"network.mean_degree" = [5, 10]\n'
        )
        code = main(
            [
                "sweep",
                str(spec_file),
                "--out",
                str(tmp_path / "cli"),
                "--scheduler",
                cluster.scheduler_address,
                "--quiet",
            ]
        )
        assert code == 0
        pd.testing.assert_frame_equal(load_results(tmp_path / "cli"), expected)


BOOM = '''
from adoptsim.rules import BassRule


class BoomRule(BassRule):
    """Passes validation (same parameters as bass) but fails when the model runs."""

    def hazards(self, ctx):
        raise RuntimeError("boom at run time")
'''


def test_failing_task_is_recorded_and_does_not_stop_the_sweep(tmp_path, monkeypatch, capsys):
    (tmp_path / "boomrule.py").write_text(BOOM)
    monkeypatch.syspath_prepend(str(tmp_path))  # spawned workers inherit sys.path
    spec = {
        "sweep": {
            "scenarios": ["bass_validation"],
            "replications": 2,
            "n_firms": 2000,
            "sample": [{"rule.p": 0.004}, {"rule.kind": "boomrule:BoomRule"}],
        }
    }
    out = tmp_path / "out"
    summary = sweep(spec, out=out, workers=2, progress=False)
    assert summary.ran == 2 and len(summary.failures) == 2 and not summary.ok
    assert all("boom at run time" in f["error"] for f in summary.failures)
    assert "2 failed" in summary.report()
    entries = [json.loads(line) for line in (out / MANIFEST).read_text().splitlines()]
    failed = [e for e in entries if e["status"] == "failed"]
    assert len(failed) == 2 and all("RuntimeError" in e["traceback"] for e in failed)
    assert {e["overrides"].get("rule.kind") for e in failed} == {"boomrule:BoomRule"}
    df = load_results(out)
    assert set(df["rule.p"].unique()) == {0.004}
    assert "rule.kind" not in df.columns  # no task with that override finished
    assert len(df.groupby("replication")) == 2

    # a rerun skips the finished tasks and retries the failed ones; the CLI exits 1
    spec_file = tmp_path / "boom.toml"
    spec_file.write_text(
        '[sweep]\nscenarios = ["bass_validation"]\nreplications = 2\nn_firms = 2000\n'
        '[[sweep.sample]]\n"rule.p" = 0.004\n[[sweep.sample]]\n"rule.kind" = "boomrule:BoomRule"\n'
    )
    code = main(["sweep", str(spec_file), "--out", str(out), "--workers", "1", "--quiet"])
    assert code == 1
    printed = capsys.readouterr().out
    assert "2 already done" in printed and "2 failed" in printed and "boom at run time" in printed


@pytest.mark.parametrize(
    ("sweep_table", "field"),
    [
        ({"scenarios": ["baseline", "no_such_scenario"]}, "sweep.scenarios"),
        ({"scenarios": ["baseline"], "grid": {"rule.qq": [1, 2]}}, "sweep.grid.rule.qq"),
        (
            {"scenarios": ["baseline"], "sample": [{"network.mean_degre": 3}]},
            "sweep.sample[0].network.mean_degre",
        ),
        ({"scenarios": ["baseline"], "grid": {"rule.alpha": [-6, 99]}}, "sweep.grid.rule.alpha"),
        ({"scenarios": ["baseline"], "replications": -2}, "sweep.replications"),
        ({"scenarios": ["baseline"], "replications": 0}, "sweep.replications"),
        ({"scenarios": ["baseline"], "replicates": 3}, "sweep.replicates"),
        (
            {"scenarios": ["baseline"], "sample": {"rule.alpha": [-6, -7], "rule.theta_peer": [1]}},
            "sweep.sample",
        ),
        ({"scenarios": ["baseline"], "grid": {"rule.alpha": []}}, "sweep.grid.rule.alpha"),
        ({"scenarios": []}, "sweep.scenarios"),
    ],
)
def test_bad_specs_name_the_field(sweep_table, field, tmp_path):
    with pytest.raises(ScenarioError) as info:
        sweep({"sweep": sweep_table}, out=tmp_path / "out", progress=False)
    assert info.value.field == field, str(info.value)
    assert not (tmp_path / "out").exists()  # nothing ran


def test_missing_sweep_table():
    with pytest.raises(ScenarioError) as info:
        load_sweep_spec({"scenarios": ["baseline"]})
    assert info.value.field == "sweep"


@pytest.mark.parametrize(
    ("text", "start"),
    [
        ('[sweep]\nscenarios = ["nope"]\n', "adoptsim: error: sweep.scenarios = 'nope'"),
        (
            '[sweep]\nscenarios = ["baseline"]\n[sweep.grid]\n"rule.qq" = [1]\n',
            "adoptsim: error: sweep.grid.rule.qq = 1",
        ),
        (
            '[sweep]\nscenarios = ["baseline"]\nreplications = -1\n',
            "adoptsim: error: sweep.replications = -1",
        ),
        ('[run]\nscenarios = ["baseline"]\n', "adoptsim: error: sweep = "),
    ],
)
def test_cli_bad_spec_exit_2_one_line(text, start, tmp_path, capsys):
    spec_file = tmp_path / "bad.toml"
    spec_file.write_text(text)
    code = main(["sweep", str(spec_file), "--out", str(tmp_path / "out"), "--quiet"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(start), err
    assert not (tmp_path / "out").exists()


def test_example_specs_are_valid():
    files = sorted((REPO / "scenarios" / "sweeps").glob("*.toml"))
    assert any(f.name == "example_sweep.toml" for f in files)
    for f in files:
        spec = load_sweep_spec(f)
        assert spec.tasks()
    example = load_sweep_spec(REPO / "scenarios" / "sweeps" / "example_sweep.toml")
    assert [s.name for s in example.scenarios] == ["baseline", "no_policy"]


def test_task_ids_are_stable_and_distinct():
    a = load_sweep_spec(SMALL).tasks()
    b = load_sweep_spec(SMALL).tasks()
    assert [t.task_id for t in a] == [t.task_id for t in b]
    assert len({t.task_id for t in a}) == len(a) == 8
    other_seed = load_sweep_spec({"sweep": {**SMALL["sweep"], "seed": 6}}).tasks()
    assert not {t.task_id for t in a} & {t.task_id for t in other_seed}


def test_other_seed_into_the_same_folder_is_refused(tmp_path):
    spec = {"sweep": {"scenarios": ["bass_validation"], "n_firms": 1000, "seed": 1}}
    assert sweep(spec, out=tmp_path, workers=1, progress=False).ok
    with pytest.raises(ScenarioError) as info:
        sweep({"sweep": {**spec["sweep"], "seed": 2}}, out=tmp_path, workers=1, progress=False)
    assert info.value.field == "out"


def test_a_task_validates_its_scenario_once(monkeypatch, tmp_path):
    """Overrides and the replication's posterior/prior draws are validated together, once."""
    from adoptsim import scenario as scenario_module
    from adoptsim.simulation import run_replication
    from adoptsim.sweeps.dispatch import run_task
    from adoptsim.sweeps.spec import Task

    base = adoptsim.load_scenario("baseline")  # draws from a posterior and from priors
    overrides = {"network.mean_degree": 8}
    # the same run, the two-step way (override, then draw)
    two_step = run_replication(
        base.with_overrides(overrides), n_firms=300, seed=4, replication=1
    ).users
    calls = []
    real = scenario_module.validate
    monkeypatch.setattr(scenario_module, "validate", lambda raw: calls.append(1) or real(raw))
    task = Task("t", base, overrides, seed=4, replication=1, n_firms=300)
    assert run_task(task, str(tmp_path))["status"] == "ok"
    assert len(calls) == 1
    calls.clear()
    one_step = run_replication(base, n_firms=300, seed=4, replication=1, overrides=overrides)
    assert len(calls) == 1
    assert (one_step.users == two_step).all()  # same scenario, same run, bit for bit
