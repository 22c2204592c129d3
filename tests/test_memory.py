"""The memory guard: measured constants, documented table, and refusals in one line."""

import importlib.util
import json
from pathlib import Path

import pytest

import adoptsim
from adoptsim import memory

REPO = Path(adoptsim.__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results_memory.json"


def _benchmark():
    spec = importlib.util.spec_from_file_location(
        "memory_per_firm", RESULTS.parent / "memory_per_firm.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_constants_are_the_measured_ones():
    measured = json.loads(RESULTS.read_text())
    assert memory.BYTES_PER_FIRM == round(measured["bytes_per_firm"])
    assert memory.BYTES_PER_TIE == round(measured["bytes_per_tie"])
    assert memory.COMPLETE_BYTES_PER_FIRM == round(measured["complete_network_bytes_per_firm"])
    assert memory.BYTES_PER_TASK == round(measured["sweep_plan_bytes_per_task"])
    # the fit describes every measured run within 10 %
    for run in measured["runs"]:
        estimate = memory.run_bytes(run["n_firms"], run["mean_degree"])
        assert abs(estimate - run["extra_bytes"]) <= 0.10 * run["extra_bytes"], run


def test_docs_table_is_current():
    bench = _benchmark()
    text = (REPO / "docs" / "performance.md").read_text()
    table = bench.memory_table(json.loads(RESULTS.read_text()))
    assert f"{bench.BEGIN}\n{table}\n{bench.END}" in text


def test_estimate_grows_with_firms_and_ties():
    assert memory.run_bytes(1000, 0) == 1000 * memory.BYTES_PER_FIRM
    assert memory.run_bytes(1000, 10) == 1000 * (memory.BYTES_PER_FIRM + 10 * memory.BYTES_PER_TIE)
    assert memory.run_bytes(1000, 10, "complete") == 1000 * memory.COMPLETE_BYTES_PER_FIRM
    assert memory.run_bytes(10**12) > 10**14  # Python ints: no overflow for absurd counts


def test_refusal_names_field_needed_and_available(monkeypatch):
    monkeypatch.setattr(memory, "available_bytes", lambda: 22 * 10**9)
    with pytest.raises(memory.MemoryGuardError) as info:
        memory.check_run(50_000_000, 10.0)
    assert str(info.value).startswith(
        "n_firms = 50000000 — needs about 32 GB, 22 GB available; use fewer firms"
    )
    with pytest.raises(memory.MemoryGuardError, match="use fewer firms or fewer workers"):
        memory.check_run(20_000_000, 10.0, concurrent=2)
    memory.check_run(20_000_000, 10.0)  # 13 GB fits in 22 GB
    monkeypatch.setenv(memory.ENV, "0")
    memory.check_run(50_000_000, 10.0)  # the switch turns the guard off


def test_unknown_available_memory_does_not_refuse(monkeypatch):
    monkeypatch.setattr(memory, "available_bytes", lambda: None)
    memory.check_run(10**12, 10.0)


def test_available_memory_is_read_from_the_system():
    free = memory.available_bytes()
    assert free is None or 0 < free < 2**50


def test_model_refuses_before_building(monkeypatch):
    monkeypatch.setattr(memory, "available_bytes", lambda: 10**9)
    with pytest.raises(memory.MemoryGuardError):
        adoptsim.AdoptionModel("baseline", n_firms=50_000_000)  # would take 32 GB


def _count_checks(monkeypatch) -> list[int]:
    """Count the memory checks that reach the system (one `available_bytes` call each)."""
    calls: list[int] = []

    def counted() -> int:
        calls.append(1)
        return 10**12

    monkeypatch.setenv(memory.ENV, "1")
    monkeypatch.setattr(memory, "available_bytes", counted)
    return calls


def test_simulate_checks_memory_once_per_job(monkeypatch):
    calls = _count_checks(monkeypatch)
    adoptsim.simulate("baseline", n_firms=300, replications=1, seed=1)
    one = len(calls)
    assert one >= 1
    calls.clear()
    adoptsim.simulate("baseline", n_firms=300, replications=3, seed=1)
    assert len(calls) == one  # at the start of the job, not once more per replication
    calls.clear()
    adoptsim.AdoptionModel("baseline", n_firms=300, seed=1)
    assert len(calls) == 1  # a model built on its own still checks


def test_cli_run_checks_memory_once(monkeypatch, tmp_path):
    from adoptsim.cli import main

    calls = _count_checks(monkeypatch)
    counts = []
    for reps in ("1", "3"):
        calls.clear()
        argv = ["run", "baseline", "--firms", "300", "--replications", reps, "--quiet"]
        assert main([*argv, "--out", str(tmp_path / reps)]) == 0
        counts.append(len(calls))
    assert counts[0] >= 1 and counts[1] == counts[0]  # the CLI's checks only, none per run


def test_checked_job_still_refuses_outside(monkeypatch):
    monkeypatch.setenv(memory.ENV, "1")
    monkeypatch.setattr(memory, "available_bytes", lambda: 10**9)
    with memory.checked():
        memory.check_run(50_000_000, 10.0)  # inside a checked job: no second check
    with pytest.raises(memory.MemoryGuardError, match="n_firms = 50000000"):
        memory.check_run(50_000_000, 10.0)
