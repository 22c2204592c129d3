"""Global sensitivity analysis with SALib, run on the sweep machinery.

Vocabulary (EMA Workbench): *uncertainties* are what we do not know (calibrated parameters, effect
sizes), *levers* are what policy sets (reach, rates, take-up), *outcomes* what we report (share
using AI or at scale at a date, overall or for a segment; months until a share is reached).

Pipeline, the same for the model and for a test function
([`run_sensitivity`][adoptsim.sensitivity_analysis.run_sensitivity]): design (SALib sample of 2N
base points, so indices at N and 2N come from one design) → evaluate (model: a sweep — parallel,
resumable, deterministic) → analyse (SALib) at N and 2N.

Stochastic noise is handled explicitly: each sample point averages ``replications`` runs; with
``noise="independent"`` (default) every point gets its own replication seeds, so model noise
enters the output variance and a ``dummy`` factor that does nothing shows the noise floor; with
``noise="crn"`` every point reuses the same seeds (common random numbers), which removes the
noise's variance but freezes one noise realisation into the response.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from adoptsim.errors import ScenarioError
from adoptsim.months import format_month, parse_month
from adoptsim.parameters import LEVERS, Parameter
from adoptsim.posterior import PARAMETERS, posterior_table, split_overrides
from adoptsim.priors import PRIORS
from adoptsim.scenario import Scenario, load_scenario
from adoptsim.sweeps import store
from adoptsim.sweeps.dispatch import sweep
from adoptsim.sweeps.spec import SweepSpec, Task, task_id

DUMMY = "dummy"
# Prior-only inputs that are factors by default (their prior ranges, adoptsim/priors.py): every
# lever's effect size (in the evidence's units), legal clarity, the burden, the technology drift
# after the data, the exit hazards and the network's density. Lever details that only scale an
# effect (deadweight, windows, shares of firms) stay at their scenario values: each factor costs
# 2 N runs. The AI share of KMO-portefeuille projects sets how many subsidised AI projects there
# are at all. The benefit tilt (`levers.benefit.barrier_tilt`) is drawn in every band but is no
# factor: it moves a lever's effect between treated firms, the mean over them kept.
PRIOR_FACTORS = (
    "kmo_ai_share",
    "genai_drift",
    "subsidy_effect",
    "training_effect",
    "coaching_effect",
    "information_effect",
    "clarity_effect",
    "theta_burden",
    "exit_light",
    "exit_induced_extra",
    "mean_degree",
)


def effect_sizes() -> list[Parameter]:
    """The prior-only factors of `PRIOR_FACTORS`, with their prior ranges."""
    by_name = {p.parameter.name: p.parameter for p in PRIORS}
    return [by_name[name] for name in PRIOR_FACTORS]


if TYPE_CHECKING:
    import matplotlib.pyplot as plt


def default_factors(scenario: Scenario, dummy: bool = False) -> list[Parameter]:
    """The inputs a sensitivity analysis varies by default, with their ranges.

    Uncertainties from the scenario's posterior (90 % interval of each calibrated parameter,
    observation parameters excluded), the effect sizes no data identify (their prior ranges),
    and the policy levers.

    Args:
        scenario: the scenario analysed; its ``[calibration] posterior`` gives the ranges.
        dummy: add a dummy input that the model never reads; its index is the noise floor.
    """
    name = scenario.data["calibration"]["posterior"]
    out: list[Parameter] = []
    if name != "none":
        table = posterior_table(name)
        for p in PARAMETERS[name]:
            if all(k.startswith("observe.") for k in p.keys):
                continue
            lo, hi = np.quantile(table[p.name], [0.05, 0.95])
            if not hi > lo:
                continue  # held fixed by the calibration: a constant, not an uncertainty
            out.append(Parameter(p.name, p.keys, float(lo), float(hi), doc=p.doc))
    out += [*effect_sizes(), *LEVERS]
    if dummy:
        out.append(Parameter(DUMMY, (), 0.0, 1.0, role="dummy"))
    return out


@dataclass(frozen=True)
class Outcome:
    """The outcome a sensitivity analysis measures from each run.

    ``share`` / ``at_scale`` at a month (overall or a segment), or ``time_to``: months from the
    start until the overall share using AI reaches a level (runs that never reach it count as
    the horizon + 1).
    """

    kind: str
    date: str | None = None
    segment_type: str = "all"
    segment: str = "all"
    level: float | None = None

    @classmethod
    def parse(cls, text: str) -> Outcome:
        """``share:2028-12``, ``at_scale:2028-12:size:10-19``, ``time_to:0.5``."""
        parts = text.split(":")
        if parts[0] in ("share", "at_scale") and len(parts) in (2, 4):
            parse_month(parts[1], "outcome")
            seg = (parts[2], parts[3]) if len(parts) == 4 else ("all", "all")
            if seg[0] not in ("all", "sector", "size", "region"):
                raise ScenarioError("outcome", text, "segment type must be sector, size or region")
            return cls(parts[0], parts[1], *seg)
        if parts[0] == "time_to" and len(parts) == 2:
            try:
                level = float(parts[1])
            except ValueError:
                level = -1.0
            if not 0 < level < 1:
                raise ScenarioError("outcome", text, "time_to needs a share in (0, 1)")
            return cls("time_to", level=level)
        raise ScenarioError(
            "outcome",
            text,
            "must be share:YYYY-MM[:TYPE:SEGMENT], "
            "at_scale:YYYY-MM[:TYPE:SEGMENT] or time_to:SHARE",
        )

    def label(self) -> str:
        """Readable name of the outcome."""
        if self.kind == "time_to":
            return f"months until {self.level:.0%} use AI"
        what = "uses AI" if self.kind == "share" else "uses AI at scale"
        seg = "" if self.segment_type == "all" else f" ({self.segment_type} {self.segment})"
        return f"share that {what} in {self.date}{seg}"

    def measure(self, table: pd.DataFrame) -> float:
        """The outcome in one replication's tidy table."""
        if self.kind == "time_to":
            overall = table[table.segment_type == "all"].sort_values("date")
            hit = np.flatnonzero(overall.adopters_share.to_numpy() >= self.level)
            return float(hit[0]) if hit.size else float(len(overall))
        row = table[
            (table.date == self.date)
            & (table.segment_type == self.segment_type)
            & (table.segment.astype(str) == self.segment)
        ]
        if row.empty:
            raise ScenarioError(
                "outcome",
                f"{self.date} {self.segment_type} {self.segment}",
                "not in the simulated table (date outside the run, or segment)",
            )
        column = "adopters_share" if self.kind == "share" else "at_scale_share"
        return float(row[column].iloc[0])


