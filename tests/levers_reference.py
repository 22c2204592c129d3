"""Month-by-month reference of `Levers.month_tables`: the plain formulas, one month at a time.

The package computes a run's project and signal tables at once, as arrays over months
(`adoptsim.levers.Levers.month_tables`); these scalar versions of the same formulas are what
tests/test_levers.py checks the fast tables against.
"""

from __future__ import annotations

import numpy as np

from adoptsim.levers import _ENACTED_KMO, _RULE_KEYS, INSTRUMENTS, Levers, _ramp
from adoptsim.policy import USAGE_MONTH, genai_capability
from adoptsim.programmes import yearly_to_monthly


def project_table(lev: Levers, month: int) -> tuple[np.ndarray, np.ndarray]:
    """Monthly chance of starting a subsidised AI project, and the share of cost it covers.

    Both by eligibility group (rows 0–3) and instrument (columns, `INSTRUMENTS`).
    """
    k, g, a = (lev.cfg[name] for name in INSTRUMENTS)
    covered = lev.kmo_covered(month)
    enacted = {**k, **{key: _ENACTED_KMO[key] for key in _RULE_KEYS}}
    ref = lev.kmo_covered(USAGE_MONTH, enacted)
    ratio = np.divide(covered, ref, out=np.zeros(4), where=ref > 0)
    per_year = k["projects_per_year"] * k["employer_share"] * k["ai_share"]
    base = per_year / lev.eligible_firms if lev.eligible_firms > 0 else 0.0
    kmo_p = yearly_to_monthly(np.minimum(base * ratio ** k["take_up_elasticity"], 1.0))
    kmo_p = np.where(covered > 0, kmo_p, 0.0)
    groei_p = yearly_to_monthly(g["reach"].at(month)) * np.array([0.0, 1.0, 1.0, 0.0])
    ai_p = yearly_to_monthly(a["reach"].at(month)) * np.array([0.0, 1.0, 1.0, 1.0])
    p = np.stack([kmo_p, groei_p, ai_p], axis=1)
    share = np.stack(
        [covered, np.full(4, g["rate"].at(month)), np.full(4, a["rate"].at(month))], axis=1
    )
    return p, np.clip(share, 0.0, 1.0)


def month_signals(lev: Levers, month: int) -> tuple[np.ndarray, float, float]:
    """Burden table, clarity and generative-AI capability at ``month``."""
    reg = lev.reg
    ant = reg["anticipation_months"]
    r3 = _ramp(month, lev.annex_iii - ant, ant)
    r1 = _ramp(month, lev.annex_i - ant, ant)
    if lev._burden_weights is None:
        table = np.array([0.0, r3, r1, min(r3 + r1, 1.0)])
    else:
        s3, s1 = lev._burden_weights
        table = np.minimum(s3 * r3 + s1 * r1, 1.0)
    return table, lev.clarity(month), genai_capability(month, lev.shocks["genai"])
