"""Hierarchical hazard model of a panel of adoption series (the statistical benchmark's engine).

Each series' share of users ``p(t)`` is read through its cumulative hazard among non-users,
``L(t) = −log(1 − p(t))``, so the annual hazard ``λ`` is the rate at which ``L`` grows and
``log λ`` is the hazard on the complementary-log-log scale (``cloglog h = log λ`` for the annual
hazard ``h = 1 − e^(−λ)``). Two periods:

- before the jump (up to ``JUMP_START``, the 2023 wave): ``log λ₁ = μ + aₛ``;
- the jump year (``JUMP_START`` to ``JUMP_END``, 2023→24): ``log λ₂ = log λ₁ + J + jₛ``;

with country effects partially pooled, ``aₛ ~ N(0, σₐ²)``, and the jump shared with a spread
across countries, ``jₛ ~ N(0, σⱼ²)``. A wave is read with noise on the ``L`` scale: the survey's
sampling error (``se``, carried to ``L``) plus a non-sampling wave error ``σ_w`` (vintages,
questionnaire details; the panel has countries whose share *fell* by 9 pp between waves, which no
sampling error explains). The level ``L`` at the jump is flat a priori and integrated out
analytically; the two country hazards are integrated on a grid (``Z1`` in prior-standardised
units for ``λ₁``, ``ETA2`` on the log scale for ``λ₂``, whose likelihood is sharp); the five
hyper-parameters ``(μ, J, log σₐ, log σⱼ, log σ_w)`` get a Laplace approximation at the posterior
mode, corrected by importance sampling (the effective sample size is reported). Only the pool
(countries' all-firm series) informs the hyper-parameters; other series (the EU aggregate, size
classes, technologies) draw their hazards from the pool's distribution, updated by their own
waves. The whole fit takes a few seconds.

Hyper-priors (`HYPER_PRIORS`): judgement, deliberately wide; the jump's prior is centred on "no
change" so that a fit at an origin before the 2024 wave does not know the jump's size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize
from scipy.special import ndtr

from adoptsim.fit.scores import SERIES, year_fraction

JUMP_START = "2023-03"  # the wave from which the jump-year hazard applies (2023→24)
JUMP_END = "2024-03"  # one year later: after it the hazard follows the drift prior
# name: (kind, location, scale) on the model's parameter (μ, J on the log-hazard scale; σ's as
# half-normal scales). μ: a 2 %/yr base hazard, a factor of 12 either way at 90 %. J: no change,
# a factor of 12 either way. σₐ, σⱼ: country spreads of up to a factor ~7 (2 sd) are plausible a
# priori. σ_w: non-sampling wave error of a few points.
HYPER_PRIORS = {
    "mu": ("normal", float(np.log(0.02)), 1.5),
    "jump": ("normal", 0.0, 1.5),
    "sigma_country": ("half-normal", 0.0, 1.0),
    "sigma_jump": ("half-normal", 0.0, 1.0),
    "sigma_wave": ("half-normal", 0.0, 0.03),
}
HYPER_NAMES = tuple(HYPER_PRIORS)
Z1 = np.linspace(-4.0, 4.0, 17)
ETA2 = np.arange(-8.0, 1e-9, 0.04)
_LOG_SIGMA_MIN = np.log([0.01, 0.01, 1e-4])  # spreads below these act as zero
_EDGES = np.concatenate([ETA2 - 0.02, ETA2[-1:] + 0.02])
_LOG_W1 = -0.5 * Z1**2 - np.log(np.exp(-0.5 * Z1**2).sum())
_TJ, _TE = year_fraction(JUMP_START), year_fraction(JUMP_END)


def is_pool_series(survey: str, geography: str, segment_type: str) -> bool:
    """Countries' all-firm series of the ICT survey (two-letter codes) form the pool."""
    return survey == "ict_survey" and segment_type == "all" and len(geography) == 2


@dataclass
class SeriesData:
    """The waves of each series up to the origin, padded to a common length.

    Attributes:
        keys: one row per series (the `SERIES` columns), with ``pool`` and ``waves``.
        t: decimal years of the waves (n_series × n_waves; padding 0).
        L: observed cumulative hazards ``−log(1 − value)``.
        var: their sampling variances ``(se/(1 − value))²``.
        mask: True where a wave exists.
    """

    keys: pd.DataFrame
    t: np.ndarray
    L: np.ndarray
    var: np.ndarray
    mask: np.ndarray

    @property
    def a1(self) -> np.ndarray:
        """Years of the pre-jump hazard from ``JUMP_START`` to each wave (≤ 0)."""
        return np.where(self.mask, np.minimum(self.t, _TJ) - _TJ, 0.0)

    @property
    def a2(self) -> np.ndarray:
        """Years of the jump hazard from ``JUMP_START`` to each wave (≥ 0)."""
        return np.where(self.mask, np.maximum(self.t - _TJ, 0.0), 0.0)


