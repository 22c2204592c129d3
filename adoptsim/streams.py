"""Named random streams: every spawn key the package derives from a run's seed, in one place.

All randomness flows from ``numpy.random.SeedSequence(seed)``; a stream is the child with one of
the spawn keys below. Keeping them here lets a test check that no two streams share a key (two
streams with one key would draw the same numbers, correlating what should be independent). The
values are the ones the package has always used, so results are unchanged.

Layout of the key space:

- ``(r,)`` for replication ``r`` of a run (`replication_seed`): the model's own children
  (population, network, start state, Mesa, levers, and the key of the steps' counter-based
  uniforms, `adoptsim.uniforms`) are spawned from it;
- ``(r, PRIOR_DRAW)``: a replication's draw of the prior-only parameters;
- ``(r, EVIDENCE_EXPERIMENTS)``: which firms `adoptsim evidence` treats in replication ``r``;
- ``(NOISE_FIRST_REPLICATION + i,)``: the calibration's extra simulation-noise replications;
- the calibration's, recovery's and validation's own streams, ``(ANALYSIS, key)`` or
  ``(ANALYSIS, key, e)`` (`stream`): under a first key no replication index can take, so an
  analysis stream can never coincide with a replication's (before the registry, the MCMC starts
  used key ``(5,)``, which is also replication 5's seed).
- ``(ANALYSIS, key, R, i)`` with a precision key below: the stratified design of a run of R
  replications and its Monte-Carlo-error bootstrap (`adoptsim.precision`).
"""

from __future__ import annotations

import numpy as np

# First key of every analysis stream (`stream`): above any replication index a run can have (the
# replication count is bounded far below it by memory), so the two key spaces are disjoint.
ANALYSIS = 2**40
# Second key, under a replication: the prior draw of its uncertain parameters (the model spawns
# children 0-5 of a replication, never this one).
PRIOR_DRAW = 1_000
# Second key, under a replication: the evidence experiments' own draws (which firms are treated).
EVIDENCE_EXPERIMENTS = 2_000
# The first replication index of the seed-to-seed noise runs at a design point (replications the
# design never uses).
NOISE_FIRST_REPLICATION = 10_000
# Calibration: Latin-hypercube prior design (round 1).
PRIOR_DESIGN = 11
# Calibration: dispersed starts of the MCMC ensembles.
MCMC_STARTS = 5
# Calibration: ensemble e's sampler moves (key (MCMC_ENSEMBLE, e)).
MCMC_ENSEMBLE = 6
# Calibration: thinning of the posterior draws written to posterior.csv.
POSTERIOR_THINNING = 8
# Calibration: posterior draws at which the emulator is checked against new simulations.
EMULATOR_CHECK = 9
# Recovery: survey noise of synthetic targets simulated at a known truth.
SYNTHETIC_NOISE = 77
# Validation: discrepancy and survey-noise draws of the predictive band.
VALIDATION_NOISE = 4242
# Panel benchmark: Laplace proposals, importance resampling, series draws and forecast noise.
PANEL_BENCHMARK = 20
# Shock prior: the jump of one country drawn from the pool.
SHOCK_ONE_COUNTRY = 21
# Calibration: the prior-only parameters marginalised at a design point (key (CALIBRATION_PRIORS,
# h0, h1, r): h the design point's hash, r the replication).
CALIBRATION_PRIORS = 22

# Precision (analysis keys (key, R, i), R the run's replication count): the run's stratified
# design of posterior and prior draws; the MC-error bootstrap of its medians (i = 0: redrawn
# designs, 1: residual noise); the pilot runs that fit the design's surrogate (R = 0).
RUN_DESIGN = 3_000
MC_BOOTSTRAP = 3_001
SURROGATE_PILOT = 3_002

# Every single-integer key, by name (what the registry test checks for clashes).
KEYS: dict[str, int] = {
    "ANALYSIS": ANALYSIS,
    "PRIOR_DRAW": PRIOR_DRAW,
    "EVIDENCE_EXPERIMENTS": EVIDENCE_EXPERIMENTS,
    "NOISE_FIRST_REPLICATION": NOISE_FIRST_REPLICATION,
    "PRIOR_DESIGN": PRIOR_DESIGN,
    "MCMC_STARTS": MCMC_STARTS,
    "MCMC_ENSEMBLE": MCMC_ENSEMBLE,
    "POSTERIOR_THINNING": POSTERIOR_THINNING,
    "EMULATOR_CHECK": EMULATOR_CHECK,
    "SYNTHETIC_NOISE": SYNTHETIC_NOISE,
    "VALIDATION_NOISE": VALIDATION_NOISE,
    "PANEL_BENCHMARK": PANEL_BENCHMARK,
    "SHOCK_ONE_COUNTRY": SHOCK_ONE_COUNTRY,
    "CALIBRATION_PRIORS": CALIBRATION_PRIORS,
    "RUN_DESIGN": RUN_DESIGN,
    "MC_BOOTSTRAP": MC_BOOTSTRAP,
    "SURROGATE_PILOT": SURROGATE_PILOT,
}


def replication_seed(seed: int, replication: int) -> np.random.SeedSequence:
    """The seed of one replication: child ``(replication,)`` of ``SeedSequence(seed)``.

    A child's identity depends only on (seed, replication), never on how many replications or
    workers there are, which makes results independent of the execution plan; the same seed gives
    every scenario the same firms, network and uniform draws (common random numbers).
    """
    return np.random.SeedSequence(seed, spawn_key=(replication,))


def prior_seed(seed: int, replication: int) -> np.random.SeedSequence:
    """The seed of replication ``replication``'s prior draw: key ``(replication, PRIOR_DRAW)``."""
    return np.random.SeedSequence(seed, spawn_key=(replication, PRIOR_DRAW))


def evidence_seed(seed: int, replication: int) -> np.random.SeedSequence:
    """Seed of which firms `adoptsim evidence` treats: ``(replication, EVIDENCE_EXPERIMENTS)``."""
    return np.random.SeedSequence(seed, spawn_key=(replication, EVIDENCE_EXPERIMENTS))


def stream(seed: int, *key: int) -> np.random.Generator:
    """A generator on the analysis stream ``key`` of ``seed``.

    The spawn key is ``(ANALYSIS, *key)``, so no analysis stream shares a key with a replication.

    Args:
        seed: the run's (or the calibration's) seed.
        *key: the spawn key, built from the named constants of this module.

    Returns:
        A numpy ``Generator``; the same (seed, key) always gives the same numbers.
    """
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(ANALYSIS, *key)))
