"""Calibrated parameters: what is fitted (names, priors, scenario keys) and the shipped draws.

One joint calibration covers Flanders/Belgium and the Netherlands (`adoptsim.fit`). Its
parameters (`JOINT`) are of three kinds:

- **shared**: one value for both countries (size offsets, scale-up intercept, sector offsets,
  barrier penalty, the ICT survey's detection, which is one harmonised EU questionnaire);
- **pooled** (partial pooling): a common value plus a deviation `<name>_dev` with a normal prior
  centred on 0; Belgium gets `value − dev`, the Netherlands `value + dev`, so the two countries
  differ only as far as the data ask for it (`alpha`, `theta_genai`);
- **own**: a value per country (the start state `initial_adopters_be` / `_nl`).

Each country's simulation sees the *effective* parameters of
`PARAMETERS` (the same names for both). The shipped posterior
is `calibration/joint/posterior.csv` (one row per draw, one column per joint parameter); a
scenario that names a posterior (`[calibration] posterior = "flanders"`) runs each replication
with the effective values of one draw for that country — in `simulate`, the draw its stratified
design gives it (`adoptsim.precision`), elsewhere draw `r mod n_draws` — laid just above the
scenario's root file (see `Scenario.with_draw`). Whole draws travel together, so a comparison of
the two countries transfers whole posterior draws fitted on the same data window.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from adoptsim.errors import ScenarioError
from adoptsim.parameters import Parameter
from adoptsim.taxonomy import BARRIERS

COUNTRIES = ("flanders", "netherlands")
# Which target geographies each country's simulation observes (Flanders lies in Belgium).
GEOGRAPHIES = {"flanders": ("flanders", "belgium"), "netherlands": ("netherlands",)}
POSTERIOR_NAME = "joint"


@dataclass(frozen=True)
class JointParameter:
    """A parameter of the joint calibration and its prior.

    Attributes:
        name: column name in `posterior.csv`.
        target: the effective parameter it sets (see `PARAMETERS`).
        kind: `shared`, `mean` (common value of a pooled parameter), `dev` (half the
            Netherlands − Belgium difference of a pooled parameter), `own` (one country only),
            or `discrepancy` (model-discrepancy scale; no effective parameter).
        lo: lower bound of the prior's support.
        hi: upper bound of the prior's support.
        prior: `uniform` on [lo, hi], or `normal` / `halfnormal` with scale `scale`,
            truncated to [lo, hi].
        scale: scale of the normal prior.
        country: for `own` parameters, the country it belongs to.
        physical: the bounds are physical limits (a share in [0, 1], a sign), so posterior
            mass there is not a sign of a prior box that is too small.
        doc: meaning and unit.
    """

    name: str
    target: str
    kind: str
    lo: float
    hi: float
    prior: str = "uniform"
    scale: float = 1.0
    country: str = ""
    physical: tuple[bool, bool] = (False, False)
    doc: str = ""

    def log_prior(self, x: np.ndarray) -> np.ndarray:
        """Unnormalised log prior density at values `x` (−inf outside [lo, hi])."""
        inside = (x >= self.lo) & (x <= self.hi)
        if self.prior == "uniform":
            lp = np.zeros_like(x, dtype=float)
        else:
            lp = -0.5 * (x / self.scale) ** 2
        return np.where(inside, lp, -np.inf)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """`n` draws from the (truncated) prior."""
        if self.prior == "uniform":
            return rng.uniform(self.lo, self.hi, n)
        out = np.empty(0)
        while out.size < n:
            z = rng.normal(0.0, self.scale, 4 * n)
            if self.prior == "halfnormal":
                z = np.abs(z)
            out = np.concatenate([out, z[(z >= self.lo) & (z <= self.hi)]])
        return out[:n]


_DELTA = tuple(f"rule.delta.{b}" for b in BARRIERS)
EFFECTIVE: tuple[Parameter, ...] = (
    Parameter("alpha", ("rule.alpha",), -10.0, -4.0, doc="start intercept (logit, per month)"),
    Parameter("theta_genai", ("rule.theta_genai",), 0.0, 5.0, doc="generative-AI shock on start"),
    Parameter(
        "genai_jump",
        ("shocks.genai.jump",),
        0.0,
        1.0,
        doc="generative-AI capability at release, share of its long-run level (1: one-off step)",
    ),
    Parameter(
        "genai_speed",
        ("shocks.genai.speed",),
        0.02,
        0.5,
        doc="logistic growth rate of generative-AI capability after release (per month)",
    ),
    Parameter(
        "genai_midpoint",
        ("shocks.genai.midpoint_months",),
        0.0,
        16.0,
        doc="months from release (2022-12) to the steepest capability growth; at most the "
        "months to path_from (2024-04), so the fitted curve grows inside the data",
    ),
    Parameter(
        "theta_peer",
        ("rule.theta_peer",),
        0.5,
        4.0,
        doc="start: logit per unit peer share (a firm whose peers all use AI: odds × e^θ)",
    ),
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
        "barrier_penalty",
        _DELTA,
        0.0,
        1.5,
        doc="start: logit penalty of each barrier a firm holds (one value for all nine)",
    ),
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
        "ict_detect_pre",
        ("observe.ict_detect_pre",),
        0.02,
        1.0,
        doc="ICT survey: chance a light (not at-scale) user reports AI, before generative tools",
    ),
    Parameter(
        "ict_detect_gen",
        ("observe.ict_detect_gen",),
        0.02,
        1.0,
        doc="ICT survey: chance a light user reports AI once generative tools are widespread",
    ),
    Parameter(
        "ict_old_detection",
        ("observe.ict_old_detection",),
        0.02,
        1.0,
        doc="CBS 2019 (older, broader list): chance a light user reports AI",
    ),
)
# The same effective parameters for both countries: each country's draw is a full set.
PARAMETERS: dict[str, tuple[Parameter, ...]] = {c: EFFECTIVE for c in COUNTRIES}
_EFF = {p.name: p for p in EFFECTIVE}

# Partial pooling: a country deviation is N(0, 0.5²) on the logit scale — a Dutch firm's odds
# of starting may differ from a Belgian firm's by a factor e^(±2·0.5) ≈ 2.7 at two prior sd
# (half-difference 0.5 → difference 1.0). docs/calibration.md gives the reasoning.
DEV_SCALE = 0.5
# Model discrepancy: sd of what the model cannot represent, φ·sqrt(p(1 − p)) for a share p;
# half-normal prior with scale 0.1 (at p = 0.2 a typical discrepancy of ≈ 3 pp).
DISCREPANCY_SCALE = 0.1


def _shared(name: str, **kw) -> JointParameter:
    p = _EFF[name]
    phys = kw.pop("physical", (False, False))
    return JointParameter(name, name, "shared", p.lo, p.hi, physical=phys, doc=p.doc, **kw)


JOINT: tuple[JointParameter, ...] = (
    JointParameter("alpha", "alpha", "mean", -10.0, -4.0, doc=_EFF["alpha"].doc + "; mean"),
    JointParameter(
        "alpha_dev",
        "alpha",
        "dev",
        -2.0,
        2.0,
        "normal",
        DEV_SCALE,
        doc="half the NL − BE difference of alpha (BE: alpha − dev, NL: alpha + dev)",
    ),
    JointParameter(
        "theta_genai",
        "theta_genai",
        "mean",
        0.0,
        5.0,
        physical=(True, False),
        doc=_EFF["theta_genai"].doc + "; mean",
    ),
    JointParameter(
        "theta_genai_dev",
        "theta_genai",
        "dev",
        -2.0,
        2.0,
        "normal",
        DEV_SCALE,
        doc="half the NL − BE difference of theta_genai",
    ),
    _shared("genai_jump", physical=(True, True)),
    _shared("genai_speed"),
    _shared("genai_midpoint"),
    _shared("theta_peer"),
    _shared("size_small"),
    _shared("size_medium"),
    _shared("size_large"),
    _shared("scale_alpha"),
    JointParameter(
        "initial_adopters_be",
        "initial_adopters",
        "own",
        0.01,
        0.4,
        country="flanders",
        doc="Belgium: share using AI at 2019-01",
    ),
    JointParameter(
        "initial_adopters_nl",
        "initial_adopters",
        "own",
        0.01,
        0.4,
        country="netherlands",
        doc="Netherlands: share using AI at 2019-01",
    ),
    _shared("initial_at_scale", physical=(True, False)),
    _shared("barrier_penalty", physical=(True, False)),
    _shared("sector_J"),
    _shared("sector_M"),
    _shared("sector_K"),
    _shared("sector_FI"),
    _shared("ict_detect_pre", physical=(False, True)),
    _shared("ict_detect_gen", physical=(False, True)),
    JointParameter(
        "ict_old_detection",
        "ict_old_detection",
        "own",
        0.02,
        1.0,
        country="netherlands",
        physical=(False, True),
        doc=_EFF["ict_old_detection"].doc,
    ),
    JointParameter(
        "discrepancy",
        "",
        "discrepancy",
        0.0,
        0.5,
        "halfnormal",
        DISCREPANCY_SCALE,
        physical=(True, False),
        doc="model discrepancy: sd φ·sqrt(p(1 − p)) of what the model cannot represent",
    ),
    JointParameter(
        "discrepancy_corr",
        "",
        "discrepancy",
        0.0,
        1.0,
        physical=(True, True),
        doc="correlation ρ^|Δt| (Δt in years) of the discrepancy between waves of one series "
        "(adoptsim.fit.discrepancy); 0: independent per target",
    ),
)


# Held at documented values by default in `calibrate`: none. Every calibration parameter is
# fitted; the prior-only parameters (`adoptsim.priors`, both groups) are marginalised in the fit
# (each design point draws its own) and drawn in every band. `calibrate(fixed=...)` can still
# hold some for an experiment; the fit's `fit.json` lists what it held.
DEFAULT_FIXED: dict[str, float] = {}


def joint_parameters(countries: Iterable[str] = COUNTRIES) -> tuple[JointParameter, ...]:
    """The joint parameters that matter for a fit of `countries` (both, or one of them).

    A single-country fit has no deviations (nothing to pool) and no other country's own values.
    """
    cs = tuple(countries)
    both = len(cs) > 1
    return tuple(
        p for p in JOINT if (p.kind != "dev" or both) and (p.kind != "own" or p.country in cs)
    )


def effective_values(
    params: tuple[JointParameter, ...], theta: np.ndarray, country: str
) -> np.ndarray:
    """Effective parameter values (columns of `EFFECTIVE`) of `country` for joint draws.

    Args:
        params: the joint parameters, in the column order of `theta`.
        theta: joint draws, shape (n, len(params)) or (len(params),).
        country: `flanders` (Belgium) or `netherlands`.

    Returns:
        Array (n, len(EFFECTIVE)); effective parameters not set by `params` are NaN.
    """
    theta = np.atleast_2d(np.asarray(theta, dtype=float))
    out = np.full((theta.shape[0], len(EFFECTIVE)), np.nan)
    index = {p.name: i for i, p in enumerate(EFFECTIVE)}
    sign = -1.0 if country == "flanders" else 1.0
    for j, p in enumerate(params):
        if p.kind in ("shared", "mean") or (p.kind == "own" and p.country == country):
            out[:, index[p.target]] = theta[:, j]
    for j, p in enumerate(params):
        if p.kind == "dev":
            out[:, index[p.target]] += sign * theta[:, j]
    return out


def calibration_dir() -> Path:
    """The calibration folder: inside the wheel, else the source checkout's `calibration/`."""
    here = Path(__file__).resolve().parent
    for p in (here / "calibration", here.parent / "calibration"):
        if p.is_dir():
            return p
    raise FileNotFoundError("no calibration folder shipped with adoptsim")


