"""adoptsim as an EMA Workbench model: uncertainties, policy levers and adoption outcomes.

[EMA Workbench](https://emaworkbench.readthedocs.io) is the exploratory-modelling toolkit policy
analysts use for scenario discovery (PRIM), robustness and many-objective search. This adapter
hands it adoptsim as an ordinary ``ema_workbench.Model``:

* **uncertainties**: the calibrated parameters of the scenario's posterior over their 90 %
  posterior interval, and the effect sizes no target identifies over their prior range — the
  same [`Parameter`][adoptsim.parameters.Parameter] objects the sensitivity analysis uses;
* **levers**: the policy levers of `adoptsim.parameters.LEVERS` over their policy ranges;
  levers that are dated schedules take their value from ``lever_start`` on and keep the
  scenario's history before it (so a lever never rewrites the past);
* **outcomes**: the weighted share of firms using AI (mean over replications), for all firms,
  by size class and by sector, at each of ``dates``. Outcome names are identifiers such as
  ``uses_ai_2028_12_all`` or ``uses_ai_2028_12_size_10_19``; size classes and sectors with
  fewer than 30 agents at the chosen firm count get no outcome (their shares are noise).

Every experiment runs with the same seed (common random numbers), so differences between
experiments come from the inputs, not from noise. Install with ``pip install adoptsim[ema]``;
works with EMA Workbench 2.5 (Python 3.11) and 3.x (Python 3.12+).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from adoptsim.bounds import whole_number
from adoptsim.errors import ScenarioError
from adoptsim.months import format_month, parse_month
from adoptsim.parameters import Parameter
from adoptsim.scenario import Scenario, load_scenario
from adoptsim.taxonomy import SECTORS, SIZE_LABELS

if TYPE_CHECKING:  # EMA Workbench is an optional extra: imported only where it is used
    from ema_workbench import Model


def _ident(text: str) -> str:
    return re.sub(r"[^0-9A-Za-z]+", "_", text).strip("_")


MIN_AGENTS = 30  # a size class or sector with fewer agents gets no outcome (too noisy)


def outcome_names(
    dates: Sequence[str], segments: set[tuple[str, str]] | None = None
) -> dict[str, tuple[str, str, str]]:
    """EMA outcome names for the share using AI, mapped to what each one measures.

    Outcome names must be Python identifiers, so dates and segments are spelt into them
    (``uses_ai_2028_12_size_10_19``).

    Args:
        dates: months ("YYYY-MM") to report.
        segments: if given, only these (segment type, segment) pairs besides all firms
            (e.g. those with enough agents to be meaningful); default: every size and sector.

    Returns:
        Outcome name → (date, segment type, segment).
    """
    out: dict[str, tuple[str, str, str]] = {}
    wanted = [("size", s) for s in SIZE_LABELS] + [("sector", s) for s in SECTORS]
    for date in dates:
        stem = f"uses_ai_{_ident(date)}"
        out[f"{stem}_all"] = (date, "all", "all")
        for kind, seg in wanted:
            if segments is None or (kind, seg) in segments:
                out[f"{stem}_{kind}_{_ident(seg)}"] = (date, kind, seg)
    return out


def _populated_segments(scenario: Scenario, n_firms: int | None, seed: int) -> set:
    """Segments with at least MIN_AGENTS agents in the firms every experiment simulates."""
    from adoptsim.segments import agent_counts
    from adoptsim.simulation import simulate

    short = scenario.with_overrides(
        {"scenario.end": format_month(scenario.start + 1)}, name=scenario.name
    )
    res = simulate(short, n_firms=n_firms, seed=seed, replications=1, use_posterior=False)
    counts = agent_counts(res.records[0])
    keep = counts[counts.agents >= MIN_AGENTS]
    return set(zip(keep.segment_type, keep.segment, strict=True))


def inputs(scenario: Scenario) -> tuple[list[Parameter], list[Parameter]]:
    """(uncertainties, levers) of a scenario, as the sensitivity analysis defines them."""
    from adoptsim.sensitivity_analysis import default_factors

    factors = default_factors(scenario)
    return (
        [p for p in factors if p.role == "uncertainty"],
        [p for p in factors if p.role == "lever"],
    )


def _held_by_calibration(scenario: Scenario, uncertainties: Sequence[Parameter]) -> dict:
    """Overrides setting the calibrated parameters that are not uncertainties to their value."""
    from adoptsim.posterior import PARAMETERS, posterior_table

    name = scenario.data["calibration"]["posterior"]
    if name == "none":
        return {}
    table = posterior_table(name)
    varied = {p.name for p in uncertainties}
    out: dict = {}
    for p in PARAMETERS[name]:
        if p.name not in varied and not all(k.startswith("observe.") for k in p.keys):
            out |= p.overrides(float(table[p.name].median()))
    return out


class AdoptionFunction:
    """The callable EMA runs: keyword inputs in, a dict of outcome shares (0..1) out.

    A plain class (not a closure) so EMA's multiprocessing evaluator can pickle it.
    """

    def __init__(
        self,
        scenario: Scenario,
        parameters: Sequence[Parameter],
        outcomes: dict[str, tuple[str, str, str]],
        *,
        n_firms: int | None,
        replications: int,
        seed: int,
        lever_start: str,
    ) -> None:
        self.scenario = scenario
        self.parameters = {p.name: p for p in parameters}
        self.outcomes = outcomes
        self.n_firms, self.replications, self.seed = n_firms, replications, seed
        self.lever_start = lever_start

    def overrides(self, values: dict[str, float]) -> dict:
        """Dotted scenario overrides for one experiment's input values."""
        from adoptsim.schedule import Schedule

        out: dict = {}
        for name, value in values.items():
            p = self.parameters[name]
            for key, v in p.overrides(value).items():
                current = self.scenario.get(key) if not key.startswith("observe.") else None
                if p.role == "lever" and isinstance(current, Schedule):
                    out[key] = {self.lever_start: v}  # from lever_start on; history kept
                else:
                    out[key] = v
        return out

    def __call__(self, **values: float) -> dict[str, float]:
        """Run one EMA experiment: simulate the scenario with these input values.

        Args:
            **values: one value per input (uncertainty or lever), by parameter name.

        Returns:
            Outcome name → mean share using AI over the replications (0–1).

        Raises:
            ScenarioError: a value names no input of this model.
        """
        from adoptsim.simulation import simulate

        unknown = set(values) - set(self.parameters)
        if unknown:
            raise ScenarioError("ema input", sorted(unknown), "not an input of this model")
        sc = self.scenario.with_overrides(self.overrides(values), name=self.scenario.name)
        res = simulate(
            sc,
            n_firms=self.n_firms,
            seed=self.seed,
            replications=self.replications,
            use_posterior=False,
        )
        a = res.adoption
        means = a.groupby(["date", "segment_type", "segment"])["adopters_share"].mean()
        return {name: float(means.loc[key]) for name, key in self.outcomes.items()}


