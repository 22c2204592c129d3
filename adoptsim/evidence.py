"""Micro-experiments: every quantity of the lever evidence table, measured by simulation.

``adoptsim/data/lever_evidence.csv`` says what each lever must reproduce, in the evidence's own
units (12-month effects on treated firms, retention, the peer slope, counts and shares).
[`evidence_check`][adoptsim.evidence.evidence_check] measures each one *through the model's own
step*, as the studies behind the table measured them:

* **Treatment effects** (subsidy, coaching, training, information): in a replication's model at
  `EXPERIMENT_MONTH`, a random `TREATED_SHARE` of the lever's eligible non-users is treated in a
  copy of the model (`copy.deepcopy`: the same firms, network, state and random-number
  generator), the original runs on untreated; the effect is the weighted difference of the
  treated firms' share using AI 12 months after the treatment starts (common random numbers:
  only the treatment differs). Retention is the difference at 24 months over the one at 12.
* **Legal clarity**: the same, with the scenario's legal clarity full from the treatment month
  (rebuilt from the same seed, so identical up to then), among the unsure non-users.
* **Peer slope**: the share of using peers seen by randomly chosen non-users is raised by
  `PEER_DELTA` for 12 months in a copy; the slope is the difference in the share that starts
  within those 12 months, divided by `PEER_DELTA`.
* **Counts and shares** (projects per year, high-risk and unsure shares, the generative-AI
  hazard jump, the at-scale share, light-user exit) are recorded from the untreated run.

Replication r runs with the scenario's posterior draw and prior draws of (seed, r), as
[`simulate`][adoptsim.simulation.simulate] does, so the simulated 5–95 % interval covers the
parameter uncertainty of the bands. The result is a table with one row per quantity; the CLI
(``adoptsim evidence``) writes it as ``evidence.csv`` with a figure drawn by
[`evidence_figure`][adoptsim.plots_evidence.evidence_figure].
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from adoptsim.data import read_table
from adoptsim.errors import ScenarioError
from adoptsim.model import AdoptionModel
from adoptsim.months import format_month, parse_month
from adoptsim.observe import ICT_SECTORS, Observation
from adoptsim.scenario import Scenario, load_scenario
from adoptsim.simulation import replication_draws
from adoptsim.streams import evidence_seed, replication_seed
from adoptsim.taxonomy import AT_SCALE, NON_USER, SECTORS, USER

EXPERIMENT_MONTH = "2025-01"  # treatments start the month after; the evidence is about 2021-25
TREATED_SHARE = 0.2  # of the lever's eligible non-users: few enough that spillovers are small
PEER_DELTA = 0.1  # raise of the peer share seen by the chosen non-users (10 pp)
COLUMNS = (
    "quantity",
    "simulated_p05",
    "simulated_median",
    "simulated_p95",
    "low",
    "central",
    "high",
    "inside",
)
TREATMENTS = {
    # quantity: (how the treated firms are reached, which non-users are eligible)
    "subsidy_effect_12m": "kmo_portefeuille",
    "coaching_effect_12m": "coaching",
    "training_effect_12m": "training",
    "information_effect_12m": "information",
}


@dataclass
class EvidenceResult:
    """What [`evidence_check`][adoptsim.evidence.evidence_check] measured.

    Attributes:
        table: one row per quantity of the evidence table: `COLUMNS` plus ``unit``, ``lever``,
            ``replications`` (how many gave a value) and ``mc_se`` (Monte-Carlo standard error
            of the simulated median, from the spread over replications).
        draws: one row per replication, one column per quantity (the simulated values).
        settings: scenario, firms, replications, seed and experiment month.
    """

    table: pd.DataFrame
    draws: pd.DataFrame
    settings: dict = field(default_factory=dict)

    @property
    def inside(self) -> int:
        """How many quantities are inside their evidence range."""
        return int(self.table.inside.sum())


def _scenario_for(
    sc: Scenario, seed: int, replication: int, replications: int
) -> tuple[Scenario, dict]:
    """The replication's scenario (posterior and prior draws laid on) and its observe values.

    The draws are those of stratum ``replication`` of the run's stratified design, as in
    `simulate` (`adoptsim.simulation.replication_draws`): a few replications then spread over
    the posterior instead of taking its first rows.
    """
    _, layer, observe, drawn = replication_draws(
        sc, seed=seed, replication=replication, replications=replications
    )
    if drawn or layer:
        sc = sc.with_draw({**drawn, **layer})
    return sc, observe


def _weighted(mask: np.ndarray, among: np.ndarray, w: np.ndarray) -> float:
    den = w[among].sum()
    return float(w[among & mask].sum() / den) if den > 0 else float("nan")


def _step_to(model: AdoptionModel, month: int) -> None:
    while model.month < month and model.running:
        model.step()


def _pick(rng: np.random.Generator, pool: np.ndarray) -> np.ndarray:
    """A random `TREATED_SHARE` of the firm indices ``pool`` (at least one if any)."""
    if pool.size == 0:
        return pool
    k = max(1, round(TREATED_SHARE * pool.size))
    return np.sort(rng.choice(pool, size=k, replace=False))


def _eligible(model: AdoptionModel, lever: str) -> np.ndarray:
    """Non-users the lever can reach now (Flemish SMEs without a running project, ...)."""
    lev, month = model.levers, model.month
    non = model.state == NON_USER
    if lever == "kmo_portefeuille":
        ok = non & np.isin(lev.group, (1, 2)) & (lev.project_end < month)
    elif lever == "training" and not lev.cfg["training"]["flanders_only"]:
        ok = non & (lev.programme_end < month)
    else:
        ok = non & lev.flemish & (lev.programme_end < month)
    return np.flatnonzero(ok)


def _treatment_effect(
    base: AdoptionModel, lever: str, rng: np.random.Generator
) -> tuple[float, float]:
    """(12-month effect, 24/12 retention) of treating a random set of eligible non-users.

    Measured 12 and 24 months after the first treated month, on a deep copy (treated) against
    the original's copy (untreated) with identical random numbers.
    """
    treated = _pick(rng, _eligible(base, lever))
    if treated.size == 0:
        return float("nan"), float("nan")
    month = base.month
    a, b = copy.deepcopy(base), copy.deepcopy(base)
    hazard = base.start_hazard()
    if lever == "kmo_portefeuille":
        b.levers.assign_project(treated, month, hazard)
    else:
        b.levers.assign_programme(lever, treated, month, hazard)
    w = base.firms.weight[treated]
    diffs = []
    for horizon in (13, 25):  # the treatment runs from month + 1
        _step_to(a, month + horizon)
        _step_to(b, month + horizon)
        diff = w @ ((b.state[treated] > NON_USER).astype(float) - (a.state[treated] > NON_USER))
        diffs.append(diff / w.sum())
    e12, e24 = diffs
    return e12, (e24 / e12 if e12 > 0 else float("nan"))


def _peer_slope(base: AdoptionModel, rng: np.random.Generator) -> float:
    """The slope d P(start within 12 months) / d peer share, for randomly chosen non-users."""
    chosen = _pick(rng, np.flatnonzero(base.state == NON_USER))
    month = base.month
    a, b = copy.deepcopy(base), copy.deepcopy(base)
    offset = np.zeros(base.firms.n)
    offset[chosen] = PEER_DELTA
    b.peer_offset = offset
    started_a = np.zeros(chosen.size, dtype=bool)
    started_b = np.zeros(chosen.size, dtype=bool)
    for m in range(month + 1, month + 13):
        _step_to(a, m)
        _step_to(b, m)
        started_a |= a.state[chosen] > NON_USER
        started_b |= b.state[chosen] > NON_USER
    w = base.firms.weight[chosen]
    return float(w @ (started_b.astype(float) - started_a) / w.sum() / PEER_DELTA)


def _clarity_effect(sc: Scenario, n_firms: int, seed: int, replication: int, month: int) -> float:
    """Full legal clarity from ``month`` + 1 against the scenario's own clarity, unsure non-users.

    Both models are built from the replication's seed; before ``month`` + 1 they are identical.
    """
    full = sc.with_draw({"regulation.clarity_full_from": format_month(month + 1)})
    # A fresh SeedSequence per model: spawning children advances a SeedSequence object.
    a = AdoptionModel(sc, n_firms=n_firms, seed=replication_seed(seed, replication))
    b = AdoptionModel(full, n_firms=n_firms, seed=replication_seed(seed, replication))
    _step_to(a, month)
    _step_to(b, month)
    unsure = np.flatnonzero((a.state == NON_USER) & a.levers.unsure)
    if unsure.size == 0:
        return float("nan")
    _step_to(a, month + 13)
    _step_to(b, month + 13)
    w = a.firms.weight[unsure]
    return float(w @ ((b.state[unsure] > 0).astype(float) - (a.state[unsure] > 0)) / w.sum())


class _Recorder:
    """Counts and shares of the untreated run, taken at the months the table names."""

    def __init__(self, model: AdoptionModel, observe: dict) -> None:
        self.model = model
        self.obs = Observation().with_values(observe)
        f = model.firms
        self.ict = (f.employees >= 10) & np.isin(f.sector, [SECTORS.index(s) for s in ICT_SECTORS])
        self.sme = np.isin(model.levers.group, (1, 2))
        self.values: dict[str, float] = {}
        self.ict_share: dict[str, float] = {}
        self._light: np.ndarray | None = None
        self._stopped: np.ndarray | None = None

    def month(self) -> None:
        """Record what is due at the model's current month (call before each step)."""
        m, state, w = self.model.month, self.model.state, self.model.firms.weight
        date = format_month(m)
        if date in ("2021-03", "2023-03", "2024-03"):
            # What the ICT survey reads: at-scale users always, light users with detection d(t).
            d = self.obs.detection("ict_survey", m)
            seen = (state == AT_SCALE) + d * (state == USER)
            self.ict_share[date] = float(w[self.ict] @ seen[self.ict] / w[self.ict].sum())
        if date == "2024-01":
            self._light = (state == USER) & ~self.model.induced
            self._stopped = np.zeros(state.shape[0], dtype=bool)
        if self._stopped is not None and date <= "2025-01":
            self._stopped |= self._light & (state == NON_USER)
            if date == "2025-01":
                self.values["light_user_exit_per_year"] = _weighted(self._stopped, self._light, w)
        if date == "2025-12":
            all_firms = np.ones(state.shape[0], dtype=bool)
            self.values["intensive_share_2025"] = _weighted(state == AT_SCALE, all_firms, w)
        if date == "2026-06":
            users = self.sme & (state > NON_USER)
            self.values["clarity_target_share"] = _weighted(self.model.levers.unsure, users, w)
        if date == "2028-12":
            users = self.sme & (state > NON_USER)
            self.values["high_risk_share_of_users"] = _weighted(
                self.model.levers.high_risk, users, w
            )

    def finish(self) -> None:
        """Quantities computed from the whole run (counts per year, the hazard jump)."""
        lev = self.model.levers
        starts = lev.starts
        k = lev.cfg["kmo_portefeuille"]
        years = range(parse_month("2021-01"), parse_month("2025-12") + 1)
        kmo = sum(starts["kmo_portefeuille"].get(m, 0.0) for m in years) / 5.0
        # The model's firms have employees; the rest of the portfolio's projects are started by
        # firms without employees, outside the simulated population.
        self.values["kmo_ai_projects_per_year"] = kmo / max(k["employer_share"], 1e-9)
        y2021 = range(parse_month("2021-01"), parse_month("2021-12") + 1)
        self.values["ai_support_firms_per_year"] = sum(
            starts["ai_support"].get(m, 0.0) for m in y2021
        )
        s = self.ict_share
        if len(s) == 3:
            before = 1.0 - ((1.0 - s["2023-03"]) / (1.0 - s["2021-03"])) ** 0.5
            after = 1.0 - (1.0 - s["2024-03"]) / (1.0 - s["2023-03"])
            ratio = after / before if before > 0 else float("nan")
            self.values["genai_hazard_multiplier"] = ratio


