"""Joint Bayesian calibration of Flanders/Belgium and the Netherlands on the same survey waves.

Method (docs/calibration.md says why):

1. **Targets** ([`select_targets`][adoptsim.calibrate.select_targets]): every observable row
   dated up to the origin (at most 2024-12), for both countries.
2. **Design** ([`design_round`][adoptsim.calibrate.design_round]): parameter vectors from the
   prior box (round 1, Latin hypercube), then from a widened Gaussian around the previous
   round's posterior (history-matching style rounds). Each vector is simulated for each country
   with common random numbers; the *latent* shares (users and at-scale users in each target's
   denominator) are recorded, so the observation models stay exact functions of their
   parameters instead of being emulated.
3. **Emulator** ([`adoptsim.emulator.Emulator`][adoptsim.emulator.Emulator]): a Gaussian
   process per principal component of each country's latent outputs, with predictive
   covariance; validated on held-out design points.
4. **Likelihood** ([`Likelihood`][adoptsim.calibrate.Likelihood]): observed shares are
   Gaussian around the observation model applied to the emulated latents, with covariance =
   survey sampling covariance (nested targets of one wave, e.g. Belgium all / SME / 10–49,
   correlate) + emulator covariance + model discrepancy φ²·p(1 − p) with a half-normal prior.
5. **Posterior** ([`sample_posterior`][adoptsim.calibrate.sample_posterior]): emcee's affine-
   invariant ensemble sampler, four independent ensembles from dispersed starts, split R-hat
   across them; then the emulator is checked by simulating at posterior draws.

Every simulation is appended to `DIR/evals.jsonl` as it finishes; a rerun with the same settings
takes finished ones from there (the design is deterministic given the seed), so an interrupted
calibration resumes and gives the same result.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import qmc
from sklearn.covariance import LedoitWolf
from threadpoolctl import threadpool_limits

from adoptsim.emulator import Emulator
from adoptsim.errors import ScenarioError
from adoptsim.months import format_month, parse_month
from adoptsim.observe import (
    TARGET_CUTOFF,
    Observation,
    latent,
    load_targets,
    observability,
    target_cells,
)
from adoptsim.posterior import (
    COUNTRIES,
    DEFAULT_FIXED,
    EFFECTIVE,
    GEOGRAPHIES,
    JointParameter,
    calibration_dir,
    effective_values,
    joint_parameters,
    overrides_for,
    split_overrides,
)
from adoptsim.scenario import Scenario, load_scenario
from adoptsim.simulation import run_replication

# Down-weighting (variance × 1/factor) of soft targets: unverified seed figures (status U) and
# the not-comparable old CBS series. `adoptsim validate` compares U rows with this inflated se.
SOFT_STATUS = {"U": 0.25}
# Statuses kept out of the likelihood altogether. The unverified seed barrier shares (status U)
# are "soft targets at most" (shared/data/README.md); in the likelihood they added 17 outputs the
# emulator had to learn, most of them far from anything the model can produce, and dragged the
# adoption fit. They are still compared in `adoptsim validate`.
NOT_FITTED_STATUS = {"U": "unverified seed figure (status U): compared in validate, not fitted"}
SOFT_SURVEY = {"ict_survey_old": 0.25}
ADOPTION_SEGMENTS = ("all", "size", "sector")
SIM_INDEX = tuple(i for i, p in enumerate(EFFECTIVE) if not p.keys[0].startswith("observe."))
OBS_NAMES = tuple(p.name for p in EFFECTIVE if p.keys[0].startswith("observe."))


def calibration_scenario(population: str) -> Scenario:
    """The scenario a country is calibrated on (`calibration/<population>.toml`)."""
    return load_scenario(calibration_dir() / f"{population}.toml")


# --- step 1: targets ------------------------------------------------------------
def _check_origin(origin: str | None) -> str:
    """The last month whose targets are used: `origin`, never later than the target cutoff."""
    if origin is None:
        return TARGET_CUTOFF
    try:
        month = parse_month(str(origin), "origin")
    except Exception:
        raise ScenarioError("origin", origin, 'must be a month "YYYY-MM"') from None
    return format_month(min(month, parse_month(TARGET_CUTOFF)))


def select_targets(
    targets: pd.DataFrame, population: str, origin: str | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(observable rows of `population` dated up to `origin`, rows left out with the reason).

    Args:
        targets: the targets table (`load_targets`).
        population: `flanders` (Flanders and Belgium rows) or `netherlands`.
        origin: last month used ("YYYY-MM"); default and maximum: `TARGET_CUTOFF` (2024-12).
    """
    last = parse_month(_check_origin(origin))
    rows = targets[targets.geography.isin(GEOGRAPHIES[population])].copy()
    reasons = [observability(r) for _, r in rows.iterrows()]
    rows["reason"] = [o.reason for o in reasons]
    ok = np.array([o.ok for o in reasons], dtype=bool)
    later = rows.date.map(parse_month).to_numpy() > last
    label = "out-of-sample only" if last == parse_month(TARGET_CUTOFF) else "held out"
    rows.loc[ok & later, "reason"] = f"{label} (dated after {format_month(last)})"
    ok &= ~later
    return rows[ok].reset_index(drop=True), rows[~ok].reset_index(drop=True)


