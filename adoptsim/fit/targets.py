"""Calibration targets: which observed rows a fit uses, their weights and sampling covariance."""

from __future__ import annotations

import numpy as np
import pandas as pd

from adoptsim.errors import ScenarioError
from adoptsim.months import format_month, parse_month
from adoptsim.observe import (
    TARGET_CUTOFF,
    observability,
)
from adoptsim.posterior import (
    EFFECTIVE,
    GEOGRAPHIES,
    calibration_dir,
)
from adoptsim.scenario import Scenario, load_scenario

# Down-weighting (variance × 1/factor) of soft targets: unverified seed figures (status U) and
# the not-comparable old CBS series. `adoptsim validate` compares U rows with this inflated se.
SOFT_STATUS = {"U": 0.25}
# Statuses kept out of the likelihood altogether. The unverified seed barrier shares (status U)
# are "soft targets at most" (shared/data/README.md); in the likelihood they added 17 outputs the
# emulator had to learn, most of them far from anything the model can produce, and dragged the
# adoption fit. They are still compared in `adoptsim validate`.
NOT_FITTED_STATUS = {"U": "unverified seed figure (status U): compared in validate, not fitted"}
SOFT_SURVEY = {"ict_survey_old": 0.25}
ADOPTION_SEGMENTS = ("all", "size", "sector")
SIM_INDEX = tuple(i for i, p in enumerate(EFFECTIVE) if not p.keys[0].startswith("observe."))
OBS_NAMES = tuple(p.name for p in EFFECTIVE if p.keys[0].startswith("observe."))


def calibration_scenario(population: str) -> Scenario:
    """The scenario a country is calibrated on (`calibration/<population>.toml`)."""
    return load_scenario(calibration_dir() / f"{population}.toml")


# --- step 1: targets ------------------------------------------------------------
def _month(value: object, name: str) -> int:
    """``value`` as a month index; one line naming ``name`` if it is not "YYYY-MM"."""
    try:
        return parse_month(str(value), name)
    except Exception:
        raise ScenarioError(name, value, 'must be a month "YYYY-MM"') from None


def check_cutoff(cutoff: str | None) -> str:
    """The last month of targets a fit may use: `cutoff` ("YYYY-MM"), default `TARGET_CUTOFF`.

    The shipped fit stays on the shipped targets (to 2024-12); a user who adds later survey waves
    to a targets file passes a later cutoff to fit, validate or backtest on them.
    """
    return TARGET_CUTOFF if cutoff is None else format_month(_month(cutoff, "cutoff"))


def check_origin(origin: str | None, cutoff: str | None = None) -> str:
    """The last month whose targets are used: `origin`, never later than the target cutoff."""
    last = check_cutoff(cutoff)
    if origin is None:
        return last
    return format_month(min(_month(origin, "origin"), parse_month(last)))


def select_targets(
    targets: pd.DataFrame,
    population: str,
    origin: str | None = None,
    cutoff: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(observable rows of `population` dated up to `origin`, rows left out with the reason).

    Args:
        targets: the targets table (`load_targets`).
        population: `flanders` (Flanders and Belgium rows) or `netherlands`.
        origin: last month used ("YYYY-MM"); default and maximum: the cutoff.
        cutoff: last month of targets any fit may use (default `TARGET_CUTOFF`, 2024-12);
            later rows are out-of-sample only.
    """
    cut = check_cutoff(cutoff)
    last = parse_month(check_origin(origin, cut))
    rows = targets[targets.geography.isin(GEOGRAPHIES[population])].copy()
    reasons = [observability(r) for _, r in rows.iterrows()]
    rows["reason"] = [o.reason for o in reasons]
    ok = np.array([o.ok for o in reasons], dtype=bool)
    later = rows.date.map(parse_month).to_numpy() > last
    label = "out-of-sample only" if last == parse_month(cut) else "held out"
    rows.loc[ok & later, "reason"] = f"{label} (dated after {format_month(last)})"
    ok &= ~later
    return rows[ok].reset_index(drop=True), rows[~ok].reset_index(drop=True)


def target_weights(rows: pd.DataFrame) -> np.ndarray:
    """Relative weight of each target: 1, or less for soft targets (status U, old CBS series)."""
    w = rows.status.map(SOFT_STATUS).fillna(1.0) * rows.survey.map(SOFT_SURVEY).fillna(1.0)
    return w.to_numpy(dtype=float)


def survey_covariance(rows: pd.DataFrame, masks: list[np.ndarray], firms: np.ndarray) -> np.ndarray:
    """Sampling covariance of the targets (soft rows inflated by 1/weight).

    Two rows of the same survey, geography and date whose denominators are nested (A ⊂ B, e.g.
    Belgium 10–49 inside 10–249 inside 10+) share respondents. For means of one sample over
    nested groups the correlation is sqrt(n_A / n_B); we take n ∝ W, the firms in each
    denominator (proportional allocation: an approximation for a stratified survey), so
    cov = sqrt(W_A / W_B)·se_A·se_B. Nested chains and disjoint groups inside one whole give
    a positive-definite matrix by construction; a final eigenvalue floor guards the rest.

    Args:
        rows: the targets.
        masks: each row's cell mask (`adoptsim.observe.target_cells`).
        firms: weight of every cell (from a simulated record).
    """
    se = rows.se.to_numpy() / np.sqrt(target_weights(rows))
    cov = np.diag(se**2)
    key = list(zip(rows.survey, rows.geography, rows.date, strict=True))
    adoption = rows.segment_type.isin(ADOPTION_SEGMENTS).to_numpy()
    for i in range(len(rows)):
        for j in range(len(rows)):
            if i == j or key[i] != key[j] or not (adoption[i] and adoption[j]):
                continue
            a, b = masks[i], masks[j]
            if np.all(b[a]) and a.sum() < b.sum():  # i nested in j
                wa, wb = firms[a].sum(), firms[b].sum()
                cov[i, j] = cov[j, i] = np.sqrt(wa / wb) * se[i] * se[j]
    vals, vecs = np.linalg.eigh(cov)
    floor = 1e-3 * float(np.min(se**2))
    if vals.min() < floor:
        cov = (vecs * np.maximum(vals, floor)) @ vecs.T
    return cov
