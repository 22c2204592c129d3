"""Prior-only parameters: effect sizes and lever details that no calibration target identifies.

Each one has a documented range (``docs/evidence.md``, generated from this table). When a scenario
says ``[calibration] priors = "policy"`` (the baseline does, and every scenario that extends it),
replication r of a run draws every prior-only parameter uniformly from its range, from its own
random stream: ``SeedSequence(seed, spawn_key=(r, PRIOR_DRAW))`` (`adoptsim.streams`), a child of
the replication's seed that the model itself never uses. The draws therefore depend only on (seed,
replication) — not on the number of replications or workers — and two scenarios run with the same
seed get the same draws (paired comparisons stay paired). `simulate` instead takes each
replication's uniforms from the run's stratified design (`adoptsim.precision.run_design`, a
function of (seed, replications) only), so that few replications span the priors. The bands
over replications then include
policy-effect uncertainty; `use_priors=False` in [`simulate`][adoptsim.simulation.simulate] turns
this source off (as ``use_posterior=False`` turns off the calibrated parameters' draws), which is
how ``docs/uncertainty.md`` separates the sources.

Draws are laid just above the scenario's root file, like posterior draws: a scenario that sets a
key deliberately (a policy choice such as a training reach) keeps its value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from adoptsim.parameters import Parameter
from adoptsim.policy import BARRIER_TILT, DEADWEIGHT, VOUCHER_EFFECT, evidence_range
from adoptsim.streams import prior_seed


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
        "subsidy_effect",
        ["levers.projects.effect"],
        *VOUCHER_EFFECT,
        "chance that an additional subsidised AI project makes a non-user adopt",
        "probability",
        "spread over the project's months as the firm's own start chance on top of its hazard; "
        "deadweight projects do nothing",
        "lever_evidence.csv subsidy_effect_12m: first-year adoption effect of light-touch "
        "vouchers +0.03 to +0.15 (Nesta Creative Credits RCT, Bakhshi et al. 2013/2015; UK "
        "Growth Vouchers RCT 2014-15; Cornet et al. 2006 CPB DP 58)",
    ),
    _p(
        "deadweight",
        ["levers.projects.deadweight"],
        *DEADWEIGHT,
        "share of subsidised projects at 30 % cover that change nothing",
        "share",
        "a project is additional with chance (1 − deadweight) × cover / 30 % (at most 1), a fixed "
        "draw per firm; with the effect above, the 12-month effect per treated firm",
        "lever_evidence.csv subsidy_effect_12m: additionality of a 20-30 % co-subsidy 0.2-0.6, "
        "below the 0.8 of a free Dutch voucher (Cornet, Vroomen & van der Steeg 2006, CPB DP 58)",
    ),
    _p(
        "kmo_employer_share",
        ["levers.kmo_portefeuille.employer_share"],
        0.3,
        0.8,
        "share of KMO-portefeuille projects started by employer firms",
        "share",
        "scales the yearly AI projects spread over the model's employer SMEs",
        "VLAIO publishes users (55,000 in 2025), not their size; 84 % of Flemish enterprises "
        "have no employees (population.csv) but employers use subsidies more: judgement",
    ),
    _p(
        "kmo_ai_share",
        ["levers.kmo_portefeuille.ai_share"],
        0.01,
        0.05,
        "share of portfolio projects about AI",
        "share",
        "scales the yearly AI projects",
        "lever_evidence.csv kmo_ai_projects_per_year: 55,000 user firms × 2.4 projects × AI share "
        "0.01-0.05 (judgement: no theme breakdown published; digitalisation is 1 of 8 themes)",
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
        "training_effect",
        ["levers.training.effect"],
        *evidence_range("training_effect_12m"),
        "chance that hands-on AI training (incl. Art. 4 literacy training) makes a non-user adopt",
        "probability",
        "the trained firm's own start chance, spread over training.effect_months",
        "lever_evidence.csv training_effect_12m (Humlum & Vestergaard 2025 PNAS; McKenzie 2020 "
        "WB PRWP 9408; Cullen et al. 2025 CEPR DP 20894)",
    ),
    _p(
        "training_months",
        ["levers.training.effect_months"],
        3,
        12,
        "months over which a training's effect arrives",
        "months",
        "window of the trained firm's extra start chance",
        JUDGEMENT + " (inside the evidence's 12-month horizon)",
        integer=True,
    ),
    _p(
        "literacy_nonuser_reach",
        ["levers.literacy.nonuser_reach"],
        0.0,
        0.2,
        "non-users reached per year by literacy offers spurred by Art. 4",
        "per year",
        "from 2025-02 each reached non-user gets the training effect (hands-on literacy training)",
        JUDGEMENT,
    ),
    _p(
        "coaching_effect",
        ["levers.coaching.effect"],
        *evidence_range("coaching_effect_12m"),
        "chance that knowledge-partner coaching makes a non-user adopt",
        "probability",
        "the coached firm's own start chance, spread over coaching.effect_months",
        "lever_evidence.csv coaching_effect_12m: light-touch advice +0.07 (voucher RCTs); "
        "intensive consulting +0.26 in year 1, an upper bound (Bloom et al. 2013 QJE)",
    ),
    _p(
        "coaching_months",
        ["levers.coaching.effect_months"],
        3,
        12,
        "months over which coaching's effect arrives",
        "months",
        "window of the coached firm's extra start chance",
        "intensive implementation support lasted about 4 months in Bloom et al. 2013: " + JUDGEMENT,
        integer=True,
    ),
    _p(
        "information_effect",
        ["levers.information.effect"],
        *evidence_range("information_effect_12m"),
        "chance that awareness or information alone makes a non-user adopt",
        "probability",
        "the reached firm's own start chance, spread over information.effect_months",
        "lever_evidence.csv information_effect_12m (Humlum & Vestergaard 2025: randomised "
        "information, no meaningful shift in use; Cullen et al. 2025: no AI effect)",
    ),
    _p(
        "information_reach",
        ["levers.information.reach"],
        0.01,
        0.2,
        "Flemish firms reached per year by AI awareness and information campaigns",
        "per year",
        "reach of the information programme (Flemish AI plan, EUR 5M a year incl. training)",
        "policy_timeline.csv flemish_ai_plan; reach not published: " + JUDGEMENT,
    ),
    _p(
        "exit_induced_extra",
        ["exit.induced_extra"],
        0.05,
        0.3,
        "extra yearly exit of policy-induced light users",
        "per year",
        "a user whose start a lever caused stops at light + this rate while a light user",
        "lever_evidence.csv subsidy_retention_24m 0.5-0.95: Creative Credits and Growth Vouchers "
        "(effects gone after a year: upper end); Bloom et al. 2020 (~0.92 a year: lower end)",
    ),
    _p(
        "exit_light",
        ["exit.light"],
        *evidence_range("light_user_exit_per_year"),
        "yearly exit of light AI users",
        "per year",
        "light users (not at scale) stop using AI; survey readings are current use",
        "lever_evidence.csv light_user_exit_per_year (judgement: at most the ~8 % a year drop "
        "of adopted practices in Bloom et al. 2020)",
    ),
    _p(
        "exit_at_scale",
        ["exit.at_scale"],
        0.0,
        0.06,
        "yearly fall-back of at-scale users to light use",
        "per year",
        "at-scale users scale back",
        "Bloom et al. 2020 AEJ Applied: gross retention ~0.92 a year of adopted practices "
        "(upper end); " + JUDGEMENT,
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
        "genai_drift",
        ["shocks.genai.drift"],
        -0.15,
        0.15,
        "change of generative-AI capability per year after the data (from 2024-04)",
        "capability (long-run level = 1) per year",
        "after the fitted curve stops, the start (and scale-up) logit moves by θ_genai × drift "
        "a year: at θ_genai = 2.5 the start odds change by a factor e^(±0.375) a year at the ends",
        "no wave after 2024-03 is fitted (the EU-27 panel's last wave is 2024): the range is a "
        "labelled judgement, symmetric around 'the hazard the data show holds', anchored on the "
        "US Census BTOS path (firm AI use 3.7 % Sep 2023 → 5.4 % Feb 2024 → ~10 % late 2025, "
        "'grows steadily': a hazard of ~4 %/yr then ~3 %/yr, i.e. no acceleration; "
        "shared/research/lever_evidence.md F4)",
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
        "clarity_effect",
        ["regulation.clarity_effect"],
        *evidence_range("clarity_effect_12m"),
        "chance that full legal clarity makes an unsure non-user adopt within 12 months",
        "probability",
        "unsure non-users get this yearly chance × clarity (0..1) on top of their hazard",
        "lever_evidence.csv clarity_effect_12m (a labelled judgement range: no evaluation "
        "found; Eurostat 2025, unclear legal consequences cited by 7.5-8.1 %)",
    ),
    _p(
        "clarity_share",
        ["regulation.clarity_share"],
        *evidence_range("clarity_target_share"),
        "share of firms unsure whether their AI use is high-risk",
        "share",
        "the only firms legal clarity acts on (a fixed draw per firm)",
        "lever_evidence.csv clarity_target_share (appliedAI 2023: 40 % of enterprise AI "
        "systems unclear; Eurostat 2025)",
    ),
    _p(
        "clarity_level",
        ["regulation.clarity_level"],
        0.2,
        0.8,
        "clarity the AI Act's own texts and guidance give the unsure firms",
        "0..1",
        "ramps in after entry into force; ai_act_clarity sets full clarity from 2027-01",
        "guidelines on the Art. 6 classification came late and the Digital Omnibus moved the "
        "high-risk dates: " + JUDGEMENT,
    ),
    _p(
        "high_risk_share",
        ["regulation.high_risk_share"],
        *evidence_range("high_risk_share_of_users"),
        "share of AI users with a high-risk use (Annex III or I)",
        "share of users",
        "these firms carry the compliance burden (by sector profile, a fixed draw per firm)",
        "lever_evidence.csv high_risk_share_of_users (Commission impact assessment SWD(2021) "
        "84: 5-15 % of AI applications; appliedAI 2023: 18 % clearly high-risk; SMEs mostly "
        "deployers of general tools)",
    ),
    _p(
        "clarity_ramp_months",
        ["regulation.clarity_ramp_months"],
        6,
        24,
        "months over which legal clarity ramps in after entry into force",
        "months",
        "with clarity_level and clarity_effect",
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
    # Last on purpose: a prior's uniform is the one at its position (`prior_draw`), so a new
    # prior goes at the end and every earlier prior keeps its draws.
    _p(
        "benefit_tilt",
        ["levers.benefit.barrier_tilt"],
        *BARRIER_TILT,
        "how much more a treated firm holding its lever's barrier gains (ratio − 1)",
        "ratio − 1",
        "a treated firm with the barrier its lever addresses (training and literacy: skills; "
        "coaching: knowledge partner; information: hard to assess; subsidy: financing) gets "
        "(1 + tilt)× the effect of one without it, the mean over the treated kept at the "
        "effect size (`adoptsim.programmes.tilted`)",
        "lever_evidence.md C3 (skills the dominant barrier; training relaxes it); the size of "
        "the difference is not reported: " + JUDGEMENT,
    ),
)


def prior_draw(
    seed: int, replication: int, which: str = "policy", uniforms: np.ndarray | None = None
) -> dict[str, float]:
    """Dotted-key overrides: one uniform draw of the prior-only parameters for a replication.

    Args:
        seed: the run's seed.
        replication: the replication index.
        which: ``"policy"`` (the policy group), ``"all"`` or ``"none"``.
        uniforms: the uniform number of every entry of `PRIORS`, given by the run's design
            ([`run_design`][adoptsim.precision.run_design], which `simulate` uses); None draws
            them independently from `prior_seed`.

    Every prior gets its uniform number whatever ``which`` is, so a parameter's draw for
    (seed, replication) never depends on which others are drawn.
    """
    if uniforms is None:
        u = np.random.default_rng(prior_seed(seed, replication)).random(len(PRIORS))
    else:
        u = np.asarray(uniforms, dtype=float)
    out: dict[str, float] = {}
    for prior, x in zip(PRIORS, u, strict=True):
        if which == "none" or (which == "policy" and prior.group != "policy"):
            continue
        p = prior.parameter
        # clipped: lo + 1 · (hi − lo) can round past hi (a design may give a uniform of 1)
        value = min(max(p.lo + x * (p.hi - p.lo), p.lo), p.hi)
        if prior.integer:
            value = round(float(value))
        for key in p.keys:
            out[key] = value
    return out
