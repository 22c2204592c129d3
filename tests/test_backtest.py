"""Backtest scoring: naive trend benchmark, interval score, coverage."""

import numpy as np
import pandas as pd
import pytest

from adoptsim.cli import main
from adoptsim.fit.backtest import interval_score, naive_forecast, score


def test_naive_benchmark_extends_the_last_two_waves():
    hist = pd.DataFrame(
        {
            "survey": "ict_survey",
            "geography": "belgium",
            "segment_type": "size",
            "segment": ["10-49", "10-49", "10-49", "250+"],
            "date": ["2019-03", "2021-03", "2023-03", "2023-03"],
            "value": [0.03, 0.08, 0.106, 0.479],
        }
    )
    row = pd.Series(
        {
            "survey": "ict_survey",
            "geography": "belgium",
            "segment_type": "size",
            "segment": "10-49",
            "date": "2024-03",
        }
    )
    value, how = naive_forecast(hist, row)
    assert how == "trend" and value == pytest.approx(0.106 + (0.106 - 0.08) / 2)
    value, how = naive_forecast(hist, row.copy().replace({"10-49": "250+"}))
    assert how == "last value" and value == 0.479
    value, how = naive_forecast(hist, row.copy().replace({"10-49": "50-249"}))
    assert how == "none" and np.isnan(value)


def test_interval_score_and_coverage():
    y = np.array([0.5, 0.0, 1.0])
    s = interval_score(y, np.array([0.4, 0.1, 0.4]), np.array([0.6, 0.3, 0.6]), alpha=0.1)
    np.testing.assert_allclose(s, [0.2, 0.2 + 20 * 0.1, 0.2 + 20 * 0.4])
    f = pd.DataFrame(
        {
            "observed": [0.2, 0.3, 0.5, 0.9],
            "sim_mean": [0.2, 0.2, 0.5, 0.5],
            "sim_p05": [0.1, 0.1, 0.3, 0.4],
            "sim_p25": [0.15, 0.15, 0.45, 0.45],
            "sim_p75": [0.25, 0.25, 0.55, 0.55],
            "sim_p95": [0.3, 0.35, 0.7, 0.6],
            "naive": [0.25, np.nan, 0.5, 0.7],
        }
    )
    sc = score(f).set_index(["method", "rows"])
    m = sc.loc[("model", "all")]
    assert m.coverage_90 == 0.75 and m.coverage_50 == 0.5
    assert m.mae == pytest.approx((0 + 0.1 + 0 + 0.4) / 4)
    assert sc.loc[("naive", "naive-forecastable")].mae == pytest.approx((0.05 + 0 + 0.2) / 3)
    assert sc.loc[("model", "naive-forecastable")].n == 3
    # signed misses: the model is low on two rows (by 0.1 and 0.4), never high
    assert m.mean_error == pytest.approx(-(0.1 + 0.4) / 4) and m.below == 2
    naive = sc.loc[("naive", "naive-forecastable")]
    assert naive.mean_error == pytest.approx((0.05 + 0 - 0.2) / 3) and naive.below == 1


def test_backtest_refuses_origin_without_future(capsys):
    assert main(["backtest", "--origin", "2024-12", "--out", "/tmp/never-bt"]) == 2
    assert "origin" in capsys.readouterr().err
    assert main(["backtest", "--origin", "2024-1x", "--out", "/tmp/never-bt"]) == 2
