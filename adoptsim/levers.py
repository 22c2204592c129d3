"""Policy levers, regulation and technology shocks: dated schedules turned into monthly signals.

Dates and rates default to ``adoptsim/data/policy_timeline.csv`` (each row has its source); how
strongly firms respond to them are parameters of the adoption rule or of the lever tables here.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from adoptsim import schema as S
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
            20000.0, 0, None, "typical AI training + advice spend (E)", "EUR"
        ),
        "take_up": S.share(
            0.3,
            "share of eligible SMEs that use the portfolio for AI (E); "
            "55,000 firms used it in 2025 (VLAIO)",
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
    "training": {
        "reach_micro": S.schedule(0.03, 0, 1, "firms 1–9 reached by AI training", "per year"),
        "reach_small": S.schedule(0.05, 0, 1, "firms 10–49 reached", "per year"),
        "reach_medium": S.schedule(0.10, 0, 1, "firms 50–249 reached", "per year"),
        "reach_large": S.schedule(0.20, 0, 1, "firms 250+ reached", "per year"),
        "efficacy": S.share(0.5, "chance a reached firm loses its knowledge barrier"),
        "flanders_only": S.flag(False, "training programmes only in Flanders"),
    },
    "literacy": {
        "user_reach": S.share(0.3, "AI users reached per year by the Art. 4 literacy duty (E)"),
        "efficacy": S.share(0.5, "chance a reached user loses its knowledge barrier"),
    },
    "coaching": {
        "reach": S.schedule(0.01, 0, 1, "firms reached by knowledge-partner coaching", "per year"),
        "efficacy": S.share(0.6, "chance a coached firm loses its partner / assessment barrier"),
        "flanders_only": S.flag(True, "a Flemish programme"),
    },
    "peer_learning": {
        "knowledge_skills": S.share(0.02, "monthly barrier removal at peer share 1"),
        "hard_to_assess": S.share(0.03, "monthly barrier removal at peer share 1"),
        "cost_benefit": S.share(0.03, "monthly barrier removal at peer share 1"),
    },
}

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
    "annex_iii_sectors": S.choices(
        ["K", "N"], SECTORS, "sectors with Annex III uses (credit scoring, recruitment) (E)"
    ),
    "annex_i_sectors": S.choices(["C"], SECTORS, "sectors with Annex I products (machinery) (E)"),
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
        "ramp_months": S.integer(12, 0, 120, "months to full effect", "months"),
    }
}


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
_MONTH_TABLES: dict[tuple, object] = {}
_CONFIG_IDS: dict[object, int] = {}
_MONTH_TABLES_MAX = 1 << 16


def _memo(key: tuple, compute):
    out = _MONTH_TABLES.get(key)
    if out is None:
        if len(_MONTH_TABLES) >= _MONTH_TABLES_MAX:
            _MONTH_TABLES.clear()
        out = _MONTH_TABLES[key] = compute()
    return out


@dataclass
class LeverSignals:
    """Signals in force in one month (per-firm arrays have length n)."""

    subsidy: np.ndarray
    clarity: float
    burden: np.ndarray
    genai: float


class Levers:
    """Evaluates the scenario's levers, regulation and shocks for the firms at a month."""

    def __init__(self, levers: dict, regulation: dict, shocks: dict, firms: Firms) -> None:
        self.cfg, self.reg, self.shocks = levers, regulation, shocks
        flemish = np.isin(firms.region, [REGIONS.index(r) for r in FLEMISH_PROVINCES])
        self.size = firms.size
        # Subsidy eligibility groups: 0 not eligible, 1 small Flemish SME, 2 medium, 3 large.
        small = firms.employees <= SMALL_MAX_EMPLOYEES
        sme = firms.employees <= SME_MAX_EMPLOYEES
        self.group = np.where(flemish, np.where(small, 1, np.where(sme, 2, 3)), 0).astype(np.int8)
        self.flemish = flemish
        self.sector = firms.sector
        self.annex_iii, self.annex_i = high_risk_dates(regulation)
        self.iii_mask = np.isin(
            np.arange(len(SECTORS)), [SECTORS.index(s) for s in regulation["annex_iii_sectors"]]
        )
        self.i_mask = np.isin(
            np.arange(len(SECTORS)), [SECTORS.index(s) for s in regulation["annex_i_sectors"]]
        )
        self.entry = parse_month(regulation["entry_into_force"])
        self.literacy_start = parse_month(regulation["literacy_duty"])
        self.genai_start = parse_month(shocks["genai"]["start"])
        # A small int per distinct configuration: month-table lookups then hash three scalars
        # instead of comparing every schedule of the configuration.
        self._key = _CONFIG_IDS.setdefault(_freeze((levers, regulation, shocks)), len(_CONFIG_IDS))

    def subsidy_by_group(self, month: int) -> np.ndarray:
        """Expected share of AI project cost covered, for the four eligibility groups."""
        k, g, a = (
            self.cfg["kmo_portefeuille"],
            self.cfg["kmo_groeisubsidie"],
            self.cfg["ai_support"],
        )
        cost = max(k["project_cost_eur"], 1.0)
        covered = k["advice_share"] * k["advice_eligible"].at(month) + (1 - k["advice_share"]) * k[
            "training_eligible"
        ].at(month)
        small = min(k["rate_small"].at(month) * cost, k["cap_small_eur"].at(month)) / cost
        medium = min(k["rate_medium"].at(month) * cost, k["cap_medium_eur"].at(month)) / cost
        kmo = k["take_up"] * covered * np.array([0.0, small, medium, 0.0])
        groei = g["rate"].at(month) * g["reach"].at(month) * np.array([0.0, 1.0, 1.0, 0.0])
        ai = a["rate"].at(month) * a["reach"].at(month) * np.array([0.0, 1.0, 1.0, 1.0])
        return np.clip(kmo + groei + ai, 0.0, 1.0)

    def signals(self, month: int) -> LeverSignals:
        """Subsidy, legal clarity, compliance burden and technology shock at ``month``.

        The per-firm arrays are gathered from a handful of values (by subsidy group and sector);
        while those values stay the same from one month to the next, the previous month's
        arrays are returned again, marked read-only.
        """
        by_group, by_sector, clarity, genai = _memo(
            (self._key, "signals", month), lambda: self._month_signals(month)
        )
        subsidy = self._gather("subsidy", by_group, self.group)
        burden = self._gather("burden", by_sector, self.sector)
        return LeverSignals(subsidy, clarity, burden, genai)

    def _month_signals(self, month: int) -> tuple[np.ndarray, np.ndarray, float, float]:
        """Subsidy by group, burden by sector, clarity and genAI shock at ``month`` (read-only)."""
        reg = self.reg
        ant = reg["anticipation_months"]
        burden_sector = self.iii_mask * _ramp(
            month, self.annex_iii - ant, ant
        ) + self.i_mask * _ramp(month, self.annex_i - ant, ant)
        clarity = _ramp(month, self.entry, reg["clarity_ramp_months"])
        genai = _ramp(month, self.genai_start, self.shocks["genai"]["ramp_months"])
        by_group, by_sector = self.subsidy_by_group(month), np.minimum(burden_sector, 1.0)
        by_group.flags.writeable = by_sector.flags.writeable = False
        return by_group, by_sector, clarity, genai

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
            user = np.array([False, True])[None, None, :]
            train = _either(train, user * (_monthly(lit["user_reach"]) * lit["efficacy"]))
        return train

    def _removal_tables(self, month: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """This month's 1 − training chance by segment, and coaching and 1 − coaching chance
        by Flemish (0/1) — small tables, computed once per process for each month."""
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
