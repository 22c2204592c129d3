"""adoptsim — agent-based simulation of AI adoption by Flemish SMEs, with Belgium and the
Netherlands as comparison populations, under subsidy, training, coaching and AI Act levers."""

from adoptsim.comparison import Comparison, compare
from adoptsim.errors import AdoptsimError, ScenarioError
from adoptsim.model import AdoptionModel, FirmAgent
from adoptsim.observe import load_targets
from adoptsim.results import SimulationResult, load_run
from adoptsim.rules import AdoptionRule, BassRule, LogitRule, StepContext, register_rule
from adoptsim.runner import load_results, sweep
from adoptsim.scenario import Scenario, builtin_scenarios, load_scenario
from adoptsim.sensitivity_analysis import sensitivity
from adoptsim.simulation import simulate

__version__ = "0.1.0"

__all__ = [
    "AdoptionModel",
    "AdoptionRule",
    "AdoptsimError",
    "BassRule",
    "Comparison",
    "FirmAgent",
    "LogitRule",
    "Scenario",
    "ScenarioError",
    "SimulationResult",
    "StepContext",
    "builtin_scenarios",
    "compare",
    "load_results",
    "load_run",
    "load_scenario",
    "load_targets",
    "register_rule",
    "sensitivity",
    "simulate",
    "sweep",
]