def series_data(rows: pd.DataFrame) -> SeriesData:
    """Arrange panel rows (all dated up to the origin) by series."""
    groups = [
        (key, g.assign(tt=g.date.map(year_fraction)).sort_values("tt"))
        for key, g in rows.groupby(SERIES, sort=True)
    ]
    n, w = len(groups), max((len(g) for _, g in groups), default=0)
    t, L, var = np.zeros((n, w)), np.zeros((n, w)), np.ones((n, w))
    mask = np.zeros((n, w), dtype=bool)
    keys = []
    for i, (key, g) in enumerate(groups):
        k = len(g)
        v = g.value.to_numpy(dtype=float)
        t[i, :k] = g.tt.to_numpy()
        L[i, :k] = -np.log1p(-v)
        var[i, :k] = (g.se.to_numpy(dtype=float) / (1 - v)) ** 2
        mask[i, :k] = True
        keys.append(dict(zip(SERIES, key, strict=True)) | {"pool": is_pool_series(*key[:3])})
    table = pd.DataFrame(keys, columns=[*SERIES, "pool"])
    table["waves"] = mask.sum(axis=1)
    return SeriesData(table, t, L, var, mask)


def _quadratic(data: SeriesData, sigma_wave: float) -> tuple[np.ndarray, ...]:
    """Per series: log-likelihood of (λ₁, λ₂), the jump-time level integrated out (flat prior).

    Returns ``(c, b1, b2, q11, q12, q22)`` with ``ll = c + b1 λ₁ + b2 λ₂ − ½(q11 λ₁² + 2 q12 λ₁λ₂
    + q22 λ₂²)``: the model is linear in the hazards given the level, so the likelihood is an
    exact Gaussian function of them.
    """
    v = data.var + sigma_wave**2
    w = np.where(data.mask, 1 / v, 0.0)
    s = w.sum(axis=1, keepdims=True)

    def centred(x: np.ndarray) -> np.ndarray:
        return x - (w * x).sum(axis=1, keepdims=True) / s

    lt, a1, a2 = centred(data.L), centred(data.a1), centred(data.a2)
    c = -0.5 * (w * lt**2).sum(1) - 0.5 * np.where(data.mask, np.log(v), 0).sum(1)
    c = c - 0.5 * np.log(s[:, 0])
    return (
        c,
        (w * a1 * lt).sum(1),
        (w * a2 * lt).sum(1),
        (w * a1**2).sum(1),
        (w * a1 * a2).sum(1),
        (w * a2**2).sum(1),
    )


def _log_grid(theta: np.ndarray, data: SeriesData) -> np.ndarray:
    """Log prior × likelihood of every series on the (Z1, ETA2) grid (series × Z1 × ETA2)."""
    mu, mu2, s_a, s_j, s_w = theta[0], theta[1], *np.exp(theta[2:])
    eta1 = mu + s_a * Z1
    lam1, lam2 = np.exp(eta1), np.exp(ETA2)
    # each ETA2 cell gets its probability under the conditional normal (not the density at its
    # centre): smooth in the hyper-parameters even when σⱼ is below the cell width
    m = (eta1 + (mu2 - mu))[:, None]
    mass = ndtr((_EDGES[None, 1:] - m) / s_j) - ndtr((_EDGES[None, :-1] - m) / s_j)
    cond = np.log(np.maximum(mass, 1e-300))
    cond -= np.log(np.exp(cond).sum(1, keepdims=True))
    prior = _LOG_W1[:, None] + cond
    c, b1, b2, q11, q12, q22 = _quadratic(data, s_w)
    part1 = c[:, None] + b1[:, None] * lam1 - 0.5 * q11[:, None] * lam1**2
    part2 = b2[:, None] * lam2 - 0.5 * q22[:, None] * lam2**2
    out = np.multiply(-q12[:, None, None], (lam1[:, None] * lam2[None, :])[None])  # in place:
    out += prior[None]  # the grid is the fit's inner loop
    out += part1[:, :, None]
    out += part2[:, None, :]
    return out


