"""A sweep folder never mixes, duplicates or silently loses runs; broken shards are repaired."""

import json
import os
import shutil
import socket

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from adoptsim import AdoptsimError, ScenarioError, load_results, sweep
from adoptsim.cli import main
from adoptsim.sweeps.spec import load_sweep_spec
from adoptsim.sweeps.store import (
    MANIFEST,
    SHARD_DIR,
    FolderLock,
    clean_leftovers,
    host_tag,
    read_manifest,
)

BASE = {"scenarios": ["bass_validation"], "replications": 2, "n_firms": 1000, "seed": 1}


def _spec(**changes):
    return {"sweep": {**BASE, **changes}}


def _run(spec, out, workers=1):
    return sweep(spec, out=out, workers=workers, progress=False)


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A finished folder (seed 1, 1000 firms, 2 replications) to copy from."""
    out = tmp_path_factory.mktemp("store") / "made"
    assert _run(_spec(), out).ok
    return out


def _copy(made, tmp_path, name="r"):
    target = tmp_path / name
    shutil.copytree(made, target)
    return target


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        ({"seed": 2}, "seed 1 (this sweep: seed 2)"),
        ({"n_firms": 2000}, "1000 firms (this sweep: 2000)"),
        ({"scenarios": ["baseline"], "seed": 9}, "seed 1 (this sweep: seed 9)"),
        ({"scenarios": ["baseline"], "n_firms": 1500}, "1000 firms (this sweep: 1500)"),
    ],
)
@pytest.mark.parametrize("manifest", [True, False])
def test_folder_refuses_another_seed_or_firm_count(made, tmp_path, changes, said, manifest):
    out = _copy(made, tmp_path)
    if not manifest:
        (out / MANIFEST).unlink()
    before = sorted(p.name for p in (out / SHARD_DIR).iterdir())
    with pytest.raises(ScenarioError) as info:
        _run(_spec(**changes), out)
    assert info.value.field == "out" and said in str(info.value)
    assert sorted(p.name for p in (out / SHARD_DIR).iterdir()) == before  # nothing ran


def test_changed_scenario_content_is_refused(tmp_path):
    scenario = tmp_path / "mine.toml"
    scenario.write_text('extends = "bass_validation"\n[scenario]\nname = "mine"\n')
    spec = _spec(scenarios=[str(scenario)])
    assert _run(spec, tmp_path / "r").ok
    scenario.write_text('extends = "bass_validation"\n[scenario]\nname = "mine"\n[rule]\nq = 0.2\n')
    with pytest.raises(ScenarioError, match="other content for scenario mine"):
        _run(spec, tmp_path / "r")


def test_cli_refusal_is_one_line_exit_2(made, tmp_path, capsys):
    out = _copy(made, tmp_path)
    (out / MANIFEST).unlink()
    spec = tmp_path / "b.toml"
    spec.write_text(
        '[sweep]\nscenarios = ["no_policy"]\nreplications = 2\nn_firms = 2000\nseed = 1\n'
    )
    assert main(["sweep", str(spec), "--out", str(out), "--workers", "1", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("adoptsim: error: out = ") and "seed" not in err[0]
    assert "1000 firms (this sweep: 2000)" in err[0]


def test_equal_points_are_one_point_and_results_have_no_duplicates(tmp_path):
    out = tmp_path / "g"
    first = _run(_spec(grid={"network.mean_degree": [5, 10]}), out)
    second = _run(_spec(grid={"network.mean_degree": [10.0, 20]}), out)
    assert first.ran == 4 and second.skipped == 2 and second.ran == 2  # 10.0 is 10: not rerun
    df = load_results(out)
    key = [c for c in df.columns if c not in ("adopters_share", "at_scale_share", "draw")]
    assert not df.duplicated(key).any()
    assert sorted(df["network.mean_degree"].unique()) == [5, 10, 20]
    assert {"seed", "n_firms"} <= set(df.columns)
    assert set(df.seed) == {1} and set(df.n_firms) == {1000}
    assert len(df.groupby(["network.mean_degree", "replication"])) == 6
    with pytest.raises(ScenarioError, match="appears twice"):
        load_sweep_spec(_spec(grid={"network.mean_degree": [10, 10.0]}))


def test_load_results_drops_a_second_copy_of_the_same_run(made, tmp_path):
    out = _copy(made, tmp_path)
    shard = sorted((out / SHARD_DIR).glob("*.parquet"))[0]
    table = pq.read_table(shard)
    meta = json.loads(table.schema.metadata[b"adoptsim.task"])
    meta["task_id"] = "0" * 20  # the same run under another (e.g. older) task id
    copy = table.replace_schema_metadata(
        {**table.schema.metadata, b"adoptsim.task": json.dumps(meta).encode()}
    )
    pq.write_table(copy, out / SHARD_DIR / f"{meta['task_id']}.parquet")
    pd_expected = load_results(made)
    got = load_results(out)
    assert got.equals(pd_expected)


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[:200])


def _empty(path):
    path.write_bytes(b"")


def _foreign(path):
    pq.write_table(pa.table({"x": [1, 2, 3]}), path)  # a valid Parquet file, not a shard


@pytest.mark.parametrize("damage", [_truncate, _empty, _foreign])
def test_broken_shard_named_by_load_results_and_rerun_on_resume(made, tmp_path, damage):
    out = _copy(made, tmp_path)
    shard = sorted((out / SHARD_DIR).glob("*.parquet"))[0]
    damage(shard)
    with pytest.raises(AdoptsimError) as info:
        load_results(out)
    message = str(info.value)
    assert "\n" not in message and shard.name in message and "rerun the sweep" in message

    summary = _run(_spec(), out)
    assert summary.ok and summary.ran == 1 and summary.skipped == 1
    assert summary.repaired == [shard.name] and "broken shard" in summary.report()
    assert (out / SHARD_DIR / (shard.name + ".broken")).is_file()  # kept for inspection
    assert load_results(out).equals(load_results(made))  # the rerun gives the same numbers
    logged = [json.loads(line) for line in (out / MANIFEST).read_text().splitlines()]
    assert [e["task_id"] for e in logged if e["status"] == "broken"] == [shard.stem]
    assert set(read_manifest(out).status) == {"ok"}  # the latest entry of that task: rerun


def test_resume_with_a_truncated_shard_via_cli(made, tmp_path, capsys):
    out = _copy(made, tmp_path)
    shard = sorted((out / SHARD_DIR).glob("*.parquet"))[1]
    _truncate(shard)
    spec = tmp_path / "a.toml"
    spec.write_text(
        '[sweep]\nscenarios = ["bass_validation"]\nreplications = 2\nn_firms = 1000\nseed = 1\n'
    )
    assert main(["sweep", str(spec), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    assert "1 broken shard(s) set aside" in capsys.readouterr().out
    assert load_results(out).groupby("replication").ngroups == 2


def test_corrupt_manifest_line_is_one_line_and_does_not_stop_a_sweep(made, tmp_path):
    out = _copy(made, tmp_path)
    lines = (out / MANIFEST).read_text().splitlines()
    (out / MANIFEST).write_text("\n".join([lines[0], "{not json", "42", *lines[1:]]) + "\n")
    with pytest.raises(AdoptsimError) as info:
        read_manifest(out)
    assert "line 2" in str(info.value) and "\n" not in str(info.value)
    summary = _run(_spec(replications=3), out)  # the shards, not the manifest, say what is done
    assert summary.ok and summary.skipped == 2 and summary.ran == 1
    (out / MANIFEST).write_bytes(b"\xff\xfe garbage\n")
    assert _run(_spec(replications=3), out).skipped == 3


def test_second_sweep_on_a_locked_folder_is_refused(made, tmp_path, capsys):
    out = _copy(made, tmp_path)
    spec = tmp_path / "a.toml"
    spec.write_text('[sweep]\nscenarios = ["bass_validation"]\nn_firms = 1000\nseed = 1\n')
    with FolderLock(out):  # as held by a running sweep
        code = main(["sweep", str(spec), "--out", str(out), "--workers", "1", "--quiet"])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1
        assert "another sweep is running in this folder" in err[0] and str(os.getpid()) in err[0]
    assert main(["sweep", str(spec), "--out", str(out), "--workers", "1", "--quiet"]) == 0


def test_cleanup_removes_only_files_of_dead_writers(tmp_path):
    shard_dir = tmp_path / SHARD_DIR
    shard_dir.mkdir()
    host = host_tag()
    live = shard_dir / f".abc.{host}.{os.getpid()}.1234abcd.tmp"  # a writer still at work
    dead = shard_dir / f".abd.{host}.999999999.1234abcd.tmp"
    other_host = shard_dir / ".abe.elsewhere.1.1234abcd.tmp"  # on another machine: unknown
    marker = shard_dir / f".abf.{host}.999999999.running"
    for p in (live, dead, other_host, marker):
        p.write_text("x")
    clean_leftovers(shard_dir)
    assert live.exists() and other_host.exists()
    assert not dead.exists() and not marker.exists()
    assert socket.gethostname()  # the host part is derived from it


def test_out_that_is_a_file_is_refused_before_running(tmp_path):
    (tmp_path / "f").write_text("x")
    for out in (tmp_path / "f", tmp_path / "f" / "sub"):
        with pytest.raises(ScenarioError) as info:
            _run(_spec(), out)
        assert info.value.field == "out"