def model(
    scenario: str | Scenario = "baseline",
    *,
    n_firms: int | None = 5000,
    replications: int = 2,
    seed: int = 0,
    dates: Sequence[str] = ("2028-12",),
    lever_start: str = "2027-01",
    name: str | None = None,
) -> Model:
    """An ``ema_workbench.Model`` of ``scenario``.

    Args:
        scenario: built-in scenario name, TOML path or [`Scenario`][adoptsim.scenario.Scenario].
        n_firms: agents per simulation (a few thousand are enough for shares of all firms;
            sector outcomes need more).
        replications: runs averaged per experiment (common random numbers across experiments).
        seed: base seed of every experiment.
        dates: months (``"YYYY-MM"``) at which the outcomes are measured.
        lever_start: first month at which a dated lever takes the experiment's value.
        name: EMA model name (letters and digits; default from the scenario name).

    Returns:
        An ``ema_workbench.Model`` with ``uncertainties``, ``levers`` and ``outcomes`` set; run it
        with ``ema_workbench.perform_experiments(model, n)`` or any EMA evaluator.

    Raises:
        ScenarioError: a bad date, firm count or replication count.
        ImportError: EMA Workbench is not installed (``pip install adoptsim[ema]``).
    """
    try:
        from ema_workbench import Model, RealParameter, ScalarOutcome
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("adoptsim.ema needs EMA Workbench: pip install 'adoptsim[ema]'") from exc
    for d in dates:
        parse_month(d, "dates")
    lever_end = parse_month(lever_start, "lever_start")
    sc = load_scenario(scenario)
    if not sc.start < lever_end <= sc.end:
        raise ScenarioError("lever_start", lever_start, "must fall inside the scenario's months")
    whole_number(replications, "replications", 1)
    base = sc.with_overrides({"calibration.posterior": "none"}, name=sc.name)
    uncertainties, levers = inputs(sc)
    # A parameter the calibration holds fixed is a constant of the model, not an uncertainty
    # (`default_factors` leaves it out); with the posterior switched off it must still take the
    # posterior's value, not the scenario file's fall-back.
    base = base.with_overrides(_held_by_calibration(sc, uncertainties), name=base.name)
    outcomes = outcome_names(list(dates), _populated_segments(base, n_firms, seed))
    function = AdoptionFunction(
        base,
        [*uncertainties, *levers],
        outcomes,
        n_firms=n_firms,
        replications=replications,
        seed=seed,
        lever_start=lever_start,
    )
    m = Model(name or _ident(sc.name).replace("_", "") or "adoptsim", function=function)
    m.uncertainties = [RealParameter(p.name, p.lo, p.hi) for p in uncertainties]
    m.levers = [RealParameter(p.name, p.lo, p.hi) for p in levers]
    m.outcomes = [ScalarOutcome(n) for n in outcomes]
    return m
