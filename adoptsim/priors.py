"""Prior-only parameters: effect sizes and lever details that no calibration target identifies.

Each one has a documented range (``docs/evidence.md``, generated from this table). When a
scenario says ``[calibration] priors = "policy"`` (the baseline does, and every scenario that
extends it), replication r of a run draws every prior-only parameter uniformly from its range,
from its own random stream: ``SeedSequence(seed, spawn_key=(r, PRIOR_STREAM))``, a child of the
replication's seed that the model itself never uses. The draws therefore depend only on (seed,
replication) — not on the number of replications or workers — and two scenarios run with the
same seed get the same draws (paired comparisons stay paired). The bands over replications then
include policy-effect uncertainty; `use_priors=False` in
[`simulate`][adoptsim.simulation.simulate] turns this source off (as ``use_posterior=False`` turns
off the calibrated parameters' draws), which is how ``docs/uncertainty.md`` separates the sources.

Draws are laid just above the scenario's root file, like posterior draws: a scenario that sets a
key deliberately (a policy choice such as a training reach) keeps its value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from adoptsim.parameters import Parameter

# Children 0–4 of a replication's seed are the model's (population, network, dynamics, Mesa,
# levers); the prior draws use a child index the model never spawns.
PRIOR_STREAM = 1_000


@dataclass(frozen=True)
class Prior:
    """A prior-only parameter: the varied input, its unit, mechanism and evidence.

    Attributes:
        parameter: name, scenario keys (tied), range [lo, hi] (uniform prior).
        unit: unit of the value.
        mechanism: what it does in the model.
        source: the evidence the range rests on, or why there is none.
        integer: the keys take whole numbers (draws are rounded).
        group: ``policy`` (how firms respond to levers and regulation, and lever details no
            statistic reports: drawn by default) or ``behaviour`` (structural parameters that
            also shape the fitted past: drawn only with ``priors = "all"``, for a calibration
            that marginalises or fits them).
    """

    parameter: Parameter
    unit: str
    mechanism: str
    source: str
    integer: bool = False
    group: str = "policy"


PRIOR_GROUPS = ("policy", "behaviour")


def _p(name, keys, lo, hi, doc, unit, mechanism, source, integer=False, group="policy") -> Prior:
    return Prior(
        Parameter(name, tuple(keys), lo, hi, doc=doc), unit, mechanism, source, integer, group
    )


NESTA = (
    "Nesta Creative Credits RCT (Bakhshi et al. 2013): vouchers raised innovation and sales "
    "growth in the first 6 months, no significant difference after 12 months"
)
JUDGEMENT = "no direct evidence; prior range by judgement"

PRIORS: tuple[Prior, ...] = (
    _p(
        "theta_subsidy",
        ["rule.theta_subsidy"],
        0.0,
        6.0,
        "start: additionality of a subsidised AI project per unit share of cost covered",
        "logit per unit cover",
        "while a project runs a non-user's start hazard rises by θ × cover (30 % cover, θ = 4: "
        "hazard × 3.3); fades after the project",
        f"{NESTA}; innovation-voucher evaluations find additionality in the short run. "
        "The logit size has no direct estimate: range by judgement.",
    ),
    _p(
        "scale_theta_subsidy",
        ["rule.scale_theta_subsidy"],
        0.0,
        3.0,
        "scale: subsidised project per unit share of cost covered",
        "logit per unit cover",
        "the same for a user's hazard of scaling up",
        JUDGEMENT + " (smaller than for starting: projects are training and advice)",
    ),
    _p(
        "project_months",
        ["levers.projects.months"],
        3,
        12,
        "length of a subsidised AI project",
        "months",
        "the effect is at full strength while the project runs",
        "KMO-portefeuille training and advice are short engagements (VLAIO); " + JUDGEMENT,
        integer=True,
    ),
    _p(
        "fade_half_life",
        ["levers.projects.fade_half_life_months"],
        3.0,
        36.0,
        "half-life of the additionality effect after a project ends",
        "months",
        "after the project the effect halves every half-life",
        NESTA + " (fade within a year: lower end); the Dutch voucher lottery's long-run "
        "follow-up (Roelandt & van der Wiel, IGL 2020) found effects that persist (upper end)",
    ),
    _p(
        "deadweight",
        ["levers.projects.deadweight"],
        0.1,
        0.6,
        "share of subsidised projects that change nothing (would have happened anyway)",
        "share",
        "deadweight firms (a fixed draw per firm) get no effect from their project",
        "Dutch innovation-voucher lottery (Cornet, Vroomen & van der Steeg 2006, CPB "
        "Discussion Paper 58): of 10 vouchers 8 funded a project that would not have happened, "
        "1 one that would have (lower end); adopting AI is a larger step than one assignment, "
        "so more deadweight is allowed: upper end by judgement",
    ),
    _p(
        "kmo_employer_share",
        ["levers.kmo_portefeuille.employer_share"],
        0.3,
        0.8,
        "share of KMO-portefeuille users that are employer firms",
        "share",
        "scales the yearly AI projects spread over the model's employer SMEs",
        "VLAIO publishes users (55,000 in 2025), not their size; 84 % of Flemish enterprises "
        "have no employees (population.csv) but employers use subsidies more: judgement",
    ),
    _p(
        "kmo_ai_share",
        ["levers.kmo_portefeuille.ai_share"],
        0.03,
        0.15,
        "share of employer users' portfolio projects about AI",
        "share",
        "scales the yearly AI projects",
        "digitalisation is one of 8 themes (VLAIO 2023 reform); the AI part is not published: "
        "judgement",
    ),
    _p(
        "kmo_take_up_elasticity",
        ["levers.kmo_portefeuille.take_up_elasticity"],
        0.0,
        2.0,
        "elasticity of applications to the share of cost covered",
        "elasticity",
        "applications ∝ (cover / cover in 2025)^e: rate, cap and scope changes move take-up",
        JUDGEMENT,
    ),
    _p(
        "kmo_advice_share",
        ["levers.kmo_portefeuille.advice_share"],
        0.3,
        0.7,
        "share of an AI project's spend that is advice",
        "share",
        "the part no longer covered after the 2026-02 advice cut",
        JUDGEMENT,
    ),
    _p(
        "training_efficacy",
        ["levers.training.efficacy"],
        0.2,
        0.8,
        "chance a reached firm loses its knowledge barrier",
        "probability",
        "training reaches firms (users and non-users) and removes the knowledge barrier",
        JUDGEMENT,
    ),
    _p(
        "literacy_efficacy",
        ["levers.literacy.efficacy"],
        0.2,
        0.8,
        "chance a firm reached by Art. 4 literacy offers loses its knowledge barrier",
        "probability",
        "as training, from the Art. 4 date (2025-02)",
        JUDGEMENT,
    ),
    _p(
        "literacy_user_reach",
        ["levers.literacy.user_reach"],
        0.1,
        0.6,
        "AI users reached per year by the Art. 4 literacy duty",
        "per year",
        "users' knowledge barrier (matters for scaling up)",
        "Art. 4 binds deployers; compliance unknown and softened by the Digital Omnibus: "
        + JUDGEMENT,
    ),
    _p(
        "literacy_nonuser_reach",
        ["levers.literacy.nonuser_reach"],
        0.0,
        0.2,
        "non-users reached per year by literacy offers spurred by Art. 4",
        "per year",
        "non-users' knowledge barrier (matters for starting)",
        JUDGEMENT,
    ),
    _p(
        "coaching_efficacy",
        ["levers.coaching.efficacy"],
        0.3,
        0.9,
        "chance a coached firm loses its partner and assessment barriers",
        "probability",
        "coaching reaches firms and removes the 'no knowledge partner' and 'hard to assess' "
        "barriers (permanently)",
        JUDGEMENT,
    ),
    _p(
        "peer_learning_knowledge",
        ["levers.peer_learning.knowledge_skills"],
        0.0,
        0.05,
        "monthly knowledge-barrier removal at peer share 1",
        "per month",
        "firms whose peers use AI lose the knowledge barrier at this rate × peer share",
        JUDGEMENT,
    ),
    _p(
        "peer_learning_assess",
        ["levers.peer_learning.hard_to_assess", "levers.peer_learning.cost_benefit"],
        0.0,
        0.06,
        "monthly removal of assessment and cost–benefit doubt at peer share 1",
        "per month",
        "as above, for 'hard to assess' and 'cost–benefit unclear'",
        JUDGEMENT,
    ),
    _p(
        "theta_peer",
        ["rule.theta_peer"],
        0.5,
        4.0,
        "start: logit per unit peer share",
        "logit per unit share",
        "a firm whose peers all use AI has its start odds × e^θ",
        "not separately identified from the intercept by two survey series: " + JUDGEMENT,
        group="behaviour",
    ),
    _p(
        "theta_burden",
        ["rule.theta_burden"],
        0.0,
        1.5,
        "start: high-risk compliance burden",
        "logit",
        "firms with a high-risk use start less from 12 months before their deadline",
        "compliance cost of a high-risk system EUR 6–7k (CEPS 2021, policy_timeline.csv); "
        "the response has no estimate: judgement",
    ),
    _p(
        "theta_clarity",
        ["rule.theta_clarity"],
        0.0,
        0.5,
        "start: legal clarity from the AI Act",
        "logit",
        "ramps in over 12 months after entry into force",
        JUDGEMENT,
    ),
    _p(
        "high_risk_share_k",
        ["regulation.high_risk_share_annex_iii.K"],
        0.05,
        0.30,
        "share of financial firms with an Annex III use (credit scoring, insurance pricing)",
        "share",
        "only these firms carry the burden",
        "Commission impact assessment SWD(2021) 84: 5–15 % of AI systems high-risk; finance "
        "above average: judgement",
    ),
    _p(
        "high_risk_share_c",
        ["regulation.high_risk_share_annex_i.C"],
        0.01,
        0.10,
        "share of manufacturers with AI in an Annex I product (machinery, medical devices)",
        "share",
        "only these firms carry the burden",
        "as above: judgement",
    ),
    _p(
        "high_risk_share_n",
        ["regulation.high_risk_share_annex_iii.N"],
        0.01,
        0.10,
        "share of administrative-services firms with an Annex III use (recruitment agencies)",
        "share",
        "only these firms carry the burden",
        "Annex III point 4 (employment); employment agencies are part of section N: judgement",
    ),
    _p(
        "high_risk_share_utilities",
        ["regulation.high_risk_share_annex_iii.D", "regulation.high_risk_share_annex_iii.E"],
        0.01,
        0.10,
        "share of energy and water firms with an Annex III use (critical infrastructure)",
        "share",
        "only these firms carry the burden",
        "Annex III point 2 (critical infrastructure): judgement",
    ),
    _p(
        "high_risk_share_j",
        ["regulation.high_risk_share_annex_iii.J", "regulation.high_risk_share_annex_i.J"],
        0.0,
        0.06,
        "share of information and communication firms providing a high-risk system",
        "share",
        "only these firms carry the burden",
        "software providers of Annex III systems: judgement",
    ),
    _p(
        "high_risk_share_other",
        [f"regulation.high_risk_share_annex_iii.{s}" for s in "CFGHILM"],
        0.0,
        0.03,
        "share of firms in other sections with an Annex III use they provide (HR tools)",
        "share",
        "only these firms carry the burden",
        "deployers of recruitment tools bear lighter duties than providers: judgement",
    ),
    _p(
        "clarity_ramp_months",
        ["regulation.clarity_ramp_months"],
        6,
        24,
        "months over which legal clarity ramps in after entry into force",
        "months",
        "with theta_clarity",
        JUDGEMENT,
        integer=True,
    ),
    _p(
        "kmo_project_cost",
        ["levers.kmo_portefeuille.project_cost_eur"],
        5000.0,
        40000.0,
        "typical spend of an AI training + advice project",
        "EUR",
        "the cap binds when rate × cost exceeds it (above €25,000 for small firms since 2020)",
        JUDGEMENT,
    ),
    _p(
        "ai_support_rate",
        ["levers.ai_support.rate"],
        0.25,
        0.60,
        "share of cost covered by VLAIO AI project support",
        "share of cost",
        "cover of the projects the AI support funds",
        "VLAIO R&D project rates 25–60 % (policy_timeline.csv vlaio_rd_project)",
    ),
    _p(
        "groeisubsidie_reach",
        ["levers.kmo_groeisubsidie.reach"],
        0.002,
        0.01,
        "share of SMEs obtaining the kmo-groeisubsidie for an AI project per year",
        "per year",
        "monthly chance of a groeisubsidie project",
        "competitive calls (VLAIO); numbers per theme not published: judgement",
    ),
    _p(
        "anticipation_months",
        ["regulation.anticipation_months"],
        6,
        18,
        "months before a high-risk deadline over which the burden ramps up",
        "months",
        "firms with a high-risk use anticipate their deadline",
        JUDGEMENT,
        integer=True,
    ),
    _p(
        "theta_maturity",
        ["rule.theta_maturity"],
        0.2,
        1.0,
        "start: logit per sd of latent digital maturity",
        "logit",
        "more mature firms start earlier",
        "not separately identified by the adoption targets: " + JUDGEMENT,
        group="behaviour",
    ),
    _p(
        "scale_theta_peer",
        ["rule.scale_theta_peer"],
        0.5,
        4.0,
        "scale: logit per unit peer at-scale share",
        "logit",
        "peers using AI at scale raise the hazard of scaling up",
        "'at scale' has no direct target: " + JUDGEMENT,
        group="behaviour",
    ),
    _p(
        "scale_theta_genai",
        ["rule.scale_theta_genai"],
        0.0,
        1.5,
        "scale: response to generative-AI capability",
        "logit",
        "capability raises the hazard of scaling up",
        "'at scale' has no direct target: " + JUDGEMENT,
        group="behaviour",
    ),
    _p(
        "mean_degree",
        ["network.mean_degree"],
        4.0,
        20.0,
        "mean number of peers of a firm",
        "peers",
        "more peers: peer shares closer to the population share",
        "no network data for Flemish SMEs: " + JUDGEMENT,
        group="behaviour",
    ),
    _p(
        "within_share",
        ["network.within_share"],
        0.5,
        0.9,
        "share of a firm's ties inside its sector × region",
        "share",
        "how local peer exposure is",
        JUDGEMENT,
        group="behaviour",
    ),
    _p(
        "size_exponent",
        ["network.size_exponent"],
        0.0,
        0.6,
        "degree ∝ employees^x",
        "exponent",
        "larger firms have more peers",
        JUDGEMENT,
        group="behaviour",
    ),
    _p(
        "maturity_size_loading",
        ["population.maturity_size_loading"],
        0.1,
        0.5,
        "correlation of latent maturity with log employees",
        "correlation",
        "larger firms are more mature",
        JUDGEMENT,
        group="behaviour",
    ),
    _p(
        "barrier_maturity_loading",
        ["barriers.maturity_loading"],
        0.2,
        1.0,
        "logit effect of −1 sd maturity on every barrier",
        "logit",
        "less mature firms hold more barriers",
        JUDGEMENT,
        group="behaviour",
    ),
)


def prior_parameters(group: str = "all") -> tuple[Parameter, ...]:
    """The prior-only parameters of one group (or ``"all"``).

    Returns them as [`Parameter`][adoptsim.parameters.Parameter] objects.
    """
    return tuple(p.parameter for p in PRIORS if group in ("all", p.group))


def prior_seed(seed: int, replication: int) -> np.random.SeedSequence:
    """The seed of replication ``replication``'s prior draws (see module doc)."""
    return np.random.SeedSequence(seed, spawn_key=(replication, PRIOR_STREAM))


def prior_draw(seed: int, replication: int, which: str = "policy") -> dict[str, float]:
    """Dotted-key overrides: one uniform draw of the prior-only parameters for a replication.

    Args:
        seed: the run's seed.
        replication: the replication index.
        which: ``"policy"`` (the policy group), ``"all"`` or ``"none"``.

    Every prior gets its uniform number whatever ``which`` is, so a parameter's draw for
    (seed, replication) never depends on which others are drawn.
    """
    u = np.random.default_rng(prior_seed(seed, replication)).random(len(PRIORS))
    out: dict[str, float] = {}
    for prior, x in zip(PRIORS, u, strict=True):
        if which == "none" or (which == "policy" and prior.group != "policy"):
            continue
        p = prior.parameter
        value = p.lo + x * (p.hi - p.lo)
        if prior.integer:
            value = round(float(value))
        for key in p.keys:
            out[key] = value
    return out
