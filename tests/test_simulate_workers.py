"""Replications on several processes: the same result as one process, bad input in one line."""

import filecmp
import os
import time

import pandas as pd
import pytest

import adoptsim
from adoptsim import ScenarioError
from adoptsim.cli import main
from adoptsim.rules import RULES, BassRule, register_rule


def _children() -> set[int]:
    """Pids of this process's live pool workers (Linux /proc).

    Not multiprocessing's resource tracker: one per interpreter, it lives as long as its parent.
    """
    me = str(os.getpid())
    kids = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[1] == me and fields[0] != "Z":
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if b"resource_tracker" not in f.read():
                        kids.add(int(entry))
    return kids


def test_two_workers_give_the_one_process_result():
    kwargs = {"n_firms": 800, "seed": 5, "replications": 5}
    before = _children()
    one = adoptsim.simulate("baseline", **kwargs)
    two = adoptsim.simulate("baseline", workers=2, **kwargs)
    pd.testing.assert_frame_equal(one.adoption, two.adoption, check_exact=True)
    assert one.parameters == two.parameters  # prior and posterior draws per replication
    assert one.run_info["posterior_draws"] == two.run_info["posterior_draws"]
    assert [r.draw for r in one.records] == [r.draw for r in two.records]
    deadline = time.monotonic() + 10
    while _children() - before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _children() - before, "the pool's workers outlived the call"


def test_compare_on_one_pool_gives_the_one_process_result():
    kwargs = {"n_firms": 600, "seed": 2, "replications": 3}
    one = adoptsim.compare(["baseline", "subsidy_plus"], **kwargs)
    two = adoptsim.compare(["baseline", "subsidy_plus"], workers=2, **kwargs)
    pd.testing.assert_frame_equal(one.adoption, two.adoption, check_exact=True)
    pd.testing.assert_frame_equal(one.differences, two.differences, check_exact=True)


@pytest.mark.parametrize("workers", [0, -1, 1.5, True, "2"])
def test_bad_worker_counts_are_refused_naming_the_field(workers):
    with pytest.raises(ScenarioError, match=r"^workers = .* must be a whole number >= 1"):
        adoptsim.simulate("baseline", n_firms=500, workers=workers)
    with pytest.raises(ScenarioError, match=r"^workers = "):
        adoptsim.compare(["baseline", "no_policy"], n_firms=500, workers=workers)


def test_rules_a_worker_cannot_see_are_refused_before_any_run():
    with pytest.raises(ScenarioError, match="a rule object runs in this process only"):
        adoptsim.simulate("baseline", n_firms=500, replications=2, workers=2, rule=BassRule())

    class LocalRule(BassRule):
        kind = "local_test_rule"

    saved = dict(RULES)
    try:
        register_rule(LocalRule)
        sc = adoptsim.Scenario.from_dict({"rule": {"kind": "local_test_rule"}})
        with pytest.raises(ScenarioError, match=r"rule.kind = 'local_test_rule' — is registered"):
            adoptsim.simulate(sc, n_firms=500, replications=2, workers=2)
        # One replication needs no pool, so nothing is refused.
        assert len(adoptsim.simulate(sc, n_firms=500, replications=1, workers=2).records) == 1
    finally:
        RULES.clear()
        RULES.update(saved)


def test_cli_run_writes_the_same_bytes_on_two_workers(tmp_path, capsys):
    def run(name, workers):
        out = tmp_path / name
        argv = ["run", "baseline", "--firms", "800", "--replications", "3", "--seed", "7"]
        assert main([*argv, "--workers", str(workers), "--out", str(out), "--quiet"]) == 0
        return out / "adoption.csv"

    assert filecmp.cmp(run("one", 1), run("two", 2), shallow=False)


def test_cli_refuses_a_bad_worker_count_in_one_line(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["run", "baseline", "--workers", "0"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--workers" in err[0]


def test_pool_workers_run_one_blas_thread():
    """Every worker limits its BLAS to one thread: with OpenBLAS's default (one per core) in
    each of 2 workers, a 20,000-firm run took 3.5 times as long as in one process."""
    from threadpoolctl import threadpool_info

    from adoptsim.simulation import replication_pool

    with replication_pool(2) as pool:
        info = pool.submit(threadpool_info).result()
    blas = [lib for lib in info if lib["user_api"] == "blas"]
    assert blas, info  # NumPy's BLAS is loaded with the model
    assert all(lib["num_threads"] == 1 for lib in blas), blas
