"""Calibrated parameters: what is fitted (names, scenario keys, bounds) and the shipped draws.

Built-in scenarios name a posterior (``[calibration] posterior = "flanders"``); replication r of a
run then uses draw ``r mod n_draws`` of ``calibration/<name>/posterior.csv``, laid just above the
scenario's root file so the scenario's own deliberate values still win (see
[`Scenario.with_draw`][adoptsim.scenario.Scenario.with_draw]). Bands over replications therefore
carry parameter *and* stochastic uncertainty; ``use_posterior=False`` leaves only the stochastic
part.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from pathlib import Path

import pandas as pd

from adoptsim.errors import ScenarioError
from adoptsim.parameters import Parameter
from adoptsim.taxonomy import BARRIERS

_COMMON = (
    Parameter("alpha", ("rule.alpha",), -10.0, -4.0, doc="start intercept (logit, per month)"),
    Parameter("theta_genai", ("rule.theta_genai",), 0.0, 5.0, doc="generative-AI shock on start"),
    Parameter(
        "size_small",
        ("rule.alpha_size.10-19", "rule.alpha_size.20-49"),
        -1.0,
        3.0,
        doc="start offset 10–49 vs 1–9",
    ),
    Parameter("size_medium", ("rule.alpha_size.50-249",), -1.0, 4.0, doc="start offset 50–249"),
    Parameter(
        "size_large",
        ("rule.alpha_size.250-499", "rule.alpha_size.500+"),
        0.0,
        5.0,
        doc="start offset 250+",
    ),
    Parameter("scale_alpha", ("rule.scale_alpha",), -9.0, -2.0, doc="scale-up intercept"),
    Parameter(
        "initial_adopters",
        ("population.initial_adopters",),
        0.01,
        0.40,
        doc="share using AI at 2019-01",
    ),
    Parameter(
        "initial_at_scale",
        ("population.initial_at_scale",),
        0.0,
        0.6,
        doc="share of users at scale at 2019-01",
    ),
    Parameter(
        "ict_pilot_detection",
        ("observe.ict_pilot_detection",),
        0.02,
        1.0,
        doc="ICT survey: chance a pilot user reports AI use",
    ),
)
# Only Flanders has barrier targets (the seed's barometer shares, status U), so only there is the
# barrier penalty fitted; the Dutch fit keeps the baseline value.
PARAMETERS: dict[str, tuple[Parameter, ...]] = {
    "flanders": (
        *_COMMON,
        Parameter(
            "barrier_penalty",
            tuple(f"rule.delta.{b}" for b in BARRIERS),
            0.0,
            1.5,
            doc="start: logit penalty of each barrier a firm holds (one value for all nine)",
        ),
    ),
    "netherlands": (
        *_COMMON,
        Parameter("sector_J", ("rule.alpha_sector.J",), -1.0, 4.0, doc="start offset NACE J"),
        Parameter("sector_M", ("rule.alpha_sector.M",), -1.0, 3.0, doc="start offset NACE M"),
        Parameter("sector_K", ("rule.alpha_sector.K",), -1.0, 3.0, doc="start offset NACE K"),
        Parameter(
            "sector_FI",
            ("rule.alpha_sector.F", "rule.alpha_sector.I"),
            -3.0,
            1.0,
            doc="start offset NACE F and I",
        ),
        Parameter(
            "ict_old_pilot_detection",
            ("observe.ict_old_pilot_detection",),
            0.02,
            1.0,
            doc="CBS 2019 (older list): chance a pilot user reports",
        ),
    ),
}
GEOGRAPHIES = {"flanders": ("flanders", "belgium"), "netherlands": ("netherlands",)}


def calibration_dir() -> Path:
    """The calibration folder: inside the wheel, else the source checkout's ``calibration/``."""
    here = Path(__file__).resolve().parent
    for p in (here / "calibration", here.parent / "calibration"):
        if p.is_dir():
            return p
    raise FileNotFoundError("no calibration folder shipped with adoptsim")


def overrides_for(params: Iterable[Parameter], theta: Iterable[float]) -> dict[str, float]:
    """Dotted-key overrides (scenario keys and ``observe.*``) for a parameter vector."""
    return {key: float(v) for p, v in zip(params, theta, strict=True) for key in p.keys}


def split_overrides(overrides: dict) -> tuple[dict, dict]:
    """(scenario overrides, observation settings) from a dict of dotted keys."""
    obs = {k: v for k, v in overrides.items() if k.startswith("observe.")}
    return {k: v for k, v in overrides.items() if not k.startswith("observe.")}, obs


def posterior_table(name: str) -> pd.DataFrame:
    """The shipped posterior draws of ``name`` (one row per draw, one column per parameter).

    A copy: the table read from disk is cached, so edits to it must not reach other callers."""
    return _posterior_table(name).copy()


@cache
def _posterior_table(name: str) -> pd.DataFrame:
    path = calibration_dir() / name / "posterior.csv"
    if not path.is_file():
        raise ScenarioError(
            "calibration.posterior",
            name,
            f"no shipped posterior at {path}; run `adoptsim calibrate`",
        )
    table = pd.read_csv(path)
    expected = [p.name for p in PARAMETERS[name]]
    if list(table.columns) != expected:
        raise ScenarioError(
            "calibration.posterior",
            name,
            f"{path} has columns {list(table.columns)}; expected {expected}",
        )
    return table


def posterior_draw(name: str, replication: int) -> tuple[int, dict[str, float]]:
    """(draw index, dotted-key overrides) used by ``replication`` under posterior ``name``."""
    table = _posterior_table(name)  # read only here: no copy per replication
    index = replication % len(table)
    return index, overrides_for(PARAMETERS[name], table.iloc[index].to_numpy())
