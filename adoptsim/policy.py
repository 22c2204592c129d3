"""Policy, regulation and technology tables of a scenario: their fields, defaults and dates.

The ``[levers]``, ``[regulation]`` and ``[shocks]`` tables a scenario file may set (their
defaults from ``adoptsim/data/policy_timeline.csv``, each row with its source), and the dates and
curves computed from them (high-risk obligation months, the generative-AI capability curve).
[`adoptsim.levers`][adoptsim.levers] turns them into monthly signals per firm.
"""

from __future__ import annotations

import math
from functools import cache

from adoptsim import schema as S
from adoptsim.data import read_table
from adoptsim.months import parse_month
from adoptsim.taxonomy import (
    SECTORS,
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


EVIDENCE_SOURCE = "adoptsim/data/lever_evidence.csv"


@cache
def _evidence() -> dict[str, dict]:
    df = read_table("lever_evidence")
    return {r["quantity"]: r for r in df.to_dict("records")}


def evidence_range(quantity: str) -> tuple[float, float]:
    """(low, high) of a quantity of ``adoptsim/data/lever_evidence.csv``, in its own unit."""
    row = _evidence()[quantity]
    return float(row["low"]), float(row["high"])


def evidence_value(quantity: str, column: str = "central") -> float:
    """One number (``low``, ``central`` or ``high``) of a row of lever_evidence.csv."""
    return float(_evidence()[quantity][column])


# The subsidy row's own decomposition (lever_evidence.csv subsidy_effect_12m): a first-year
# adoption effect of light-touch vouchers of 0.03–0.15 times the additionality of a 20–30 %
# co-subsidy, 0.2–0.6 (deadweight 0.4–0.8); the products span the row's 0.006–0.09.
VOUCHER_EFFECT = (0.03, 0.15)
DEADWEIGHT = (0.4, 0.8)
# Heterogeneity of a lever's benefit (judgement, no study reports it): a treated firm holding the
# barrier its lever addresses gains (1 + tilt)× what one without it gains, from equal (0) to four
# times (3); the mean over the treated firms stays the lever's effect size.
BARRIER_TILT = (0.0, 3.0)
# The co-funding the additionality range refers to (a co-subsidy of up to 30 %): a project
# covering less of the cost is additional less often, one covering more more often, in
# proportion (capped at 1): the portfolio's 20 % for medium firms has 2/3 of it.
REFERENCE_COVER = 0.30

KMO = "policy_timeline.csv kmo_portefeuille rows (VLAIO, DVO)"
# The month whose portfolio usage (projects_per_year) the application rate is scaled to.
USAGE_MONTH = parse_month(min(timeline_points("kmo_portefeuille", "uptake", "sme")))
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
        "projects_per_year": S.number(
            132000.0,
            0,
            None,
            "portfolio projects (training or advice) per year, all themes: 55,000 user firms × "
            "2.4 projects (2025)",
            "projects per year",
            "policy_timeline.csv kmo_portefeuille uptake (VLAIO news: 55,000 firms, >125,000 "
            "applications); Technopolis/VIVES evaluation 2016-2022 (>130,000 projects a year)",
        ),
        "employer_share": S.share(
            0.5,
            "share of portfolio projects started by employer firms (E; prior 0.3–0.8)",
            source="judgement: 599k of 714k Flemish enterprises have no employees (population.csv)",
        ),
        "ai_share": S.share(
            0.03,
            "share of portfolio projects that are AI training or advice (E; prior 0.01–0.05)",
            source="lever_evidence.csv kmo_ai_projects_per_year (judgement: no theme breakdown)",
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
            6, 1, 12, "length of a subsidised AI project (E; prior 3–12)", "months"
        ),
        "effect": S.number(
            0.08,
            *VOUCHER_EFFECT,
            "P that an additional (not deadweight) project makes a non-user adopt, spread over "
            "the project's months",
            "probability",
            EVIDENCE_SOURCE + " subsidy_effect_12m (first-year effect of light-touch vouchers)",
        ),
        "deadweight": S.number(
            0.6,
            *DEADWEIGHT,
            "share of projects at the reference cover (30 % of cost) that change nothing; "
            "additionality 1 − deadweight scales with the cover",
            "share",
            EVIDENCE_SOURCE + " subsidy_effect_12m (additionality of a 20–30 % co-subsidy 0.2–0.6)",
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
        "effect": S.number(
            evidence_value("training_effect_12m", "central"),
            *evidence_range("training_effect_12m"),
            "P that hands-on AI training makes a non-user adopt (gross, spread over effect_months)",
            "probability",
            EVIDENCE_SOURCE + " training_effect_12m",
        ),
        "effect_months": S.integer(
            6, 1, 12, "months over which a training's effect arrives (E; prior 3–12)", "months"
        ),
        "flanders_only": S.flag(False, "training programmes only in Flanders"),
    },
    "literacy": {
        "nonuser_reach": S.share(
            0.05,
            "non-users reached per year by hands-on literacy training spurred by Art. 4 (E; "
            "prior 0–0.2); a training treatment (training.effect) from the Art. 4 date",
        ),
    },
    "information": {
        "reach": S.schedule(
            {"2019-03": 0.05},
            0,
            1,
            "firms reached per year by AI awareness and information only (E; prior 0.01–0.2)",
            "per year",
            "policy_timeline.csv flemish_ai_plan (EUR 5M a year for awareness, training, ethics)",
        ),
        "effect": S.number(
            evidence_value("information_effect_12m", "central"),
            *evidence_range("information_effect_12m"),
            "P that information alone makes a non-user adopt (gross, spread over effect_months)",
            "probability",
            EVIDENCE_SOURCE + " information_effect_12m",
        ),
        "effect_months": S.integer(3, 1, 12, "months over which its effect arrives", "months"),
        "flanders_only": S.flag(True, "a Flemish programme"),
    },
    "coaching": {
        "reach": S.schedule(
            0.01,
            0,
            1,
            "firms reached by knowledge-partner coaching (E; plausible 0.005–0.03)",
            "per year",
        ),
        "effect": S.number(
            evidence_value("coaching_effect_12m", "central"),
            *evidence_range("coaching_effect_12m"),
            "P that coaching makes a non-user adopt (gross, spread over effect_months)",
            "probability",
            EVIDENCE_SOURCE + " coaching_effect_12m",
        ),
        "effect_months": S.integer(
            6, 1, 12, "months over which coaching's effect arrives (E; prior 3–12)", "months"
        ),
        "flanders_only": S.flag(True, "a Flemish programme"),
    },
    "benefit": {
        "barrier_tilt": S.number(
            1.0,
            *BARRIER_TILT,
            "how much more a treated firm holding the barrier its lever addresses gains: "
            "(1 + tilt)× a firm without it, the mean over the treated kept at the effect size",
            "ratio − 1",
            "judgement (no study reports it): lever_evidence.md C3 (training relaxes a skills "
            "constraint; half of non-adopting SMEs cite skills)",
        ),
    },
    "peer_learning": {
        "knowledge_skills": S.share(0.02, "monthly barrier removal at peer share 1"),
        "hard_to_assess": S.share(0.03, "monthly barrier removal at peer share 1"),
        "cost_benefit": S.share(0.03, "monthly barrier removal at peer share 1"),
    },
}

