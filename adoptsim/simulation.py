"""Running a scenario: replications, each from its own spawned seed, into one tidy table."""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import functools
import itertools
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from adoptsim import block, memory
from adoptsim.errors import AdoptsimError, ScenarioError
from adoptsim.model import AdoptionModel
from adoptsim.posterior import n_draws, posterior_draw, split_overrides
from adoptsim.precision import run_design, surrogate
from adoptsim.priors import prior_draw
from adoptsim.results import CellRecord, SimulationResult, run_info
from adoptsim.rules import BUILTIN_RULES, RULES, AdoptionRule
from adoptsim.scenario import Scenario, load_scenario
from adoptsim.segments import segment_tables
from adoptsim.streams import replication_seed


def replication_draws(
    scenario: Scenario,
    *,
    seed: int,
    replication: int,
    replications: int | None,
    use_posterior: bool = True,
    use_priors: bool = True,
) -> tuple[int, dict, dict, dict]:
    """The posterior and prior draws replication ``replication`` of a run lays on ``scenario``.

    With ``replications`` (the run's count) the posterior draw and the prior uniforms are those
    of stratum ``replication`` of the run's stratified design
    ([`run_design`][adoptsim.precision.run_design]); without it, draw ``replication mod
    n_draws`` and independent uniforms from ``(seed, replication)``. One function for every
    caller (`run_replication`, the evidence experiments), so a run of R replications samples
    the posterior the same way wherever it is made.

    Returns:
        (posterior draw index or −1, the draw's scenario overrides, its observation-model values,
        the prior draws as dotted keys).
    """
    draw_index, layer, observe = -1, {}, {}
    design = run_design(seed, replications) if replications is not None else None
    posterior = scenario.data["calibration"]["posterior"]
    if use_posterior and posterior != "none":
        index = replication
        if design is not None and len(surrogate()[0]) == n_draws(posterior):
            index = int(design[0][replication])
        draw_index, draw = posterior_draw(posterior, index)
        layer, observe = split_overrides(draw)
    priors = scenario.data["calibration"].get("priors", "none")
    drawn = {}
    if use_priors and priors != "none":
        uniforms = design[1][replication] if design is not None else None
        drawn = prior_draw(seed, replication, priors, uniforms)
    return draw_index, layer, observe, drawn


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
    replications: int | None = None,
    overrides: dict | None = None,
) -> CellRecord:
    """Run one replication to the end; returns its [`CellRecord`][adoptsim.results.CellRecord].

    ``overrides`` (dotted keys) are applied as by ``scenario.with_overrides`` — together with
    the replication's draws, so the scenario is validated once per replication.

    If the scenario names a posterior (``[calibration] posterior``) and ``use_posterior`` is
    true, the replication runs with a posterior draw: with ``replications`` (the run's count, as
    `simulate` passes it) the draw of stratum ``replication`` of the run's stratified design
    ([`run_design`][adoptsim.precision.run_design]), else draw ``replication mod n_draws``
    ([`posterior_draw`][adoptsim.posterior.posterior_draw]); the record's ``draw`` says which
    (−1: none). If the scenario asks for prior draws (``[calibration] priors``) and
    ``use_priors`` is true, it also draws the prior-only parameters
    ([`prior_draw`][adoptsim.priors.prior_draw]) — the design's uniforms with ``replications``,
    else independent ones from ``(seed, replication)``; the record's ``priors`` holds the values.
    """
    model, draw_index, drawn = replication_model(
        scenario,
        n_firms=n_firms,
        seed=seed,
        replication=replication,
        rule=rule,
        barrier_months=barrier_months,
        use_posterior=use_posterior,
        use_priors=use_priors,
        replications=replications,
        overrides=overrides,
    )
    return _finished(model.run(), draw_index, drawn)


def _finished(record: CellRecord, draw_index: int, drawn: dict) -> CellRecord:
    record.draw = draw_index
    record.priors = drawn
    return record


