"""Posterior sampling (emcee ensembles, split R-hat) and the checks at posterior draws."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable

import numpy as np

from adoptsim import streams
from adoptsim.fit.design import design_round
from adoptsim.fit.evaluations import Evaluator
from adoptsim.fit.likelihood import Likelihood
from adoptsim.posterior import (
    JointParameter,
    effective_values,
)


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
    rng = streams.stream(seed, streams.MCMC_STARTS)
    cand = np.column_stack([p.sample(rng, 4000) for p in params])
    lp = np.concatenate([log_post(c) for c in np.array_split(cand, 20)])
    best = cand[np.argsort(-lp)[: max(400, n_ensembles * walkers)]]
    pick = rng.permutation(len(best))[: n_ensembles * walkers]
    return best[pick].reshape(n_ensembles, walkers, len(params))


@contextlib.contextmanager
def _quiet_emcee(quiet: bool):
    """Hold back emcee's logged warnings while ``quiet`` (``--quiet`` means quiet)."""
    logger = logging.getLogger("emcee")
    level = logger.level
    if quiet:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


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
        rng = streams.stream(seed, streams.MCMC_ENSEMBLE, e)
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
        with _quiet_emcee(not progress):  # its "chain is shorter than ..." warning: in diag
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
    rng = streams.stream(seed, streams.EMULATOR_CHECK)
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