def target_weights(rows: pd.DataFrame) -> np.ndarray:
    """Relative weight of each target: 1, or less for soft targets (status U, old CBS series)."""
    w = rows.status.map(SOFT_STATUS).fillna(1.0) * rows.survey.map(SOFT_SURVEY).fillna(1.0)
    return w.to_numpy(dtype=float)


def survey_covariance(rows: pd.DataFrame, masks: list[np.ndarray], firms: np.ndarray) -> np.ndarray:
    """Sampling covariance of the targets (soft rows inflated by 1/weight).

    Two rows of the same survey, geography and date whose denominators are nested (A ⊂ B, e.g.
    Belgium 10–49 inside 10–249 inside 10+) share respondents. For means of one sample over
    nested groups the correlation is sqrt(n_A / n_B); we take n ∝ W, the firms in each
    denominator (proportional allocation: an approximation for a stratified survey), so
    cov = sqrt(W_A / W_B)·se_A·se_B. Nested chains and disjoint groups inside one whole give
    a positive-definite matrix by construction; a final eigenvalue floor guards the rest.

    Args:
        rows: the targets.
        masks: each row's cell mask (`adoptsim.observe.target_cells`).
        firms: weight of every cell (from a simulated record).
    """
    se = rows.se.to_numpy() / np.sqrt(target_weights(rows))
    cov = np.diag(se**2)
    key = list(zip(rows.survey, rows.geography, rows.date, strict=True))
    adoption = rows.segment_type.isin(ADOPTION_SEGMENTS).to_numpy()
    for i in range(len(rows)):
        for j in range(len(rows)):
            if i == j or key[i] != key[j] or not (adoption[i] and adoption[j]):
                continue
            a, b = masks[i], masks[j]
            if np.all(b[a]) and a.sum() < b.sum():  # i nested in j
                wa, wb = firms[a].sum(), firms[b].sum()
                cov[i, j] = cov[j, i] = np.sqrt(wa / wb) * se[i] * se[j]
    vals, vecs = np.linalg.eigh(cov)
    floor = 1e-3 * float(np.min(se**2))
    if vals.min() < floor:
        cov = (vecs * np.maximum(vals, floor)) @ vecs.T
    return cov


# --- the simulator the emulator learns --------------------------------------------------------
@dataclass
class LatentModel:
    """Latent shares of one country's targets at effective simulation parameters.

    Picklable, so worker processes can evaluate it. Replication r always uses the seed
    `SeedSequence(seed, spawn_key=(r,))`: common random numbers across parameter vectors.
    """

    country: str
    scenario_raw: dict
    rows: list[dict]
    n_firms: int
    seed: int
    replications: int
    first_replication: int = 0

    def layout(self) -> list[tuple[int, str]]:
        """(row index, 'users' | 'at_scale') of each latent output."""
        out = []
        for i, r in enumerate(self.rows):
            out.append((i, "users"))
            if r["survey"] in ("ict_survey", "ict_survey_old") and r["segment_type"] in (
                ADOPTION_SEGMENTS
            ):
                out.append((i, "at_scale"))
        return out

    def scenario(self, sim_values: np.ndarray) -> Scenario:
        """The calibration scenario with effective simulation parameters laid over it."""
        params = [EFFECTIVE[i] for i in SIM_INDEX]
        over = split_overrides(overrides_for(params, sim_values))[0]
        return Scenario.from_dict(self.scenario_raw).with_overrides(over)

    def barrier_months(self) -> set[int]:
        """Months at which barrier targets need the barriers recorded."""
        return {
            parse_month(r["date"]) for r in self.rows if r["segment_type"].startswith("barrier")
        }

    def __call__(self, sim_values: np.ndarray) -> np.ndarray:
        """Latent outputs, shape (replications, latents)."""
        scenario = self.scenario(sim_values)
        obs = Observation()
        lay = self.layout()
        out = np.empty((self.replications, len(lay)))
        for i in range(self.replications):
            record = run_replication(
                scenario,
                n_firms=self.n_firms,
                seed=self.seed,
                replication=self.first_replication + i,
                barrier_months=self.barrier_months(),
                use_posterior=False,
            )
            values = [latent(pd.Series(r), record, obs) for r in self.rows]
            out[i] = [values[j][0 if kind == "users" else 1] for j, kind in lay]
        return out


