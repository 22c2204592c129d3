"""Comparing scenarios with common random numbers: paired differences and their bands.

Every scenario is run with the same seed, so replication r of each scenario has the same firms,
network, uniform draws and (with a posterior) the same parameter draw; the difference between two
scenarios in replication r is then the policy effect alone, and its band over replications is far
narrower than the difference of two independent bands.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from adoptsim import memory
from adoptsim.scenario import Scenario, load_scenario
from adoptsim.segments import agent_counts
from adoptsim.simulation import (
    check_arguments,
    check_portable,
    replication_pool,
    run_replications,
)

KEYS = ["replication", "date", "segment_type", "segment"]


@dataclass
class Comparison:
    """Adoption of several scenarios and their paired differences with the first (reference).

    Attributes:
        adoption: tidy table of every scenario (``scenario`` column added).
        scenarios: the scenarios compared, by name.
        agents: agents simulated per segment (segments with few are flagged in figures).
        differences: per replication, scenario − reference for each row (same keys).
        summary: year-end table: median and 5–95 % band of levels and of paired differences.
        frames: each scenario's run read through each survey's frame
            ([`survey_frames`][adoptsim.observe.survey_frames], a ``scenario`` column added).
        seed, n_firms, replications: how the scenarios were run.
    """

    reference: str
    adoption: pd.DataFrame
    differences: pd.DataFrame
    summary: pd.DataFrame
    scenarios: dict[str, Scenario] = field(default_factory=dict)
    agents: pd.DataFrame | None = None  # agents per segment (same firms in every scenario)
    frames: pd.DataFrame | None = None
    seed: int | None = None
    n_firms: int | None = None
    replications: int | None = None


def report_lines(comp: Comparison) -> list[str]:
    """Console lines of a comparison, with the Monte-Carlo standard error of every number.

    Each scenario's last year-end median and its paired difference with the reference; then a
    warning for each error above 1 pp (`adoptsim.precision`).
    """
    from adoptsim.precision import precision_note, precision_warning, table_mc_error

    seed = comp.seed or 0
    final = comp.summary[
        (comp.summary.segment_type == "all") & (comp.summary.date == comp.summary.date.max())
    ]
    lines, warnings = [], []
    for _, row in final.iterrows():
        a, d = comp.adoption, comp.differences
        level = a[(a.scenario == row.scenario) & (a.date == row.date) & (a.segment_type == "all")]
        se = table_mc_error(level, seed=seed)
        warnings.append(precision_warning(se, f"{row.scenario}'s {row.date} median"))
        diff = ""
        if not pd.isna(row.diff_uses_ai_median):
            paired = d[
                (d.scenario == row.scenario) & (d.date == row.date) & (d.segment_type == "all")
            ]
            dse = table_mc_error(paired, seed=seed)
            warnings.append(precision_warning(dse, f"{row.scenario}'s {row.date} difference"))
            diff = (
                f"; vs {comp.reference} {100 * row.diff_uses_ai_median:+.1f} pp "
                f"({precision_note(dse)}) "
                f"[{100 * row.diff_uses_ai_p05:+.1f}, {100 * row.diff_uses_ai_p95:+.1f}]"
            )
        value = f"{row.uses_ai_median:.1%} ({precision_note(se)})"
        lines.append(f"{row.scenario}: {row.date} uses AI {value}{diff}")
    return lines + [w for w in warnings if w]


def compare(
    scenarios: list[str | Scenario],
    *,
    n_firms: int | None = None,
    seed: int = 0,
    replications: int = 10,
    progress: bool = False,
    years: tuple[int, ...] = (2024, 2025, 2026, 2027, 2028),
    workers: int = 1,
) -> Comparison:
    """Run ``scenarios`` with common random numbers and compare each with the first.

    Replication r of every scenario uses the same seed, hence the same firms, network and
    uniform draws, so a paired difference shows the effect of the scenarios' differences and
    little noise.

    Args:
        scenarios: two or more scenarios (built-in names, TOML paths or
            [`Scenario`][adoptsim.scenario.Scenario] objects); the first is the reference.
        n_firms: agents per run (default: each scenario's ``population.n_firms``).
        seed: base seed shared by all scenarios (common random numbers).
        replications: runs per scenario; the bands are taken over them.
        progress: show a progress bar.
        years: years whose last month goes into ``summary``.
        workers: processes to run the replications on, one pool for all scenarios; the result
            is identical for any number (see [`simulate`][adoptsim.simulation.simulate]).

    Returns:
        A [`Comparison`][adoptsim.comparison.Comparison]: the tidy adoption of every scenario,
        the paired differences with the reference and a year-end summary.
    """
    from adoptsim.errors import ScenarioError

    replications, n_firms, workers, seed = check_arguments(replications, n_firms, workers, seed)
    if isinstance(scenarios, str | bytes) or not hasattr(scenarios, "__iter__"):
        raise ScenarioError("scenarios", scenarios, "must be a list of scenarios (names, paths)")
    loaded = [load_scenario(s) for s in scenarios]
    processes = min(workers, replications)
    for sc in loaded:  # all of them before the first runs
        if processes > 1:
            check_portable(sc, None, workers)
        # every scenario's table and their concatenation are held at once
        memory.check_scenario(
            sc, n_firms, concurrent=processes, replications=replications, copies=2 * len(loaded)
        )
    if len(loaded) < 2:
        raise ScenarioError("scenarios", [s.name for s in loaded], "name at least two scenarios")
    names = [s.name for s in loaded]
    if len(set(names)) != len(names):
        raise ScenarioError("scenarios", names, "each scenario must appear once")
    from adoptsim.observe import survey_frames

    frames, agents, survey, n = [], None, [], None
    with replication_pool(processes) as pool:
        for sc in loaded:
            res = run_replications(
                sc,
                n_firms=n_firms,
                seed=seed,
                replications=replications,
                progress=progress,
                pool=pool,
            )
            frames.append(res.adoption.assign(scenario=sc.name))
            survey.append(survey_frames(res).assign(scenario=sc.name))
            n = res.n_firms
            if agents is None and res.records:
                agents = agent_counts(res.records[0])
    adoption = pd.concat(frames, ignore_index=True)
    ref = adoption[adoption.scenario == names[0]].set_index(KEYS)
    diffs = []
    for name in names[1:]:
        other = adoption[adoption.scenario == name].set_index(KEYS)
        d = other[["adopters_share", "at_scale_share"]] - ref[["adopters_share", "at_scale_share"]]
        diffs.append(d.reset_index().assign(scenario=name))
    differences = pd.concat(diffs, ignore_index=True)
    ends = {f"{y}-12" for y in years}
    summary = _summary(adoption[adoption.date.isin(ends)], differences[differences.date.isin(ends)])
    return Comparison(
        names[0],
        adoption,
        differences,
        summary,
        {s.name: s for s in loaded},
        agents,
        frames=pd.concat(survey, ignore_index=True),
        seed=seed,
        n_firms=n,
        replications=replications,
    )


def _bands(frame: pd.DataFrame, prefix: str) -> pd.DataFrame:
    g = frame.groupby(["scenario", "date", "segment_type", "segment"], sort=False)
    out = []
    for col, short in (("adopters_share", "uses_ai"), ("at_scale_share", "at_scale")):
        q = g[col].quantile([0.05, 0.5, 0.95]).unstack()
        q.columns = [f"{prefix}{short}_{c}" for c in ("p05", "median", "p95")]
        out.append(q)
    return pd.concat(out, axis=1)


def _summary(levels: pd.DataFrame, diffs: pd.DataFrame) -> pd.DataFrame:
    table = _bands(levels, "").join(_bands(diffs, "diff_"), how="left").reset_index()
    table["year"] = table.date.str[:4].astype(int)
    return table
