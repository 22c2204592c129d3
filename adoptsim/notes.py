"""Plain-language notes on a scenario's levers: when a raised lever is held back by a cap.

The KMO-portefeuille pays min(rate × project cost, cap) per project, so a higher rate adds nothing
once rate × cost exceeds the yearly cap (€7,500 since 2020). A reader who doubles the rate and
sees +0.2 pp deserves to be told; `adoptsim run` and `adoptsim compare` print these notes.
"""

from __future__ import annotations

from dataclasses import dataclass

from adoptsim.months import format_month
from adoptsim.scenario import Scenario

# rate key → (cap key, which firms)
_CAPPED = {
    "rate_small": ("cap_small_eur", "small firms (<50 employees)"),
    "rate_medium": ("cap_medium_eur", "medium firms (50–249)"),
}


@dataclass(frozen=True)
class CapNote:
    """A raised subsidy rate held back by the KMO-portefeuille cap."""

    lever: str
    month: str
    rate: float
    reference_rate: float
    cap_eur: float
    project_cost_eur: float
    firms: str

    @property
    def covered(self) -> float:
        """Share of a project's cost actually covered: min(rate × cost, cap) / cost."""
        return min(self.rate * self.project_cost_eur, self.cap_eur) / self.project_cost_eur

    def text(self) -> str:
        """One line for the console."""
        return (
            f"note: {self.lever} raised to {self.rate:.0%} from {self.month} "
            f"(reference {self.reference_rate:.0%}), but the €{self.cap_eur:,.0f} cap binds for "
            f"100 % of subsidised projects of {self.firms} (every project costs "
            f"€{self.project_cost_eur:,.0f} in the model and {self.rate:.0%} of it exceeds the "
            f"cap): the subsidy covers {self.covered:.1%} of cost, not {self.rate:.0%}."
        )


def cap_notes(scenario: Scenario, reference: Scenario) -> list[CapNote]:
    """Subsidy rates that ``scenario`` sets above ``reference`` in a month where the cap binds.

    For each capped rate, the first simulated month where the scenario's rate exceeds the
    reference's and rate × project cost exceeds the cap (both as the scenario sets them).
    """
    k = scenario.data["levers"]["kmo_portefeuille"]
    ref = reference.data["levers"]["kmo_portefeuille"]
    cost = max(float(k["project_cost_eur"]), 1.0)
    notes = []
    for lever, (cap_key, firms) in _CAPPED.items():
        for month in range(scenario.start, scenario.end + 1):
            rate, ref_rate = k[lever].at(month), ref[lever].at(month)
            cap = k[cap_key].at(month)
            if rate > ref_rate + 1e-12 and rate * cost > cap:
                notes.append(CapNote(lever, format_month(month), rate, ref_rate, cap, cost, firms))
                break
    return notes
