"""Sweep processes: workers die with their parent, a dead worker costs only its own task, each
worker runs one thread, and the memory guard stops a sweep before any task runs."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import adoptsim
import adoptsim.sweeps.spec
from adoptsim import AdoptsimError, ScenarioError, load_results, sweep
from adoptsim.cli import main

REPO = Path(adoptsim.__file__).resolve().parent.parent

DIE_RULE = '''
import os
import signal

from adoptsim import schema as S
from adoptsim._blocks import threads
from adoptsim.rules import BassRule


class DieRule(BassRule):
    """Bass, but kills its own process when asked, and insists on one thread."""

    PARAMS = {**BassRule.PARAMS, "die": S.flag(False, "SIGKILL the process running the rule")}

    def prepare(self, firms):
        if self.die:
            os.kill(os.getpid(), signal.SIGKILL)
        if threads() != 1:
            raise RuntimeError(f"this worker runs {threads()} threads")
        super().prepare(firms)
'''


def test_dead_worker_costs_only_its_task_and_workers_run_one_thread(tmp_path, monkeypatch):
    (tmp_path / "dierule.py").write_text(DIE_RULE)
    monkeypatch.syspath_prepend(str(tmp_path))  # spawned workers inherit sys.path
    monkeypatch.delenv("ADOPTSIM_THREADS", raising=False)
    spec = {
        "sweep": {
            "scenarios": ["bass_validation"],
            "replications": 3,
            "n_firms": 2000,
            "sample": [
                {"rule.kind": "dierule:DieRule", "rule.die": False},
                {"rule.kind": "dierule:DieRule", "rule.die": True},
            ],
        }
    }
    out = tmp_path / "out"
    summary = sweep(spec, out=out, workers=2, progress=False)
    assert summary.ran == 3 and len(summary.failures) == 3, summary.report()
    assert all(f["overrides"]["rule.die"] for f in summary.failures)  # only the dying tasks
    assert all("worker process running this task died" in f["error"] for f in summary.failures)
    assert summary.pool_restarts >= 1
    df = load_results(out)
    assert set(df["rule.die"]) == {False} and df.replication.nunique() == 3
    assert not list((out / "shards").glob(".*"))  # no marker or temporary file left
    assert "ADOPTSIM_THREADS" not in os.environ  # the parent's environment is left alone


def _children(pid: int) -> set[int]:
    """Live (not zombie) processes whose parent is ``pid``."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z" and int(fields[1]) == pid:
            found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_kill_9_of_the_parent_leaves_no_worker(tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_text(
        '[sweep]\nscenarios = ["baseline", "no_policy"]\nreplications = 100\n'
        "n_firms = 5000\nseed = 3\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "adoptsim.cli", "sweep", str(spec)]
    proc = subprocess.Popen(
        [*command, "--out", str(tmp_path / "r"), "--workers", "2", "--quiet"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90
        kids: set[int] = set()
        shards = tmp_path / "r" / "shards"
        while time.monotonic() < deadline and not list(shards.glob("*.parquet")):
            time.sleep(0.2)  # until the workers are busy with tasks
            kids |= _children(proc.pid)
        assert len(kids) >= 3, f"expected two workers and a resource tracker, found {kids}"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline and any(_alive(k) for k in kids):
            time.sleep(0.2)
        left = [k for k in kids if _alive(k)]
        assert not left, f"{len(left)} of {len(kids)} children alive 8 s after kill -9"
    finally:
        proc.kill()
        for k in _children(proc.pid):
            os.kill(k, signal.SIGKILL)


def test_sweep_that_cannot_fit_is_refused_before_any_task(tmp_path, capsys):
    spec = tmp_path / "big.toml"
    spec.write_text('[sweep]\nscenarios = ["baseline"]\nn_firms = 1000000000000\n')
    t0 = time.monotonic()
    assert main(["sweep", str(spec), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "sweep.n_firms = 1000000000000 — needs about" in err[0]
    assert "available" in err[0] and time.monotonic() - t0 < 20
    assert not (tmp_path / "o").exists()


def test_huge_grid_is_refused_before_it_is_built(monkeypatch):
    from adoptsim import memory

    monkeypatch.setattr(memory, "available_bytes", lambda: 22 * 10**9)  # as on the test machine
    grid = {f"rule.{k}": [0.1 * i for i in range(100)] for k in ("alpha", "theta_peer")}
    grid.update({"network.mean_degree": list(range(100)), "network.within_share": [0.5] * 100})
    t0 = time.monotonic()  # 10^8 points: building them alone would fill memory
    with pytest.raises(AdoptsimError, match=r"sweep.grid = 100000000 tasks — needs about"):
        adoptsim.sweeps.spec.load_sweep_spec({"sweep": {"scenarios": ["baseline"], "grid": grid}})
    assert time.monotonic() - t0 < 5


def test_memory_flag_turns_the_guard_off(tmp_path, monkeypatch):
    from adoptsim import memory

    monkeypatch.setattr(memory, "available_bytes", lambda: 100 * 2**20)  # a tiny machine
    spec = {"sweep": {"scenarios": ["bass_validation"], "n_firms": 1000}}
    with pytest.raises(AdoptsimError, match="needs about"):
        sweep(spec, out=tmp_path / "a", workers=1, progress=False)
    monkeypatch.setenv("ADOPTSIM_MEMORY_CHECK", "0")
    assert sweep(spec, out=tmp_path / "a", workers=1, progress=False).ok


def test_bad_workers_value_names_the_field(tmp_path):
    with pytest.raises(ScenarioError) as info:
        sweep({"sweep": {"scenarios": ["baseline"]}}, out=tmp_path / "o", workers=0)
    assert info.value.field == "workers"


def _loaded(names: tuple[str, ...]) -> list[bool]:
    return [name in sys.modules for name in names]


def _pool_workers(cmdline_part: str = "spawn_main") -> set[int]:
    """This process's live children started by multiprocessing's spawn."""
    found = set()
    for pid in _children(os.getpid()):
        try:
            if cmdline_part in Path(f"/proc/{pid}/cmdline").read_text():
                found.add(pid)
        except OSError:
            continue
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_prestarted_workers_are_taken_over_with_the_model_imported():
    from adoptsim.sweeps import pool as worker_pool

    before = _pool_workers()
    worker_pool.prestart(2)
    prestarted = worker_pool._prestarted[0]
    pool = worker_pool.started_pool(2)
    try:
        assert pool is prestarted and worker_pool._prestarted is None
        # the workers imported the model as they started, not in their first task
        names = ("adoptsim.simulation", "adoptsim.sweeps.dispatch", "mesa")
        assert pool.submit(_loaded, names).result() == [True, True, True]
        assert len(_pool_workers() - before) == 2
    finally:
        worker_pool.stop_pool(pool)
    assert _pool_workers() <= before


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_refused_sweep_stops_the_workers_the_cli_started(tmp_path, capsys):
    before = _pool_workers()
    spec = tmp_path / "bad.toml"
    spec.write_text('[sweep]\nscenarios = ["nope"]\n')
    assert main(["sweep", str(spec), "--out", str(tmp_path / "o"), "--workers", "2"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert _pool_workers() <= before  # stopped before main returned, not at exit


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sweep_refused_by_its_folder_stops_the_workers_it_started(tmp_path):
    before = _pool_workers()
    spec = {"sweep": {"scenarios": ["bass_validation"], "replications": 2, "n_firms": 300}}
    sweep(spec, out=tmp_path / "o", workers=1, progress=False)
    other = {"sweep": {**spec["sweep"], "seed": 5, "replications": 4}}
    with pytest.raises(ScenarioError, match="holds runs made with seed"):
        sweep(other, out=tmp_path / "o", workers=2, progress=False)
    assert _pool_workers() <= before  # not left idle until the interpreter exits
