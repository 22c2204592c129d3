"""Design points for the calibration rounds, and the simulation noise at a design point."""

from __future__ import annotations

import numpy as np
from scipy.stats import qmc
from sklearn.covariance import LedoitWolf

from adoptsim import streams
from adoptsim.fit.evaluations import EvaluationStore, Evaluator, LatentModel
from adoptsim.fit.likelihood import Likelihood
from adoptsim.fit.targets import SIM_INDEX
from adoptsim.posterior import (
    EFFECTIVE,
    JointParameter,
    effective_values,
)
from adoptsim.scenario import Scenario


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
    rng = streams.stream(seed, streams.PRIOR_DESIGN)
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

    `n` extra replications (seeds not used by the design) per country, each with its own draw
    of the marginalised prior-only parameters. The covariance of one replication is stored in
    `lik.sim_var`, not divided by the replications per design point: averaging replications
    narrows the emulator's input noise, but the world is one draw of the marginalised
    parameters, so their spread stays in the likelihood (it is what marginalising them costs).
    """
    params, full = lik.full(np.atleast_2d(theta))
    for country, data in lik.data.items():
        m = data.model
        noisy = LatentModel(
            m.country,
            m.scenario_raw,
            m.rows,
            m.n_firms,
            m.seed,
            n,
            first_replication=streams.NOISE_FIRST_REPLICATION,
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
        lik.sim_var[country] = cov
    return lik.sim_var