class EvaluationStore:
    """Append-only record of finished evaluations (parameters → outputs) for resuming."""

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
                    self.cache[item["key"]] = np.array(item["outputs"])

    @staticmethod
    def key(country: str, x: np.ndarray) -> str:
        """Exact key of a country's parameter vector (hash of its float64 bytes)."""
        return hashlib.sha1(
            country.encode() + np.asarray(x, dtype=np.float64).tobytes()
        ).hexdigest()

    def put(self, key: str, x: np.ndarray, outputs: np.ndarray) -> None:
        """Record one finished evaluation at once (flushed and synced)."""
        self.cache[key] = outputs
        with self.path.open("a") as fh:
            item = {"tag": self.tag, "key": key, "x": list(map(float, x))}
            fh.write(json.dumps(item | {"outputs": outputs.tolist()}) + "\n")
            fh.flush()
            os.fsync(fh.fileno())


def make_pool(workers: int) -> ProcessPoolExecutor:
    """The sweep's process pool (`worker_pool.new_pool`): calibration workers behave the same.

    Spawn start method and the sweep's worker initializer: `ADOPTSIM_THREADS=1`, Ctrl-C left to
    the parent, workers die with their parent, the model imported before the first task.

    Args:
        workers: number of worker processes.
    """
    from adoptsim.worker_pool import new_pool

    return new_pool(workers)


@dataclass
class Evaluator:
    """Simulates many (country, parameters) tasks, taking finished ones from the store."""

    models: dict[str, LatentModel]
    store: EvaluationStore
    executor: Executor | None
    on_done: Callable[[int], None] = lambda n: None
    simulations: int = 0

    def outputs(self, country: str, xs: Sequence[np.ndarray]) -> np.ndarray:
        """Latent outputs (n × replications × latents) for effective simulation parameters."""
        keys = [self.store.key(country, x) for x in xs]
        todo = [i for i, k in enumerate(keys) if k not in self.store.cache]
        done_before = len(xs) - len(todo)
        if done_before:
            self.on_done(done_before)
        model = self.models[country]
        if self.executor is None:
            results = (model(xs[i]) for i in todo)
        else:
            results = self.executor.map(model, [xs[i] for i in todo])
        for i, out in zip(todo, results, strict=True):
            self.store.put(keys[i], xs[i], out)
            self.simulations += model.replications
            self.on_done(1)
        return np.stack([self.store.cache[k] for k in keys])


# --- step 4: likelihood ------------------------------------------------------------
@dataclass
class CountryData:
    """One country's targets, their covariance and how they read the latent outputs."""

    country: str
    rows: pd.DataFrame
    model: LatentModel
    y: np.ndarray
    cov: np.ndarray
    se_eff: np.ndarray
    adoption: np.ndarray
    latent_row: np.ndarray  # latent j belongs to row latent_row[j]
    latent_kind: np.ndarray  # 0 users, 1 at scale
    detect_weight: np.ndarray  # per row: weight of ict_detect_gen in d(t) (0..1)
    survey: np.ndarray