@dataclass
class SensitivityResult:
    """Indices at 2N (``indices``), at N and 2N (``convergence``), the design and outputs."""

    method: str
    outcome: str
    indices: pd.DataFrame
    convergence: pd.DataFrame
    X: np.ndarray
    Y: np.ndarray
    factors: list[Parameter] = field(default_factory=list)
    scenario: Scenario | None = None
    design_note: str = ""

    def figure(self, path: str | Path | None = None) -> plt.Figure:
        """The indices as a bar chart ([`indices_figure`][adoptsim.plots.indices_figure]).

        Args:
            path: if given, the figure is saved there (PNG).

        Returns:
            The matplotlib figure, titled with the scenario and outcome, captioned with the
            population, the definition of "uses AI" and the design.
        """
        from adoptsim.plots import indices_figure, population_label

        title, caption = self.outcome, self.design_note
        if self.scenario is not None:
            title = f"{self.scenario.name}: {self.outcome}"
            caption = (
                f'{population_label(self.scenario)}; "uses AI" as in the AI barometer (any use). '
                f"{self.design_note}."
            )
        return indices_figure(self, path, title, caption)


def problem_of(factors: Sequence[Parameter]) -> dict:
    """The SALib ``problem`` dict."""
    return {
        "num_vars": len(factors),
        "names": [f.name for f in factors],
        "bounds": [[f.lo, f.hi] for f in factors],
        "dists": [f.dist for f in factors],
    }


def _salib_seed(seed: int) -> int:
    """SALib treats a seed of 0 as "no seed" (``if seed:``), so shift seeds by one."""
    return int(seed) + 1