# Relative chance that a firm's AI use is high-risk, by NACE section (E, judgement; scaled so
# that the share of all firms — every one a potential user — is ``high_risk_share``): Annex III
# credit scoring and insurance pricing (K), recruitment by employment agencies (N), critical
# infrastructure (D, E); everywhere else the occasional recruitment or HR tool a firm *provides*.
# Annex I: AI safety components of machinery, medical devices and vehicles (C).
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
    "high_risk_share": S.number(
        evidence_value("high_risk_share_of_users", "central"),
        *evidence_range("high_risk_share_of_users"),
        "share of firms whose AI use is (or would be) high-risk: the users that carry the burden",
        "share of users",
        EVIDENCE_SOURCE + " high_risk_share_of_users",
    ),
    "high_risk_profile_annex_iii": {
        sec: S.number(
            HIGH_RISK_ANNEX_III.get(sec, HIGH_RISK_OTHER),
            0,
            1,
            f"relative chance that a {sec} firm's AI use is Annex III high-risk (E)",
            source="judgement within the AI Act impact assessment's sectors (docs/evidence.md)",
        )
        for sec in SECTORS
    },
    "high_risk_profile_annex_i": {
        sec: S.number(
            HIGH_RISK_ANNEX_I.get(sec, 0.0),
            0,
            1,
            f"relative chance that a {sec} firm has AI in an Annex I product (E)",
            source="judgement (docs/evidence.md)",
        )
        for sec in SECTORS
    },
    "clarity_share": S.number(
        evidence_value("clarity_target_share", "central"),
        *evidence_range("clarity_target_share"),
        "share of firms unsure whether their AI use is high-risk: the only firms clarity acts on",
        "share",
        EVIDENCE_SOURCE + " clarity_target_share",
    ),
    "clarity_effect": S.number(
        evidence_value("clarity_effect_12m", "central"),
        *evidence_range("clarity_effect_12m"),
        "P that full legal clarity makes an unsure non-user adopt within 12 months",
        "probability",
        EVIDENCE_SOURCE + " clarity_effect_12m (judgement)",
    ),
    "clarity_level": S.number(
        0.5,
        0,
        1,
        "clarity the AI Act's own texts and guidance give the unsure firms, ramped in after "
        "entry into force (E; prior 0.2–0.8)",
        "0..1",
    ),
    "clarity_full_from": S.month(
        None, "full legal clarity from this month (classification guidance; ai_act_clarity)"
    ),
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
            8.0, 0, 240, "months from release to the steepest capability growth", "months"
        ),
        "path_from": S.month(
            "2024-04",
            "the month after the last fitted wave (ICT survey 2024-03): the fitted curve stops "
            "here and capability then drifts at `drift` a year",
        ),
        "drift": S.number(
            0.0,
            -1,
            1,
            "change of capability per year after path_from, in units of its long-run level "
            "(0: the hazard the data show holds)",
            "per year",
        ),
        "path_speed": S.number(
            1.0,
            0,
            10,
            "clock of the capability path from path_from: 0.5 slower, 2 faster (multiplies "
            "`drift`)",
            "× calendar time",
        ),
    }
}