@dataclass
class Likelihood:
    """log p(targets | joint parameters) through the emulators and observation models."""

    params: tuple[JointParameter, ...]
    fixed: dict[str, float]
    data: dict[str, CountryData]
    emulators: dict[str, Emulator] = field(default_factory=dict)
    inputs: dict[str, np.ndarray] = field(default_factory=dict)  # emulator input columns
    # Per country, the covariance of the latent outputs between seeds, divided by the replications
    # averaged per design point: the emulated surface is one set of common random numbers, not
    # the expectation over seeds, and this is how far that set can sit from it.
    sim_var: dict[str, np.ndarray] = field(default_factory=dict)

    def full(self, theta: np.ndarray) -> tuple[tuple[JointParameter, ...], np.ndarray]:
        """Joint parameters including fixed ones, and the matching values (m × all)."""
        extra = [p for p in joint_parameters(tuple(self.data)) if p.name in self.fixed]
        if not extra:
            return self.params, theta
        cols = [theta] + [np.full((theta.shape[0], 1), self.fixed[p.name]) for p in extra]
        return (*self.params, *extra), np.hstack(cols)

    def observation_matrix(self, data: CountryData, eff: np.ndarray) -> np.ndarray:
        """(m × rows × latents) matrices: observed = A · latent, per parameter draw."""
        obs = {n: eff[:, [p.name for p in EFFECTIVE].index(n)] for n in OBS_NAMES}
        default = Observation()
        for n, v in obs.items():
            obs[n] = np.where(np.isnan(v), getattr(default, n), v)
        m = eff.shape[0]
        k, nl = len(data.y), len(data.latent_row)
        a = np.zeros((m, k, nl))
        d = np.ones((m, k))
        ict = data.survey == "ict_survey"
        w = data.detect_weight[ict]
        d[:, ict] = obs["ict_detect_pre"][:, None] * (1 - w) + obs["ict_detect_gen"][:, None] * w
        old = data.survey == "ict_survey_old"
        d[:, old] = obs["ict_old_detection"][:, None]
        rows, kind = data.latent_row, data.latent_kind
        single = np.bincount(rows, minlength=k)[rows] == 1
        coef = np.where(single, 1.0, np.where(kind == 0, d[:, rows], 1.0 - d[:, rows]))
        a[:, rows, np.arange(nl)] = coef
        return a

    def moments(self, country: str, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Predicted observed means (m × rows) and covariance (m × rows × rows) of a country.

        The covariance here is the emulator's only (no survey noise or discrepancy).
        """
        params, full = self.full(theta)
        eff = effective_values(params, full, country)
        x = eff[:, list(self.inputs[country])]
        z, cz = self.emulators[country].predict(x)
        # The emulator works on logit shares (logistic responses are closer to linear there);
        # back to shares with the delta method.
        mu = 1.0 / (1.0 + np.exp(-z))
        jac = mu * (1.0 - mu)
        c = cz * jac[:, :, None] * jac[:, None, :]
        if country in self.sim_var:
            c = c + self.sim_var[country]
        a = self.observation_matrix(self.data[country], eff)
        mean = (a @ mu[:, :, None])[:, :, 0]
        cov = a @ c @ a.transpose(0, 2, 1)
        return mean, cov

    def discrepancy(self, theta: np.ndarray) -> np.ndarray:
        """The discrepancy scale φ of each draw (0 if not a parameter)."""
        params, full = self.full(theta)
        names = [p.name for p in params]
        return (
            full[:, names.index("discrepancy")] if "discrepancy" in names else np.zeros(len(full))
        )

    def __call__(self, theta: np.ndarray) -> np.ndarray:
        """Log likelihood + log prior for draws `theta` (m × free parameters)."""
        theta = np.atleast_2d(theta)
        lp = np.zeros(theta.shape[0])
        for j, p in enumerate(self.params):
            lp += p.log_prior(theta[:, j])
        ok = np.isfinite(lp)
        if not ok.any():
            return lp
        th = theta[ok]
        phi = self.discrepancy(th)
        ll = np.zeros(th.shape[0])
        for country, data in self.data.items():
            mean, cov = self.moments(country, th)
            p = np.clip(mean, 1e-4, 1 - 1e-4)
            disc = (phi[:, None] ** 2) * p * (1 - p) * data.adoption
            total = cov + data.cov + disc[:, :, None] * np.eye(len(data.y))
            chol = np.linalg.cholesky(total)
            resid = data.y - mean
            z = np.linalg.solve(chol, resid[:, :, None])[:, :, 0]
            ll += -0.5 * np.sum(z**2, axis=1) - np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(
                axis=1
            )
        lp[ok] += ll
        return lp


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


def prepare(
    countries: tuple[str, ...],
    targets: pd.DataFrame,
    origin: str | None,
    n_firms: int | None,
    seed: int,
    replications: int,
) -> tuple[dict[str, CountryData], pd.DataFrame]:
    """Step 1: targets per country, their covariance, latent layout; rows left out."""
    data, left = {}, []
    for country in countries:
        rows, left_out = select_targets(targets, country, origin)
        soft = rows.status.isin(list(NOT_FITTED_STATUS)).to_numpy()
        left_out = pd.concat(
            [left_out, rows[soft].assign(reason=rows.status[soft].map(NOT_FITTED_STATUS))],
            ignore_index=True,
        )
        rows = rows[~soft].reset_index(drop=True)
        left.append(left_out)
        base = calibration_scenario(country)
        last = int(rows.date.map(parse_month).max())
        base = base.with_overrides({"scenario.end": format_month(max(last, base.start + 1))})
        records = rows[["id", "survey", "geography", "segment_type", "segment", "date"]].to_dict(
            "records"
        )
        model = LatentModel(
            country,
            base.raw,
            records,
            n_firms or base.data["population"]["n_firms"],
            seed,
            replications,
        )
        # One run at the scenario's own values gives the cells' firm weights (the population is
        # drawn from the same seed whatever the parameters).
        record = run_replication(
            base, n_firms=model.n_firms, seed=seed, replication=0, use_posterior=False
        )
        obs = Observation()
        masks = [
            target_cells(r, record, obs)
            if r.segment_type in ADOPTION_SEGMENTS
            else np.zeros(len(record.firms), bool)
            for _, r in rows.iterrows()
        ]
        lay = model.layout()
        start = parse_month(obs.detect_ramp_start)
        months = rows.date.map(parse_month).to_numpy()
        data[country] = CountryData(
            country,
            rows,
            model,
            rows.value.to_numpy(float),
            survey_covariance(rows, masks, record.firms),
            rows.se.to_numpy() / np.sqrt(target_weights(rows)),
            rows.segment_type.isin(ADOPTION_SEGMENTS).to_numpy(float),
            np.array([i for i, _ in lay]),
            np.array([0 if k == "users" else 1 for _, k in lay]),
            np.clip((months - start) / obs.detect_ramp_months, 0.0, 1.0),
            rows.survey.to_numpy(),
        )
    return data, pd.concat(left, ignore_index=True)


# --- step 2: design ------------------------------------------------------------
def prior_design(params: tuple[JointParameter, ...], n: int, seed: int) -> np.ndarray:
    """Latin hypercube over the prior: uniform margins on [lo, hi], normal ones by inversion."""
    from scipy.stats import norm

    u = qmc.LatinHypercube(d=len(params), seed=seed).random(n)
    out = np.empty_like(u)
    for j, p in enumerate(params):
        if p.prior == "uniform":
            out[:, j] = p.lo + u[:, j] * (p.hi - p.lo)
        else:
            a = norm.cdf(p.lo / p.scale) if p.prior == "normal" else 0.5
            b = norm.cdf(p.hi / p.scale)
            out[:, j] = p.scale * norm.ppf(a + u[:, j] * (b - a))
    return out


def widened_design(
    params: tuple[JointParameter, ...], draws: np.ndarray, n: int, seed: int, widen: float = 2.0
) -> np.ndarray:
    """`n` design points around the previous round's posterior `draws`, inside the prior support.

    Three quarters are posterior draws jittered by half a posterior sd (the design follows the
    posterior's shape, also where it is not Gaussian: in ~20 dimensions a widened Gaussian puts
    most points far from it); one quarter comes from N(mean, widen²·cov), so the emulator also
    learns how the likelihood falls off around it.
    """
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(11,)))
    lo = np.array([p.lo for p in params])
    hi = np.array([p.hi for p in params])
    mean, cov = draws.mean(axis=0), np.atleast_2d(np.cov(draws.T))
    sd = np.sqrt(np.diag(cov))
    n_near = (3 * n) // 4
    out = np.empty((0, len(params)))
    for _ in range(200):
        pick = draws[rng.integers(len(draws), size=4 * n_near)]
        z = pick + 0.5 * sd * rng.standard_normal(pick.shape)
        out = np.vstack([out, z[np.all((z >= lo) & (z <= hi), axis=1)]])
        if len(out) >= n_near:
            break
    near = out[:n_near]
    wide = np.empty((0, len(params)))
    cov = cov * widen**2 + 1e-12 * np.eye(len(params))
    for _ in range(200):
        z = rng.multivariate_normal(mean, cov, size=4 * n)
        wide = np.vstack([wide, z[np.all((z >= lo) & (z <= hi), axis=1)]])
        if len(near) + len(wide) >= n:
            break
    out = np.vstack([near, wide])[:n]
    if len(out) < n:  # a posterior squeezed against the support: top up from the prior
        out = np.vstack([out, prior_design(params, n - len(out), seed + 99)])
    return out


def design_round(
    lik: Likelihood,
    evaluator: Evaluator,
    theta: np.ndarray,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Step 2: simulate each country at joint draws `theta`; (inputs, mean outputs) per country."""
    out = {}
    params, full = lik.full(theta)
    for country in lik.data:
        eff = effective_values(params, full, country)[:, list(SIM_INDEX)]
        eff = np.where(np.isnan(eff), _scenario_defaults(lik.data[country].model), eff)
        sims = evaluator.outputs(country, list(eff))
        out[country] = (eff, sims.mean(axis=1))
    return out


def _scenario_defaults(model: LatentModel) -> np.ndarray:
    """Effective simulation parameters a draw leaves unset take the scenario's values."""
    sc = Scenario.from_dict(model.scenario_raw)
    values = []
    for i in SIM_INDEX:
        key = EFFECTIVE[i].keys[0].split(".")
        node = sc.data
        for k in key:
            node = node[k]
        values.append(float(node))
    return np.array(values)


def simulation_noise(
    lik: Likelihood, evaluator: Evaluator, theta: np.ndarray, n: int = 10
) -> dict[str, np.ndarray]:
    """Step 2b: seed-to-seed covariance of the latent outputs at joint draw `theta`.

    `n` extra replications (seeds not used by the design) per country; the covariance is
    divided by the replications per design point and stored in `lik.sim_var`.
    """
    params, full = lik.full(np.atleast_2d(theta))
    for country, data in lik.data.items():
        m = data.model
        noisy = LatentModel(
            m.country, m.scenario_raw, m.rows, m.n_firms, m.seed, n, first_replication=10_000
        )
        eff = effective_values(params, full, country)[:, list(SIM_INDEX)]
        eff = np.where(np.isnan(eff), _scenario_defaults(m), eff)[0]
        key = EvaluationStore.key(country + "-noise", eff)
        if key not in evaluator.store.cache:
            evaluator.store.put(key, eff, noisy(eff))
        evaluator.on_done(1)
        # Full covariance (Ledoit–Wolf shrinkage, as n is small): one set of seeds is one drawn
        # population, which shifts all of a country's shares together.
        samples = evaluator.store.cache[key]
        cov = LedoitWolf().fit(samples).covariance_ * n / (n - 1)
        lik.sim_var[country] = cov / m.replications
    return lik.sim_var


# --- step 3: emulator ------------------------------------------------------------
def fit_emulators(
    lik: Likelihood, design: dict[str, tuple[np.ndarray, np.ndarray]], seed: int
) -> dict[str, dict]:
    """Step 3: an emulator per country on the design; returns held-out checks per country.

    One tenth of the design points (every tenth) are held out first: the emulator fitted on the
    rest predicts them (with the simulation noise of one evaluation in the interval), then the
    final emulator is refitted on all points.
    """
    checks = {}
    for country, (x_all, y_all) in design.items():
        varying = np.flatnonzero(x_all.max(axis=0) > x_all.min(axis=0))
        x = x_all[:, varying]
        lo, hi = x.min(axis=0), x.max(axis=0)
        data = lik.data[country]
        # A denominator with no agents (a small segment in a small population) reads NaN.
        y_all = np.where(np.isfinite(y_all), y_all, np.nanmean(y_all, axis=0))
        y_all = np.nan_to_num(y_all, nan=0.5)
        p = np.clip(y_all, 1e-4, 1 - 1e-4)
        z_all = np.log(p / (1 - p))
        pm = p.mean(axis=0)
        scale = data.se_eff[data.latent_row] / (pm * (1 - pm))  # se on the logit scale
        hold = np.zeros(len(x), bool)
        hold[::10] = True
        check: dict = {"design_points": len(x)}
        if hold.sum() >= 3 and (~hold).sum() > 2 * len(varying):
            emu = Emulator.fit(x[~hold], z_all[~hold], lo, hi, scale, seed=seed)
            zm, cov = emu.predict(x[hold], include_noise=True)
            mean = 1 / (1 + np.exp(-zm))
            sd = np.sqrt(np.diagonal(cov, axis1=1, axis2=2)) * mean * (1 - mean)
            scale = data.se_eff[data.latent_row]
            z = (y_all[hold] - mean) / sd
            total = ((y_all[hold] - y_all[hold].mean(axis=0)) ** 2).sum(axis=0)
            r2 = 1 - ((y_all[hold] - mean) ** 2).sum(axis=0) / np.where(total > 0, total, 1)
            check |= {
                "held_out": int(hold.sum()),
                "held_out_r2_median": float(np.median(r2)),
                "held_out_r2_min": float(r2.min()),
                "held_out_rmse_in_se": float(np.sqrt(np.mean(((y_all[hold] - mean) / scale) ** 2))),
                "held_out_within_90": float(np.mean(np.abs(z) <= 1.645)),
            }
        logit_scale = data.se_eff[data.latent_row] / (pm * (1 - pm))
        emu = Emulator.fit(x, z_all, lo, hi, logit_scale, seed=seed)
        check["components"] = emu.components
        lik.emulators[country] = emu
        lik.inputs[country] = np.array(SIM_INDEX)[varying]
        checks[country] = check
    return checks


# --- step 5: posterior ------------------------------------------------------------
def split_rhat(draws: np.ndarray) -> np.ndarray:
    """Split-chain Gelman–Rubin R-hat per parameter for draws (chains × n × d)."""
    _c, n, _d = draws.shape
    half = n // 2
    chains = np.concatenate([draws[:, :half], draws[:, half : 2 * half]], axis=0)
    w = chains.var(axis=1, ddof=1).mean(axis=0)
    b = half * chains.mean(axis=1).var(axis=0, ddof=1)
    var = (half - 1) / half * w + b / half
    return np.sqrt(var / np.where(w > 0, w, np.inf))


def dispersed_starts(
    log_post: Callable[[np.ndarray], np.ndarray],
    params: tuple[JointParameter, ...],
    n_ensembles: int,
    walkers: int,
    seed: int,
) -> np.ndarray:
    """Starting walkers (ensembles × walkers × d): prior draws with the best posterior density.

    4,000 prior draws are scored; each ensemble takes a different random subset of the best
    tenth, so the ensembles start apart, anywhere in the plausible region.
    """
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(5,)))
    cand = np.column_stack([p.sample(rng, 4000) for p in params])
    lp = np.concatenate([log_post(c) for c in np.array_split(cand, 20)])
    best = cand[np.argsort(-lp)[: max(400, n_ensembles * walkers)]]
    pick = rng.permutation(len(best))[: n_ensembles * walkers]
    return best[pick].reshape(n_ensembles, walkers, len(params))


