"""Model discrepancy correlated over time within a series, and forecasts conditioned on it.

What the model cannot represent is rarely independent from one wave to the next: when the model
misses a series (say, Belgian ICT-survey use of 10+ firms) in one wave, it tends to miss the same
series the same way in the next. The discrepancy of a share ``p`` at date ``t`` of series ``s``
(survey, geography, segment type, segment) is Gaussian with sd ``φ·sqrt(p(1 − p))`` and

    corr(δ(s, t), δ(s', t')) = ρ^|t − t'|  if s = s' (t in years), else 0,

with ``φ`` (half-normal prior) and ``ρ`` (uniform on [0, 1]) both fitted. ``ρ = 0`` is the
independent per-target discrepancy a fit can drive to zero; ``ρ`` near 1 is a persistent offset
of a series, which a fit cannot trade against the other series' misfit.

In a forecast, the discrepancy of a later wave of a series is drawn *given* the residuals of
that series' fitted waves (`conditional_discrepancy`): a series the model missed keeps its
miss in expectation (shrunk by ``ρ^lag`` and by the survey noise), and the band widens by what
the fitted waves cannot tell.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from adoptsim.fit.scores import SERIES, year_fraction


def series_lags(rows: pd.DataFrame, other: pd.DataFrame | None = None) -> np.ndarray:
    """Years between the rows of `rows` and of `other` (default `rows`); NaN across series.

    Returns:
        Array (len(rows), len(other)): |t_i − t_j| in years where rows i and j belong to one
        series, NaN elsewhere.
    """
    other = rows if other is None else other
    key_a, key_b = (
        np.array(["|".join(map(str, k)) for k in t[SERIES].itertuples(index=False)], dtype=object)
        for t in (rows, other)
    )
    ta = rows.date.astype(str).map(year_fraction).to_numpy(float)
    tb = other.date.astype(str).map(year_fraction).to_numpy(float)
    lag = np.abs(ta[:, None] - tb[None, :])
    return np.where(key_a[:, None] == key_b[None, :], lag, np.nan)


def correlation(lags: np.ndarray, rho: np.ndarray | float) -> np.ndarray:
    """Correlation matrices ``ρ^lag`` (0 across series) for each ``ρ`` of a draw.

    Args:
        lags: (k × l) lags from `series_lags`.
        rho: one ``ρ`` or an array of m of them.

    Returns:
        (k × l) for a scalar ``ρ``, else (m × k × l). ``0^0`` is 1: a row with itself.
    """
    rho = np.asarray(rho, dtype=float)
    same = np.isfinite(lags)
    lag = np.where(same, lags, 0.0)
    r = np.power(rho[..., None, None], lag) if rho.ndim else np.power(rho, lag)
    return np.where(same, r, 0.0)


def conditional_discrepancy(
    residual: np.ndarray,
    s_hist: np.ndarray,
    s_new: np.ndarray,
    noise_var: np.ndarray,
    lags_hh: np.ndarray,
    lags_nh: np.ndarray,
    lags_nn: np.ndarray,
    phi: float,
    rho: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of the discrepancy at new rows given the fitted rows' residuals.

    Args:
        residual: observed − model at the fitted rows (one simulation), length h.
        s_hist: ``sqrt(p(1 − p))`` of the model at the fitted rows (0 for rows with no
            discrepancy, such as barrier shares).
        s_new: the same at the new rows.
        noise_var: survey sampling variance of each fitted row.
        lags_hh: `series_lags` among the fitted rows.
        lags_nh: `series_lags` of the new rows against the fitted rows.
        lags_nn: `series_lags` among the new rows.
        phi: the draw's discrepancy scale φ.
        rho: the draw's discrepancy correlation ρ (a year apart).

    Returns:
        (mean, covariance) of the new rows' discrepancy, Gaussian conditioning.
    """
    k_nn = phi**2 * np.outer(s_new, s_new) * correlation(lags_nn, rho)
    if residual.size == 0:
        return np.zeros(len(s_new)), k_nn
    k_hh = phi**2 * np.outer(s_hist, s_hist) * correlation(lags_hh, rho)
    k_nh = phi**2 * np.outer(s_new, s_hist) * correlation(lags_nh, rho)
    a = k_hh + np.diag(noise_var)
    gain = np.linalg.solve(a, k_nh.T).T
    return gain @ residual, k_nn - gain @ k_nh.T
