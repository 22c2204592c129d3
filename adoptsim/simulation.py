"""Running a scenario: replications, each from its own spawned seed, into one tidy table."""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import pandas as pd

from adoptsim import memory
from adoptsim.errors import ScenarioError
from adoptsim.model import AdoptionModel
from adoptsim.posterior import posterior_draw, split_overrides
from adoptsim.priors import prior_draw
from adoptsim.results import (
    ADOPTION_COLUMNS,
    CellRecord,
    SimulationResult,
    run_info,
    segment_table,
)
from adoptsim.rules import AdoptionRule
from adoptsim.scenario import Scenario, load_scenario


def replication_seed(seed: int, replication: int) -> np.random.SeedSequence:
    """The seed of one replication: child ``replication`` of ``SeedSequence(seed)``.

    A child's identity depends only on (seed, replication), never on how many replications or
    workers there are, which makes results independent of the execution plan; the same seed gives
    every scenario the same firms, network and uniform draws (common random numbers).
    """
    return np.random.SeedSequence(seed, spawn_key=(replication,))


def run_replication(
    scenario: Scenario,
    *,
    n_firms: int | None,
    seed: int,
    replication: int,
    rule: AdoptionRule | None = None,
    barrier_months: set[int] | None = None,
    use_posterior: bool = True,
    use_priors: bool = True,
) -> CellRecord:
    """Run one replication to the end; returns its [`CellRecord`][adoptsim.results.CellRecord].

    If the scenario names a posterior (``[calibration] posterior``) and ``use_posterior`` is
    true, the replication runs with posterior draw ``replication mod n_draws``
    ([`posterior_draw`][adoptsim.posterior.posterior_draw]); the record's ``draw`` says which (−1:
    none). If the scenario asks for prior draws (``[calibration] priors``) and ``use_priors`` is
    true, it also draws the prior-only parameters from ``(seed, replication)``
    ([`prior_draw`][adoptsim.priors.prior_draw]); the record's ``priors`` holds the values.
    """
    draw_index = -1
    layer: dict = {}
    posterior = scenario.data["calibration"]["posterior"]
    if use_posterior and posterior != "none":
        draw_index, draw = posterior_draw(posterior, replication)
        layer.update(split_overrides(draw)[0])
    priors = scenario.data["calibration"].get("priors", "none")
    drawn = prior_draw(seed, replication, priors) if use_priors and priors != "none" else {}
    if drawn or layer:
        # Calibrated draws win over priors should a key ever be in both.
        scenario = scenario.with_draw({**drawn, **layer})
    model = AdoptionModel(
        scenario,
        n_firms=n_firms,
        seed=replication_seed(seed, replication),
        rule=rule,
        barrier_months=barrier_months,
    )
    record = model.run()
    record.draw = draw_index
    record.priors = drawn
    return record


def simulate(
    scenario: Scenario | str,
    *,
    n_firms: int | None = None,
    seed: int = 0,
    replications: int = 1,
    rule: AdoptionRule | None = None,
    parameter_draws: Sequence[dict] | None = None,
    use_posterior: bool = True,
    use_priors: bool = True,
    barrier_months: set[int] | None = None,
    progress: bool = False,
) -> SimulationResult:
    """Simulate ``scenario`` ``replications`` times and collect the tidy adoption table.

    Args:
        scenario: a [`Scenario`][adoptsim.scenario.Scenario], a built-in name or a TOML path.
        n_firms: agents per run (default: the scenario's ``population.n_firms``).
        seed: base seed; replication r uses ``SeedSequence(seed, spawn_key=(r,))``.
        replications: number of stochastic replications.
        rule: an adoption rule object overriding the scenario's ``[rule]``.
        parameter_draws: per replication, dotted-key overrides (cycled); they win over the
            scenario and over posterior draws.
        use_posterior: draw parameters from the scenario's shipped posterior (if it names one).
        use_priors: draw the prior-only parameters the scenario asks for
            (``[calibration] priors``; see `adoptsim.priors`).
        barrier_months: months (indices) at which to record barriers by state.
        progress: show a progress bar.

    Returns:
        A [`SimulationResult`][adoptsim.results.SimulationResult]; ``.adoption`` has one row per
        replication × month × segment; its ``draw`` column names the posterior draw used (−1: none),
        so bands over replications are parameter + stochastic uncertainty when draws vary.
    """
    if isinstance(replications, bool) or not isinstance(replications, int) or replications < 1:
        raise ScenarioError("replications", replications, "must be a whole number >= 1")
    if n_firms is not None and (not isinstance(n_firms, int) or n_firms < 100):
        raise ScenarioError("n_firms", n_firms, "must be a whole number >= 100")
    sc = load_scenario(scenario)
    memory.check_scenario(sc, n_firms)  # before the progress bar: a refusal is one line
    t0 = time.perf_counter()
    iterator = range(replications)
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(iterator, desc=f"{sc.name}", unit="run")
    records, frames, params = [], [], []
    for r in iterator:
        draw = dict(parameter_draws[r % len(parameter_draws)]) if parameter_draws else {}
        record = run_replication(
            sc.with_overrides(draw) if draw else sc,
            n_firms=n_firms,
            seed=seed,
            replication=r,
            rule=rule,
            barrier_months=barrier_months,
            use_posterior=use_posterior,
            use_priors=use_priors,
        )
        table = segment_table(record)
        table.insert(0, "replication", r)
        table["draw"] = record.draw
        records.append(record)
        frames.append(table)
        params.append(_drawn_parameters(sc, record, draw))
    adoption = pd.concat(frames, ignore_index=True)[ADOPTION_COLUMNS]
    n = n_firms or sc.data["population"]["n_firms"]
    info = run_info(sc, seed=seed, n_firms=n, replications=replications)
    info["posterior_draws"] = [int(rec.draw) for rec in records]
    info["wall_time_s"] = round(time.perf_counter() - t0, 3)
    return SimulationResult(adoption, records, sc.name, seed, n, params, sc.resolved(), info)


def _drawn_parameters(sc: Scenario, record: CellRecord, overrides: dict) -> dict:
    """The values a replication ran with beyond its scenario.

    Prior and posterior draws (less the keys the scenario sets itself), then explicit overrides.
    """
    keep = set(sc.resolved()["calibration"]["keep"])
    out: dict = {k: v for k, v in (getattr(record, "priors", None) or {}).items() if k not in keep}
    posterior = sc.data["calibration"]["posterior"]
    if record.draw >= 0 and posterior != "none":
        drawn = split_overrides(posterior_draw(posterior, record.draw)[1])[0]
        out.update({k: v for k, v in drawn.items() if k not in keep})
    out.update({k: (v.to_toml() if hasattr(v, "to_toml") else v) for k, v in overrides.items()})
    return out