def _logsumexp_rows(a: np.ndarray) -> np.ndarray:
    """Log Σ exp over all but the first axis (numerically safe; overwrites ``a``)."""
    flat = a.reshape(len(a), -1)
    m = flat.max(axis=1)
    flat -= m[:, None]
    np.exp(flat, out=flat)
    return m + np.log(flat.sum(axis=1))


def hyper_log_prior(theta: np.ndarray) -> float:
    """Log density of the hyper-priors at ``(μ, μ + J, log σₐ, log σⱼ, log σ_w)`` (Jacobian in)."""
    natural = np.array([theta[0], theta[1] - theta[0], *theta[2:]])
    total = 0.0
    for x, (kind, loc, scale) in zip(natural, HYPER_PRIORS.values(), strict=True):
        if kind == "normal":
            total += -0.5 * ((x - loc) / scale) ** 2
        else:
            total += -0.5 * (np.exp(x) / scale) ** 2 + x
    return float(total)


def log_posterior(theta: np.ndarray, data: SeriesData) -> float:
    """Log posterior of the hyper-parameters given the pool series (up to a constant)."""
    if (
        not np.all(np.isfinite(theta))
        or np.any(theta[2:] < _LOG_SIGMA_MIN)
        or np.any(theta[2:] > 3)
    ):
        return -np.inf
    return hyper_log_prior(theta) + float(_logsumexp_rows(_log_grid(theta, data)).sum())


def _hessian(f, x: np.ndarray, h: float = 1e-3) -> np.ndarray:
    """Central-difference Hessian of a scalar function."""
    n = len(x)
    out = np.empty((n, n))
    f0 = f(x)
    for i in range(n):
        for j in range(i, n):
            ei, ej = np.eye(n)[i] * h, np.eye(n)[j] * h
            if i == j:
                out[i, i] = (f(x + ei) - 2 * f0 + f(x - ei)) / h**2
            else:
                out[i, j] = out[j, i] = (
                    f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)
                ) / (4 * h**2)
    return out


def _t_log_density(x: np.ndarray, centre: np.ndarray, inv: np.ndarray, df: int) -> np.ndarray:
    """Log density (up to the shared constant) of a multivariate t with scale matrix inv⁻¹."""
    dev = x - centre
    maha = np.einsum("ij,jk,ik->i", dev, inv, dev)
    _, logdet = np.linalg.slogdet(inv)
    return 0.5 * logdet - 0.5 * (df + len(centre)) * np.log1p(maha / df)


@dataclass
class HyperFit:
    """Hyper-parameter draws of the fitted pool.

    Attributes:
        draws: importance-resampled draws (n × 5: μ, μ + J, log σₐ, log σⱼ, log σ_w).
        mode: the posterior mode (Laplace centre).
        ess: effective sample size of the importance weights (out of ``proposals``).
        proposals: Laplace draws weighed.
    """

    draws: np.ndarray
    mode: np.ndarray
    ess: float
    proposals: int

    def table(self) -> pd.DataFrame:
        """Draws on the natural scale: mu, jump, sigma_country, sigma_jump, sigma_wave."""
        d = self.draws.copy()
        d[:, 1] -= d[:, 0]
        d[:, 2:] = np.exp(d[:, 2:])
        return pd.DataFrame(d, columns=list(HYPER_NAMES))