def sample_posterior(
    log_post: Callable[[np.ndarray], np.ndarray],
    params: tuple[JointParameter, ...],
    steps: int,
    seed: int,
    n_ensembles: int = 4,
    progress: bool = False,
) -> tuple[np.ndarray, dict]:
    """Step 5: emcee from dispersed starts; (draws chains × n × d, diagnostics).

    Four independent ensembles (each 2·d + 2 walkers, at least 24) run `steps` steps; the first
    half is burn-in. R-hat is computed across the ensembles (each ensemble's walkers pooled per
    step), so it compares runs that never exchanged information.
    """
    import emcee

    d = len(params)
    walkers = max(2 * d + 2, 24)
    starts = dispersed_starts(log_post, params, n_ensembles, walkers, seed)
    chains, acc, tau = [], [], []
    for e in range(n_ensembles):
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(6, e)))
        sampler = emcee.EnsembleSampler(walkers, d, log_post, vectorize=True)
        state = emcee.State(
            starts[e], random_state=np.random.RandomState(int(rng.integers(2**31))).get_state()
        )
        sampler.run_mcmc(
            state, steps, progress=progress, progress_kwargs={"desc": f"MCMC {e + 1}/{n_ensembles}"}
        )
        chain = sampler.get_chain(discard=steps // 2)  # (n, walkers, d)
        chains.append(chain.reshape(-1, d))
        acc.append(float(np.mean(sampler.acceptance_fraction)))
        tau.append(sampler.get_autocorr_time(discard=steps // 2, quiet=True))
    draws = np.stack(chains)
    rhat = split_rhat(draws)
    diag = {
        "sampler": "emcee EnsembleSampler (stretch move)",
        "ensembles": n_ensembles,
        "walkers_per_ensemble": walkers,
        "steps": steps,
        "burn_in": steps // 2,
        "acceptance": float(np.mean(acc)),
        "autocorr_time_max": float(np.nanmax(tau)),
        "rhat": {p.name: float(r) for p, r in zip(params, rhat, strict=True)},
        "rhat_max": float(np.max(rhat)),
    }
    return draws, diag


def mass_at_bounds(
    params: tuple[JointParameter, ...], flat: np.ndarray, width: float = 0.005
) -> dict[str, dict]:
    """Share of draws within `width` of the range from each bound (a flat posterior: `width`).

    Bounds that are physical limits (a share's 0 or 1, a sign) are marked as such.
    """
    out = {}
    for j, p in enumerate(params):
        span = p.hi - p.lo
        lo = float(np.mean(flat[:, j] <= p.lo + width * span))
        hi = float(np.mean(flat[:, j] >= p.hi - width * span))
        out[p.name] = {
            "lower": lo,
            "upper": hi,
            "lower_physical": p.physical[0],
            "upper_physical": p.physical[1],
        }
    return out


def check_at_draws(
    lik: Likelihood, evaluator: Evaluator, draws: np.ndarray, n: int, seed: int
) -> dict:
    """Emulated vs simulated observed moments at `n` posterior draws (new simulations)."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(9,)))
    pick = draws[rng.choice(len(draws), size=min(n, len(draws)), replace=False)]
    sim = design_round(lik, evaluator, pick)
    out = {}
    for country, (_x, y) in sim.items():
        data = lik.data[country]
        params, full = lik.full(pick)
        eff = effective_values(params, full, country)
        a = lik.observation_matrix(data, eff)
        observed_sim = np.einsum("mkl,ml->mk", a, y)
        mean, cov = lik.moments(country, pick)
        sd = np.sqrt(np.diagonal(cov, axis1=1, axis2=2))
        noise = np.sqrt(np.maximum(np.var(y, axis=0), 0))  # spread across draws, for scale
        out[country] = {
            "draws": len(pick),
            "mean_abs_diff": float(np.mean(np.abs(observed_sim - mean))),
            "max_abs_diff": float(np.max(np.abs(observed_sim - mean))),
            "diff_in_se": float(np.sqrt(np.mean(((observed_sim - mean) / data.se_eff) ** 2))),
            "emulator_sd_mean": float(np.mean(sd)),
            "spread_across_draws": float(np.mean(noise)),
        }
    return out


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
        origin: use targets dated up to this month only ("YYYY-MM", at most 2024-12).
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
    """
    t0 = time.perf_counter()
    countries = (countries,) if isinstance(countries, str) else tuple(countries)
    if not countries or any(c not in COUNTRIES for c in countries):
        bad = next((c for c in countries if c not in COUNTRIES), countries)
        raise ScenarioError("population", bad, f"must be one of {', '.join(COUNTRIES)} or both")
    if budget < 10:
        raise ScenarioError("budget", budget, "must be >= 10 design points")
    all_params = joint_parameters(countries)
    fixed = DEFAULT_FIXED | dict(fixed or {}) if use_default_fixed else dict(fixed or {})
    unknown = [k for k in fixed if k not in {p.name for p in all_params}]
    if unknown:
        names = ", ".join(p.name for p in all_params)
        raise ScenarioError("fixed", unknown[0], f"must be a parameter name: {names}")
    origin = _check_origin(origin)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    params = tuple(p for p in all_params if p.name not in fixed)
    table = load_targets() if targets is None else targets
    data, left_out = prepare(countries, table, origin, n_firms, seed, replications)
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
    (out / "fit.json").write_text(json.dumps(result.report, indent=2, default=float))
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
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(8,)))
    pick = np.sort(rng.choice(len(flat), size=min(n_draws, len(flat)), replace=False))
    kept = flat[pick]
    draws = pd.DataFrame(
        {p.name: np.full(len(kept), fixed.get(p.name, np.nan)) for p in all_params}
    )
    for j, p in enumerate(lik.params):
        draws[p.name] = kept[:, j]
    draws.to_csv(out / "posterior.csv", index=False, float_format="%.6g")
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
    fit_table.to_csv(out / "fit.csv", index=False, float_format="%.5g")
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


# A point inside every calibrated parameter's prior box, where synthetic-truth checks (the tests,
# calibration/recovery.py) simulate their targets or hold the parameters they do not fit.
REFERENCE_POINT: dict[str, float] = {
    "alpha": -6.5,
    "theta_genai": 1.5,
    "size_small": 0.8,
    "size_medium": 1.5,
    "size_large": 2.5,
    "scale_alpha": -5.5,
    "initial_adopters_be": 0.12,
    "initial_at_scale": 0.2,
    "barrier_penalty": 0.1,
    "sector_J": 2.0,
    "sector_M": 1.5,
    "sector_K": 1.5,
    "sector_FI": -0.5,
    "ict_detect_pre": 0.3,
    "ict_detect_gen": 0.5,
}


def held_at_reference(free: Sequence[str]) -> dict[str, float]:
    """Values for a recovery fit's ``fixed``: every parameter but ``free`` at `REFERENCE_POINT`.

    The model discrepancy is held at 0: synthetic targets come from the model itself.

    Args:
        free: the parameters the fit estimates.
    """
    held = {k: v for k, v in REFERENCE_POINT.items() if k not in free}
    return held | {"discrepancy": 0.0}


def synthetic_targets(
    targets: pd.DataFrame,
    truth: dict[str, float],
    *,
    countries: Sequence[str] = COUNTRIES,
    n_firms: int | None = None,
    seed: int = 1,
    origin: str | None = None,
) -> pd.DataFrame:
    """Targets whose values the model itself produced at known joint parameters `truth`.

    For parameter recovery: each used row's value is replaced by one simulated survey reading at
    `truth` (seed `seed`, so not the calibration's common random numbers) plus survey noise
    N(0, se²) (and model discrepancy if `truth` has a nonzero `discrepancy`).
    """
    from adoptsim.validation import predict_rows

    table = targets.copy()
    draws = pd.DataFrame([truth])
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(77,)))
    for country in countries:
        rows, _ = select_targets(table, country, origin)
        pred = predict_rows(rows, country, draws, 1, n_firms, seed)
        se = rows.se.to_numpy() / np.sqrt(target_weights(rows))
        p = np.clip(pred.model_mean.to_numpy(), 1e-4, 1 - 1e-4)
        disc = truth.get("discrepancy", 0.0) * np.sqrt(p * (1 - p))
        disc = np.where(rows.segment_type.isin(ADOPTION_SEGMENTS), disc, 0.0)
        value = p + disc * rng.standard_normal(len(p)) + se * rng.standard_normal(len(p))
        table.loc[table.id.isin(rows.id), "value"] = (
            pd.Series(np.clip(value, 0.001, 0.999), index=rows.id.to_numpy())
            .reindex(table.id[table.id.isin(rows.id)])
            .to_numpy()
        )
    return table
