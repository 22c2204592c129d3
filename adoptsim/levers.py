"""Policy levers, regulation and technology shocks: dated schedules turned into monthly signals.

Dates and rates default to ``adoptsim/data/policy_timeline.csv`` (each row has its source); how
strongly firms respond to them are parameters of the adoption rule or of the lever tables here.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import cache

import numpy as np

from adoptsim import schema as S
from adoptsim._memo import memo
from adoptsim.data import read_table
from adoptsim.months import parse_month
from adoptsim.population import Firms
from adoptsim.taxonomy import (
    BARRIER_INDEX,
    FLEMISH_PROVINCES,
    REGIONS,
    SECTORS,
    SMALL_MAX_EMPLOYEES,
    SME_MAX_EMPLOYEES,
)


def timeline_points(instrument: str, parameter: str, segment: str) -> dict[str, float]:
    """Step-schedule points ``{"YYYY-MM": value}`` from policy_timeline.csv rows (a fresh dict)."""
    return dict(_timeline_points(instrument, parameter, segment))


@cache
def _timeline_points(
    instrument: str, parameter: str, segment: str
) -> tuple[tuple[str, float], ...]:
    df = read_table("policy_timeline")
    rows = df[(df.instrument == instrument) & (df.parameter == parameter) & (df.segment == segment)]
    if rows.empty:
        raise KeyError(f"policy_timeline.csv has no {instrument}/{parameter}/{segment}")
    return tuple((r.start[:7], float(r.value)) for r in rows.itertuples())


@cache  # a str per (instrument, parameter): immutable, so safe to share
def timeline_month(instrument: str, parameter: str) -> str:
    """The start month of a dated event (e.g. an AI Act milestone) in policy_timeline.csv."""
    df = read_table("policy_timeline")
    row = df[(df.instrument == instrument) & (df.parameter == parameter)]
    if len(row) != 1:
        raise KeyError(f"policy_timeline.csv has no single {instrument}/{parameter}")
    return str(row.start.iloc[0])[:7]


KMO = "policy_timeline.csv kmo_portefeuille rows (VLAIO, DVO)"
# The month whose portfolio usage (users_per_year) the application rate is scaled to.
_USAGE_MONTH = parse_month(min(timeline_points("kmo_portefeuille", "uptake", "sme")))
_ADVICE_CUT = timeline_month("kmo_portefeuille", "advice_scope")

LEVER_SPEC: dict = {
    "kmo_portefeuille": {
        "rate_small": S.schedule(
            timeline_points("kmo_portefeuille", "rate", "small"),
            0,
            1,
            "subsidy rate, small firms (<50)",
            "share of cost",
            KMO,
        ),
        "rate_medium": S.schedule(
            timeline_points("kmo_portefeuille", "rate", "medium"),
            0,
            1,
            "subsidy rate, medium firms (50–249)",
            "share of cost",
            KMO,
        ),
        "cap_small_eur": S.schedule(
            {
                **timeline_points("kmo_portefeuille", "cap", "small"),
                **timeline_points("kmo_portefeuille", "cap", "sme"),
            },
            0,
            None,
            "yearly subsidy cap, small firms",
            "EUR per year",
            KMO,
        ),
        "cap_medium_eur": S.schedule(
            {
                **timeline_points("kmo_portefeuille", "cap", "medium"),
                **timeline_points("kmo_portefeuille", "cap", "sme"),
            },
            0,
            None,
            "yearly subsidy cap, medium firms",
            "EUR per year",
            KMO,
        ),
        "advice_eligible": S.schedule(
            {"2016-04": 1.0, _ADVICE_CUT: 0.0},
            0,
            1,
            "AI advice covered (1) or not (0)",
            "0/1",
            "policy_timeline.csv advice_scope (VLAIO news 2026-01-23)",
        ),
        "training_eligible": S.schedule(
            1.0,
            0,
            1,
            "AI training covered",
            "0/1",
            "policy_timeline.csv themes (digitalisation theme)",
        ),
        "advice_share": S.share(0.5, "share of a firm's AI service spend that is advice (E)"),
        "project_cost_eur": S.number(
            20000.0, 0, None, "typical AI training + advice spend of a project (E)", "EUR"
        ),
        "users_per_year": S.number(
            55000.0,
            0,
            None,
            "firms using the portfolio per year, all themes (2025)",
            "firms per year",
            "policy_timeline.csv kmo_portefeuille uptake (VLAIO news)",
        ),
        "employer_share": S.share(
            0.5,
            "share of portfolio users that are employer firms (E; prior 0.3–0.8)",
            source="judgement: 599k of 714k Flemish enterprises have no employees (population.csv)",
        ),
        "ai_share": S.share(
            0.08,
            "share of employer users' projects that are AI training or advice (E; prior 0.03–0.15)",
            source="judgement: 1 of 8 themes is digitalisation; AI a part of it",
        ),
        "take_up_elasticity": S.number(
            1.0,
            0,
            3,
            "applications ∝ (covered share / covered share in 2025)^elasticity (E; prior 0–2)",
            "elasticity",
        ),
    },
    "kmo_groeisubsidie": {
        "rate": S.schedule(
            timeline_points("kmo_groeisubsidie", "rate", "sme"),
            0,
            1,
            "subsidy rate",
            "share of cost",
            "policy_timeline.csv (VLAIO)",
        ),
        "reach": S.schedule(
            0.005, 0, 1, "share of SMEs obtaining it per year (E; competitive)", "per year"
        ),
    },
    "ai_support": {
        "rate": S.schedule(
            0.5,
            0,
            1,
            "AI-specific VLAIO project support rate (E; R&D 25–60 %)",
            "share of cost",
            "policy_timeline.csv vlaio_rd_project",
        ),
        "reach": S.schedule(
            {"2019-03": 0.0035},
            0,
            1,
            "share of firms supported per year (≈400 firms in 2021, Dept. EWI)",
            "per year",
            "policy_timeline.csv flemish_ai_plan",
        ),
    },
    "projects": {
        "months": S.integer(
            6, 1, 36, "length of a subsidised AI project (E; prior 3–12)", "months"
        ),
        "fade_half_life_months": S.number(
            12.0,
            0,
            240,
            "half-life of the additionality effect after a project ends (E; prior 3–36)",
            "months",
            "Nesta Creative Credits RCT: effects gone after 12 months (see docs/evidence.md)",
        ),
        "deadweight": S.share(
            0.5,
            "share of subsidised projects that change nothing (E; prior 0.3–0.8)",
            source="docs/evidence.md",
        ),
    },
    "training": {
        "reach_micro": S.schedule(
            0.03, 0, 1, "firms 1–9 reached by AI training (E; plausible 0.01–0.06)", "per year"
        ),
        "reach_small": S.schedule(
            0.05, 0, 1, "firms 10–49 reached (E; plausible 0.02–0.10)", "per year"
        ),
        "reach_medium": S.schedule(
            0.10, 0, 1, "firms 50–249 reached (E; plausible 0.05–0.20)", "per year"
        ),
        "reach_large": S.schedule(
            0.20, 0, 1, "firms 250+ reached (E; plausible 0.10–0.40)", "per year"
        ),
        "efficacy": S.share(0.5, "chance a reached firm loses its knowledge barrier"),
        "flanders_only": S.flag(False, "training programmes only in Flanders"),
    },
    "literacy": {
        "user_reach": S.share(0.3, "AI users reached per year by the Art. 4 literacy duty (E)"),
        "nonuser_reach": S.share(
            0.05,
            "non-users reached per year by literacy offers spurred by Art. 4 (E; prior 0–0.2)",
        ),
        "efficacy": S.share(0.5, "chance a reached firm loses its knowledge barrier (E)"),
    },
    "coaching": {
        "reach": S.schedule(
            0.01,
            0,
            1,
            "firms reached by knowledge-partner coaching (E; plausible 0.005–0.03)",
            "per year",
        ),
        "efficacy": S.share(0.6, "chance a coached firm loses its partner / assessment barrier"),
        "flanders_only": S.flag(True, "a Flemish programme"),
    },
    "peer_learning": {
        "knowledge_skills": S.share(0.02, "monthly barrier removal at peer share 1"),
        "hard_to_assess": S.share(0.03, "monthly barrier removal at peer share 1"),
        "cost_benefit": S.share(0.03, "monthly barrier removal at peer share 1"),
    },
}

# Share of firms with a high-risk use, by NACE section (E, judgement within the impact
# assessment's 5–15 % of AI systems): Annex III credit scoring and insurance pricing (K),
# recruitment by employment agencies (N), critical infrastructure (D, E); everywhere else the
# occasional recruitment or HR tool a firm *provides*. Annex I: AI safety components of machinery,
# medical devices and vehicles (C).
HIGH_RISK_ANNEX_III = {"K": 0.15, "N": 0.05, "D": 0.05, "E": 0.03, "J": 0.03}
HIGH_RISK_OTHER = 0.01
HIGH_RISK_ANNEX_I = {"C": 0.05, "J": 0.01}

AI_ACT = "policy_timeline.csv ai_act rows (Regulation (EU) 2024/1689 Art. 113; Digital Omnibus)"
REGULATION_SPEC: dict = {
    "timeline": S.choice(
        "omnibus",
        ("omnibus", "original"),
        "high-risk dates: Digital Omnibus (2027-12 / 2028-08) or original text",
    ),
    "entry_into_force": S.month(timeline_month("ai_act", "entry_into_force"), AI_ACT),
    "literacy_duty": S.month(
        timeline_month("ai_act", "literacy_art4_and_prohibitions_art5"),
        "Art. 4 AI literacy (not Art. 20 as the seed says)",
    ),
    "high_risk_annex_iii": S.month(None, "override; default from timeline"),
    "high_risk_annex_i": S.month(None, "override; default from timeline"),
    "high_risk_share_annex_iii": {
        sec: S.share(
            HIGH_RISK_ANNEX_III.get(sec, HIGH_RISK_OTHER),
            f"share of {sec} firms with an Annex III high-risk AI use (E)",
            source="docs/evidence.md (AI Act impact assessment: 5–15 % of AI systems high-risk)",
        )
        for sec in SECTORS
    },
    "high_risk_share_annex_i": {
        sec: S.share(
            HIGH_RISK_ANNEX_I.get(sec, 0.0),
            f"share of {sec} firms with AI in an Annex I product (E)",
            source="docs/evidence.md",
        )
        for sec in SECTORS
    },
    "anticipation_months": S.integer(
        12, 0, 60, "burden ramps up this long before a deadline", "months"
    ),
    "clarity_ramp_months": S.integer(
        12, 0, 120, "clarity ramps up after entry into force", "months"
    ),
}

SHOCK_SPEC: dict = {
    "genai": {
        "start": S.month("2022-12", "generative AI widely available (ChatGPT, 2022-11-30)"),
        "jump": S.share(
            0.3,
            "capability at release as a share of the long-run level (1: a one-off step)",
        ),
        "speed": S.number(
            0.1, 0.005, 2, "logistic growth rate of capability after release", "per month"
        ),
        "midpoint_months": S.number(
            18.0, 0, 240, "months from release to the steepest capability growth", "months"
        ),
        "path_from": S.month(
            "2025-01", "scenarios change the technology path from this month (after the data)"
        ),
        "path_speed": S.number(
            1.0,
            0,
            10,
            "clock of the capability curve from path_from: 0.5 slower, 2 faster technology",
            "× calendar time",
        ),
    }
}


def genai_capability(months: float, genai: dict) -> float:
    """Generative-AI capability (0 before release, rising to 1, the long-run level).

    c(m) = jump + (1 − jump)·(L(m) − L(0)) / (1 − L(0)), L(m) = logistic(speed·(m − midpoint)),
    m = months since release; from ``path_from`` the curve's clock runs ``path_speed`` times as
    fast as calendar time (scenarios about the technology path to 2028). ``jump`` = 1 is a
    one-off step; a small jump with a late midpoint is a continuing acceleration. The rule's
    ``theta_genai`` is the logit response at capability 1.
    """
    return _capability(months, parse_month(genai["start"]), parse_month(genai["path_from"]), genai)


def _capability(months: float, start: int, path_from: int, genai: dict) -> float:
    """`genai_capability` with the release and path months already parsed."""
    frm = path_from - start
    m = months - start
    if m < 0:
        return 0.0
    if m > frm:
        m = max(frm, 0) + genai["path_speed"] * (m - max(frm, 0))
    jump, k, mid = genai["jump"], genai["speed"], genai["midpoint_months"]
    lo = 1.0 / (1.0 + math.exp(k * mid))
    grown = (1.0 / (1.0 + math.exp(-k * (m - mid))) - lo) / (1.0 - lo)
    return jump + (1.0 - jump) * grown


_RULE_KEYS = (
    "rate_small",
    "rate_medium",
    "cap_small_eur",
    "cap_medium_eur",
    "advice_eligible",
    "training_eligible",
)
_ENACTED_KMO = S.validate_table({}, LEVER_SPEC["kmo_portefeuille"], "levers.kmo_portefeuille")


def high_risk_dates(regulation: dict) -> tuple[int, int]:
    """Month indices of the Annex III and Annex I high-risk obligations under the chosen text."""
    suffix = "_omnibus" if regulation["timeline"] == "omnibus" else ""
    iii = regulation["high_risk_annex_iii"] or timeline_month(
        "ai_act", "high_risk_annex_iii" + suffix
    )
    i = regulation["high_risk_annex_i"] or timeline_month("ai_act", "high_risk_annex_i" + suffix)
    return parse_month(iii), parse_month(i)


def _ramp(month: int, start: int, length: int) -> float:
    """0 before ``start``, rising linearly to 1 over ``length`` months."""
    if month < start:
        return 0.0
    return 1.0 if length <= 0 else min(1.0, (month - start + 1) / length)


def _either(p1: np.ndarray | float, p2: np.ndarray | float) -> np.ndarray:
    """Chance that at least one of two independent events happens."""
    return 1.0 - (1.0 - p1) * (1.0 - p2)


def _monthly(per_year: np.ndarray | float) -> np.ndarray:
    """Convert a yearly reach into a monthly probability."""
    return 1.0 - (1.0 - np.clip(per_year, 0.0, 1.0)) ** (1.0 / 12.0)


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
        clarity: legal clarity by month.
        genai: generative-AI capability by month.
        not_train: 1 − training/literacy removal chance by segment (24 values), by month.
        coach: coaching removal chance by Flemish (0/1), by month.
        not_coach: 1 − ``coach``.
    """

    start: int
    project_share: np.ndarray
    project_cum: np.ndarray
    project_total: np.ndarray
    any_project: np.ndarray
    burden: np.ndarray
    clarity: list[float]
    genai: list[float]
    not_train: np.ndarray
    coach: np.ndarray
    not_coach: np.ndarray


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

    It also keeps each firm's subsidised AI project (start, end, share of cost covered) as lever
    state.

    Args:
        levers: the validated scenario's ``[levers]`` table.
        regulation: the validated ``[regulation]`` table.
        shocks: the validated ``[shocks]`` table.
        firms: the population.
        high_risk_u: one uniform number per firm (the lever stream) deciding which firms have a
            high-risk AI use; without it every firm of a sector carries the sector's expected
            burden (share × ramp) instead.
        deadweight_u: one uniform number per firm deciding which firms are deadweight (would
            have done their AI project anyway: a subsidised project changes nothing for them);
            without it every project's effect is scaled by 1 − deadweight instead.
        months: the run's month indices. Their tables (project chances, signals, barrier
            removal) are then computed at once, as arrays over the months, instead of month by
            month: a replication with its own prior draws has its own tables, and per-month
            scalar work was a large part of a small run's cost. Other months use the month-by-
            month functions (`project_table` and the others), which are the reference.
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
    ) -> None:
        self.cfg, self.reg, self.shocks = levers, regulation, shocks
        flemish = np.isin(firms.region, [REGIONS.index(r) for r in FLEMISH_PROVINCES])
        self.size = firms.size
        # Subsidy eligibility groups: 0 not eligible, 1 small Flemish SME, 2 medium, 3 large.
        small = firms.employees <= SMALL_MAX_EMPLOYEES
        sme = firms.employees <= SME_MAX_EMPLOYEES
        self.group = np.where(flemish, np.where(small, 1, np.where(sme, 2, 3)), 0).astype(np.int8)
        self.flemish = flemish
        self.sector = firms.sector
        # Real Flemish SMEs the portfolio's yearly users are spread over.
        self.eligible_firms = float(firms.weight[(self.group == 1) | (self.group == 2)].sum())
        self.annex_iii, self.annex_i = high_risk_dates(regulation)
        share_iii = np.array([regulation["high_risk_share_annex_iii"][s] for s in SECTORS])
        share_i = np.array([regulation["high_risk_share_annex_i"][s] for s in SECTORS])
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
        self.entry = parse_month(regulation["entry_into_force"])
        self.literacy_start = parse_month(regulation["literacy_duty"])
        n = firms.n
        self.project_start = np.full(n, NO_PROJECT, dtype=np.int32)
        self.project_end = np.full(n, NO_PROJECT, dtype=np.int32)
        self.project_effect = np.zeros(n, dtype=np.float64)
        self._treated: np.ndarray | None = np.zeros(0, dtype=np.intp)
        self._fades: np.ndarray | None = None
        self._deadweight_u = deadweight_u
        self._no_subsidy = np.zeros(n, dtype=np.float64)
        self._no_subsidy.flags.writeable = False
        # A small int per distinct configuration: month-table lookups then hash three scalars
        # instead of comparing every schedule of the configuration. The burden table is by
        # sector without high_risk_u, by high-risk code with it.
        config = _freeze((levers, regulation, shocks, high_risk_u is None))
        self._key = _config_id(config)
        self._treated_mask = np.zeros(n, dtype=bool)
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

    def project_table(self, month: int) -> tuple[np.ndarray, np.ndarray]:
        """Monthly chance of starting a subsidised AI project, and the share of cost it covers.

        Both by eligibility group (rows 0–3) and instrument (columns, `INSTRUMENTS`).

        KMO-portefeuille: users_per_year × employer_share × ai_share AI projects a year spread
        over the eligible Flemish SMEs, scaled by (covered share now / covered share in the year
        the usage was counted)^take_up_elasticity, so the dated rate, cap and scope changes move
        applications as well as the subsidy. Groeisubsidie and AI support: their yearly reach.
        """
        k, g, a = (self.cfg[name] for name in INSTRUMENTS)
        covered = self.kmo_covered(month)
        # The usage was counted under the rules as enacted (policy_timeline.csv), whatever
        # rules a scenario sets, with this scenario's project cost and advice share.
        enacted = {**k, **{key: _ENACTED_KMO[key] for key in _RULE_KEYS}}
        ref = self.kmo_covered(_USAGE_MONTH, enacted)
        ratio = np.divide(covered, ref, out=np.zeros(4), where=ref > 0)
        per_year = k["users_per_year"] * k["employer_share"] * k["ai_share"]
        base = per_year / self.eligible_firms if self.eligible_firms > 0 else 0.0
        kmo_p = _monthly(np.minimum(base * ratio ** k["take_up_elasticity"], 1.0))
        kmo_p = np.where(covered > 0, kmo_p, 0.0)
        groei_p = _monthly(g["reach"].at(month)) * np.array([0.0, 1.0, 1.0, 0.0])
        ai_p = _monthly(a["reach"].at(month)) * np.array([0.0, 1.0, 1.0, 1.0])
        p = np.stack([kmo_p, groei_p, ai_p], axis=1)
        share = np.stack(
            [covered, np.full(4, g["rate"].at(month)), np.full(4, a["rate"].at(month))], axis=1
        )
        return p, np.clip(share, 0.0, 1.0)

    def start_projects(self, month: int, u: np.ndarray) -> np.ndarray:
        """Firms without a running project apply with this month's uniform numbers ``u``.

        A firm applies to the first instrument, in `APPLY_ORDER`, whose cumulative chance
        exceeds u (the chances are small, so instruments hardly compete). The project runs
        from next month for ``projects.months`` months; for deadweight firms it changes
        nothing. Returns the firms that started one.
        """
        w, i = self._window, self._window_index(month)
        if i is not None:
            if not w.any_project[i]:
                return np.zeros(0, dtype=np.intp)
            share, cum, total = w.project_share[i], w.project_cum[i], w.project_total[i]
        else:
            p, share = _memo(
                (self._key, "projects", month, self.eligible_firms),
                lambda: self.project_table(month),
            )
            cum, share = np.cumsum(p[:, APPLY_ORDER], axis=1), share[:, APPLY_ORDER]
            total = cum[:, -1]
            if not total.any():
                return np.zeros(0, dtype=np.intp)
        # Each firm's chance of applying, gathered again only when the month's table changes.
        cand = (u < self._gather("apply", total, self.group)).nonzero()[0]
        cand = cand[self.project_end[cand] < month]
        if cand.size == 0:
            return cand
        gi, uc = self.group[cand], u[cand]
        inst = (uc[:, None] >= cum[gi]).sum(axis=1)
        cfg = self.cfg["projects"]
        if self._deadweight_u is None:
            effect = share[gi, inst] * (1.0 - cfg["deadweight"])
        else:
            effect = np.where(self._deadweight_u[cand] < cfg["deadweight"], 0.0, share[gi, inst])
        self.project_start[cand] = month + 1
        self.project_end[cand] = month + cfg["months"]
        self.project_effect[cand] = effect
        # Only firms whose project has an effect get a treatment (0 × fade is 0 for the rest);
        # the list of them is made again when next asked for.
        self._treated_mask[cand] = effect != 0.0
        self._treated = None
        return cand

    def treatment(self, month: int) -> np.ndarray:
        """Each firm's subsidy signal (share of cost covered), read-only.

        The share of cost its project covers while it runs, fading with half-life
        ``projects.fade_half_life_months`` after it ends; 0 otherwise (never treated, deadweight,
        or before the project starts).
        """
        if self._treated is None:
            self._treated = self._treated_mask.nonzero()[0]
        idx = self._treated
        if idx.size == 0:
            return self._no_subsidy
        after = month - self.project_end[idx]  # whole months since the project's end
        fade = self._fade_table(int(after.max()))[np.maximum(after, 0)]
        fade[month < self.project_start[idx]] = 0.0
        out = np.zeros(self.group.shape[0], dtype=np.float64)
        out[idx] = self.project_effect[idx] * fade
        out.flags.writeable = False
        return out

    def _fade_table(self, top: int) -> np.ndarray:
        """The share of a project's effect left ``a`` = 0, 1, ..., ``top`` months after its end.

        A firm's fade depends only on the whole number of months since its project ended, so it
        is read from this table instead of a power per treated firm and month; the table holds
        the values of the same formula, element by element.
        """
        table = self._fades
        if table is None or table.shape[0] <= top:
            hl = self.cfg["projects"]["fade_half_life_months"]
            size = max(top + 1, 64 if table is None else 2 * table.shape[0])  # grows rarely
            after = np.arange(size, dtype=np.float64)
            if hl > 0:
                table = np.where(after <= 0, 1.0, 0.5 ** (np.maximum(after, 0.0) / hl))
            else:
                table = (after <= 0).astype(np.float64)
            self._fades = table
        return table

    def signals(self, month: int) -> LeverSignals:
        """Subsidy treatment, legal clarity, compliance burden and technology at ``month``.

        The burden array is gathered from four values (no high-risk use, Annex III, Annex I,
        both); while they stay the same, the previous month's array is returned again, marked
        read-only. The subsidy is each firm's project treatment (`treatment`).
        """
        i = self._window_index(month)
        if i is not None:
            w = self._window
            table, clarity, genai = w.burden[i], w.clarity[i], w.genai[i]
        else:
            table, clarity, genai = _memo(
                (self._key, "signals", month), lambda: self._month_signals(month)
            )
        burden = self._gather("burden", table, self._burden_index)
        return LeverSignals(self.treatment(month), clarity, burden, genai)

    def _month_signals(self, month: int) -> tuple[np.ndarray, float, float]:
        """Burden table, clarity and generative-AI capability at ``month`` (read-only)."""
        reg = self.reg
        ant = reg["anticipation_months"]
        r3 = _ramp(month, self.annex_iii - ant, ant)
        r1 = _ramp(month, self.annex_i - ant, ant)
        if self._burden_weights is None:
            table = np.array([0.0, r3, r1, min(r3 + r1, 1.0)])
        else:
            s3, s1 = self._burden_weights
            table = np.minimum(s3 * r3 + s1 * r1, 1.0)
        table.flags.writeable = False
        clarity = _ramp(month, self.entry, reg["clarity_ramp_months"])
        return table, clarity, genai_capability(month, self.shocks["genai"])

    def _gather(self, name: str, table: np.ndarray, index: np.ndarray) -> np.ndarray:
        """``table[index]``, reusing the last result for ``name`` if ``table`` is unchanged."""
        cache = self.__dict__.setdefault("_gathered", {})
        last = cache.get(name)
        if last is not None and last[0].tobytes() == table.tobytes():
            return last[1]
        out = table[index]
        out.flags.writeable = False
        cache[name] = (table.copy(), out)
        return out

    def _train_table(self, month: int) -> np.ndarray:
        """Training/literacy removal chance by (size class, Flemish, user): 6 × 2 × 2 values."""
        t, lit = self.cfg["training"], self.cfg["literacy"]
        # The six size classes map onto four reach groups: 1-9 | 10-49 | 50-249 | 250+.
        reach = np.array(
            [
                t["reach_micro"].at(month),
                t["reach_small"].at(month),
                t["reach_small"].at(month),
                t["reach_medium"].at(month),
                t["reach_large"].at(month),
                t["reach_large"].at(month),
            ]
        )
        train = (_monthly(reach) * t["efficacy"])[:, None, None]
        if t["flanders_only"]:
            train = train * np.array([False, True])[None, :, None]
        train = np.broadcast_to(train, (len(reach), 2, 2))
        if month >= self.literacy_start:
            # The Art. 4 duty binds deployers (users); literacy offers it spurs also reach
            # non-users, whose knowledge barrier is what holds back a start.
            reach_by_state = np.array([lit["nonuser_reach"], lit["user_reach"]])
            train = _either(train, (_monthly(reach_by_state) * lit["efficacy"])[None, None, :])
        return train

    def _removal_tables(self, month: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """This month's 1 − training chance by segment, and coaching and 1 − coaching chance.

        Coaching by Flemish (0/1). Small tables, computed once per process for each month.
        """
        i = self._window_index(month)
        if i is not None:
            w = self._window
            return w.not_train[i], w.coach[i], w.not_coach[i]
        return _memo((self._key, "removal", month), lambda: self._month_removal(month))

    def _month_removal(self, month: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        c = self.cfg["coaching"]
        not_train = (1.0 - self._train_table(month)).ravel()
        coach = float(_monthly(c["reach"].at(month)) * c["efficacy"])
        if c["flanders_only"]:
            coach_tab = coach * np.array([False, True])
        else:
            coach_tab = np.full(2, coach)
        tables = (not_train, coach_tab, 1.0 - coach_tab)
        for t in tables:
            t.flags.writeable = False
        return tables

    # --- a run's months at once ---------------------------------------------------------------
    def _window_index(self, month: int) -> int | None:
        w = self._window
        if w is None:
            return None
        i = month - w.start
        return i if 0 <= i < len(w.clarity) else None

    def month_tables(self, months: range) -> MonthTables:
        """The month tables of `project_table`, `signals` and the barrier removal, for ``months``.

        The same formulas evaluated on arrays over the months (tests/test_levers.py checks them
        against the month-by-month functions); the arrays are read-only.
        """
        m = np.arange(months.start, months.stop)
        k, g, a = (self.cfg[name] for name in INSTRUMENTS)
        # projects (as project_table)
        covered = self._kmo_covered_over(m, k)
        enacted = {**k, **{key: _ENACTED_KMO[key] for key in _RULE_KEYS}}
        ref = self.kmo_covered(_USAGE_MONTH, enacted)
        ratio = np.divide(covered, ref, out=np.zeros(covered.shape), where=ref > 0)
        per_year = k["users_per_year"] * k["employer_share"] * k["ai_share"]
        base = per_year / self.eligible_firms if self.eligible_firms > 0 else 0.0
        kmo_p = _monthly(np.minimum(base * ratio ** k["take_up_elasticity"], 1.0))
        kmo_p = np.where(covered > 0, kmo_p, 0.0)
        groei_p = _monthly(g["reach"].over(m))[:, None] * np.array([0.0, 1.0, 1.0, 0.0])
        ai_p = _monthly(a["reach"].over(m))[:, None] * np.array([0.0, 1.0, 1.0, 1.0])
        p = np.stack([kmo_p, groei_p, ai_p], axis=2)
        ones = np.ones(4)
        share = np.stack(
            [covered, g["rate"].over(m)[:, None] * ones, a["rate"].over(m)[:, None] * ones], axis=2
        )
        order = list(APPLY_ORDER)
        cum = np.cumsum(p[..., order], axis=2)
        total = cum[..., -1]
        # signals (as _month_signals)
        reg, ant = self.reg, self.reg["anticipation_months"]
        r3 = np.array([_ramp(x, self.annex_iii - ant, ant) for x in months])
        r1 = np.array([_ramp(x, self.annex_i - ant, ant) for x in months])
        if self._burden_weights is None:
            burden = np.stack([np.zeros_like(r3), r3, r1, np.minimum(r3 + r1, 1.0)], axis=1)
        else:
            s3, s1 = self._burden_weights
            burden = np.minimum(s3[None, :] * r3[:, None] + s1[None, :] * r1[:, None], 1.0)
        clarity = [_ramp(x, self.entry, reg["clarity_ramp_months"]) for x in months]
        shock = self.shocks["genai"]
        release, path_from = parse_month(shock["start"]), parse_month(shock["path_from"])
        genai = [_capability(x, release, path_from, shock) for x in months]
        # barrier removal (as _train_table and _month_removal)
        t, lit, c = self.cfg["training"], self.cfg["literacy"], self.cfg["coaching"]
        groups = ("micro", "small", "small", "medium", "large", "large")
        reach = np.stack([t[f"reach_{s}"].over(m) for s in groups], axis=1)
        train = (_monthly(reach) * t["efficacy"])[:, :, None, None]
        if t["flanders_only"]:
            train = train * np.array([False, True])[None, None, :, None]
        train = np.broadcast_to(train, (m.size, len(groups), 2, 2))
        reach_by_state = np.array([lit["nonuser_reach"], lit["user_reach"]])
        literacy = (_monthly(reach_by_state) * lit["efficacy"])[None, None, :]
        duty = (m >= self.literacy_start)[:, None, None, None]
        train = np.where(duty, _either(train, literacy), train)
        not_train = (1.0 - train).reshape(m.size, -1)
        coach = _monthly(c["reach"].over(m)) * c["efficacy"]
        where = np.array([False, True]) if c["flanders_only"] else np.ones(2, dtype=bool)
        coach_tab = coach[:, None] * where
        tables = MonthTables(
            start=months.start,
            project_share=np.clip(share, 0.0, 1.0)[..., order],
            project_cum=cum,
            project_total=total,
            any_project=total.any(axis=1),
            burden=burden,
            clarity=clarity,
            genai=genai,
            not_train=not_train,
            coach=coach_tab,
            not_coach=1.0 - coach_tab,
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
        """Monthly probability per firm that each dynamic barrier is removed.

        Training and the Art. 4 literacy duty (for users, from its date) remove the knowledge
        barrier; coaching removes the partner and assessment barriers; peer learning — seeing
        peers use AI — removes knowledge, assessment and cost–benefit doubt.

        Terms that depend only on a firm's size class, region and adoption state are computed on
        small tables and gathered, with the same operations per firm as on whole arrays. With
        ``part``, ``state`` and ``peer_share`` are those of the firms ``part`` (a slice) only.
        """
        peer = self.cfg["peer_learning"]
        if "_segment" not in self.__dict__:
            self._segment = (self.size.astype(np.intp) * 2 + self.flemish) * 2
        sl = slice(None) if part is None else part
        not_train_tab, coach_tab, not_coach_tab = self._removal_tables(month)
        key = self._segment[sl] + (state > 0)
        not_train = not_train_tab[key]
        coach = self._gather("coach", coach_tab, self.flemish.view(np.int8))[sl]
        not_coach = self._gather("not_coach", not_coach_tab, self.flemish.view(np.int8))[sl]

        def either(not_first: np.ndarray, rate: float) -> np.ndarray:
            # _either(first, rate·peer) = 1 − (1 − first)·(1 − rate·peer), in place
            out = np.multiply(peer_share, rate)
            np.subtract(1.0, out, out=out)
            out *= not_first
            return np.subtract(1.0, out, out=out)

        return {
            BARRIER_INDEX["knowledge_skills"]: either(not_train, peer["knowledge_skills"]),
            BARRIER_INDEX["hard_to_assess"]: either(not_coach, peer["hard_to_assess"]),
            BARRIER_INDEX["knowledge_partner"]: coach,
            BARRIER_INDEX["cost_benefit"]: peer["cost_benefit"] * peer_share,
        }
