"""Command line: ``adoptsim run SCENARIO [--firms N] [--seed S] [--replications R] [--out DIR]``.

Input errors print one line naming the field and exit with code 2 (no traceback).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from adoptsim.errors import AdoptsimError


def _whole_number_at_least(lo: int):
    """An argparse type: a whole number >= ``lo``, with a one-line error otherwise."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < lo:
            raise argparse.ArgumentTypeError(f"{value} must be >= {lo}")
        return value

    return parse


_positive_int = _whole_number_at_least(1)
_nonneg_int = _whole_number_at_least(0)


def _figures() -> None:
    r"""Draw figures off-screen and show text as written.

    A scenario name such as ``$\frac{$`` must not be parsed as math: it would fail after the
    tables were written, leaving a half-written output folder.
    """
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["text.parse_math"] = False


def _out(given: str | None, *default: str) -> Path:
    """The output folder: ``--out`` if given, else ``results/<slug>/...``.

    It is checked writable before any work starts, so a long run never ends in "cannot write".
    """
    from adoptsim.paths import default_out, writable_folder

    return writable_folder(Path(given) if given else default_out(*default))


def _check_firms(firms: int | None, scenario: str, concurrent: int = 1) -> None:
    """Refuse ``--firms`` that cannot fit in memory, before any work starts.

    Args:
        firms: the ``--firms`` given; None (not given) passes without a check.
        scenario: the scenario's name or path; its network sets the ties per firm.
        concurrent: how many runs of that size are in memory at once (e.g. sweep workers).
    """
    if firms is None:
        return
    from adoptsim import load_scenario, memory

    net = load_scenario(scenario).data["network"]
    memory.check_run(firms, net["mean_degree"], net["kind"], concurrent=concurrent)


def _prestarted(workers: int, runs: int):
    """Start the workers of a run on several processes now; stopped on leaving if unused.

    They import the model while this process loads and checks the scenario.
    """
    from adoptsim import worker_pool

    worker_pool.prestart(min(workers, runs))
    return worker_pool.stopping_unused()


def cmd_run(args: argparse.Namespace) -> int:
    """Simulate a scenario and write ``adoption.csv`` and ``adoption.png`` into ``--out``."""
    with _prestarted(args.workers, args.replications):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    from adoptsim import __version__, load_scenario, memory

    scenario = load_scenario(args.scenario)
    out = _out(args.out, scenario.name)
    # Before loading the model's libraries.
    memory.check_scenario(scenario, args.firms, concurrent=min(args.workers, args.replications))
    from adoptsim import simulate

    t0 = time.perf_counter()
    result = simulate(
        scenario,
        n_firms=args.firms,
        seed=args.seed,
        replications=args.replications,
        progress=not args.quiet,
        workers=args.workers,
    )
    result.run_info["command"] = args.command_line
    result.run_info["wall_time_s"] = round(time.perf_counter() - t0, 3)
    _figures()  # matplotlib loads in seconds: only once there is something to draw
    from adoptsim.plots import fan_chart

    csv = result.save(out)
    drawn = result.adoption["draw"].nunique() > 1
    caption = (
        f"scenario {scenario.name}, seed {args.seed}, {result.n_firms} agents, "
        f"adoptsim {__version__}. Uncertainty: "
        + (
            "parameter (one posterior draw per replication) + stochastic."
            if drawn
            else "stochastic only."
        )
    )
    fan_chart(
        result.adoption, f"AI adoption — {scenario.name}", caption, out / "adoption.png", scenario
    )
    _print_cap_notes(scenario, [scenario])
    last = result.adoption[(result.adoption.segment_type == "all")]
    final = last[last.date == last.date.max()]
    print(
        f"{scenario.name}: {final.date.iloc[0]} uses AI {final.adopters_share.median():.1%}, "
        f"at scale {final.at_scale_share.median():.1%} (median of {args.replications}); "
        f"wrote {csv} and {out / 'adoption.png'} in {time.perf_counter() - t0:.1f} s"
    )
    return 0


