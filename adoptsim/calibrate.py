"""Calibration: simulated method of moments with common random numbers, then a posterior by
MCMC on an emulator of the simulated moments.

Why this posterior method: one simulation costs ~0.3 s, ABC-SMC needs 10⁴–10⁵ of them per
population; a quadratic emulator of each moment fitted on a few hundred design runs around the
optimum, then random-walk Metropolis on the emulator's Gaussian likelihood, costs a few hundred.
The price: the posterior is confined to the design box and to what a quadratic surface can
represent there; both are checked and reported (box-edge mass, emulator R², R-hat).

Every model evaluation is appended to ``DIR/evals.jsonl`` as it finishes. A rerun with the same
settings replays the same deterministic optimiser and design, takes finished evaluations from
that file and computes only the rest: interrupting and resuming gives the same result.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import differential_evolution
from scipy.stats import qmc

from adoptsim.months import parse_month
from adoptsim.observe import Observation, load_targets, observability, observe
from adoptsim.posterior import (
    GEOGRAPHIES,
    PARAMETERS,
    Parameter,
    calibration_dir,
    overrides_for,
    split_overrides,
)
from adoptsim.scenario import Scenario, load_scenario
from adoptsim.simulation import run_replication

# Down-weighting (variance × 1/factor) of soft targets: unverified seed figures (status U) and
# the not-comparable old CBS series.
SOFT_STATUS = {"U": 0.25}
SOFT_SURVEY = {"ict_survey_old": 0.25}


def calibration_scenario(population: str) -> Scenario:
    """The scenario a population is calibrated on (``calibration/<population>.toml``)."""
    return load_scenario(calibration_dir() / f"{population}.toml")


def select_targets(
    targets: pd.DataFrame, population: str, before: str | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(observable rows used for ``population``, rows left out with the reason)."""
    rows = targets[targets.geography.isin(GEOGRAPHIES[population])].copy()
    reasons = [observability(r) for _, r in rows.iterrows()]
    rows["reason"] = [o.reason for o in reasons]
    ok = np.array([o.ok for o in reasons], dtype=bool)
    if before is not None:
        later = rows.date.map(parse_month).to_numpy() >= parse_month(before)
        rows.loc[ok & later, "reason"] = f"held out (dated {before} or later)"
        ok &= ~later
    return rows[ok].reset_index(drop=True), rows[~ok].reset_index(drop=True)


def target_weights(rows: pd.DataFrame) -> np.ndarray:
    """Relative weight of each target: 1, or less for soft targets (status U, old CBS series)."""
    w = rows.status.map(SOFT_STATUS).fillna(1.0) * rows.survey.map(SOFT_SURVEY).fillna(1.0)
    return w.to_numpy(dtype=float)


@dataclass
class MomentModel:
    """Simulated moments (what each target's survey would read) at a parameter vector.

    Picklable, so worker processes can evaluate it. Replication r always uses the seed
    ``SeedSequence(seed, spawn_key=(r,))``: common random numbers across parameter vectors.
    """

    scenario_raw: dict
    params: tuple[Parameter, ...]
    rows: list[dict]
    n_firms: int
    seed: int
    replications: int

    def __call__(self, theta: np.ndarray) -> np.ndarray:
        """Moments, shape (replications, targets)."""
        sc_over, obs_over = split_overrides(overrides_for(self.params, theta))
        scenario = Scenario.from_dict(self.scenario_raw).with_overrides(sc_over)
        obs = Observation().with_values(obs_over)
        barrier_months = {
            parse_month(r["date"])
            for r in self.rows
            if str(r["segment_type"]).startswith("barrier")
        }
        out = np.empty((self.replications, len(self.rows)))
        for rep in range(self.replications):
            record = run_replication(
                scenario,
                n_firms=self.n_firms,
                seed=self.seed,
                replication=rep,
                barrier_months=barrier_months,
            )
            out[rep] = [observe(pd.Series(r), record, obs) for r in self.rows]
        return out