def fit_hyper(
    data: SeriesData,
    rng: np.random.Generator,
    n_draws: int,
    proposals: int = 1000,
    df: float = 4,
) -> HyperFit:
    """Laplace approximation of the hyper-posterior, importance-corrected and resampled."""
    pool = SeriesData(
        data.keys[data.keys.pool].reset_index(drop=True),
        *(a[data.keys.pool.to_numpy()] for a in (data.t, data.L, data.var, data.mask)),
    )
    if pool.keys.empty:
        from adoptsim.errors import ScenarioError

        raise ScenarioError(
            "panel", "no country series", "needs all-firm ICT-survey series of countries"
        )
    f = lambda th: -log_posterior(th, pool)  # noqa: E731
    x0 = np.array([np.log(0.02), np.log(0.02), np.log(0.8), np.log(0.5), np.log(0.01)])
    res = optimize.minimize(f, x0, method="Powell", options={"xtol": 1e-4, "ftol": 1e-8})
    res = optimize.minimize(f, res.x, method="BFGS", options={"gtol": 1e-5})
    mode = res.x
    hess = _hessian(f, mode)
    vals, vecs = np.linalg.eigh((hess + hess.T) / 2)
    cov = (vecs / np.maximum(vals, 1e-6)) @ vecs.T
    # Multivariate-t proposals (4 degrees of freedom; heavier tails than the Laplace normal, so
    # the weights stay bounded where the posterior is skewed), then one adaptive round centred
    # on the weighted draws of the first.
    half = proposals // 2

    def draw(centre: np.ndarray, scale: np.ndarray) -> np.ndarray:
        # Cholesky, not an eigen-decomposition: the same draws whatever LAPACK's sign choices
        z = rng.standard_normal((half, 5)) @ np.linalg.cholesky(scale).T
        return centre + z / np.sqrt(rng.chisquare(df, size=(half, 1)) / df)

    def weights(log_p: np.ndarray, log_q: np.ndarray) -> np.ndarray:
        w = np.exp(log_p - log_q - np.max(log_p - log_q))
        return w / w.sum()

    first = draw(mode, cov)
    log_p = np.array([log_posterior(th, pool) for th in first])
    w = weights(log_p, _t_log_density(first, mode, np.linalg.inv(cov), df))
    centre = w @ first
    dev = first - centre
    cov2 = (w[:, None] * dev).T @ dev * 1.2**2 + 1e-9 * np.eye(5)
    second = draw(centre, cov2)
    prop = np.vstack([first, second])
    log_p = np.concatenate([log_p, [log_posterior(th, pool) for th in second]])
    # every draw weighed against the equal mixture of the two rounds' proposals
    log_q = np.logaddexp(
        _t_log_density(prop, mode, np.linalg.inv(cov), df),
        _t_log_density(prop, centre, np.linalg.inv(cov2), df),
    )
    w = weights(log_p, log_q)
    ess = float(1 / np.sum(w**2))
    pick = rng.choice(len(prop), size=n_draws, p=w)
    return HyperFit(prop[pick], mode, ess, len(prop))


def sample_states(
    data: SeriesData, hyper: HyperFit, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw every series' (log λ₁, log λ₂, level at the jump) for each hyper draw.

    Returns:
        ``eta1, eta2, level``: arrays of draws × series.
    """
    n, m = len(hyper.draws), len(data.keys)
    eta1, eta2, level = np.empty((n, m)), np.empty((n, m)), np.empty((n, m))
    uniq, inverse = np.unique(hyper.draws, axis=0, return_inverse=True)
    inverse = np.ravel(inverse)
    dz, de = Z1[1] - Z1[0], ETA2[1] - ETA2[0]
    for k, theta in enumerate(uniq):
        rows = np.flatnonzero(inverse == k)
        grid = _log_grid(theta, data).reshape(m, -1)
        p = np.exp(grid - grid.max(axis=1, keepdims=True))
        cdf = np.cumsum(p, axis=1)
        u = rng.random((len(rows), m)) * cdf[:, -1]
        cell = np.array([np.searchsorted(cdf[s], u[:, s]) for s in range(m)]).T
        cell = np.minimum(cell, cdf.shape[1] - 1)
        i1, i2 = np.divmod(cell, len(ETA2))
        z1 = Z1[i1] + (rng.random(i1.shape) - 0.5) * dz
        eta1[rows] = theta[0] + np.exp(theta[2]) * z1
        eta2[rows] = ETA2[i2] + (rng.random(i2.shape) - 0.5) * de
    # the level at the jump given the hazards: Gaussian (flat prior), per draw and series
    s_w = np.exp(hyper.draws[:, 4])[:, None, None]
    v = data.var[None] + s_w**2
    w = np.where(data.mask[None], 1 / v, 0.0)
    resid = data.L[None] - np.exp(eta1)[..., None] * data.a1 - np.exp(eta2)[..., None] * data.a2
    s = w.sum(axis=2)
    level = (w * resid).sum(axis=2) / s + rng.standard_normal((n, m)) / np.sqrt(s)
    return eta1, eta2, level


def cumulative(
    t: float, eta1: np.ndarray, eta2: np.ndarray, steps: np.ndarray | None = None
) -> np.ndarray:
    """Cumulative hazard from ``JUMP_START`` to year ``t`` (negative before it).

    ``steps[..., k]`` is the log-hazard change accumulated by the k-th year after ``JUMP_END``
    (the drift prior); None or too few years: the jump-year hazard holds.
    """
    lam1, lam2 = np.exp(eta1), np.exp(eta2)
    out = lam1 * (min(t, _TJ) - _TJ) + lam2 * max(min(t, _TE) - _TJ, 0.0)
    k = 0
    while t > _TE + k:
        span = min(t, _TE + k + 1) - (_TE + k)
        drift = 0.0 if steps is None else steps[..., min(k, steps.shape[-1] - 1)]
        out = out + lam2 * np.exp(drift) * span
        k += 1
    return out
