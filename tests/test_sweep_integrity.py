"""Sweep shards are verified, folders read back under the sweep's identity rules (issue 23)."""

import errno
import json
import os
import re
import shutil

import pyarrow.parquet as pq
import pytest

from adoptsim import AdoptsimError, load_results, sweep
from adoptsim.cli import main
from adoptsim.sweeps.store import HASH_FIELD, MANIFEST, META_KEY, SHARD_DIR, Manifest

BASE = {"scenarios": ["bass_validation"], "replications": 3, "n_firms": 500, "seed": 7}


def _run(out, **changes):
    return sweep({"sweep": {**BASE, **changes}}, out=out, workers=1, progress=False)


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    out = tmp_path_factory.mktemp("integrity") / "made"
    assert _run(out).ok
    return out


def _copy(made, tmp_path, name="r"):
    shutil.copytree(made, tmp_path / name)
    return tmp_path / name


def _shards(folder):
    return sorted((folder / SHARD_DIR).glob("*.parquet"))


def test_every_shard_carries_a_content_hash_and_page_checksums(made):
    for path in _shards(made):
        meta = json.loads(pq.read_metadata(path).metadata[META_KEY])
        assert re.fullmatch(r"[0-9a-f]{64}", meta[HASH_FIELD])
        pq.read_table(path, page_checksum_verification=True)


def test_a_bit_flipped_shard_is_rerun_and_never_returned(made, tmp_path):
    out = _copy(made, tmp_path)
    before = load_results(out)
    path = _shards(out)[0]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    data[len(data) // 2 + 1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(AdoptsimError, match="damaged"):
        load_results(out)
    summary = _run(out)
    assert summary.ok and (path.with_name(path.name + ".broken")).exists()
    assert load_results(out).equals(before)


def test_a_shard_rewritten_with_other_values_fails_its_content_hash(made, tmp_path):
    # valid Parquet, pages and footer intact: only the hash written with the data can tell
    out = _copy(made, tmp_path)
    path = _shards(out)[0]
    table = pq.read_table(path)
    df = table.to_pandas()
    df.loc[5, "adopters_share"] += 0.25
    import pyarrow as pa

    changed = pa.Table.from_pandas(df, preserve_index=False).replace_schema_metadata(
        table.schema.metadata
    )
    pq.write_table(changed, path)
    with pytest.raises(AdoptsimError, match="differ from the content hash"):
        load_results(out)
    summary = _run(out)
    assert summary.ok and (summary.skipped, summary.ran) == (2, 1) and len(summary.repaired) == 1
    assert len(list((out / SHARD_DIR).glob("*.broken"))) == 1


def test_load_results_refuses_a_folder_of_two_seeds_or_reads_one(made, tmp_path):
    other = tmp_path / "seed99"
    assert _run(other, seed=99, replications=5).ok
    mixed = _copy(made, tmp_path, "mixed")
    meta = {p: json.loads(pq.read_metadata(p).metadata[META_KEY]) for p in _shards(other)}
    extra = next(p for p, m in meta.items() if m["replication"] == 4)  # seed 7 has 0..2
    shutil.copy(extra, mixed / SHARD_DIR / extra.name)
    with pytest.raises(AdoptsimError, match=r"holds runs of seeds 7, 99.*seed=\.\.\."):
        load_results(mixed)
    assert load_results(mixed, seed=7).equals(load_results(made))
    only = load_results(mixed, seed=99)
    assert set(only.seed) == {99} and set(only.replication) == {4}
    with pytest.raises(AdoptsimError, match="seed = 'x'"):
        load_results(mixed, seed="x")


def test_load_results_refuses_two_firm_counts_for_one_point(made, tmp_path):
    other = tmp_path / "n1000"
    assert _run(other, n_firms=1000, replications=4).ok
    mixed = _copy(made, tmp_path, "mixed")
    meta = {p: json.loads(pq.read_metadata(p).metadata[META_KEY]) for p in _shards(other)}
    extra = next(p for p, m in meta.items() if m["replication"] == 3)
    shutil.copy(extra, mixed / SHARD_DIR / extra.name)
    with pytest.raises(AdoptsimError, match="with 500 and 1000 firms"):
        load_results(mixed)


@pytest.mark.parametrize("value", [None, 5, ""])
def test_load_results_answers_wrong_types_in_one_line(value):
    with pytest.raises(AdoptsimError):
        load_results(value)


def _make(kind):
    def make(out):
        out.mkdir()
        if kind == "manifest-dir":
            (out / MANIFEST).mkdir()
        elif kind == "lock-dir":
            (out / ".lock").mkdir()
        elif kind == "shards-file":
            (out / SHARD_DIR).write_text("not a folder")
        elif kind == "manifest-symlink":
            (out.parent / "victim").write_text("victim\n")
            (out / MANIFEST).symlink_to(out.parent / "victim")

    return make


@pytest.mark.parametrize(
    ("kind", "said"),
    [
        ("manifest-dir", "manifest.jsonl: is a folder"),
        ("lock-dir", ".lock: is a folder"),
        ("shards-file", "shards: is not a plain file; a sweep folder's shards must be a folder"),
        ("manifest-symlink", "manifest.jsonl: is a symlink"),
    ],
)
def test_sweep_folder_parts_of_the_wrong_kind_are_one_line(tmp_path, capsys, kind, said):
    spec = tmp_path / "g.toml"
    spec.write_text('[sweep]\nscenarios = ["bass_validation"]\nn_firms = 500\nreplications = 1\n')
    out = tmp_path / "o"
    _make(kind)(out)
    assert main(["sweep", str(spec), "--out", str(out), "--workers", "1", "--quiet"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and said in err[0], err
    if kind == "manifest-symlink":
        assert (tmp_path / "victim").read_text() == "victim\n"


def test_a_full_disk_on_the_manifest_is_one_line(tmp_path, monkeypatch):
    manifest = Manifest(tmp_path / MANIFEST)

    def full(fd, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(
        AdoptsimError, match=re.escape("manifest.jsonl: cannot write (No space left")
    ):
        manifest.append({"task_id": "x", "status": "ok"})