class EvaluationStore:
    """Append-only record of finished evaluations (theta → moments) for resuming."""

    def __init__(self, path: Path, tag: str) -> None:
        self.path, self.tag = path, tag
        self.cache: dict[str, np.ndarray] = {}
        if path.exists():
            for line in path.read_text().splitlines():
                try:
                    item = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut off by an interruption
                if item.get("tag") == tag:
                    self.cache[item["key"]] = np.array(item["moments"])

    @staticmethod
    def key(theta: np.ndarray) -> str:
        """Exact key of a parameter vector (hex of its float64 bytes)."""
        return hashlib.sha1(np.asarray(theta, dtype=np.float64).tobytes()).hexdigest()

    def put(self, theta: np.ndarray, moments: np.ndarray) -> None:
        """Record one finished evaluation at once (flushed and synced)."""
        k = self.key(theta)
        self.cache[k] = moments
        with self.path.open("a") as fh:
            fh.write(
                json.dumps(
                    {
                        "tag": self.tag,
                        "key": k,
                        "theta": list(map(float, theta)),
                        "moments": moments.tolist(),
                    }
                )
                + "\n"
            )
            fh.flush()
            os.fsync(fh.fileno())


@dataclass
class Evaluator:
    """Evaluates many parameter vectors, taking finished ones from the store, in parallel."""

    model: MomentModel
    store: EvaluationStore
    executor: Executor | None
    on_done: Callable[[int], None] = lambda n: None
    evaluations: int = 0

    def moments(self, thetas: list[np.ndarray]) -> list[np.ndarray]:
        """Moments for each theta (replications × targets)."""
        keys = [self.store.key(t) for t in thetas]
        todo = [i for i, k in enumerate(keys) if k not in self.store.cache]
        if self.executor is None:
            results = (self.model(thetas[i]) for i in todo)
        else:
            results = self.executor.map(self.model, [thetas[i] for i in todo])
        for i, m in zip(todo, results, strict=True):
            self.store.put(thetas[i], m)
        self.evaluations += len(thetas)
        self.on_done(len(thetas))
        return [self.store.cache[k] for k in keys]


@dataclass
class Objective:
    """SMM distance: Σ w_k (mean simulated − observed)² / (se_k² + σ²_sim,k / R)."""

    y: np.ndarray
    var: np.ndarray
    weight: np.ndarray

    def __call__(self, moments: np.ndarray) -> float:
        m = moments.mean(axis=0)
        return float(np.sum(self.weight * (m - self.y) ** 2 / self.var))


@dataclass
class CalibrationResult:
    """What a calibration produced (also written to ``DIR``)."""

    population: str
    point: dict[str, float]
    distance: float
    draws: pd.DataFrame
    rows: pd.DataFrame
    left_out: pd.DataFrame
    report: dict = field(default_factory=dict)


def _quadratic_features(u: np.ndarray) -> np.ndarray:
    """[1, u, upper-triangle of u uᵀ] for rows of standardised parameters."""
    n, d = u.shape
    iu = np.triu_indices(d)
    quad = (u[:, :, None] * u[:, None, :])[:, iu[0], iu[1]]
    return np.hstack([np.ones((n, 1)), u, quad])


@dataclass
class Emulator:
    """Per-moment quadratic ridge regression in box-standardised parameters."""

    lo: np.ndarray
    hi: np.ndarray
    coef: np.ndarray
    resid_var: np.ndarray
    r2: np.ndarray

    @classmethod
    def fit(
        cls,
        theta: np.ndarray,
        moments: np.ndarray,
        lo: np.ndarray,
        hi: np.ndarray,
        ridge: float = 1e-3,
    ) -> Emulator:
        """Fit on design points ``theta`` (n × d) and mean moments (n × k)."""
        x = _quadratic_features(2 * (theta - lo) / (hi - lo) - 1)
        a = x.T @ x + ridge * np.eye(x.shape[1])
        coef = np.linalg.solve(a, x.T @ moments)
        resid = moments - x @ coef
        dof = max(x.shape[0] - x.shape[1], 1)
        resid_var = (resid**2).sum(axis=0) / dof
        total = ((moments - moments.mean(axis=0)) ** 2).sum(axis=0)
        r2 = 1 - (resid**2).sum(axis=0) / np.where(total > 0, total, 1.0)
        return cls(lo, hi, coef, resid_var, r2)

    def predict(self, theta: np.ndarray) -> np.ndarray:
        """Emulated mean moments for parameter rows (n × d) → (n × k)."""
        theta = np.atleast_2d(theta)
        return _quadratic_features(2 * (theta - self.lo) / (self.hi - self.lo) - 1) @ self.coef