def fit_report(name: str = POSTERIOR_NAME) -> dict:
    """The shipped fit's `fit.json` (settings, diagnostics, held parameters); {} if none shipped."""
    path = calibration_dir() / name / "fit.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def held_parameters(name: str = POSTERIOR_NAME) -> dict[str, float]:
    """Calibration parameters the shipped fit held at documented values, not fitted, by name.

    Their posterior column is a constant: their uncertainty is in no band.
    """
    return dict(fit_report(name).get("fixed", {}))


def overrides_for(params: Iterable[Parameter], theta: Iterable[float]) -> dict[str, float]:
    """Dotted-key overrides (scenario keys and `observe.*`) for a parameter vector.

    NaN values (parameters a draw does not set) are left out.
    """
    return {
        key: float(v)
        for p, v in zip(params, theta, strict=True)
        if not np.isnan(v)
        for key in p.keys
    }


def split_overrides(overrides: dict) -> tuple[dict, dict]:
    """(scenario overrides, observation settings) from a dict of dotted keys."""
    obs = {k: v for k, v in overrides.items() if k.startswith("observe.")}
    return {k: v for k, v in overrides.items() if not k.startswith("observe.")}, obs


def joint_table(name: str = POSTERIOR_NAME) -> pd.DataFrame:
    """The shipped joint posterior draws (one row per draw, one column per joint parameter)."""
    return _joint_table(name).copy()