def _check_span(sc: Scenario) -> None:
    month = parse_month(EXPERIMENT_MONTH)
    if not sc.start < month:
        raise ScenarioError(
            "scenario.start",
            sc.data["scenario"]["start"],
            f"the evidence experiments need a run that starts before {EXPERIMENT_MONTH}",
        )
    if not month + 25 < sc.end:
        raise ScenarioError(
            "scenario.end",
            sc.data["scenario"]["end"],
            f"the evidence experiments need the run to span {EXPERIMENT_MONTH} + 25 months "
            "(and 2028-12 for the high-risk share)",
        )


def measure_replication(
    sc: Scenario, *, n_firms: int, seed: int, replication: int, replications: int
) -> dict:
    """Every quantity of the evidence table in replication ``replication`` of ``replications``.

    Returns a dict quantity → value; the draws are those of the run's stratified design.
    """
    sc_r, observe = _scenario_for(sc, seed, replication, replications)
    rng = np.random.default_rng(evidence_seed(seed, replication))
    month = parse_month(EXPERIMENT_MONTH)
    _check_span(sc_r)
    base = AdoptionModel(sc_r, n_firms=n_firms, seed=replication_seed(seed, replication))
    rec = _Recorder(base, observe)
    out: dict[str, float] = {}
    while base.running:
        rec.month()
        if base.month == month:
            for quantity, lever in TREATMENTS.items():
                effect, retention = _treatment_effect(base, lever, rng)
                out[quantity] = effect
                if lever == "kmo_portefeuille":
                    out["subsidy_retention_24m"] = retention
            out["peer_slope_12m"] = _peer_slope(base, rng)
        base.step()
    rec.month()
    rec.finish()
    out.update(rec.values)
    out["clarity_effect_12m"] = _clarity_effect(sc_r, n_firms, seed, replication, month)
    return out