def metropolis(
    log_post: Callable[[np.ndarray], np.ndarray],
    start: np.ndarray,
    scale: np.ndarray,
    rng: np.random.Generator,
    steps: int,
    chains: int = 4,
) -> tuple[np.ndarray, float]:
    """Adaptive random-walk Metropolis with ``chains`` chains stepped together (vectorised).

    During the first half (burn-in, discarded) the proposal covariance is re-estimated every 250
    steps from the chains' recent trace (Haario et al. 2001 scaling 2.38²/d).

    Returns:
        (draws, acceptance): draws of the second half, shape (chains, steps − steps//2, d).
    """
    d = start.shape[0]
    x = start + 0.05 * scale * rng.standard_normal((chains, d))
    lp = log_post(x)
    outside = ~np.isfinite(lp)  # a jittered start may leave the prior's support
    x[outside] = start
    lp[outside] = log_post(x[outside]) if outside.any() else lp[outside]
    chol = np.diag(0.05 * scale)
    burn = steps // 2
    trace = np.empty((steps, chains, d))
    accepted = 0
    for i in range(steps):
        prop = x + rng.standard_normal((chains, d)) @ chol.T
        lp_new = log_post(prop)
        accept = np.log(rng.random(chains)) < lp_new - lp
        x = np.where(accept[:, None], prop, x)
        lp = np.where(accept, lp_new, lp)
        trace[i] = x
        if i >= burn:
            accepted += int(accept.sum())
        elif i >= 499 and (i + 1) % 250 == 0:
            recent = trace[i // 2 : i + 1].reshape(-1, d)
            cov = 2.38**2 / d * np.cov(recent.T) + 1e-12 * np.eye(d)
            chol = np.linalg.cholesky(cov)
    return trace[burn:].transpose(1, 0, 2), accepted / (chains * (steps - burn))


def split_rhat(draws: np.ndarray) -> np.ndarray:
    """Split-chain Gelman–Rubin R-hat per parameter for draws (chains × n × d)."""
    _c, n, _d = draws.shape
    half = n // 2
    chains = np.concatenate([draws[:, :half], draws[:, half : 2 * half]], axis=0)
    w = chains.var(axis=1, ddof=1).mean(axis=0)
    b = half * chains.mean(axis=1).var(axis=0, ddof=1)
    var = (half - 1) / half * w + b / half
    return np.sqrt(var / np.where(w > 0, w, np.inf))


def _log_posterior(
    emu: Emulator,
    y: np.ndarray,
    se2: np.ndarray,
    weight: np.ndarray,
    blo: np.ndarray,
    bhi: np.ndarray,
) -> Callable[[np.ndarray], np.ndarray]:
    """Gaussian log-likelihood of the emulated moments (variance se² + emulator residual),
    uniform prior on the box [blo, bhi]."""
    like_var = se2 + emu.resid_var

    def log_post(theta: np.ndarray) -> np.ndarray:
        inside = np.all((theta >= blo) & (theta <= bhi), axis=1)
        ll = -0.5 * np.sum(weight * (emu.predict(theta) - y) ** 2 / like_var, axis=1)
        return np.where(inside, ll, -np.inf)

    return log_post


def _budget_plan(budget: int, d: int) -> tuple[int, int, int]:
    """(DE population multiplier, DE generations, design size per emulator round)."""
    design = max(int(0.2 * budget), 2 * d + 2)
    de_runs = max(budget - 2 * design, 2 * d)
    popsize = 5 if de_runs >= 5 * d * 4 else max(1, de_runs // (3 * d))
    generations = max(1, de_runs // (popsize * d) - 1)
    return popsize, generations, design


def calibrate(
    population: str,
    *,
    out: str | Path,
    budget: int = 900,
    n_firms: int | None = None,
    replications: int = 2,
    seed: int = 0,
    workers: int = 2,
    targets: pd.DataFrame | None = None,
    before: str | None = None,
    fixed: dict[str, float] | None = None,
    n_draws: int = 200,
    mcmc_steps: int = 20_000,
    progress: bool = True,
    executor: Executor | None = None,
) -> CalibrationResult:
    """Fit the parameters of ``population`` (``flanders`` or ``netherlands``) to the targets.

    Steps: (1) simulation noise of each moment at the centre of the box (6 replications);
    (2) differential evolution on the SMM distance (common random numbers: every parameter
    vector is run with the same seeds); (3) a Latin-hypercube design in a box of ±15 % of each
    parameter's range around the optimum, a quadratic emulator per moment; (4) adaptive Metropolis
    (4 chains) on the emulator's Gaussian likelihood, uniform prior on the box; ``n_draws`` draws
    are kept.

    Args:
        out: folder for ``evals.jsonl`` (resumable), ``posterior.csv``, ``fit.json``, ``fit.csv``.
        budget: model evaluations (each = ``replications`` simulations) for steps 2 and 3.
        before: use only targets dated before this month ("YYYY-MM"): a hold-out check.
        fixed: parameters (by name) held at a value instead of fitted.

    Returns:
        A [`CalibrationResult`][adoptsim.calibrate.CalibrationResult]; the same files are written to
        ``out``.
    """
    from adoptsim.errors import ScenarioError

    if population not in PARAMETERS:
        raise ScenarioError("population", population, f"must be one of {', '.join(PARAMETERS)}")
    if budget < 10:
        raise ScenarioError("budget", budget, "must be >= 10 model evaluations")
    fixed = dict(fixed or {})
    unknown = [k for k in fixed if k not in {p.name for p in PARAMETERS[population]}]
    if unknown:
        names = ", ".join(p.name for p in PARAMETERS[population])
        raise ScenarioError("fixed", unknown[0], f"must be a parameter name: {names}")
    t0 = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    all_params = PARAMETERS[population]
    params = tuple(p for p in all_params if p.name not in fixed)
    base = calibration_scenario(population)
    fixed_over = overrides_for(
        [p for p in all_params if p.name in fixed],
        [fixed[p.name] for p in all_params if p.name in fixed],
    )
    if split_overrides(fixed_over)[1]:
        raise ScenarioError(
            "fixed", list(split_overrides(fixed_over)[1]), "observation parameters cannot be fixed"
        )
    base = base.with_overrides(fixed_over) if fixed_over else base
    rows, left_out = select_targets(
        load_targets() if targets is None else targets, population, before
    )
    n_firms = n_firms or base.data["population"]["n_firms"]
    records = rows[["id", "survey", "geography", "segment_type", "segment", "date"]].to_dict(
        "records"
    )
    model = MomentModel(base.raw, params, records, n_firms, seed, replications)
    settings = {
        "population": population,
        "n_firms": n_firms,
        "seed": seed,
        "replications": replications,
        "targets": list(rows.id),
        "fixed": fixed,
        "params": [p.name for p in params],
        "scenario": base.raw,
    }
    tag = hashlib.sha1(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()
    store = EvaluationStore(out / "evals.jsonl", tag)
    noise_store = EvaluationStore(out / "evals.jsonl", tag + "-noise")
    lo = np.array([p.lo for p in params])
    hi = np.array([p.hi for p in params])
    d = len(params)
    popsize, generations, design_n = _budget_plan(budget, d)
    total = 1 + popsize * d * (generations + 1) + 2 * design_n

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc=f"calibrate {population}", unit="eval")
    own_executor = executor is None and workers > 1
    pool = ProcessPoolExecutor(workers) if own_executor else executor
    try:
        noise_eval = Evaluator(
            MomentModel(base.raw, params, records, n_firms, seed, 6),
            noise_store,
            None,
            bar.update if bar else lambda n: None,
        )
        centre = (lo + hi) / 2
        sim_var = noise_eval.moments([centre])[0].var(axis=0, ddof=1)
        y = rows.value.to_numpy()
        se2 = rows.se.to_numpy() ** 2
        weight = target_weights(rows)
        objective = Objective(y, se2 + sim_var / replications, weight)
        evaluator = Evaluator(model, store, pool, bar.update if bar else lambda n: None)

        def de_map(_func, thetas):
            return [objective(m) for m in evaluator.moments([np.asarray(t) for t in thetas])]

        de = differential_evolution(
            _unused_objective,
            list(zip(lo, hi, strict=True)),
            seed=seed,
            popsize=popsize,
            maxiter=generations,
            tol=0.0,
            polish=False,
            workers=de_map,
            updating="deferred",
            init="latinhypercube",
        )
        point = np.asarray(de.x)
        point_moments = evaluator.moments([point])[0]
        # Two emulator rounds: a box of ±15 % of each range around the optimiser's point, then a
        # box of ±3 posterior sd around the first posterior's mean (history-matching style), so a
        # rough optimum does not confine the posterior. Design points inside the final box from
        # both rounds train the final emulator.
        centre, half = point, 0.15 * (hi - lo)
        thetas, means = [], []
        for rnd in range(2):
            blo, bhi = np.maximum(lo, centre - half), np.minimum(hi, centre + half)
            design = blo + qmc.LatinHypercube(d=d, seed=seed + rnd).random(design_n) * (bhi - blo)
            thetas.append(design)
            means.append(np.array([m.mean(axis=0) for m in evaluator.moments(list(design))]))
            all_theta, all_mean = np.concatenate(thetas), np.concatenate(means)
            inside = np.all((all_theta >= blo) & (all_theta <= bhi), axis=1)
            emu = Emulator.fit(all_theta[inside], all_mean[inside], blo, bhi)
            rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(7, rnd)))
            start = np.clip(centre, blo, bhi)
            steps = mcmc_steps if rnd == 1 else max(mcmc_steps // 3, 1000)
            chains, acceptance = metropolis(
                _log_posterior(emu, y, se2, weight, blo, bhi), start, bhi - blo, rng, steps
            )
            flat = chains.reshape(-1, d)
            centre = flat.mean(axis=0)
            half = np.maximum(3 * flat.std(axis=0), 0.05 * (hi - lo))
    finally:
        if own_executor and pool is not None:
            pool.shutdown(cancel_futures=True)
        if bar is not None:
            bar.close()

    rhat = split_rhat(chains)
    flat = chains.reshape(-1, d)
    pick = rng.choice(flat.shape[0], size=min(n_draws, flat.shape[0]), replace=False)
    draws_fitted = flat[np.sort(pick)]
    draws = pd.DataFrame(
        {p.name: np.full(len(draws_fitted), fixed.get(p.name, np.nan)) for p in all_params}
    )
    for j, p in enumerate(params):
        draws[p.name] = draws_fitted[:, j]
    draws.to_csv(out / "posterior.csv", index=False, float_format="%.6g")

    edge = 0.02 * (bhi - blo)
    at_edge = ((flat < blo + edge) | (flat > bhi - edge)).mean(axis=0)
    # Edge mass matters only where the box edge is not the parameter's own bound.
    free_edge = np.where((blo > lo) | (bhi < hi), at_edge, 0.0)
    point_dict = {p.name: float(v) for p, v in zip(params, point, strict=True)} | fixed
    fit_table = rows[
        ["id", "survey", "geography", "segment_type", "segment", "date", "value", "se", "status"]
    ].copy()
    fit_table["weight"] = weight
    fit_table["sim_at_point"] = point_moments.mean(axis=0)
    fit_table["emulated_posterior_mean"] = emu.predict(flat[:: max(1, len(flat) // 2000)]).mean(
        axis=0
    )
    fit_table["emulator_r2"] = emu.r2
    fit_table.to_csv(out / "fit.csv", index=False, float_format="%.5g")
    report = {
        "population": population,
        "method": "SMM (CRN) + differential evolution; posterior: adaptive Metropolis on a "
        "quadratic emulator of the moments",
        "budget": budget,
        "evaluations": evaluator.evaluations + 1,
        "de": {"popsize": popsize, "generations": generations, "distance": float(de.fun)},
        "design_points_per_round": design_n,
        "design_box": {
            p.name: [float(a), float(b)] for p, a, b in zip(params, blo, bhi, strict=True)
        },
        "point": point_dict,
        "distance_at_point": objective(point_moments),
        "mcmc": {
            "chains": 4,
            "steps": mcmc_steps,
            "acceptance": acceptance,
            "rhat": dict(zip([p.name for p in params], map(float, rhat), strict=True)),
        },
        "posterior_at_box_edge": dict(
            zip([p.name for p in params], map(float, free_edge), strict=True)
        ),
        "emulator_r2_min": float(emu.r2.min()),
        "n_firms": n_firms,
        "replications": replications,
        "seed": seed,
        "before": before,
        "fixed": fixed,
        "targets_used": list(rows.id),
        "left_out": dict(zip(left_out.id, left_out.reason, strict=True)),
        "runtime_s": time.perf_counter() - t0,
    }
    (out / "fit.json").write_text(json.dumps(report, indent=2, default=float))
    return CalibrationResult(
        population, point_dict, float(de.fun), draws, fit_table, left_out, report
    )


def _unused_objective(theta: np.ndarray) -> float:
    """Placeholder: every evaluation goes through the cached, parallel ``workers`` map."""
    raise RuntimeError("differential_evolution must evaluate through the workers map")