def design(
    factors: Sequence[Parameter], method: str, samples: int, seed: int, second_order: bool = False
) -> np.ndarray:
    """SALib sample with 2·``samples`` base points (Sobol: Saltelli; Morris: trajectories)."""
    problem = problem_of(factors)
    seed = _salib_seed(seed)
    if method == "sobol":
        from SALib.sample import sobol

        return sobol.sample(problem, 2 * samples, calc_second_order=second_order, seed=seed)
    if method == "morris":
        from SALib.sample import morris

        return morris.sample(problem, 2 * samples, num_levels=4, seed=seed)
    raise ScenarioError("method", method, "must be sobol or morris")


def analyse(
    factors: Sequence[Parameter],
    method: str,
    X: np.ndarray,
    Y: np.ndarray,
    seed: int,
    second_order: bool = False,
) -> pd.DataFrame:
    """Sensitivity indices of the outcomes `Y` of design `X`, computed with SALib.

    Args:
        factors: the inputs varied, in the design's column order.
        method: ``"sobol"`` or ``"morris"``.
        X: the design (one row per run point).
        Y: the outcome at each design row.
        seed: seed of SALib's bootstrap (confidence intervals).
        second_order: Sobol only: also compute second-order indices.

    Returns:
        One row per factor. Sobol: S1, S1_conf, ST, ST_conf; Morris: mu_star, mu_star_conf,
        sigma, mu.
    """
    problem = problem_of(factors)
    seed = _salib_seed(seed)
    if method == "sobol":
        from SALib.analyze import sobol

        r = sobol.analyze(problem, Y, calc_second_order=second_order, seed=seed)
        table = pd.DataFrame(
            {
                "parameter": problem["names"],
                "S1": r["S1"],
                "S1_conf": r["S1_conf"],
                "ST": r["ST"],
                "ST_conf": r["ST_conf"],
            }
        )
    else:
        from SALib.analyze import morris

        r = morris.analyze(problem, X, Y, num_levels=4, seed=seed)
        table = pd.DataFrame(
            {
                "parameter": problem["names"],
                "mu_star": r["mu_star"],
                "mu_star_conf": r["mu_star_conf"],
                "sigma": r["sigma"],
                "mu": r["mu"],
            }
        )
    table["role"] = [f.role for f in factors]
    return table


def run_sensitivity(
    factors: Sequence[Parameter],
    evaluate: Callable[[np.ndarray], np.ndarray],
    *,
    method: str = "sobol",
    samples: int = 64,
    seed: int = 0,
    second_order: bool = False,
    outcome: str = "",
) -> SensitivityResult:
    """Design → evaluate → analyse, with the convergence check (indices at N and at 2N).

    ``evaluate`` maps the design (rows × factors) to one output per row; the model uses a
    sweep ([`ModelEvaluator`][adoptsim.sensitivity_analysis.ModelEvaluator]), tests use analytic
    functions through this same path.
    """
    factors = list(factors)
    X = design(factors, method, samples, seed, second_order)
    Y = np.asarray(evaluate(X), dtype=float)
    half = X.shape[0] // 2  # both samplers order rows by base point / trajectory
    rows = []
    for n, (x, y) in ((samples, (X[:half], Y[:half])), (2 * samples, (X, Y))):
        t = analyse(factors, method, x, y, seed, second_order)
        rows.append(t.assign(N=n))
    convergence = pd.concat(rows, ignore_index=True)
    indices = rows[-1].drop(columns="N").reset_index(drop=True)
    return SensitivityResult(method, outcome, indices, convergence, X, Y, factors)


