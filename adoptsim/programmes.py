"""Treatments: a lever's own start chance for the firms it reaches, and the programmes.

A lever reaches a set of firms and gives each reached non-user, for a window of months, its own
monthly chance of starting on top of the adoption rule's hazard (`own_chance`): the firm starts
when its uniform u < 1 − (1 − h)(1 − a). The chance is set from the lever's *effect size*, a
probability in the units of ``adoptsim/data/lever_evidence.csv`` (the treated firm's P(uses AI 12
months later) minus its P without the lever).

[`Programmes`][adoptsim.programmes.Programmes] holds the programme treatments (training, Art. 4
literacy training, information, coaching): who each reaches per month and each firm's window.
Subsidised projects are kept by [`Levers`][adoptsim.levers.Levers] (they have a cover and a
deadweight draw) and use the same `own_chance`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from adoptsim._memo import memo
from adoptsim.taxonomy import BARRIER_INDEX

if TYPE_CHECKING:
    from adoptsim.population import Firms

# Programmes that treat the firms they reach (one uniform per firm and month picks at most one,
# in this order). Art. 4 literacy offers are hands-on training: they use the training effect.
PROGRAMMES = ("training", "literacy", "information", "coaching")
NO_WINDOW = -(1 << 30)  # window month of a firm never treated
# The barrier each lever addresses (`tilted`): hands-on training (and Art. 4 literacy training)
# relaxes the skills constraint (lever_evidence.md C3), information helps a firm that finds AI
# hard to assess, coaching stands in for a missing knowledge partner, a subsidy for financing.
BENEFIT_BARRIER = {
    "projects": "financing",
    "training": "knowledge_skills",
    "literacy": "knowledge_skills",
    "information": "hard_to_assess",
    "coaching": "knowledge_partner",
}
# Its column in the firms' barrier array, by lever, and the distinct columns.
BENEFIT_COL = {lever: BARRIER_INDEX[b] for lever, b in BENEFIT_BARRIER.items()}
BENEFIT_COLUMNS = tuple(sorted(set(BENEFIT_COL.values())))
# The column of each programme kind (indices into `PROGRAMMES`).
_PROGRAMME_COL = np.array([BENEFIT_COL[name] for name in PROGRAMMES], dtype=np.intp)


def tilted(effect: np.ndarray | float, held: np.ndarray, share: float, tilt: float) -> np.ndarray:
    """Each treated firm's effect size, larger where it holds the barrier its lever addresses.

    A firm holding it gets (1 + tilt)× the effect of one without it, scaled by 1 + tilt · share
    so that a firm with the non-users' average barrier profile gets the lever's effect size
    (the evidence's number): barriers set who benefits more, not how much the lever does. The
    share is the population's (`benefit_shares`, renewed each January), not the treated set's,
    so one firm's treatment never changes another's effect.

    Args:
        effect: effect size per treated firm (or one for all), a probability.
        held: whether each treated firm holds the lever's barrier now.
        share: weighted share of the model's non-users holding that barrier (`benefit_shares`).
        tilt: the benefit ratio minus 1 (``levers.benefit.barrier_tilt``, 0 = no difference).
    """
    return effect * ((1.0 + tilt * held.astype(np.float64)) / (1.0 + tilt * share))


def benefit_shares(state: np.ndarray, barriers: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Weighted share of the non-users holding each barrier (`tilted`'s reference), by column.

    Args:
        state: each firm's adoption state.
        barriers: firm × barrier flags.
        weight: real firms per agent.
    """
    non = (state == 0).nonzero()[0]
    w = weight[non]
    total = w.sum()
    out = np.zeros(barriers.shape[1])
    if total > 0.0:
        for c in BENEFIT_COLUMNS:
            out[c] = (w * barriers[non, c]).sum() / total
    return out


def monthly_rate(effect: float, months: int) -> float:
    """Monthly chance that adds up to ``effect`` over ``months`` months: 1 − (1 − e)^(1/m)."""
    return 1.0 - (1.0 - min(max(effect, 0.0), 1.0)) ** (1.0 / max(months, 1))


def yearly_to_monthly(per_year: np.ndarray | float) -> np.ndarray:
    """Convert a yearly reach into a monthly probability."""
    return 1.0 - (1.0 - np.clip(per_year, 0.0, 1.0)) ** (1.0 / 12.0)


def own_chance(
    effect: np.ndarray | float,
    months: int | np.ndarray,
    hazard: np.ndarray | None,
    induced_exit: float = 0.0,
) -> np.ndarray:
    """Monthly start chance of a treated non-user, so that its 12-month effect is ``effect``.

    Under common random numbers the difference the evidence measures is the lever's gross chance
    g times the chance the firm would not have started anyway within 12 months, 1 − p0 with
    p0 = 1 − (1 − h)^12 at its hazard h now, times the chance a policy-induced user is still a
    user at month 12 (monthly ``induced_exit`` over the months left after the window's middle).
    So g = effect / ((1 − p0)·survival), at most 1 (a firm that would very likely start anyway
    cannot gain much), spread over the window's ``months`` as 1 − (1 − g)^(1/months) a month.

    Args:
        effect: effect size per firm (or one for all), a probability.
        months: window length per firm (or one for all).
        hazard: each treated firm's start hazard now without levers; None: p0 = 0.
        induced_exit: monthly exit hazard of policy-induced users.
    """
    months = np.asarray(months, dtype=np.float64)
    p0 = 0.0 if hazard is None else 1.0 - (1.0 - np.clip(hazard, 0.0, 1.0)) ** 12
    survive = survival(months, induced_exit)
    keep = np.maximum((1.0 - p0) * survive, 1e-9)
    gross = np.clip(np.asarray(effect, dtype=np.float64) / keep, 0.0, 1.0)
    return 1.0 - (1.0 - gross) ** (1.0 / np.maximum(months, 1.0))


def survival(months: np.ndarray, induced_exit: float) -> np.ndarray | float:
    """Chance a policy-induced user is still one at month 12 (`own_chance`'s survival term).

    Args:
        months: window lengths as a float64 array (0-d for one window for all).
        induced_exit: monthly exit hazard of policy-induced users.
    """
    return (1.0 - induced_exit) ** np.maximum(12.0 - (months + 1.0) / 2.0, 0.0)


def programme_effects(cfg: dict) -> tuple[np.ndarray, np.ndarray]:
    """Effect size and window length (months) of each programme, in `PROGRAMMES` order."""
    spec = [
        (cfg["training"]["effect"], cfg["training"]["effect_months"]),
        (cfg["training"]["effect"], cfg["training"]["effect_months"]),
        (cfg["information"]["effect"], cfg["information"]["effect_months"]),
        (cfg["coaching"]["effect"], cfg["coaching"]["effect_months"]),
    ]
    return np.array([e for e, _ in spec]), np.array([m for _, m in spec], dtype=np.int32)


def programme_table(cfg: dict, month: int, literacy_start: int) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative monthly reach over `PROGRAMMES` by segment (size × Flemish × user), total.

    Segments are the 6 size classes × (not Flemish, Flemish) × (non-user, user), row-major
    (24 rows). Training reaches firms by size class; Art. 4 literacy offers reach non-users
    from the literacy date; information and coaching reach firms (in Flanders, if so set).
    """
    t, lit, info, c = (cfg[k] for k in PROGRAMMES)
    region = np.array([False, True])
    groups = ("micro", "small", "small", "medium", "large", "large")
    reach = np.array([t[f"reach_{g}"].at(month) for g in groups])
    p = np.zeros((6, 2, 2, len(PROGRAMMES)))
    train = yearly_to_monthly(reach)[:, None, None]
    if t["flanders_only"]:
        train = train * region[None, :, None]
    p[..., 0] = train
    if month >= literacy_start:
        p[:, :, 0, 1] = yearly_to_monthly(lit["nonuser_reach"])
    i = float(yearly_to_monthly(info["reach"].at(month)))
    p[..., 2] = i * (region[None, :, None] if info["flanders_only"] else 1.0)
    k = float(yearly_to_monthly(c["reach"].at(month)))
    p[..., 3] = k * (region[None, :, None] if c["flanders_only"] else 1.0)
    cum = np.cumsum(p.reshape(-1, len(PROGRAMMES)), axis=1)
    total = cum[:, -1].copy()
    cum.flags.writeable = False
    total.flags.writeable = False
    return cum, total


# Programme tables by their inputs (reaches in force, flags, literacy date passed): the reaches
# are step schedules, so a run's months share a few tables, and replications whose prior draws
# leave the reaches alone share them all.
_TABLES: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
_TABLES_MAX = 1 << 12


def programme_tables(
    cfg: dict, months: range, literacy_start: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """`programme_table` at each of ``months``, each computed once per distinct input.

    The same tables, bit for bit: a table is `programme_table` itself at a month with the same
    inputs (`Schedule.over` gives the numbers `Schedule.at` does).
    """
    m = np.arange(months.start, months.stop)
    t, lit, info, c = (cfg[k] for k in PROGRAMMES)
    cols = [t[f"reach_{g}"].over(m) for g in ("micro", "small", "medium", "large")]
    cols += [info["reach"].over(m), c["reach"].over(m)]
    fixed = (t["flanders_only"], lit["nonuser_reach"], info["flanders_only"], c["flanders_only"])
    out = []
    for j, month in enumerate(months):
        key = (fixed, month >= literacy_start, *(float(col[j]) for col in cols))
        out.append(
            memo(_TABLES, key, lambda m=month: programme_table(cfg, m, literacy_start), _TABLES_MAX)
        )
    return out


class Programmes:
    """Each firm's programme window (start, end, own monthly chance, which programme).

    Args:
        cfg: the validated scenario's ``[levers]`` table.
        segment: each firm's segment code without the user bit, (size · 2 + Flemish) · 2.
        firms: the model's firms: their weights (real firms per agent; the starts are counted
            in real firms) and their barriers now (who benefits more, `tilted`).
    """

    def __init__(self, cfg: dict, segment: np.ndarray, firms: Firms) -> None:
        n = segment.shape[0]
        self.cfg, self.segment, self.firms, self.weight = cfg, segment, firms, firms.weight
        # `benefit_shares`: the model sets it from its initial state and renews it each
        # January (every firm's until then, for a Programmes made without a model)
        everyone = np.zeros(n, dtype=np.int8)
        self.benefit_share = benefit_shares(everyone, firms.barriers, firms.weight)
        self.start = np.full(n, NO_WINDOW, dtype=np.int32)
        self.end = np.full(n, NO_WINDOW, dtype=np.int32)
        self.rate = np.zeros(n, dtype=np.float64)
        self.kind = np.full(n, -1, dtype=np.int8)
        # Weighted programme starts by programme and month (counts in real firms).
        self.starts: dict[str, dict[int, float]] = {k: {} for k in PROGRAMMES}

    def reach(
        self,
        month: int,
        state: np.ndarray,
        u: np.ndarray,
        table: tuple[np.ndarray, np.ndarray],
        hazard: np.ndarray | None,
        induced_exit: float,
    ) -> np.ndarray:
        """Firms reached this month (``u``: one uniform per firm); returns their indices.

        A firm is reached by the first programme, in `PROGRAMMES` order, whose cumulative
        chance (``table``, see `programme_table`) exceeds u, unless a window of its own is still
        open; the programme treats it from next month for its ``effect_months``.
        """
        cum, total = table
        if not total.any():
            return np.zeros(0, dtype=np.intp)
        key = self.segment + (state > 0)
        cand = (u < total[key]).nonzero()[0]
        cand = cand[self.end[cand] < month]
        if cand.size == 0:
            return cand
        kind = (u[cand][:, None] >= cum[key[cand]]).sum(axis=1)
        self.begin(cand, month, kind, hazard, induced_exit)
        return cand

    def begin(
        self,
        firms: np.ndarray,
        month: int,
        kind: np.ndarray,
        hazard: np.ndarray | None,
        induced_exit: float,
    ) -> None:
        """Open programme ``kind`` (indices into `PROGRAMMES`) for ``firms`` from next month."""
        effects, months = programme_effects(self.cfg)
        h = None if hazard is None else hazard[firms]
        effect = effects[kind]
        tilt = self.cfg["benefit"]["barrier_tilt"]
        if tilt > 0.0:
            col = _PROGRAMME_COL[kind]
            held = self.firms.barriers[firms, col]
            effect = tilted(effect, held, self.benefit_share[col], tilt)
        self.start[firms] = month + 1
        self.end[firms] = month + months[kind]
        self.rate[firms] = own_chance(effect, months[kind], h, induced_exit)
        self.kind[firms] = kind
        w = self.weight[firms]
        for j, name in enumerate(PROGRAMMES):
            hit = kind == j
            if hit.any():
                self.starts[name][month] = self.starts[name].get(month, 0.0) + float(w[hit].sum())
