"""The time-correlated discrepancy: its correlation structure and the conditional forecast."""

import numpy as np
import pandas as pd
import pytest

from adoptsim.fit.discrepancy import conditional_discrepancy, correlation, series_lags


def _rows(spec):
    cols = ["survey", "geography", "segment_type", "segment", "date"]
    return pd.DataFrame([dict(zip(cols, r, strict=True)) for r in spec])


ROWS = _rows(
    [
        ("ict_survey", "belgium", "all", "10+", "2023-03"),
        ("ict_survey", "belgium", "all", "10+", "2024-03"),
        ("ict_survey", "belgium", "size", "250+", "2024-03"),
    ]
)


def test_correlation_is_rho_to_the_lag_within_a_series_and_zero_across():
    lags = series_lags(ROWS)
    assert lags[0, 1] == pytest.approx(1.0) and np.isnan(lags[0, 2])
    r = correlation(lags, 0.6)
    np.testing.assert_allclose(r, [[1, 0.6, 0], [0.6, 1, 0], [0, 0, 1]], atol=1e-12)
    # one matrix per draw, and rho = 0 is the independent per-target discrepancy
    stack = correlation(lags, np.array([0.0, 0.6]))
    np.testing.assert_allclose(stack[0], np.eye(3), atol=1e-12)
    np.testing.assert_allclose(stack[1], r, atol=1e-12)


def test_conditional_discrepancy_closed_forms():
    hist, new = ROWS.iloc[:1], ROWS.iloc[1:2]
    args = (series_lags(hist), series_lags(new, hist), series_lags(new))
    s_h, s_n = np.array([0.4]), np.array([0.45])
    # rho = 1, no survey noise: the miss carries over exactly (scaled by the sd ratio)
    mean, cov = conditional_discrepancy(
        np.array([0.02]), s_h, s_n, np.array([0.0]), *args, 0.1, 1.0
    )
    assert mean[0] == pytest.approx(0.02 * 0.45 / 0.4) and cov[0, 0] == pytest.approx(0, abs=1e-15)
    # rho = 0: the fitted wave says nothing about the next one
    mean, cov = conditional_discrepancy(
        np.array([0.02]), s_h, s_n, np.array([1e-4]), *args, 0.1, 0.0
    )
    assert mean[0] == 0.0 and cov[0, 0] == pytest.approx((0.1 * 0.45) ** 2)


def test_conditional_discrepancy_matches_sampling():
    """Against brute force: sample (history + noise, new) jointly and regress."""
    hist, new = ROWS.iloc[:1], ROWS.iloc[1:]
    s_h, s_n, phi, rho, nv = np.array([0.4]), np.array([0.45, 0.48]), 0.12, 0.7, 1e-4
    both = pd.concat([hist, new], ignore_index=True)
    s = np.concatenate([s_h, s_n])
    k = phi**2 * np.outer(s, s) * correlation(series_lags(both), rho)
    rng = np.random.default_rng(3)
    x = rng.multivariate_normal(np.zeros(3), k, size=400_000)
    y_h = x[:, 0] + rng.normal(0, np.sqrt(nv), len(x))
    beta = np.linalg.lstsq(np.c_[y_h], x[:, 1:], rcond=None)[0][0]
    resid = x[:, 1:] - np.outer(y_h, beta)
    mean, cov = conditional_discrepancy(
        np.array([0.03]),
        s_h,
        s_n,
        np.array([nv]),
        series_lags(hist),
        series_lags(new, hist),
        series_lags(new),
        phi,
        rho,
    )
    np.testing.assert_allclose(mean, 0.03 * beta, atol=2e-4)  # MC error ~1e-5 at this n
    np.testing.assert_allclose(cov, np.cov(resid.T), atol=2e-5)
    assert mean[1] == 0.0  # the size class is another series
