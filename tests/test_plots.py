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


def _ticks(ax) -> tuple[list[float], list[str]]:
    """The y ticks inside the view and their labels, as drawn."""
    ax.figure.canvas.draw()
    lo, hi = ax.get_ylim()
    pairs = [
        (v, t.get_text())
        for v, t in zip(ax.get_yticks(), ax.get_yticklabels(), strict=True)
        if lo <= v <= hi
    ]
    return [v for v, _ in pairs], [t for _, t in pairs]


def _pp(text: str) -> float:
    return 0.0 if text == "0" else float(text.replace("pp", "").replace("−", "-").strip())


def test_points_tick_labels_are_distinct_and_exact():
    """Ticks 0.25 pp apart read +0.25, +0.50, …, never '+0.2, +0.5, +0.8' or repeats."""
    for span in (0.0075, 0.0012, 0.03):
        fig, ax = plt.subplots()
        ax.plot([0, 1], [-span, span])
        plots._percent(ax, points=True)
        ticks, labels = _ticks(ax)
        assert len(set(labels)) == len(labels), labels
        assert np.allclose([_pp(t) for t in labels], 100 * np.array(ticks), atol=1e-9), labels
        plt.close(fig)


def test_comparison_figure_with_small_effects_reads_back(tmp_path):
    """A comparison whose effects are fractions of a point: every panel's tick labels are
    distinct and equal to their ticks, the legend carries each scenario's last level (levels
    that coincide stay legible), and the footer names the replications and seed."""
    from adoptsim.comparison import compare

    comp = compare(["baseline", "subsidy_plus"], n_firms=600, replications=3, seed=2)
    fig = plots.comparison_figure(comp, tmp_path / "c.png")
    for ax in fig.axes:
        ticks, labels = _ticks(ax)
        assert len(set(labels)) == len(labels), labels
        if any(t.endswith("pp") for t in labels):
            assert np.allclose([_pp(t) for t in labels], 100 * np.array(ticks), atol=1e-9)
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any(t.startswith("baseline (2028-12: ") for t in legend), legend
    footer = " ".join(t.get_text() for t in fig.texts)
    assert "3 paired replications, seed 2" in footer
    assert_drawn_figure(tmp_path / "c.png")
    plt.close(fig)


def test_fan_chart_draws_the_model_in_the_survey_frame(tmp_path):
    """Beside the barometer's dots: the model read through the barometer's frame, not the
    all-firm line; one projection start at 2025-01; the at-scale line says it is not identified."""
    import adoptsim
    from adoptsim.observe import survey_frames

    res = adoptsim.simulate("baseline", n_firms=800, replications=2, seed=1)
    frames = survey_frames(res)
    fig = plots.fan_chart(res.adoption, scenario="baseline", frames=frames)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(t.startswith("model read as the AI-barometer") for t in labels), labels
    assert any("not identified" in t for t in labels), labels
    starts = {
        line.get_xdata()[0] for a in fig.axes for line in a.lines if line.get_linestyle() == ":"
    }
    assert starts == {pd.Timestamp("2025-01-01")}, starts
    # the barometer frame (firms 10+) reads higher than all firms 1+ in every month
    all_firms = res.adoption.query("segment_type == 'all'").groupby("date").adopters_share.median()
    frame = frames.groupby("date").value.median()
    assert (frame > all_firms).all()
    plt.close(fig)