def _print_cap_notes(reference, scenarios) -> None:
    """One line per raised subsidy rate that the KMO-portefeuille cap holds back."""
    from adoptsim import load_scenario
    from adoptsim.notes import cap_notes

    if len(scenarios) == 1 and scenarios[0].name != "baseline":
        reference = load_scenario("baseline")  # a single run: what it changes vs the baseline
    for sc in scenarios:
        if sc is reference:
            continue
        for note in cap_notes(sc, reference):
            print(f"{sc.name}: {note.text()}")


WORKERS_HELP = (
    "processes for the replications (default 1; the result is the same for any number; a pool "
    "costs about a second to start)"
)


class _Parser(argparse.ArgumentParser):
    """Argument errors in one line (``adoptsim: error: ...``), exit code 2, like value errors."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def cmd_scenarios(args: argparse.Namespace) -> int:
    """List the built-in scenarios, one line each (name and description)."""
    from adoptsim.scenario import builtin_scenarios, load_scenario

    names = builtin_scenarios()
    width = max(len(n) for n in names)
    for name in names:
        print(f"{name:{width}s}  {load_scenario(name).data['scenario']['description']}")
    sweeps = shipped_sweeps()
    if sweeps:
        print(f"example sweeps (adoptsim sweep NAME --out DIR): {', '.join(sorted(sweeps))}")
    return 0


def shipped_sweeps() -> dict[str, Path]:
    """The example sweep specs shipped with adoptsim, by name (file stem)."""
    from adoptsim.scenario import scenario_dirs

    found: dict[str, Path] = {}
    for d in scenario_dirs():
        for p in sorted((d / "sweeps").glob("*.toml")):
            found.setdefault(p.stem, p)
    return found


def _sweep_path(spec: str) -> str:
    """A sweep spec path as given, or the shipped example of that name."""
    if Path(spec).exists() or spec.endswith(".toml"):
        return spec
    shipped = shipped_sweeps()
    if spec in shipped:
        return str(shipped[spec])
    raise AdoptsimError(
        f"sweep: {spec!r} is neither a file nor a shipped example "
        f"({', '.join(sorted(shipped)) or 'none shipped'})"
    )


def cmd_sweep(args: argparse.Namespace) -> int:
    """Run a sweep spec into ``--out`` (resumable); exit 1 if a task failed, 130 on Ctrl-C."""
    from adoptsim import worker_pool

    if args.scheduler is None:
        # Workers spend their first second importing the model; they do it while this process
        # imports the sweep machinery and reads the spec (stopped at once if it is refused).
        worker_pool.prestart(args.workers or os.cpu_count() or 1)
    from adoptsim.runner import SweepInterrupted, connect_scheduler, load_sweep_spec, sweep

    client = None
    try:
        spec = load_sweep_spec(_sweep_path(args.spec))  # bad specs stop here, before running
        client = connect_scheduler(args.scheduler) if args.scheduler else None
        summary = sweep(
            spec,
            client.get_executor(pure=False) if client is not None else None,
            out=args.out,
            workers=args.workers,
            progress=not args.quiet,
        )
    except SweepInterrupted as exc:
        print(f"adoptsim: {exc}", file=sys.stderr)
        return 130
    finally:
        worker_pool.discard_prestarted()
        if client is not None:
            client.close()
    print(summary.report())
    return 1 if summary.failures else 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    """Fit the joint posterior; writes posterior.csv, fit.json, fit.csv into ``--out``."""
    from adoptsim.calibrate import calibrate
    from adoptsim.posterior import COUNTRIES

    countries = COUNTRIES if args.population == "both" else (args.population,)
    out = _out(args.out, "calibration", args.population)
    _check_firms(args.firms, "baseline", args.workers)
    result = calibrate(
        countries,
        out=out,
        budget=args.budget,
        n_firms=args.firms,
        replications=args.replications,
        seed=args.seed,
        workers=args.workers,
        origin=args.origin,
        mcmc_steps=args.mcmc_steps,
        rounds=args.rounds,
        progress=not args.quiet,
    )
    r = result.report
    print(
        f"calibrated {'+'.join(countries)} on targets up to {r['origin']}: "
        f"{r['simulations']} simulations, R-hat max {r['mcmc']['rhat_max']:.3f}, "
        f"{r['runtime_s']:.0f} s; wrote {out / 'posterior.csv'} and {out / 'fit.json'}"
    )
    return 0


def cmd_backtest(args: argparse.Namespace) -> int:
    """Fit on targets up to ``--origin``, forecast every later target to 2024-12, score it."""
    _figures()
    from adoptsim.backtest import backtest

    out = _out(args.out, "backtest", args.origin)
    _check_firms(args.firms, "baseline", args.workers)
    result = backtest(
        args.origin,
        population=args.population,
        budget=args.budget,
        n_firms=args.firms,
        out=out,
        replications=args.replications,
        seed=args.seed,
        workers=args.workers,
        mcmc_steps=args.mcmc_steps,
        progress=not args.quiet,
    )
    print(result.summary())
    print(f"wrote {out / 'forecast.csv'}, {out / 'score.csv'} and {out / 'backtest.png'}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    """Compare the shipped calibration with every target row; writes fit.csv and fit.png."""
    _figures()
    from adoptsim import __version__
    from adoptsim.plots import fit_figure
    from adoptsim.validation import validate

    out = _out(args.out, "validate")
    _check_firms(args.firms, "baseline")
    fit = validate(
        args.targets,
        replications=args.replications,
        n_firms=args.firms,
        seed=args.seed,
        progress=not args.quiet,
    )
    out.mkdir(parents=True, exist_ok=True)
    fit.to_csv(out / "fit.csv", index=False, float_format="%.5g", lineterminator="\n")
    caption = (
        f"{args.replications} replications per country, each with its own joint posterior draw; "
        f"predictive band = parameter + discrepancy + survey noise; seed {args.seed}; "
        f"adoptsim {__version__}"
    )
    fit_figure(fit, out / "fit.png", caption)
    observed = fit[fit.sim_mean.notna()]
    for _, row in fit[fit.sim_mean.isna()].iterrows():
        print(f"not observed: {row.id}: {row.reason}")
    print(
        f"{int(observed.within.sum())} of {len(observed)} observed targets within "
        f"max(2 se, 0.02); wrote {out / 'fit.csv'} and {out / 'fit.png'}"
    )
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """Compare scenarios with common random numbers; writes comparison.csv/.png, adoption.csv."""
    with _prestarted(args.workers, args.replications):
        return _compare(args)


def _compare(args: argparse.Namespace) -> int:
    _figures()
    import pandas as pd

    from adoptsim import __version__
    from adoptsim.comparison import compare
    from adoptsim.plots import comparison_figure

    out = _out(args.out, "compare")
    comp = compare(
        args.scenarios,
        n_firms=args.firms,
        seed=args.seed,
        replications=args.replications,
        progress=not args.quiet,
        workers=args.workers,
    )
    out.mkdir(parents=True, exist_ok=True)
    comp.summary.to_csv(
        out / "comparison.csv", index=False, float_format="%.5f", lineterminator="\n"
    )
    comp.adoption.to_csv(
        out / "adoption.csv", index=False, float_format="%.6f", lineterminator="\n"
    )
    caption = (
        f"{args.replications} paired replications (common random numbers; each with its "
        f"own posterior draw where the scenario names one: bands = parameter + stochastic "
        f"uncertainty); seed {args.seed}; adoptsim {__version__}"
    )
    comparison_figure(comp, out / "comparison.png", caption)
    final = comp.summary[
        (comp.summary.segment_type == "all") & (comp.summary.date == comp.summary.date.max())
    ]
    for _, row in final.iterrows():
        diff = (
            ""
            if pd.isna(row.diff_uses_ai_median)
            else f"; vs {comp.reference} {100 * row.diff_uses_ai_median:+.1f} pp "
            f"[{100 * row.diff_uses_ai_p05:+.1f}, {100 * row.diff_uses_ai_p95:+.1f}]"
        )
        print(f"{row.scenario}: {row.date} uses AI {row.uses_ai_median:.1%}{diff}")
    _print_cap_notes(comp.scenarios[comp.reference], list(comp.scenarios.values()))
    print(
        f"(vs {comp.reference}: the median of paired differences over {args.replications} "
        "replications with common random numbers, [5 %, 95 %] of them; not the difference "
        "of the medians)"
    )
    print(f"wrote {out / 'comparison.csv'}, {out / 'comparison.png'}, {out / 'adoption.csv'}")
    return 0


def cmd_sensitivity(args: argparse.Namespace) -> int:
    """Sobol or Morris analysis of one outcome; writes indices.csv/.png, convergence.csv."""
    _figures()
    from adoptsim.sensitivity_analysis import sensitivity

    out = _out(args.out, "sensitivity", Path(args.scenario).stem)
    _check_firms(args.firms, args.scenario, args.workers or os.cpu_count() or 1)
    params = [p for p in args.params.split(",") if p] if args.params else None
    result = sensitivity(
        args.scenario,
        method=args.method,
        samples=args.samples,
        params=params,
        outcome=args.outcome,
        dummy=args.dummy,
        n_firms=args.firms,
        replications=args.replications,
        seed=args.seed,
        noise=args.noise,
        second_order=args.second_order,
        out=out,
        workers=args.workers,
        progress=not args.quiet,
    )
    key = "ST" if args.method == "sobol" else "mu_star"
    top = result.indices.sort_values(key, ascending=False).head(5)
    print(f"{result.outcome} ({len(result.Y)} runs × {args.replications} replications):")
    for _, row in top.iterrows():
        print(f"  {row.parameter:24s} {key} = {row[key]:.3f}")
    print(f"wrote {out / 'indices.csv'}, {out / 'indices.png'}, {out / 'convergence.csv'}")
    return 0


def cmd_explore(args: argparse.Namespace) -> int:
    """Serve the lever explorer in the browser until Ctrl-C."""
    try:
        from adoptsim.explorer import serve
    except ImportError as exc:
        raise AdoptsimError(
            f"explore needs Panel ({exc.name} missing): pip install 'adoptsim[jupyter]'"
        ) from None
    print(f"adoptsim lever explorer on http://127.0.0.1:{args.port}/ (Ctrl-C stops it)")
    serve(
        args.port,
        base=args.scenario,
        n_firms=args.firms,
        replications=args.replications,
        show=args.show,
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``adoptsim`` argument parser."""
    from adoptsim import __version__

    parser = _Parser(prog="adoptsim", description="AI adoption by Flemish SMEs, agent-based.")
    parser.add_argument("--version", action="version", version=f"adoptsim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    lst = sub.add_parser("scenarios", help="list the built-in scenarios, one line each")
    lst.set_defaults(func=cmd_scenarios)
    run = sub.add_parser("run", help="simulate a scenario to its end (table + fan chart)")
    run.add_argument("scenario", help="built-in scenario name or path to a TOML file")
    run.add_argument("--firms", type=_positive_int, default=None, help="number of agents")
    run.add_argument("--seed", type=_nonneg_int, default=0, help="base seed (default 0)")
    run.add_argument(
        "--replications",
        type=_positive_int,
        default=10,
        help="stochastic replications (default 10)",
    )
    run.add_argument("--out", default=None, help="output folder (default results/SCENARIO)")
    run.add_argument("--workers", type=_positive_int, default=1, help=WORKERS_HELP)
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.set_defaults(func=cmd_run)
    sw = sub.add_parser(
        "sweep", help="run scenario × parameter point × replication tasks (resumable)"
    )
    sw.add_argument(
        "spec", help="sweep spec (TOML file with a [sweep] table) or a shipped example's name"
    )
    sw.add_argument("--out", required=True, help="output folder (shards + manifest)")
    where = sw.add_mutually_exclusive_group()
    where.add_argument(
        "--workers", type=_positive_int, default=None, help="local processes (default: all CPUs)"
    )
    where.add_argument(
        "--scheduler",
        default=None,
        help="dask.distributed scheduler address (tcp://host:8786) or scheduler JSON file",
    )
    sw.add_argument("--quiet", action="store_true", help="no progress bar")
    sw.set_defaults(func=cmd_sweep)
    cal = sub.add_parser("calibrate", help="fit the joint posterior to the targets (resumable)")
    cal.add_argument("--population", choices=("flanders", "netherlands", "both"), default="both")
    cal.add_argument("--budget", type=_positive_int, default=600, help="design points")
    cal.add_argument("--firms", type=_positive_int, default=None, help="agents per simulation")
    cal.add_argument(
        "--replications",
        type=_positive_int,
        default=1,
        help="replications per design point (common random numbers)",
    )
    cal.add_argument("--seed", type=_nonneg_int, default=0)
    cal.add_argument("--workers", type=_positive_int, default=2, help="local processes")
    cal.add_argument(
        "--origin", default=None, help="use only targets dated up to YYYY-MM (at most 2024-12)"
    )
    cal.add_argument("--mcmc-steps", type=_positive_int, default=1500, help="steps per ensemble")
    cal.add_argument(
        "--rounds",
        type=_positive_int,
        default=3,
        help="design rounds (1: prior box only; later ones around the previous posterior)",
    )
    cal.add_argument("--out", default=None, help="output folder")
    cal.add_argument("--quiet", action="store_true", help="no progress bar")
    cal.set_defaults(func=cmd_calibrate)
    bt = sub.add_parser(
        "backtest", help="fit up to an origin, forecast every later target to 2024-12, score"
    )
    bt.add_argument("--origin", required=True, help="last month fitted, YYYY-MM")
    bt.add_argument("--population", choices=("flanders", "netherlands", "both"), default="both")
    bt.add_argument("--budget", type=_positive_int, default=300, help="design points")
    bt.add_argument("--firms", type=_positive_int, default=None, help="agents per simulation")
    bt.add_argument(
        "--replications", type=_positive_int, default=40, help="forecast runs per country"
    )
    bt.add_argument("--seed", type=_nonneg_int, default=0)
    bt.add_argument("--workers", type=_positive_int, default=2, help="local processes")
    bt.add_argument("--mcmc-steps", type=_positive_int, default=1000, help="steps per ensemble")
    bt.add_argument("--out", default=None, help="output folder (default results/backtest/ORIGIN)")
    bt.add_argument("--quiet", action="store_true", help="no progress bar")
    bt.set_defaults(func=cmd_backtest)
    val = sub.add_parser("validate", help="simulate the shipped calibration against targets")
    val.add_argument("--targets", default=None, help="CSV in the targets schema (default: shipped)")
    val.add_argument("--replications", type=_positive_int, default=20, help="runs per country")
    val.add_argument("--firms", type=_positive_int, default=None, help="agents per simulation")
    val.add_argument("--seed", type=_nonneg_int, default=0)
    val.add_argument("--out", default=None, help="output folder (default results/validate)")
    val.add_argument("--quiet", action="store_true", help="no progress bar")
    val.set_defaults(func=cmd_validate)
    cmp_ = sub.add_parser("compare", help="compare scenarios (paired, common random numbers)")
    cmp_.add_argument("scenarios", nargs="+", help="reference first, then the others")
    cmp_.add_argument("--firms", type=_positive_int, default=None, help="agents per run")
    cmp_.add_argument("--seed", type=_nonneg_int, default=0)
    cmp_.add_argument("--replications", type=_positive_int, default=10)
    cmp_.add_argument("--out", default=None, help="output folder (default results/compare)")
    cmp_.add_argument("--workers", type=_positive_int, default=1, help=WORKERS_HELP)
    cmp_.add_argument("--quiet", action="store_true", help="no progress bar")
    cmp_.set_defaults(func=cmd_compare)
    sen = sub.add_parser("sensitivity", help="Sobol / Morris global sensitivity (SALib)")
    sen.add_argument("scenario", help="built-in scenario name or TOML path")
    sen.add_argument("--method", choices=("sobol", "morris"), default="sobol")
    sen.add_argument("--samples", type=_positive_int, default=64, help="N (base samples)")
    sen.add_argument("--params", default=None, help="comma-separated factor names (default all)")
    sen.add_argument(
        "--outcome",
        default="share:2028-12",
        help="share:YYYY-MM[:TYPE:SEGMENT] | at_scale:... | time_to:SHARE",
    )
    sen.add_argument("--dummy", action="store_true", help="add a do-nothing factor (noise floor)")
    sen.add_argument("--firms", type=_positive_int, default=5000, help="agents per run")
    sen.add_argument(
        "--replications", type=_positive_int, default=2, help="runs averaged per sample point"
    )
    sen.add_argument("--noise", choices=("independent", "crn"), default="independent")
    sen.add_argument("--second-order", action="store_true", help="Sobol second-order indices")
    sen.add_argument("--seed", type=_nonneg_int, default=0)
    sen.add_argument("--workers", type=_positive_int, default=None, help="local processes")
    sen.add_argument("--out", default=None, help="output folder")
    sen.add_argument("--quiet", action="store_true", help="no progress bar")
    sen.set_defaults(func=cmd_sensitivity)
    exp = sub.add_parser("explore", help="the lever explorer in the browser (Panel app)")
    exp.add_argument("--port", type=_positive_int, default=5006, help="port (default 5006)")
    exp.add_argument("--scenario", default="baseline", help="scenario the sliders change")
    exp.add_argument("--firms", type=_positive_int, default=3000, help="agents per run")
    exp.add_argument("--replications", type=_positive_int, default=6)
    exp.add_argument("--show", action="store_true", help="open a browser window")
    exp.set_defaults(func=cmd_explore)
    for command in sub.choices.values():  # every command, including ones added later
        _add_guard_flags(command)
    return parser


def _add_guard_flags(command: argparse.ArgumentParser) -> None:
    """The switches of the safety guards, on one command."""
    command.add_argument(
        "--no-memory-check",
        action="store_true",
        help="run even if the estimated memory exceeds what is available (ADOPTSIM_MEMORY_CHECK=0)",
    )
    command.add_argument(
        "--no-import",
        action="store_true",
        help="refuse rule.kind = 'module:Class' that would import code named in a scenario file "
        "(ADOPTSIM_TRUSTED_RULES=0); use for scenario files you did not write",
    )


def _apply_guard_flags(args: argparse.Namespace) -> dict[str, str | None]:
    """Pass the guard flags on through the environment, so worker processes see them too.

    Returns the previous values, for ``main`` to restore.
    """
    wanted = {}
    if getattr(args, "no_memory_check", False):
        wanted["ADOPTSIM_MEMORY_CHECK"] = "0"
    if getattr(args, "no_import", False):
        wanted["ADOPTSIM_TRUSTED_RULES"] = "0"
    previous = {k: os.environ.get(k) for k in wanted}
    os.environ.update(wanted)
    return previous


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code (2 for bad input)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.command_line = ["adoptsim", *(sys.argv[1:] if argv is None else argv)]
    previous = _apply_guard_flags(args)
    try:
        return args.func(args)
    except AdoptsimError as exc:
        print(f"adoptsim: error: {exc}", file=sys.stderr)
        return 2
    except MemoryError:
        print(
            "adoptsim: error: out of memory; use fewer firms or fewer workers",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print("adoptsim: interrupted", file=sys.stderr)
        return 130
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


if __name__ == "__main__":
    sys.exit(main())