def evidence_check(
    scenario: Scenario | str = "baseline",
    *,
    n_firms: int = 20_000,
    replications: int = 8,
    seed: int = 0,
    progress: bool | Callable[[int], None] = True,
) -> EvidenceResult:
    """Measure every quantity of ``adoptsim/data/lever_evidence.csv`` by simulation.

    Args:
        scenario: the scenario whose levers are measured (its posterior and prior draws used).
        n_firms: agents per model.
        replications: replications (each its own posterior and prior draw).
        seed: base seed; the same seed gives the same numbers.
        progress: show a tqdm bar over replications (or a callable given each finished one).

    Returns:
        An [`EvidenceResult`][adoptsim.evidence.EvidenceResult]: per quantity the simulated
        5 %, 50 % and 95 % quantiles over replications beside the evidence's low, central and
        high, and whether the median is inside [low, high] and the interval overlaps it.
    """
    sc = load_scenario(scenario)
    _check_span(sc)
    bar = None
    if progress is True:
        from tqdm.auto import tqdm

        bar = tqdm(total=replications, desc="evidence experiments", unit="replication")
    rows = []
    for r in range(replications):
        rows.append(
            {
                "replication": r,
                **measure_replication(
                    sc, n_firms=n_firms, seed=seed, replication=r, replications=replications
                ),
            }
        )
        if bar is not None:
            bar.update(1)
        elif callable(progress):
            progress(r)
    if bar is not None:
        bar.close()
    draws = pd.DataFrame(rows)
    return EvidenceResult(
        summarise(draws),
        draws,
        {
            "scenario": sc.name,
            "n_firms": n_firms,
            "replications": replications,
            "seed": seed,
            "experiment_month": EXPERIMENT_MONTH,
        },
    )


def summarise(draws: pd.DataFrame) -> pd.DataFrame:
    """The evidence table beside the simulated quantiles of ``draws`` (one row per quantity)."""
    ev = read_table("lever_evidence")
    out = []
    for row in ev.itertuples():
        values = draws[row.quantity].dropna().to_numpy() if row.quantity in draws else np.array([])
        if values.size:
            p05, med, p95 = np.quantile(values, [0.05, 0.5, 0.95])
            # Monte-Carlo error of the median: sd / sqrt(n) × sqrt(pi / 2) (normal approximation).
            se = (
                float(np.std(values, ddof=1) / np.sqrt(values.size) * 1.2533)
                if values.size > 1
                else float("nan")
            )
        else:
            p05 = med = p95 = se = float("nan")
        inside = bool(
            values.size and row.low <= med <= row.high and p05 <= row.high and p95 >= row.low
        )
        out.append(
            {
                "quantity": row.quantity,
                "simulated_p05": p05,
                "simulated_median": med,
                "simulated_p95": p95,
                "low": row.low,
                "central": row.central,
                "high": row.high,
                "inside": inside,
                "unit": row.unit,
                "lever": row.lever,
                "replications": int(values.size),
                "mc_se": se,
            }
        )
    return pd.DataFrame(out)
