"""The measured numbers in docs/performance.md and docs/sweeps.md are the ones the benchmark
scripts wrote."""

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _bench(name: str):
    """A benchmark script, loaded as a module (its ``markdown`` writes the docs section)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def test_throughput_section_is_generated_from_the_results():
    bench = _bench("bench_throughput")
    results = json.loads((ROOT / "benchmarks/results_throughput.json").read_text())
    doc = (ROOT / "docs/performance.md").read_text(encoding="utf-8")
    assert bench.markdown(results) in doc, (
        "regenerate: python3 benchmarks/bench_throughput.py --docs-only (or rerun the benchmark)"
    )
    rows = {row["n_firms"] for row in results["sizes"]}
    assert rows == {2000, 5000, 20000, 100000}
    assert results["baseline"] == "92c63b8"  # the commit the issue measures against
    assert all(row["floor_s"] < row["new_s"] for row in results["sizes"])
    assert results["first_use"]["compile_s"] > 0
    assert results["sobol"]["runs"] == 2 * 1024 * (results["sobol"]["factors"] + 2) * 2


def test_sweep_overhead_section_is_generated_from_the_results():
    bench = _bench("bench_sweep")
    results = json.loads((ROOT / "benchmarks/results_sweep.json").read_text())
    doc = (ROOT / "docs/sweeps.md").read_text(encoding="utf-8")
    assert bench.markdown(results) in doc, (
        "regenerate: python3 benchmarks/bench_sweep.py --docs-only (or rerun the benchmark)"
    )
    assert [m["tasks"] for m in results["rss"]] == [8, 32, 64, 256, 1024]


def test_same_distribution_section_is_generated_from_the_results():
    """The old-against-new check of the counter-based uniforms: the docs show what it wrote, and
    what it wrote says no mean moved by more than three of its standard errors."""
    bench = _bench("same_distribution")
    results = json.loads((ROOT / "benchmarks/results_same_distribution.json").read_text())
    doc = (ROOT / "docs/performance.md").read_text(encoding="utf-8")
    assert bench.markdown(results) in doc, (
        "regenerate: python3 benchmarks/same_distribution.py --docs-only (or rerun the check)"
    )
    stats = results["stats"]
    for key in ("baseline", "combined", "effect"):
        assert abs(stats[key]["mean_pp"]) <= 3 * stats[key]["se_pp"], key
