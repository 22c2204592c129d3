"""Joint Bayesian calibration of Flanders/Belgium and the Netherlands on the same survey waves.

Method (docs/calibration.md says why):

1. **Targets** ([`select_targets`][adoptsim.fit.targets.select_targets]): every observable row
   dated up to the origin (at most 2024-12), for both countries.
2. **Design** ([`design_round`][adoptsim.fit.design.design_round]): parameter vectors from the
   prior box (round 1, Latin hypercube), then from a widened Gaussian around the previous
   round's posterior (history-matching style rounds). Each vector is simulated for each country
   with common random numbers; the *latent* shares (users and at-scale users in each target's
   denominator) are recorded, so the observation models stay exact functions of their
   parameters instead of being emulated.
3. **Emulator** ([`adoptsim.fit.emulator.Emulator`][adoptsim.fit.emulator.Emulator]): a Gaussian
   process per principal component of each country's latent outputs, with predictive
   covariance; validated on held-out design points.
4. **Likelihood** ([`Likelihood`][adoptsim.fit.likelihood.Likelihood]): observed shares are
   Gaussian around the observation model applied to the emulated latents, with covariance =
   survey sampling covariance (nested targets of one wave, e.g. Belgium all / SME / 10–49,
   correlate) + emulator covariance + model discrepancy φ²·p(1 − p) with a half-normal prior.
5. **Posterior** ([`sample_posterior`][adoptsim.fit.mcmc.sample_posterior]): emcee's affine-
   invariant ensemble sampler, four independent ensembles from dispersed starts, split R-hat
   across them; then the emulator is checked by simulating at posterior draws.

Every simulation is appended to `DIR/evals.jsonl` as it finishes; a rerun with the same settings
takes finished ones from there (the design is deterministic given the seed), so an interrupted
calibration resumes and gives the same result.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from adoptsim import streams
from adoptsim.atomic import write_csv, write_text
from adoptsim.errors import ScenarioError
from adoptsim.fit.design import design_round, prior_design, simulation_noise, widened_design
from adoptsim.fit.evaluations import EvaluationStore, Evaluator, make_pool
from adoptsim.fit.likelihood import Likelihood, fit_emulators, prepare
from adoptsim.fit.mcmc import check_at_draws, mass_at_bounds, sample_posterior
from adoptsim.fit.targets import check_cutoff, check_origin, target_weights
from adoptsim.observe import (
    load_targets,
)
from adoptsim.posterior import (
    COUNTRIES,
    DEFAULT_FIXED,
    JointParameter,
    joint_parameters,
)


# --- results -------------------------------------------------------------------------------------
@dataclass
class CalibrationResult:
    """What a calibration produced (also written to `DIR`)."""

    countries: tuple[str, ...]
    draws: pd.DataFrame
    rows: pd.DataFrame
    left_out: pd.DataFrame
    report: dict = field(default_factory=dict)
    likelihood: Likelihood | None = None


def _settings_tag(settings: dict) -> str:
    return hashlib.sha1(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()


def _locked_folder(fn: Callable) -> Callable:
    """Run ``fn(..., out=...)`` holding the lock of folder ``out`` (as a sweep does).

    Two calibrations on one folder would append to one ``evals.jsonl`` and overwrite each
    other's results; the second is refused at once. A folder the call created is removed again
    if it fails before writing anything but the lock.
    """
    import functools

    @functools.wraps(fn)
    def locked(*args, out, budget: int = 600, replications: int = 2, **kwargs):
        from adoptsim import arguments, memory
        from adoptsim.sweeps.store import LOCK, FolderLock

        out = Path(arguments.path_or_name(out, "out"))
        budget = arguments.whole_number(budget, "budget", 10)
        replications = arguments.whole_number(replications, "replications", 1)
        countries = args[0] if args else kwargs.get("countries", COUNTRIES)
        n = 1 if isinstance(countries, str) else max(len(tuple(countries)), 1)
        # every design point's evaluations are held in memory: refused before any is made
        needed = budget * replications * n * memory.BYTES_PER_EVALUATION
        memory.check("budget", budget, needed, "use a smaller budget")
        existed = out.exists()
        try:
            with FolderLock(out, what="calibration"):
                return fn(*args, out=out, budget=budget, replications=replications, **kwargs)
        except BaseException:
            if not existed and [p.name for p in out.iterdir()] == [LOCK]:
                (out / LOCK).unlink()
                out.rmdir()
            raise

    return locked


@_locked_folder
def calibrate(
    countries: str | Sequence[str] = COUNTRIES,
    *,
    out: str | Path,
    budget: int = 600,
    n_firms: int | None = None,
    replications: int = 2,
    seed: int = 0,
    workers: int = 2,
    targets: pd.DataFrame | None = None,
    origin: str | None = None,
    cutoff: str | None = None,
    fixed: dict[str, float] | None = None,
    n_draws: int = 200,
    mcmc_steps: int = 1500,
    rounds: int = 3,
    check_draws: int = 20,
    progress: bool = True,
    executor: Executor | None = None,
    use_default_fixed: bool = True,
) -> CalibrationResult:
    """Fit the joint posterior of Flanders/Belgium and the Netherlands (or one of them).

    Args:
        countries: `("flanders", "netherlands")` (joint, partial pooling), or one name.
        out: folder for `evals.jsonl` (resumable), `posterior.csv`, `fit.json`, `fit.csv`.
        budget: design points (each simulated `replications` times per country).
        n_firms: agents per simulation (default: the calibration scenarios' 10,000).
        replications: runs averaged per design point (common random numbers).
        seed: seeds the design, the simulations (replication r: `SeedSequence(seed, (r,))`) and
            the samplers.
        workers: local processes (spawned, one thread each) when `executor` is None.
        targets: the targets table (default: the shipped one).
        origin: use targets dated up to this month only ("YYYY-MM", at most the cutoff).
        cutoff: last month of targets any fit may use (default 2024-12, the shipped targets'
            end); pass a later one with a `targets` table that holds later waves.
        fixed: joint parameters held at a value instead of fitted (on top of `DEFAULT_FIXED`).
        n_draws: posterior draws kept in `posterior.csv`.
        mcmc_steps: steps of each of the four emcee ensembles (half burn-in).
        rounds: design rounds (1: prior box only).
        check_draws: posterior draws simulated to check the emulator.
        progress: show tqdm progress bars.
        executor: any `concurrent.futures` executor to simulate on.
        use_default_fixed: hold `adoptsim.posterior.DEFAULT_FIXED` at their documented values.

    Returns:
        A `CalibrationResult`; the same files are written to `out`.

    Raises:
        AdoptsimError: a bad argument, a budget that cannot fit in memory, or another
            calibration running in `out` (one line each).
    """
    t0 = time.perf_counter()
    countries = (countries,) if isinstance(countries, str) else tuple(countries)
    if not countries or any(c not in COUNTRIES for c in countries):
        bad = next((c for c in countries if c not in COUNTRIES), countries)
        raise ScenarioError("population", bad, f"must be one of {', '.join(COUNTRIES)} or both")
    all_params = joint_parameters(countries)
    fixed = DEFAULT_FIXED | dict(fixed or {}) if use_default_fixed else dict(fixed or {})
    unknown = [k for k in fixed if k not in {p.name for p in all_params}]
    if unknown:
        names = ", ".join(p.name for p in all_params)
        raise ScenarioError("fixed", unknown[0], f"must be a parameter name: {names}")
    cutoff = check_cutoff(cutoff)
    origin = check_origin(origin, cutoff)
    out = Path(out)
    params = tuple(p for p in all_params if p.name not in fixed)
    table = load_targets() if targets is None else targets
    data, left_out = prepare(countries, table, origin, n_firms, seed, replications, cutoff)
    lik = Likelihood(params, fixed, data)
    settings = {
        "countries": countries,
        "seed": seed,
        "replications": replications,
        "n_firms": {c: d.model.n_firms for c, d in data.items()},
        "targets": {c: list(d.rows.id) for c, d in data.items()},
        "scenario": {c: d.model.scenario_raw for c, d in data.items()},
    }
    store = EvaluationStore(out / "evals.jsonl", _settings_tag(settings))
    sizes = _round_sizes(budget, rounds)
    total = len(countries) * (sum(sizes) + check_draws + len(sizes))
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc=f"calibrate {'+'.join(countries)}", unit="sim")
    own = executor is None and workers > 1
    pool = make_pool(workers) if own else executor
    rounds_report = []
    # The emulator's small matrix products run best on one BLAS thread (the machine is shared;
    # the simulations run in their own processes).
    limits = threadpool_limits(limits=1)
    try:
        evaluator = Evaluator(
            {c: d.model for c, d in data.items()}, store, pool, bar.update if bar else lambda n: 0
        )
        design: dict[str, list] = {c: [[], []] for c in countries}
        draws = None
        for rnd, size in enumerate(sizes):
            if rnd == 0:
                theta = prior_design(params, size, seed)
                centre = np.array(
                    [[(p.lo + p.hi) / 2 if p.prior == "uniform" else 0.0 for p in params]]
                )
            else:
                flat = draws.reshape(-1, len(params))
                theta = widened_design(params, flat, size, seed + rnd)
                centre = flat.mean(axis=0, keepdims=True)
            simulation_noise(lik, evaluator, centre)
            for country, (x, y) in design_round(lik, evaluator, theta).items():
                design[country][0].append(x)
                design[country][1].append(y)
            stacked = {c: (np.vstack(v[0]), np.vstack(v[1])) for c, v in design.items()}
            checks = fit_emulators(lik, stacked, seed)
            last = rnd == len(sizes) - 1
            steps = mcmc_steps if last else max(mcmc_steps // 3, 200)
            draws, diag = sample_posterior(lik, params, steps, seed + rnd, progress=progress)
            rounds_report.append({"points": size, "emulator": checks, "mcmc": diag})
        flat = draws.reshape(-1, len(params))
        sim_check = check_at_draws(lik, evaluator, flat, check_draws, seed)
    finally:
        limits.restore_original_limits()
        if own and pool is not None:
            pool.shutdown(cancel_futures=True)
        if bar is not None:
            bar.close()
    result = write_outputs(
        out,
        lik,
        all_params,
        fixed,
        flat,
        n_draws,
        seed,
        left_out,
        {
            "countries": list(countries),
            "method": "Gaussian-process emulator (scikit-learn, PCA of latent shares) + emcee "
            "ensembles from dispersed starts; survey covariance, model discrepancy and emulator "
            "variance in the likelihood",
            "origin": origin,
            "cutoff": cutoff,
            "budget": budget,
            "rounds": rounds_report,
            "mcmc": rounds_report[-1]["mcmc"],
            "emulator": rounds_report[-1]["emulator"],
            "emulator_at_posterior_draws": sim_check,
            "simulations": evaluator.simulations,
            "design_points": int(sum(sizes)),
            "n_firms": settings["n_firms"],
            "replications": replications,
            "seed": seed,
            "fixed": fixed,
            "workers": workers,
        },
    )
    result.report["runtime_s"] = time.perf_counter() - t0
    write_text(out / "fit.json", json.dumps(result.report, indent=2, default=float))
    return result


def _round_sizes(budget: int, rounds: int) -> list[int]:
    """Design points per round: 40 % in the prior box, the rest split over the later rounds."""
    if rounds <= 1:
        return [budget]
    first = max(int(0.4 * budget), 5)
    rest = budget - first
    sizes = [first] + [rest // (rounds - 1)] * (rounds - 1)
    sizes[-1] += budget - sum(sizes)
    return sizes


def write_outputs(
    out: Path,
    lik: Likelihood,
    all_params: tuple[JointParameter, ...],
    fixed: dict[str, float],
    flat: np.ndarray,
    n_draws: int,
    seed: int,
    left_out: pd.DataFrame,
    report: dict,
) -> CalibrationResult:
    """Step 6: posterior.csv (thinned draws), fit.csv (emulated fit), fit.json (diagnostics)."""
    rng = streams.stream(seed, streams.POSTERIOR_THINNING)
    pick = np.sort(rng.choice(len(flat), size=min(n_draws, len(flat)), replace=False))
    kept = flat[pick]
    draws = pd.DataFrame(
        {p.name: np.full(len(kept), fixed.get(p.name, np.nan)) for p in all_params}
    )
    for j, p in enumerate(lik.params):
        draws[p.name] = kept[:, j]
    write_csv(out / "posterior.csv", draws, float_format="%.6g")
    fit_parts = []
    for country, data in lik.data.items():
        mean, _ = lik.moments(country, flat[:: max(1, len(flat) // 1000)])
        part = data.rows[
            [
                "id",
                "survey",
                "geography",
                "segment_type",
                "segment",
                "date",
                "value",
                "se",
                "status",
            ]
        ].copy()
        part["weight"] = target_weights(data.rows)
        part["emulated_posterior_mean"] = mean.mean(axis=0)
        fit_parts.append(part)
    fit_table = pd.concat(fit_parts, ignore_index=True)
    write_csv(out / "fit.csv", fit_table, float_format="%.5g")
    summary = {
        p.name: {
            "prior": p.prior if p.prior == "uniform" else f"{p.prior}({p.scale:g})",
            "bounds": [p.lo, p.hi],
            "median": float(np.median(flat[:, j])),
            "q05": float(np.quantile(flat[:, j], 0.05)),
            "q95": float(np.quantile(flat[:, j], 0.95)),
        }
        for j, p in enumerate(lik.params)
    }
    report = report | {
        "parameters": summary,
        "mass_at_bounds": mass_at_bounds(lik.params, flat),
        "targets_used": {c: list(d.rows.id) for c, d in lik.data.items()},
        "left_out": dict(zip(left_out.id, left_out.reason, strict=True)),
    }
    return CalibrationResult(tuple(lik.data), draws, fit_table, left_out, report, likelihood=lik)
