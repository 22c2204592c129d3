"""Model inputs that an analysis varies: one description for calibration, sensitivity and EMA.

Vocabulary of the EMA Workbench: an *uncertainty* is what we do not know (a calibrated parameter,
an effect size nobody measured), a *lever* is what policy sets (reach, rates, take-up). A
[`Parameter`][adoptsim.parameters.Parameter] names the scenario keys it sets (several keys can be
tied to one value), its range and its role, so the calibration's fitted parameters
(`adoptsim.posterior.PARAMETERS`), the sensitivity analysis's factors and the EMA adapter's
uncertainties and levers are the same objects.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass

ROLES = ("uncertainty", "lever", "dummy")


@dataclass(frozen=True)
class Parameter:
    """One varied model input.

    Attributes:
        name: short name (a column of ``posterior.csv``, a factor of the sensitivity analysis).
        keys: dotted scenario keys set to the parameter's value (tied); ``observe.*`` keys set the
            observation model instead of the scenario; empty for a test function's inputs.
        lo: lower end of the range (scenario units of the keys).
        hi: upper end of the range.
        role: ``uncertainty`` (not known), ``lever`` (set by policy) or ``dummy`` (does nothing;
            its sensitivity index is the noise floor).
        doc: what the parameter means, for tables and reports.
        dist: SALib distribution over [lo, hi] (``unif``).
    """

    name: str
    keys: tuple[str, ...]
    lo: float
    hi: float
    _: KW_ONLY
    role: str = "uncertainty"
    doc: str = ""
    dist: str = "unif"

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"Parameter {self.name}: role {self.role!r} not in {ROLES}")
        if not self.lo <= self.hi:
            raise ValueError(f"Parameter {self.name}: lo {self.lo} > hi {self.hi}")

    def overrides(self, value: float) -> dict[str, float]:
        """Dotted-key overrides that set this parameter to ``value`` (none for a dummy)."""
        return {} if self.role == "dummy" else {k: float(value) for k in self.keys}


# Default ranges of the levers: policy-relevant spans (E), from no uptake upwards.
LEVERS = (
    Parameter(
        "kmo_rate_small",
        ("levers.kmo_portefeuille.rate_small",),
        0.2,
        0.5,
        role="lever",
        doc="KMO-portefeuille subsidy rate for small firms",
    ),
    Parameter(
        "training_reach",
        (
            "levers.training.reach_micro",
            "levers.training.reach_small",
            "levers.training.reach_medium",
        ),
        0.0,
        0.4,
        role="lever",
        doc="firms reached by AI training per year (micro, small and medium tied)",
    ),
    Parameter(
        "literacy_nonuser_reach",
        ("levers.literacy.nonuser_reach",),
        0.0,
        0.5,
        role="lever",
        doc="non-users reached per year by hands-on literacy training spurred by Art. 4",
    ),
    Parameter(
        "coaching_reach",
        ("levers.coaching.reach",),
        0.0,
        0.3,
        role="lever",
        doc="firms reached by knowledge-partner coaching per year",
    ),
)