EXIT_SPEC: dict = {
    "light": S.number(
        0.0,
        *evidence_range("light_user_exit_per_year"),
        "yearly chance that a light user (not at scale, not policy-induced) stops using AI",
        "per year",
        EVIDENCE_SOURCE + " light_user_exit_per_year (judgement)",
    ),
    "induced_extra": S.number(
        0.0,
        0,
        0.3,
        "extra yearly chance that a policy-induced light user stops (on top of `light`)",
        "per year",
        EVIDENCE_SOURCE + " subsidy_retention_24m (retention 0.5–0.95)",
    ),
    "at_scale": S.number(
        0.0,
        0,
        0.1,
        "yearly chance that an at-scale user falls back to light use",
        "per year",
        "Bloom et al. 2020 AEJ Applied: ~0.92 a year gross retention of adopted practices",
    ),
}


def genai_capability(months: float, genai: dict) -> float:
    """Generative-AI capability (0 before release; 1 is the curve's long-run level).

    Up to ``path_from`` (the month after the last fitted wave): c(m) = jump + (1 − jump)·(L(m) −
    L(0)) / (1 − L(0)), L(m) = logistic(speed·(m − midpoint)), m = months since release; ``jump``
    = 1 is a one-off step. From ``path_from`` the fitted curve stops growing — nothing in the
    data says it keeps accelerating — and capability changes linearly by ``drift`` a year
    (a prior, `adoptsim.priors`), with ``path_speed`` as the clock of that change (scenarios
    about the technology path to 2028); it never falls below 0. The rule's ``theta_genai`` is
    the logit response at capability 1.
    """
    return capability_at(
        months, parse_month(genai["start"]), parse_month(genai["path_from"]), genai
    )


def capability_at(months: float, start: int, path_from: int, genai: dict) -> float:
    """`genai_capability` with the release and path months already parsed."""
    m = months - start
    if m < 0:
        return 0.0
    frm = path_from - start
    after = max(m - max(frm, 0), 0.0)
    m = min(m, max(frm, 0))
    jump, k, mid = genai["jump"], genai["speed"], genai["midpoint_months"]
    lo = 1.0 / (1.0 + math.exp(k * mid))
    grown = (1.0 / (1.0 + math.exp(-k * (m - mid))) - lo) / (1.0 - lo)
    level = jump + (1.0 - jump) * grown
    return max(level + genai["drift"] * genai["path_speed"] * after / 12.0, 0.0)


def high_risk_dates(regulation: dict) -> tuple[int, int]:
    """Month indices of the Annex III and Annex I high-risk obligations under the chosen text."""
    suffix = "_omnibus" if regulation["timeline"] == "omnibus" else ""
    iii = regulation["high_risk_annex_iii"] or timeline_month(
        "ai_act", "high_risk_annex_iii" + suffix
    )
    i = regulation["high_risk_annex_i"] or timeline_month("ai_act", "high_risk_annex_i" + suffix)
    return parse_month(iii), parse_month(i)