def replication_model(
    scenario: Scenario,
    *,
    n_firms: int | None,
    seed: int,
    replication: int,
    rule: AdoptionRule | None = None,
    barrier_months: set[int] | None = None,
    use_posterior: bool = True,
    use_priors: bool = True,
    replications: int | None = None,
    overrides: dict | None = None,
) -> tuple[AdoptionModel, int, dict]:
    """The model of one replication, before its first step (see `run_replication`).

    Returns:
        (the model, its posterior draw index or −1, its prior draws as dotted keys).
    """
    if overrides and any(k.split(".")[0] == "calibration" for k in overrides):
        # they may change which draws are made: apply them first
        scenario, overrides = scenario.with_overrides(overrides), None
    draw_index, layer, _, drawn = replication_draws(
        scenario,
        seed=seed,
        replication=replication,
        replications=replications,
        use_posterior=use_posterior,
        use_priors=use_priors,
    )
    if drawn or layer:
        # Calibrated draws win over priors should a key ever be in both.
        scenario = scenario.with_draw({**drawn, **layer}, overrides)
    elif overrides:
        scenario = scenario.with_overrides(overrides)
    model = AdoptionModel(
        scenario,
        n_firms=n_firms,
        seed=replication_seed(seed, replication),
        rule=rule,
        barrier_months=barrier_months,
    )
    return model, draw_index, drawn


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
    workers: int = 1,
) -> SimulationResult:
    """Simulate ``scenario`` ``replications`` times and collect the tidy adoption table.

    Args:
        scenario: a [`Scenario`][adoptsim.scenario.Scenario], a built-in name, a TOML path or
            a raw scenario table (a dict, as read from TOML).
        n_firms: agents per run, 100..5·10⁷ (default: the scenario's ``population.n_firms``).
        seed: base seed (a whole number >= 0); replication r uses
            ``SeedSequence(seed, spawn_key=(r,))``.
        replications: number of stochastic replications.
        rule: an adoption rule object overriding the scenario's ``[rule]``.
        parameter_draws: per replication, dotted-key overrides (cycled); they win over the
            scenario and over posterior draws.
        use_posterior: draw parameters from the scenario's shipped posterior (if it names one).
        use_priors: draw the prior-only parameters the scenario asks for
            (``[calibration] priors``; see `adoptsim.priors`).
        barrier_months: months (indices) at which to record barriers by state.
        progress: show a progress bar.
        workers: processes to run the replications on. The result is identical for any number
            (each replication has its own seed); with 2 or more, each call pays a
            pool's start-up (about a second: every worker imports the model), so it pays off
            from a few dozen runs. A ``rule`` object, or a rule registered in this process only,
            needs ``workers=1``: a worker process cannot see it.

    Returns:
        A [`SimulationResult`][adoptsim.results.SimulationResult]; ``.adoption`` has one row per
        replication × month × segment; its ``draw`` column names the posterior draw used (−1: none),
        so bands over replications are parameter + stochastic uncertainty when draws vary.
    """
    replications, n_firms, workers, seed = check_arguments(replications, n_firms, workers, seed)
    sc = load_scenario(scenario)
    processes = min(workers, replications)
    if processes > 1:
        check_portable(sc, rule, workers)
    # Before the pool and the progress bar: a refusal is one line.
    memory.check_scenario(sc, n_firms, concurrent=processes, replications=replications)
    with replication_pool(processes) as pool, memory.checked():
        return run_replications(
            sc,
            n_firms=n_firms,
            seed=seed,
            replications=replications,
            rule=rule,
            parameter_draws=parameter_draws,
            use_posterior=use_posterior,
            use_priors=use_priors,
            barrier_months=barrier_months,
            progress=progress,
            pool=pool,
        )


