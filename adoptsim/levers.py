"""Policy levers, regulation and technology shocks turned into monthly signals and treatments.

Their tables and dates are in `adoptsim.policy`; the treatments' own chances in
`adoptsim.programmes`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from adoptsim import schema as S
from adoptsim._memo import memo
from adoptsim.months import parse_month
from adoptsim.policy import (
    LEVER_SPEC,
    REFERENCE_COVER,
    USAGE_MONTH,
    capability_at,
    high_risk_dates,
)
from adoptsim.population import Firms
from adoptsim.programmes import (
    BENEFIT_COL,
    PROGRAMMES,
    Programmes,
    monthly_rate,
    own_chance,
    programme_tables,
    tilted,
    yearly_to_monthly,
)
from adoptsim.taxonomy import (
    BARRIER_INDEX,
    FLEMISH_PROVINCES,
    REGIONS,
    SECTORS,
    SMALL_MAX_EMPLOYEES,
    SME_MAX_EMPLOYEES,
)

_RULE_KEYS = (
    "rate_small",
    "rate_medium",
    "cap_small_eur",
    "cap_medium_eur",
    "advice_eligible",
    "training_eligible",
)
_ENACTED_KMO = S.validate_table({}, LEVER_SPEC["kmo_portefeuille"], "levers.kmo_portefeuille")


def _ramp(month: int, start: int, length: int) -> float:
    """0 before ``start``, rising linearly to 1 over ``length`` months."""
    if month < start:
        return 0.0
    return 1.0 if length <= 0 else min(1.0, (month - start + 1) / length)


def _freeze(value: object) -> object:
    """A hashable copy of a validated scenario table (dicts and lists become tuples)."""
    if isinstance(value, dict):
        return tuple((k, _freeze(v)) for k, v in sorted(value.items()))
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


# Month tables (a handful of numbers per month) depend only on the scenario's levers, regulation
# and shocks, which the replications of a run share: computed once per process, not per run.
# Replications with prior draws each have their own configuration, so the caches are bounded:
# a whole run's tables are tens of kB, and a long calibration makes thousands of configurations.
_MONTH_TABLES: dict[tuple, object] = {}
_WINDOWS: dict[tuple, object] = {}
_CONFIG_IDS: dict[object, int] = {}
_MONTH_TABLES_MAX = 1 << 14
_WINDOWS_MAX = 64
_CONFIG_IDS_MAX = 1 << 12
_NEXT_ID = itertools.count()  # ids are never reused, so forgetting a configuration is safe


def _memo(key: tuple, compute, cache: dict | None = None, limit: int = _MONTH_TABLES_MAX):
    """A month table from the bounded per-process cache (`_MONTH_TABLES` unless ``cache``)."""
    return memo(_MONTH_TABLES if cache is None else cache, key, compute, limit)


def _config_id(config: object) -> int:
    """A small int per distinct lever configuration (see `Levers`)."""
    return memo(_CONFIG_IDS, config, lambda: next(_NEXT_ID), _CONFIG_IDS_MAX)


@dataclass
class LeverSignals:
    """Signals in force in one month (per-firm arrays have length n)."""

    subsidy: np.ndarray
    clarity: float
    burden: np.ndarray
    genai: float


@dataclass
class MonthTables:
    """A run's month tables, indexed by month − ``start`` (see `Levers.month_tables`).

    Attributes:
        start: month index of the first row.
        project_share: share of cost a project covers, months × groups × instruments (in
            `APPLY_ORDER`).
        project_cum: cumulative monthly chance of applying over the instruments in
            `APPLY_ORDER`, same shape.
        project_total: chance of applying to any instrument, months × groups.
        any_project: whether any group can apply, by month.
        burden: AI Act compliance burden by high-risk code (or sector), by month.
        clarity: legal clarity by month (0..1; acts on the unsure firms only).
        genai: generative-AI capability by month.
    """

    start: int
    project_share: np.ndarray
    project_cum: np.ndarray
    project_total: np.ndarray
    any_project: np.ndarray
    burden: np.ndarray
    clarity: list[float]
    genai: list[float]


NO_PROJECT = -(1 << 30)  # project month of a firm that never had a subsidised project
INSTRUMENTS = ("kmo_portefeuille", "kmo_groeisubsidie", "ai_support")
# A firm's monthly uniform picks the first instrument, in this order, whose cumulative chance
# exceeds it. The portfolio comes last, so a scenario that raises its take-up only adds
# applicants (firms whose uniform lay above every chance before) and never moves a firm from
# another instrument, whose cover may be larger, to the portfolio: under common random numbers a
# more generous portfolio then cannot lower any firm's treatment.
APPLY_ORDER = (1, 2, 0)


class Levers:
    """The scenario's levers, regulation and shocks, evaluated for the firms at a month.

    Levers are treatments (`adoptsim.programmes`): a reached non-user gets its own monthly start
    chance for a window of months. State: each firm's project and programme window.

    Args:
        levers: the validated scenario's ``[levers]`` table.
        regulation: the validated ``[regulation]`` table.
        shocks: the validated ``[shocks]`` table.
        firms: the population.
        high_risk_u: one uniform per firm (the lever stream): which firms have a high-risk AI
            use; without it each firm carries its sector's expected burden (share × ramp).
        deadweight_u: one uniform per firm: a project is additional if u < additionality, else
            deadweight (no effect); without it each project's chance is scaled instead.
        unsure_u: one uniform per firm: unsure of its AI Act class if u < ``clarity_share``
            (legal clarity acts on these only); without it no firm is unsure.
        months: the run's month indices, whose tables are then computed at once (arrays over
            months); another month gets a one-month table from the same code.
    """

    def __init__(
        self,
        levers: dict,
        regulation: dict,
        shocks: dict,
        firms: Firms,
        high_risk_u: np.ndarray | None = None,
        deadweight_u: np.ndarray | None = None,
        months: range | None = None,
        unsure_u: np.ndarray | None = None,
    ) -> None:
        self.cfg, self.reg, self.shocks = levers, regulation, shocks
        self.firms = firms  # read at use: a block run swaps in views of its own barrier array
        flemish = np.isin(firms.region, [REGIONS.index(r) for r in FLEMISH_PROVINCES])
        self.size = firms.size
        self.weight = firms.weight
        # Subsidy eligibility groups: 0 not eligible, 1 small Flemish SME, 2 medium, 3 large.
        small = firms.employees <= SMALL_MAX_EMPLOYEES
        sme = firms.employees <= SME_MAX_EMPLOYEES
        self.group = np.where(flemish, np.where(small, 1, np.where(sme, 2, 3)), 0).astype(np.int8)
        self.flemish = flemish
        self.sector = firms.sector
        # Real Flemish SMEs the portfolio's yearly users are spread over.
        self.eligible_firms = float(firms.weight[(self.group == 1) | (self.group == 2)].sum())
        self.annex_iii, self.annex_i = high_risk_dates(regulation)
        share_iii, share_i = high_risk_sector_shares(regulation, firms)
        if high_risk_u is None:
            self._burden_index = firms.sector.astype(np.intp)
            self._burden_weights = (share_iii, share_i)
        else:
            # Annex III if u < share_iii, Annex I if u >= 1 − share_i: code 1 III, 2 I, 3 both.
            iii = high_risk_u < share_iii[firms.sector]
            ann_i = high_risk_u >= 1.0 - share_i[firms.sector]
            self._burden_index = (iii.astype(np.intp) + 2 * ann_i).astype(np.intp)
            self._burden_weights = None
        self.high_risk = self._burden_index > 0 if high_risk_u is not None else None
        n = firms.n
        self.unsure = (
            unsure_u < regulation["clarity_share"] if unsure_u is not None else np.zeros(n, bool)
        )
        self.entry = parse_month(regulation["entry_into_force"])
        self.literacy_start = parse_month(regulation["literacy_duty"])
        full = regulation["clarity_full_from"]
        self.clarity_full = parse_month(full) if full else None
        self.project_start = np.full(n, NO_PROJECT, dtype=np.int32)
        self.project_end = np.full(n, NO_PROJECT, dtype=np.int32)
        self.project_cover = np.zeros(n, dtype=np.float64)
        self.project_rate = np.zeros(n, dtype=np.float64)
        # Firms whose project or programme window has not ended: the only ones with a lift.
        self._active = np.zeros(0, dtype=np.intp)
        # Monthly exit hazard of policy-induced users (set by the model from ``[exit]``).
        self.induced_exit = 0.0
        self._deadweight_u = deadweight_u
        self._no_subsidy = np.zeros(n, dtype=np.float64)
        self._no_subsidy.flags.writeable = False
        segment = (self.size.astype(np.intp) * 2 + self.flemish) * 2
        self.programmes = p = Programmes(levers, segment, firms)
        # The programme windows by firm (the arrays of ``programmes``), and weighted starts by
        # instrument / programme and month (in real firms).
        self.programme_start, self.programme_end, self.programme_rate = p.start, p.end, p.rate
        self.starts: dict[str, dict[int, float]] = {**{k: {} for k in INSTRUMENTS}, **p.starts}
        # A small int per distinct configuration: month-table lookups then hash three scalars
        # instead of comparing every schedule of the configuration. The burden table is by
        # sector without high_risk_u, by high-risk code with it.
        config = _freeze((levers, regulation, shocks, high_risk_u is None))
        self._key = _config_id(config)
        self._window: MonthTables | None = None
        if months is not None and len(months) > 0:
            key = (self._key, "window", months.start, months.stop, self.eligible_firms)
            self._window = _memo(key, lambda: self.month_tables(months), _WINDOWS, _WINDOWS_MAX)

    # --- subsidised projects ------------------------------------------------------------------
    def kmo_covered(self, month: int, table: dict | None = None) -> np.ndarray:
        """Share of an AI project's cost the KMO-portefeuille covers, by eligibility group.

        min(rate × cost, cap) / cost per size group (the cap binds when rate × cost exceeds it),
        times the part of the spend in scope (advice and training, each while eligible).
        ``table``: a ``levers.kmo_portefeuille`` table other than the scenario's.
        """
        k = self.cfg["kmo_portefeuille"] if table is None else table
        cost = max(k["project_cost_eur"], 1.0)
        scope = k["advice_share"] * k["advice_eligible"].at(month) + (1 - k["advice_share"]) * k[
            "training_eligible"
        ].at(month)
        small = min(k["rate_small"].at(month) * cost, k["cap_small_eur"].at(month)) / cost
        medium = min(k["rate_medium"].at(month) * cost, k["cap_medium_eur"].at(month)) / cost
        return scope * np.array([0.0, small, medium, 0.0])

    def start_projects(
        self, month: int, u: np.ndarray, hazard: np.ndarray | None = None
    ) -> np.ndarray:
        """Firms without a running project apply with this month's uniform numbers ``u``.

        A firm applies to the first instrument, in `APPLY_ORDER`, whose cumulative chance
        exceeds u (the chances are small, so instruments hardly compete). The project runs
        from next month for ``projects.months`` months; ``hazard`` (every firm's start hazard
        this month without levers) sets its own chance (`own_chance`). Returns the firms that
        started one.
        """
        w, i = self._tables_at(month)
        if not w.any_project[i]:
            return np.zeros(0, dtype=np.intp)
        share, cum, total = w.project_share[i], w.project_cum[i], w.project_total[i]
        # Each firm's chance of applying, gathered again only when the month's table changes.
        cand = (u < self._gather("apply", total, self.group)).nonzero()[0]
        cand = cand[self.project_end[cand] < month]
        if cand.size == 0:
            return cand
        gi, uc = self.group[cand], u[cand]
        inst = (uc[:, None] >= cum[gi]).sum(axis=1)
        self._begin_projects(cand, month, share[gi, inst], hazard)
        w = self.weight[cand]
        for j, name in enumerate(APPLY_ORDER):
            hit = inst == j
            if hit.any():
                log = self.starts[INSTRUMENTS[name]]
                log[month] = log.get(month, 0.0) + float(w[hit].sum())
        return cand

    def additionality(self, cover: np.ndarray) -> np.ndarray:
        """Chance that a project covering ``cover`` of its cost is additional (not deadweight).

        (1 − deadweight) at the reference cover of 30 %, in proportion to the cover, at most 1.
        """
        dw = self.cfg["projects"]["deadweight"]
        return np.minimum((1.0 - dw) * np.asarray(cover) / REFERENCE_COVER, 1.0)

    def _begin_projects(
        self, firms: np.ndarray, month: int, cover: np.ndarray, hazard: np.ndarray | None
    ) -> None:
        cfg = self.cfg["projects"]
        add = self.additionality(cover)
        if self._deadweight_u is None:
            effect = cfg["effect"] * add
        else:
            effect = np.where(self._deadweight_u[firms] < add, cfg["effect"], 0.0)
        tilt = self.cfg["benefit"]["barrier_tilt"]
        if tilt > 0.0:
            col = BENEFIT_COL["projects"]
            held = self.firms.barriers[firms, col]
            effect = tilted(effect, held, self.programmes.benefit_share[col], tilt)
        h = None if hazard is None else hazard[firms]
        chance = self.own_chance(effect, cfg["months"], h)
        self.project_start[firms] = month + 1
        self.project_end[firms] = month + cfg["months"]
        self.project_cover[firms] = cover
        self.project_rate[firms] = chance
        self._add_active(firms)

    def assign_project(
        self, firms: np.ndarray, month: int, hazard: np.ndarray | None = None
    ) -> None:
        """Start a KMO-portefeuille project at ``month`` for ``firms`` (an experiment's treatment).

        The cover is the portfolio's for each firm's size group at ``month``; deadweight, the
        project's length and its own chance as for a project the firm applied for.
        """
        firms = np.asarray(firms, dtype=np.intp)
        cover = self.kmo_covered(month)[self.group[firms]]
        self._begin_projects(firms, month, cover, hazard)

    def own_chance(
        self, effect: np.ndarray | float, months: int | np.ndarray, hazard: np.ndarray | None
    ) -> np.ndarray:
        """`adoptsim.programmes.own_chance` with this run's induced exit hazard."""
        return own_chance(effect, months, hazard, self.induced_exit)

    def _add_active(self, firms: np.ndarray) -> None:
        self._active = np.union1d(self._active, firms).astype(np.intp)

    def treatment(self, month: int) -> np.ndarray:
        """Each firm's subsidy signal: the share of cost its project covers while it runs.

        0 for firms without a running project (read-only). The adoption rule may read it
        (`StepContext.subsidy`); the project's effect itself is its `lift`.
        """
        idx = self._active
        if idx.size == 0:
            return self._no_subsidy
        on = (self.project_start[idx] <= month) & (month <= self.project_end[idx])
        if not on.any():
            return self._no_subsidy
        out = np.zeros(self.group.shape[0], dtype=np.float64)
        out[idx[on]] = self.project_cover[idx[on]]
        out.flags.writeable = False
        return out

    def lift(self, month: int) -> tuple[np.ndarray, np.ndarray]:
        """Firms with a running project or programme, and their own monthly start chance.

        The chance combines the project's and the programme's as independent events. Firms
        whose windows have all ended are dropped from the active set here.
        """
        idx = self._active
        if idx.size == 0:
            return idx, np.zeros(0)
        ps, pe = self.project_start[idx], self.project_end[idx]
        qs, qe = self.programme_start[idx], self.programme_end[idx]
        done = (pe < month) & (qe < month)
        if done.any():
            keep = ~done
            idx, ps, pe, qs, qe = idx[keep], ps[keep], pe[keep], qs[keep], qe[keep]
            self._active = idx
        a1 = np.where((ps <= month) & (month <= pe), self.project_rate[idx], 0.0)
        a2 = np.where((qs <= month) & (month <= qe), self.programme_rate[idx], 0.0)
        return idx, 1.0 - (1.0 - a1) * (1.0 - a2)

    # --- programmes: training, literacy, information, coaching --------------------------------
    def programme_table(self, month: int) -> tuple[np.ndarray, np.ndarray]:
        """This month's programme reach by segment (`adoptsim.programmes.programme_table`).

        From the cache the compiled path reads too (`programme_tables`, keyed by the reaches in
        force), so every run with the same reaches shares the table.
        """
        return programme_tables(self.cfg, range(month, month + 1), self.literacy_start)[0]

    def start_programmes(
        self, month: int, state: np.ndarray, u: np.ndarray, hazard: np.ndarray | None = None
    ) -> np.ndarray:
        """Firms reached by a programme this month (``u``: one uniform per firm).

        See [`Programmes.reach`][adoptsim.programmes.Programmes.reach]; the treated firm's own
        chance comes from ``hazard`` (`own_chance`). Returns the firms reached.
        """
        table = self.programme_table(month)
        firms = self.programmes.reach(month, state, u, table, hazard, self.induced_exit)
        if firms.size:
            self._add_active(firms)
        return firms

    def assign_programme(
        self, name: str, firms: np.ndarray, month: int, hazard: np.ndarray | None = None
    ) -> None:
        """Treat ``firms`` with programme ``name`` (one of `PROGRAMMES`) from ``month`` + 1."""
        firms = np.asarray(firms, dtype=np.intp)
        kind = np.full(firms.size, PROGRAMMES.index(name))
        self.programmes.begin(firms, month, kind, hazard, self.induced_exit)
        self._add_active(firms)

    # --- regulation and technology ------------------------------------------------------------
    def clarity_lift(self, clarity: float) -> float:
        """Monthly start chance legal clarity ``clarity`` (0..1) gives an unsure non-user."""
        if clarity <= 0.0:
            return 0.0
        return monthly_rate(self.reg["clarity_effect"], 12) * clarity

    def signals(self, month: int) -> LeverSignals:
        """Subsidy signal, legal clarity, compliance burden and technology at ``month``.

        The burden array is gathered from four values (no high-risk use, Annex III, Annex I,
        both); while they stay the same, the previous month's array is returned again, marked
        read-only. The subsidy is each firm's running project's cover (`treatment`).
        """
        w, i = self._tables_at(month)
        table, clarity, genai = w.burden[i], w.clarity[i], w.genai[i]
        burden = self._gather("burden", table, self._burden_index)
        return LeverSignals(self.treatment(month), clarity, burden, genai)

    def clarity(self, month: int) -> float:
        """Legal clarity for the unsure firms at ``month`` (0..1).

        ``clarity_level`` ramped in over ``clarity_ramp_months`` after entry into force; 1 from
        ``clarity_full_from`` if a scenario sets it.
        """
        reg = self.reg
        if self.clarity_full is not None and month >= self.clarity_full:
            return 1.0
        return reg["clarity_level"] * _ramp(month, self.entry, reg["clarity_ramp_months"])

    def _gather(self, name: str, table: np.ndarray, index: np.ndarray) -> np.ndarray:
        """``table[index]``, reusing the last result for ``name`` if ``table`` is unchanged."""
        cache = self.__dict__.setdefault("_gathered", {})
        last = cache.get(name)
        if last is not None and last[0].tobytes() == table.tobytes() and last[2] is index:
            return last[1]
        out = table[index]
        out.flags.writeable = False
        cache[name] = (table.copy(), out, index)
        return out

    # --- a run's months at once ---------------------------------------------------------------
    def _window_index(self, month: int) -> int | None:
        w = self._window
        if w is None:
            return None
        i = month - w.start
        return i if 0 <= i < len(w.clarity) else None

    def _tables_at(self, month: int) -> tuple[MonthTables, int]:
        """The month tables holding ``month``, and its row: the run's window, or that month's own.

        A model's window covers every month its run reaches; a month outside it (a `Levers`
        built without ``months``) gets a one-month table from the same code.
        """
        i = self._window_index(month)
        if i is not None:
            return self._window, i  # type: ignore[return-value]
        key = (self._key, "month", month, self.eligible_firms)
        return _memo(key, lambda: self.month_tables(range(month, month + 1))), 0

    def month_tables(self, months: range) -> MonthTables:
        """The project and signal tables of ``months``: the only code that computes them.

        Projects: monthly chance of starting a subsidised AI project and the share of cost it
        covers, by eligibility group (rows 0–3) and instrument (in `APPLY_ORDER`).
        KMO-portefeuille: projects_per_year × employer_share × ai_share AI projects a year spread
        over the eligible Flemish SMEs, scaled by (covered share now / covered share in the year
        the usage was counted)^take_up_elasticity, so the dated rate, cap and scope changes move
        applications as well as the subsidy. Groeisubsidie and AI support: their yearly reach.
        Signals: AI Act burden table, legal clarity and generative-AI capability.

        Arrays over the months; tests/levers_reference.py holds the month-by-month formulas they
        are tested against. The arrays are read-only.
        """
        m = np.arange(months.start, months.stop)
        k, g, a = (self.cfg[name] for name in INSTRUMENTS)
        # projects; the usage was counted under the rules as enacted (policy_timeline.csv),
        # whatever rules a scenario sets, with this scenario's project cost and advice share
        covered = self._kmo_covered_over(m, k)
        enacted = {**k, **{key: _ENACTED_KMO[key] for key in _RULE_KEYS}}
        ref = self.kmo_covered(USAGE_MONTH, enacted)
        ratio = np.divide(covered, ref, out=np.zeros(covered.shape), where=ref > 0)
        per_year = k["projects_per_year"] * k["employer_share"] * k["ai_share"]
        base = per_year / self.eligible_firms if self.eligible_firms > 0 else 0.0
        kmo_p = yearly_to_monthly(np.minimum(base * ratio ** k["take_up_elasticity"], 1.0))
        kmo_p = np.where(covered > 0, kmo_p, 0.0)
        groei_p = yearly_to_monthly(g["reach"].over(m))[:, None] * np.array([0.0, 1.0, 1.0, 0.0])
        ai_p = yearly_to_monthly(a["reach"].over(m))[:, None] * np.array([0.0, 1.0, 1.0, 1.0])
        p = np.stack([kmo_p, groei_p, ai_p], axis=2)
        ones = np.ones(4)
        share = np.stack(
            [covered, g["rate"].over(m)[:, None] * ones, a["rate"].over(m)[:, None] * ones], axis=2
        )
        order = list(APPLY_ORDER)
        cum = np.cumsum(p[..., order], axis=2)
        total = cum[..., -1]
        # signals
        ant = self.reg["anticipation_months"]
        r3 = np.array([_ramp(x, self.annex_iii - ant, ant) for x in months])
        r1 = np.array([_ramp(x, self.annex_i - ant, ant) for x in months])
        if self._burden_weights is None:
            burden = np.stack([np.zeros_like(r3), r3, r1, np.minimum(r3 + r1, 1.0)], axis=1)
        else:
            s3, s1 = self._burden_weights
            burden = np.minimum(s3[None, :] * r3[:, None] + s1[None, :] * r1[:, None], 1.0)
        clarity = [self.clarity(x) for x in months]
        shock = self.shocks["genai"]
        release, path_from = parse_month(shock["start"]), parse_month(shock["path_from"])
        genai = [capability_at(x, release, path_from, shock) for x in months]
        tables = MonthTables(
            start=months.start,
            project_share=np.clip(share, 0.0, 1.0)[..., order],
            project_cum=cum,
            project_total=total,
            any_project=total.any(axis=1),
            burden=burden,
            clarity=clarity,
            genai=genai,
        )
        for value in vars(tables).values():
            if isinstance(value, np.ndarray):
                value.flags.writeable = False
        return tables

    def _kmo_covered_over(self, m: np.ndarray, k: dict) -> np.ndarray:
        """`kmo_covered` at each of the months ``m``: an array of months × 4 groups."""
        cost = max(k["project_cost_eur"], 1.0)
        scope = k["advice_share"] * k["advice_eligible"].over(m) + (1 - k["advice_share"]) * k[
            "training_eligible"
        ].over(m)
        small = np.minimum(k["rate_small"].over(m) * cost, k["cap_small_eur"].over(m)) / cost
        medium = np.minimum(k["rate_medium"].over(m) * cost, k["cap_medium_eur"].over(m)) / cost
        zero = np.zeros_like(small)
        return scope[:, None] * np.stack([zero, small, medium, zero], axis=1)

    def barrier_removal(
        self, month: int, state: np.ndarray, peer_share: np.ndarray, part: slice | None = None
    ) -> dict:
        """Monthly probability per firm that each dynamic barrier is removed: peer learning.

        Seeing peers use AI removes knowledge, assessment and cost–benefit doubt, at a rate per
        month × the peer share. Levers do not remove barriers: their effect is their own start
        chance (`lift`), so it does not depend on the calibrated barrier penalties. With
        ``part``, ``peer_share`` is that of the firms ``part`` (a slice) only.
        """
        peer = self.cfg["peer_learning"]
        return {
            BARRIER_INDEX["knowledge_skills"]: peer_share * peer["knowledge_skills"],
            BARRIER_INDEX["hard_to_assess"]: peer_share * peer["hard_to_assess"],
            BARRIER_INDEX["cost_benefit"]: peer_share * peer["cost_benefit"],
        }


def high_risk_sector_shares(regulation: dict, firms: Firms) -> tuple[np.ndarray, np.ndarray]:
    """Share of each sector's firms with an Annex III and an Annex I high-risk AI use.

    The sector profiles (relative chances) scaled so that the weighted share over all the
    population's firms is ``regulation.high_risk_share`` (every firm is a potential user, and the
    evidence is a share of users).
    """
    p3 = np.array([regulation["high_risk_profile_annex_iii"][s] for s in SECTORS])
    p1 = np.array([regulation["high_risk_profile_annex_i"][s] for s in SECTORS])
    w = firms.weight
    mean = float(w @ (p3 + p1)[firms.sector] / w.sum()) if w.sum() > 0 else 0.0
    scale = regulation["high_risk_share"] / mean if mean > 0 else 0.0
    share_iii = np.minimum(p3 * scale, 1.0)
    return share_iii, np.minimum(p1 * scale, 1.0 - share_iii)
