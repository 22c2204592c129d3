"""Figures that take a path save a drawn PNG there, and their footers fit inside the figure."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from png_content import assert_drawn_figure

from adoptsim import plots

# A backtest's real caption (calibration/backtest/2023-12/summary.txt): long, one line.
CAPTION = (
    "origin 2023-12: 11 forecasts; 90 % band coverage 100% (mean width 25.2 pp), 50 % band "
    "coverage 55%; MAE 4.5 pp. On the 7 rows the naive trend can forecast: model MAE 6.0 pp vs "
    "naive 13.2 pp — the model beats the naive trend"
)


def _targets(n: int = 8) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    observed = rng.uniform(0.05, 0.6, n)
    mean = observed + rng.normal(0, 0.03, n)
    return pd.DataFrame(
        {
            "id": [f"T{i}" for i in range(n)],
            "date": "2024-03",
            "survey": ["barometer", "ict_survey"] * (n // 2),
            "observed": observed,
            "se": np.full(n, 0.01),
            "sim_mean": mean,
            "sim_p05": mean - 0.08,
            "sim_p25": mean - 0.03,
            "sim_p75": mean + 0.03,
            "sim_p95": mean + 0.08,
            "naive": np.where(np.arange(n) % 2, observed - 0.1, np.nan),
            "within": np.abs(mean - observed) < 0.02,
        }
    )


def test_backtest_figure_saves_the_png(tmp_path):
    # `adoptsim backtest` reports backtest.png as written: the figure must save itself.
    fig = plots.backtest_figure(_targets(), "2023-12", tmp_path / "backtest.png", CAPTION)
    assert isinstance(fig, plt.Figure)
    assert_drawn_figure(tmp_path / "backtest.png")
    plt.close(fig)


def test_fit_figure_saves_the_png(tmp_path):
    fig = plots.fit_figure(_targets(), tmp_path / "fit.png", CAPTION)
    assert isinstance(fig, plt.Figure)
    assert_drawn_figure(tmp_path / "fit.png")
    plt.close(fig)


def test_footer_lines_fit_inside_the_figure():
    # The footer is wrapped by a character count; the figures' real footer lines must still end
    # inside the figure rather than be cut at its right edge (the PNG keeps the figure's size).
    lines = [plots.USES_AI + " Lines: median of 10 replications. " + plots.BAND_PARAMETER, CAPTION]
    for width in (6.0, 8.5, 12.0, 13.0):  # the widths of this module's figures, and a narrow one
        fig = plt.figure(figsize=(width, 4))
        fig.add_subplot()
        plots._finish(fig, lines, bottom=0.15, path=None, dpi=100)
        fig.canvas.draw()
        footer = fig.texts[-1].get_window_extent()
        assert footer.x0 >= 0 and footer.x1 <= fig.bbox.x1, (width, footer.x1, fig.bbox.x1)
        plt.close(fig)