def simulate_to_precision(
    scenario: Scenario | str,
    *,
    precision: float = 0.005,
    first: int = 40,
    maximum: int = 640,
    seed: int = 0,
    notify: Callable[[str], None] | None = None,
    **kwargs: Any,
) -> SimulationResult:
    """`simulate` with as many replications as the headline's Monte-Carlo precision needs.

    Runs ``first`` replications; if the MC standard error of the last month's all-firm median
    ([`headline_mc_error`][adoptsim.precision.headline_mc_error]) is above ``precision``, runs
    again with R = first·(se/precision)² · 1.2 (the error of a median falls about as 1/√R),
    rounded up to a multiple of ``first`` and at most ``maximum``. Deterministic: the same seed
    gives the same count and results, whatever the worker count.

    Args:
        scenario: as for `simulate`.
        precision: target MC standard error, a share (0.005 = 0.5 pp).
        first: replications of the first pass.
        maximum: most replications run.
        seed: base seed.
        notify: called with one line when a second pass runs (e.g. ``print``).
        **kwargs: passed to `simulate` (``n_firms``, ``workers``, ``progress``, …).

    Returns:
        The result of the last pass; its ``run_info["replications"]`` says how many.
    """
    from adoptsim.precision import headline_mc_error

    result = simulate(scenario, seed=seed, replications=first, **kwargs)
    se = headline_mc_error(result.adoption, seed)
    if se <= precision or first >= maximum:
        return result
    need = first * (se / precision) ** 2 * 1.2
    replications = int(min(maximum, max(2 * first, -(-need // first) * first)))
    if notify is not None:
        notify(
            f"Monte-Carlo s.e. {100 * se:.1f} pp with {first} replications, above the "
            f"precision asked ({100 * precision:.1f} pp): running {replications}"
        )
    return simulate(scenario, seed=seed, replications=replications, **kwargs)


def check_arguments(
    replications: object, n_firms: object, workers: object, seed: object = 0
) -> tuple[int, int | None, int, int]:
    """Refuse bad run arguments in one line each (a `ScenarioError` naming the field).

    Returns (replications, n_firms, workers, seed) as Python ints (NumPy integers accepted).
    """
    from adoptsim import arguments

    return (
        arguments.whole_number(replications, "replications", 1),
        arguments.n_firms(n_firms),
        arguments.workers(workers),
        arguments.seed(seed),
    )


def check_portable(sc: Scenario, rule: AdoptionRule | None, workers: int) -> None:
    """Refuse, before any work, a rule that ``workers`` worker processes could not rebuild."""
    if rule is not None:
        raise ScenarioError(
            "workers",
            workers,
            "a rule object runs in this process only: use workers=1, or name the rule in the "
            "scenario (rule.kind = 'package.module:ClassName')",
        )
    kind = sc.data["rule"]["kind"]
    if kind in RULES and kind not in BUILTIN_RULES:
        raise ScenarioError(
            "rule.kind",
            kind,
            "is registered in this process only, which worker processes cannot see: use "
            "workers=1, or 'package.module:ClassName'",
        )


@contextlib.contextmanager
def replication_pool(processes: int) -> Iterator[cf.ProcessPoolExecutor | None]:
    """A started pool of ``processes`` workers for `run_replications`; None for one process.

    Stopped at once (queued runs cancelled) if the block raises or is interrupted, so Ctrl-C in
    a notebook leaves no worker behind.
    """
    if processes < 2:
        yield None
        return
    from adoptsim.sweeps import pool as worker_pool

    pool = worker_pool.started_pool(processes)
    try:
        yield pool
    except BaseException:
        worker_pool.stop_pool(pool)
        raise
    pool.shutdown(wait=True)


def run_replications(
    sc: Scenario,
    *,
    n_firms: int | None,
    seed: int,
    replications: int,
    rule: AdoptionRule | None = None,
    parameter_draws: Sequence[dict] | None = None,
    use_posterior: bool = True,
    use_priors: bool = True,
    barrier_months: set[int] | None = None,
    progress: bool = False,
    pool: cf.Executor | None = None,
) -> SimulationResult:
    """The body of [`simulate`][adoptsim.simulation.simulate], on ``pool`` or in this process.

    Arguments as for `simulate`, checked; ``pool`` from
    [`replication_pool`][adoptsim.simulation.replication_pool], shared by callers that simulate
    several scenarios (`compare`).
    """
    t0 = time.perf_counter()
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=replications, desc=f"{sc.name}", unit="run")
    draws = [
        dict(parameter_draws[r % len(parameter_draws)]) if parameter_draws else {}
        for r in range(replications)
    ]
    job = functools.partial(
        _replication,
        sc,
        n_firms=n_firms,
        seed=seed,
        rule=rule,
        barrier_months=barrier_months,
        use_posterior=use_posterior,
        use_priors=use_priors,
        replications=replications,  # stratified draws over the run (adoptsim.precision)
    )
    try:
        if pool is None:
            records = _in_blocks(job, draws, sc.n_agents(n_firms), bar)
        else:
            records = _on_pool(pool, job, draws, bar)
    finally:
        if bar is not None:
            bar.close()
    params = [_drawn_parameters(sc, record, draws[r]) for r, record in enumerate(records)]
    adoption = segment_tables(records)
    n = sc.n_agents(n_firms)
    info = run_info(sc, seed=seed, n_firms=n, replications=replications)
    info["posterior_draws"] = [int(rec.draw) for rec in records]
    info["wall_time_s"] = round(time.perf_counter() - t0, 3)
    return SimulationResult(adoption, records, sc.name, seed, n, params, sc.resolved(), info)


def _in_blocks(job: functools.partial, draws: list[dict], n: int, bar: Any) -> list[CellRecord]:
    """The replications in this process, stepped together in blocks (`adoptsim.block`).

    A block's models are built, run to the end together and their records kept; the results
    are those of ``job`` run replication by replication, bit for bit.
    """
    per = block.models_per_block(n)
    records: list[CellRecord] = []
    kwargs = job.keywords
    for lo in range(0, len(draws), per):
        built = []
        with memory.checked():
            for r in range(lo, min(lo + per, len(draws))):
                built.append(
                    replication_model(job.args[0], replication=r, overrides=draws[r], **kwargs)
                )
            block.run_models([model for model, _, _ in built])
        for model, draw_index, drawn in built:
            records.append(_finished(model.recorder.result(), draw_index, drawn))
            if bar is not None:
                bar.update(1)
    return records


def _replication(sc: Scenario, replication: int, draw: dict, **kwargs: object) -> CellRecord:
    """One replication with its explicit overrides (a worker's task: module level, picklable).

    `simulate` checked the memory of the whole job; the replication does not check again.
    """
    with memory.checked():
        return run_replication(sc, replication=replication, overrides=draw, **kwargs)


# Tasks in flight at once: enough to keep any local pool busy, few enough that the queued
# scenarios (one pickled copy per task) stay small whatever the number of replications.
_WINDOW = 64


def _on_pool(
    pool: cf.Executor, job: Callable[[int, dict], CellRecord], draws: list[dict], bar: Any
) -> list[CellRecord]:
    """Run replication r = 0, 1, … as ``job(r, draws[r])`` on ``pool``; records in order r.

    A bounded window is in flight (each task carries the scenario), and each record lands in its
    replication's slot, so the result does not depend on which worker finished first.
    """
    from concurrent.futures.process import BrokenProcessPool

    records: list[CellRecord | None] = [None] * len(draws)
    window = _WINDOW
    todo, inflight = iter(range(len(draws))), {}
    while True:
        for r in itertools.islice(todo, window - len(inflight)):
            inflight[pool.submit(job, r, draws[r])] = r
        if not inflight:
            return records  # type: ignore[return-value]
        done, _ = cf.wait(list(inflight), return_when=cf.FIRST_COMPLETED)
        for fut in done:
            r = inflight.pop(fut)
            try:
                records[r] = fut.result()
            except BrokenProcessPool as exc:
                raise AdoptsimError(
                    f"the worker process running replication {r} died (killed, or out of "
                    "memory); run with workers=1 or fewer firms"
                ) from exc
            if bar is not None:
                bar.update(1)


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