@dataclass
class ModelEvaluator:
    """Evaluates a design by running the model through [`sweep`][adoptsim.sweeps.dispatch.sweep].

    Calibrated parameters not among the factors are held at their posterior median, and
    prior-only parameters at their scenario values (the posterior's and the priors' draws would
    otherwise add parameter noise that no factor explains).
    """

    scenario: Scenario
    factors: list[Parameter]
    outcome: Outcome
    out: Path
    n_firms: int
    replications: int = 2
    seed: int = 0
    noise: str = "independent"
    workers: int | None = None
    executor: Executor | None = None
    progress: bool = True

    def base(self) -> Scenario:
        """The scenario every design row starts from: posterior at its median, no draws.

        Posterior and prior draws are off, so the analysis varies only the design's factors.
        """
        sc = self.scenario
        name = sc.data["calibration"]["posterior"]
        sc = sc.with_overrides({"calibration.posterior": "none", "calibration.priors": "none"})
        if name == "none":
            return sc
        median = posterior_table(name).median()
        draw = {k: float(median[p.name]) for p in PARAMETERS[name] for k in p.keys}
        return sc.with_draw(split_overrides(draw)[0])

    def __call__(self, X: np.ndarray) -> np.ndarray:
        """Simulate each design row as a sweep point and measure the outcome.

        Args:
            X: the design, one row per point, columns in the order of `factors`.

        Returns:
            The outcome per row, averaged over its replications.
        """
        base = self.base()
        points = []
        for x in X:
            point: dict[str, float] = {}
            for f, v in zip(self.factors, x, strict=True):
                point.update(f.overrides(v))
            points.append(point)
        spec = DesignSweep(
            (base,),
            tuple(points),
            self.replications,
            self.seed,
            self.n_firms,
            "sensitivity",
            independent=self.noise == "independent",
        )
        sweep(spec, self.executor, out=self.out, workers=self.workers, progress=self.progress)
        y = np.empty(len(points))
        for i, tasks in enumerate(spec.tasks_by_point()):
            y[i] = np.mean([self.outcome.measure(read_shard(self.out, t.task_id)) for t in tasks])
        return y


@dataclass(frozen=True)
class DesignSweep(SweepSpec):
    """A sweep whose points are the rows of a sensitivity design.

    With ``independent``, point i runs replications i·R … i·R + R − 1 (its own seeds);
    otherwise every point runs 0 … R − 1 (common random numbers). Task ids stay stable, so an
    interrupted analysis resumes where it stopped.
    """

    independent: bool = True

    def tasks_by_point(self) -> list[list[Task]]:
        """The tasks of each design row, in design order."""
        sc = self.scenarios[0]
        out = []
        for i, point in enumerate(self.points):
            offset = i * self.replications if self.independent else 0
            reps = range(offset, offset + self.replications)
            out.append(
                [
                    Task(
                        task_id(sc, point, self.seed, r, self.n_firms),
                        sc,
                        point,
                        self.seed,
                        r,
                        self.n_firms,
                    )
                    for r in reps
                ]
            )
        return out

    def tasks(self) -> list[Task]:
        """All tasks of the design, row after row."""
        return [t for group in self.tasks_by_point() for t in group]


def read_shard(out: Path, task_id_: str) -> pd.DataFrame:
    """One finished task's table (raises ScenarioError if the task did not finish)."""
    try:
        return store.read_shard(out, task_id_)
    except FileNotFoundError as exc:
        raise ScenarioError(
            "sensitivity", task_id_, f"task did not finish (no {exc}); rerun"
        ) from None