@cache
def _joint_table(name: str) -> pd.DataFrame:
    path = calibration_dir() / name / "posterior.csv"
    if not path.is_file():
        raise ScenarioError(
            "calibration.posterior",
            name,
            f"no shipped posterior at {path}; run `adoptsim calibrate`",
        )
    table = pd.read_csv(path)
    known = {p.name for p in JOINT}
    unknown = [c for c in table.columns if c not in known]
    if unknown:
        raise ScenarioError(
            "calibration.posterior",
            name,
            f"{path} has column {unknown[0]!r}; expected joint parameters {sorted(known)}",
        )
    return table


def effective_table(joint: pd.DataFrame, country: str) -> pd.DataFrame:
    """Effective parameters of `country` (columns of `EFFECTIVE`) for each joint draw."""
    params = tuple(p for p in JOINT if p.name in joint.columns)
    values = effective_values(params, joint[[p.name for p in params]].to_numpy(), country)
    return pd.DataFrame(values, columns=[p.name for p in EFFECTIVE])


def posterior_table(name: str) -> pd.DataFrame:
    """Effective posterior draws of country `name` (`flanders` or `netherlands`).

    Derived draw by draw from the shipped joint posterior, so draw i of Flanders and draw i of
    the Netherlands are one joint draw. A copy: the cached table must not be changed by callers.
    """
    return _posterior_table(name).copy()


@cache
def _posterior_table(name: str) -> pd.DataFrame:
    if name not in COUNTRIES:
        raise ScenarioError("calibration.posterior", name, f"must be one of {', '.join(COUNTRIES)}")
    return effective_table(_joint_table(POSTERIOR_NAME), name)


def n_draws(name: str) -> int:
    """Number of shipped draws of posterior ``name`` (``flanders`` or ``netherlands``)."""
    return len(_posterior_table(name))


def posterior_draw(name: str, replication: int) -> tuple[int, dict[str, float]]:
    """(draw index, dotted-key overrides) used by `replication` under posterior `name`."""
    table = _posterior_table(name)  # read only here: no copy per replication
    index = replication % len(table)
    return index, overrides_for(PARAMETERS[name], table.iloc[index].to_numpy())
