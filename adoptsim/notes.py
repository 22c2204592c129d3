"""Plain-language notes on a scenario's levers: when a raised lever is held back by a cap.

The KMO-portefeuille pays min(rate × project cost, cap) per project, so a higher rate adds nothing
once rate × cost exceeds the yearly cap (€7,500 since 2020). A reader who doubles the rate and
sees +0.2 pp deserves to be told; `adoptsim run` and `adoptsim compare` print these notes.

The project cost is uncertain: a scenario that draws the policy priors gives each replication its
own cost, uniform over the `kmo_project_cost` prior (`adoptsim.priors`), unless it sets the cost
on purpose. The note then says for what share of those costs the cap binds, and the cover
averaged over them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from adoptsim.months import format_month
from adoptsim.priors import PRIORS
from adoptsim.scenario import Scenario

# rate key → (cap key, which firms)
_CAPPED = {
    "rate_small": ("cap_small_eur", "small firms (<50 employees)"),
    "rate_medium": ("cap_medium_eur", "medium firms (50–249)"),
}
_COST_KEY = "levers.kmo_portefeuille.project_cost_eur"
_COST_PRIOR = next(p for p in PRIORS if _COST_KEY in p.parameter.keys)


@dataclass(frozen=True)
class CapNote:
    """A raised subsidy rate held back by the KMO-portefeuille cap.

    Attributes:
        lever: the rate's key in ``levers.kmo_portefeuille``.
        month: first month (YYYY-MM) the raised rate meets the cap.
        rate: the scenario's rate then (share of cost).
        reference_rate: the reference scenario's rate then.
        cap_eur: the cap then (EUR per project).
        cost_lo: lowest project cost the replications run with (EUR).
        cost_hi: highest project cost (EUR); equal to ``cost_lo`` when the cost is fixed.
        firms: which firms the rate applies to, in words.
        reference_covered: the reference's share of cost covered then, averaged the same way.
    """

    lever: str
    month: str
    rate: float
    reference_rate: float
    cap_eur: float
    cost_lo: float
    cost_hi: float
    firms: str
    reference_covered: float

    @property
    def threshold_eur(self) -> float:
        """Project cost above which the cap binds: cap / rate (EUR)."""
        return self.cap_eur / self.rate

    @property
    def binding_share(self) -> float:
        """Share of the project costs (uniform over [cost_lo, cost_hi]) for which the cap binds."""
        if self.cost_hi <= self.cost_lo:
            return float(self.cost_lo > self.threshold_eur)
        return min(max((self.cost_hi - self.threshold_eur) / (self.cost_hi - self.cost_lo), 0), 1)

    @property
    def covered(self) -> float:
        """Share of a project's cost covered, min(rate × cost, cap) / cost, averaged over costs."""
        return mean_cover(self.rate, self.cap_eur, self.cost_lo, self.cost_hi)

    def text(self) -> str:
        """One line for the console."""
        head = (
            f"note: {self.lever} raised to {self.rate:.0%} from {self.month} "
            f"(reference {self.reference_rate:.0%}), but the €{self.cap_eur:,.0f} cap binds for "
        )
        if self.cost_hi <= self.cost_lo:
            return head + (
                f"every subsidised project of {self.firms} (each costs €{self.cost_lo:,.0f} in "
                f"this scenario): the subsidy covers {self.covered:.1%} of cost (reference "
                f"{self.reference_covered:.1%}), not {self.rate:.0%}."
            )
        return head + (
            f"projects above €{self.threshold_eur:,.0f}: {self.binding_share:.0%} of the project "
            f"costs the replications draw for {self.firms} (uniform €{self.cost_lo:,.0f}–"
            f"{self.cost_hi:,.0f}, prior `{_COST_PRIOR.parameter.name}`); averaged over them the "
            f"subsidy covers {self.covered:.1%} of cost (reference {self.reference_covered:.1%}), "
            f"not {self.rate:.0%}."
        )


def mean_cover(rate: float, cap: float, lo: float, hi: float) -> float:
    """Share of cost a capped rate covers, min(rate, cap / cost), averaged over costs on [lo, hi].

    Costs are uniform on [lo, hi] (EUR; one cost when lo = hi). With threshold c* = cap / rate
    clipped to [lo, hi], the mean is (rate·(c* − lo) + cap·ln(hi / c*)) / (hi − lo).
    """
    if hi <= lo:
        return min(rate * lo, cap) / lo
    c = min(max(cap / rate, lo), hi) if rate > 0 else hi
    return (rate * (c - lo) + cap * math.log(hi / c)) / (hi - lo)


def project_costs(scenario: Scenario) -> tuple[float, float]:
    """The range of project costs (EUR) the scenario's replications run with.

    The prior's range when the scenario draws the policy priors and does not set the cost on
    purpose; otherwise the scenario's one cost, twice.
    """
    fixed = max(float(scenario.data["levers"]["kmo_portefeuille"]["project_cost_eur"]), 1.0)
    priors = scenario.data["calibration"].get("priors", "none")
    if priors == "none" or _COST_KEY in scenario.resolved()["calibration"]["keep"]:
        return fixed, fixed
    p = _COST_PRIOR.parameter
    return max(p.lo, 1.0), p.hi


def cap_notes(scenario: Scenario, reference: Scenario) -> list[CapNote]:
    """Subsidy rates that ``scenario`` sets above ``reference`` in a month where the cap binds.

    For each capped rate, the first simulated month where the scenario's rate exceeds the
    reference's and rate × project cost exceeds the cap for at least some of the project costs
    its replications run with ([`project_costs`][adoptsim.notes.project_costs]).
    """
    k = scenario.data["levers"]["kmo_portefeuille"]
    ref = reference.data["levers"]["kmo_portefeuille"]
    lo, hi = project_costs(scenario)
    notes = []
    for lever, (cap_key, firms) in _CAPPED.items():
        for month in range(scenario.start, scenario.end + 1):
            rate, ref_rate = k[lever].at(month), ref[lever].at(month)
            cap = k[cap_key].at(month)
            if rate > ref_rate + 1e-12 and rate * hi > cap:
                # The reference runs with the same costs in the same replications (paired).
                ref_cover = mean_cover(ref_rate, ref[cap_key].at(month), lo, hi)
                when = format_month(month)
                notes.append(CapNote(lever, when, rate, ref_rate, cap, lo, hi, firms, ref_cover))
                break
    return notes


def cap_note_lines(reference: Scenario, scenarios: list[Scenario]) -> list[str]:
    """One console line per raised subsidy rate the KMO-portefeuille cap holds back.

    Args:
        reference: what the raised rates are compared with (for a single scenario other than
            the baseline, the baseline is taken instead).
        scenarios: the scenarios run (the reference itself gets no note).
    """
    from adoptsim.scenario import load_scenario

    if len(scenarios) == 1 and scenarios[0].name != "baseline":
        reference = load_scenario("baseline")  # a single run: what it changes vs the baseline
    return [
        f"{sc.name}: {note.text()}"
        for sc in scenarios
        if sc is not reference
        for note in cap_notes(sc, reference)
    ]