def sensitivity(
    scenario: str | Scenario,
    *,
    method: str = "sobol",
    samples: int = 64,
    params: Sequence[str] | None = None,
    outcome: str = "share:2028-12",
    dummy: bool = False,
    n_firms: int = 5000,
    replications: int = 2,
    seed: int = 0,
    noise: str = "independent",
    second_order: bool = False,
    out: str | Path | None = None,
    workers: int | None = None,
    executor: Executor | None = None,
    progress: bool = True,
) -> SensitivityResult:
    """Sobol or Morris sensitivity of an outcome of ``scenario`` to its uncertainties and levers.

    Args:
        scenario: a [`Scenario`][adoptsim.scenario.Scenario], a built-in name or a TOML path.
        method: ``sobol`` (Saltelli design, first-order and total indices) or ``morris``
            (elementary effects, a cheaper screening).
        samples: N, the number of base points; the design has 2N of them so the indices at N and
            at 2N (the convergence check) come from one set of runs. Sobol costs
            2N·(k + 2) sample points for k factors, each run ``replications`` times.
        params: factor names to include (default: all of
            [`default_factors`][adoptsim.sensitivity_analysis.default_factors]).
        outcome: what is measured; see
            [`Outcome.parse`][adoptsim.sensitivity_analysis.Outcome.parse].
        dummy: add a factor that does nothing; its index is the noise floor.
        n_firms: agents per run.
        replications: runs averaged per sample point.
        seed: base seed of the design and of the runs' replication seeds.
        noise: ``independent`` (own seeds per sample point) or ``crn``.
        second_order: also compute Sobol second-order indices (costs 2N·(2k + 2) points).
        out: folder for the sweep's shards (resumable) and ``indices.csv``, ``convergence.csv``,
            ``design.json`` (the figure: ``result.figure(path)``). Default ``None``: the runs go
            to a temporary folder that is removed afterwards and nothing is written (nothing to
            resume).
        workers: processes of the default pool (default: one per core).
        executor: any ``concurrent.futures.Executor`` to run the sweep on instead.
        progress: show a progress bar.

    Returns:
        A [`SensitivityResult`][adoptsim.sensitivity_analysis.SensitivityResult] with the indices
        at 2N, the convergence table (N and 2N), the design and the outputs.
    """
    from adoptsim import arguments, memory

    sc = load_scenario(scenario)
    if noise not in ("independent", "crn"):
        raise ScenarioError("noise", noise, "must be independent or crn")
    samples = arguments.whole_number(samples, "samples", 2)
    seed = arguments.seed(seed)
    n_firms = arguments.n_firms(n_firms)
    replications = arguments.whole_number(replications, "replications", 1)
    if not isinstance(outcome, str):
        raise ScenarioError("outcome", outcome, "must be text, e.g. share:2028-12")
    if params is not None and (
        not isinstance(params, list | tuple)
        or not params
        or not all(isinstance(p, str) and p for p in params)
    ):
        raise ScenarioError("params", params, "must be a non-empty list of factor names")
    target = Outcome.parse(outcome)
    if target.date is not None and not sc.start <= parse_month(target.date) <= sc.end:
        raise ScenarioError(
            "outcome",
            outcome,
            f"date must lie within {format_month(sc.start)}..{format_month(sc.end)}",
        )
    factors = default_factors(sc, dummy)
    if params:
        known = {f.name: f for f in factors}
        unknown = [p for p in params if p not in known]
        if unknown:
            raise ScenarioError("params", unknown[0], f"must be one of {', '.join(known)}")
        factors = [known[p] for p in params] + (
            [known[DUMMY]] if dummy and DUMMY not in params else []
        )
    # the design (2N base points × (k + 2) or (2k + 2) rows of k numbers) and the sweep plan
    # of its runs, before SALib allocates either
    k = len(factors)
    points = 2 * samples * ((2 * k + 2) if second_order else (k + 2))
    memory.check(
        "samples",
        samples,
        points * (8 * k + replications * memory.BYTES_PER_TASK),
        "use fewer samples",
    )
    with contextlib.ExitStack() as stack:
        # Without ``out`` the runs go to a folder removed on return: nothing lands in the cwd.
        runs = (
            Path(out) / "runs"
            if out is not None
            else Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="adoptsim-sa-")))
        )
        evaluator = ModelEvaluator(
            sc,
            factors,
            target,
            runs,
            n_firms,
            replications,
            seed,
            noise,
            workers,
            executor,
            progress,
        )
        result = run_sensitivity(
            factors,
            evaluator,
            method=method,
            samples=samples,
            seed=seed,
            second_order=second_order,
            outcome=target.label(),
        )
    result.scenario = sc
    result.design_note = (
        f"{method.capitalize()}, N = {samples}, {len(result.Y):,} runs of {n_firms:,} agents "
        f"({replications} per point, seed {seed})"
    )
    if out is None:
        return result
    out = Path(out)
    from adoptsim.atomic import output_error, write_csv, write_text

    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise output_error(out, exc) from None
    write_csv(out / "indices.csv", result.indices, float_format="%.5f")
    write_csv(out / "convergence.csv", result.convergence, float_format="%.5f")
    write_text(
        out / "design.json",
        json.dumps(
            {
                "scenario": sc.name,
                "method": method,
                "samples": samples,
                "runs": len(result.Y),
                "replications": replications,
                "n_firms": n_firms,
                "seed": seed,
                "noise": noise,
                "outcome": target.label(),
                "factors": [f.__dict__ for f in factors],
            },
            indent=2,
            default=list,
        ),
    )
    return result
