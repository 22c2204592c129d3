"""adoptsim — agent-based simulation of AI adoption by Flemish SMEs.

Belgium and the Netherlands are comparison populations; the policy levers are subsidy
(KMO-portefeuille), training, coaching and the AI Act. Start with
[`simulate`][adoptsim.simulation.simulate], [`compare`][adoptsim.comparison.compare] and
[`load_scenario`][adoptsim.scenario.load_scenario].
"""

# first: a sweep's worker must not outlive its parent, even while it imports the rest
from adoptsim.sweeps import guard  # noqa: F401

# The names below are imported on first use (PEP 562), so a command starts without loading what
# it does not need (Mesa, SALib, ...): the CLI answers bad input in a fraction of a second and a
# sweep starts its workers before the parent has loaded the model.
_EXPORTS = {
    "Comparison": "adoptsim.comparison",
    "compare": "adoptsim.comparison",
    "AdoptsimError": "adoptsim.errors",
    "backtest": "adoptsim.fit.backtest",
    "benchmark_forecast": "adoptsim.fit.benchmark",
    "calibrate": "adoptsim.fit.calibrate",
    "validate": "adoptsim.fit.validation",
    "EvidenceResult": "adoptsim.evidence",
    "evidence_check": "adoptsim.evidence",
    "ScenarioError": "adoptsim.errors",
    "AdoptionModel": "adoptsim.model",
    "FirmAgent": "adoptsim.model",
    "load_targets": "adoptsim.observe",
    "AdoptionRule": "adoptsim.rules",
    "BassRule": "adoptsim.rules",
    "LogitRule": "adoptsim.rules",
    "StepContext": "adoptsim.rules",
    "register_rule": "adoptsim.rules",
    "load_results": "adoptsim.sweeps.store",
    "sweep": "adoptsim.sweeps.dispatch",
    "Scenario": "adoptsim.scenario",
    "builtin_scenarios": "adoptsim.scenario",
    "load_scenario": "adoptsim.scenario",
    "sensitivity": "adoptsim.sensitivity_analysis",
    "SimulationResult": "adoptsim.results",
    "load_run": "adoptsim.results",
    "simulate": "adoptsim.simulation",
}


def __getattr__(name: str) -> object:
    """Import an exported name, or a submodule (``adoptsim.results``), on first use."""
    import importlib

    module = _EXPORTS.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module), name)
    else:
        try:
            value = importlib.import_module(f"adoptsim.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"adoptsim.{name}":
                raise
            raise AttributeError(f"module 'adoptsim' has no attribute {name!r}") from None
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


__version__ = "0.1.0"

__all__ = [
    "AdoptionModel",
    "AdoptionRule",
    "AdoptsimError",
    "BassRule",
    "Comparison",
    "EvidenceResult",
    "FirmAgent",
    "LogitRule",
    "Scenario",
    "ScenarioError",
    "SimulationResult",
    "StepContext",
    "backtest",
    "benchmark_forecast",
    "builtin_scenarios",
    "calibrate",
    "compare",
    "evidence_check",
    "load_results",
    "load_run",
    "load_scenario",
    "load_targets",
    "register_rule",
    "sensitivity",
    "simulate",
    "sweep",
    "validate",
]
