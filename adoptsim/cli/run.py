"""``adoptsim scenarios``, ``run``, ``compare`` and ``explore``: projections of scenarios."""

from __future__ import annotations

import argparse
import sys
import time

from adoptsim import cli_guards as guards
from adoptsim import memory
from adoptsim.cli._common import _figures, _prestarted
from adoptsim.cli.sweep import shipped_sweeps
from adoptsim.errors import AdoptsimError


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


def cmd_run(args: argparse.Namespace) -> int:
    """Simulate a scenario and write ``adoption.csv`` and ``adoption.png`` into ``--out``."""
    with _prestarted(args.workers, args.replications or FIRST_REPLICATIONS):
        return _run(args)


# Without --replications, `run` starts with this many and adds replications until the MC
# standard error of its headline (last-month all-firm median) is at most --precision.
FIRST_REPLICATIONS, MAX_REPLICATIONS = 40, 640


def _run(args: argparse.Namespace) -> int:
    from adoptsim import __version__, load_scenario

    scenario = load_scenario(args.scenario)
    out = guards.out_folder("run", args.out, scenario.name)
    # Before loading the model's libraries.
    # the most replications the run can reach (the adaptive count stops at MAX_REPLICATIONS)
    most = args.replications or MAX_REPLICATIONS
    memory.check_scenario(scenario, args.firms, min(args.workers, most), most)
    memory.check_firms(args.firms, scenario)  # the bounds of --firms where memory is ample
    from adoptsim import simulate

    t0 = time.perf_counter()
    with memory.checked():  # checked above, once for the whole run
        kw = {"n_firms": args.firms, "seed": args.seed, "progress": not args.quiet}
        if args.replications is None:
            from adoptsim.simulation import simulate_to_precision

            result = simulate_to_precision(
                scenario,
                precision=args.precision,
                first=FIRST_REPLICATIONS,
                maximum=MAX_REPLICATIONS,
                notify=lambda line: print(f"{scenario.name}: {line}", file=sys.stderr),
                workers=args.workers,
                **kw,
            )
        else:
            result = simulate(scenario, replications=args.replications, workers=args.workers, **kw)
        args.replications = result.run_info["replications"]
    result.run_info["command"] = args.command_line
    result.run_info["wall_time_s"] = round(time.perf_counter() - t0, 3)
    _figures()  # matplotlib loads in seconds: only once there is something to draw
    from adoptsim.notes import cap_note_lines
    from adoptsim.observe import survey_frames
    from adoptsim.plots import fan_chart
    from adoptsim.precision import run_summary

    drawn = result.adoption["draw"].nunique() > 1
    caption = f"scenario {scenario.name}, seed {args.seed}, {result.n_firms} agents, " + (
        f"adoptsim {__version__}. Uncertainty: parameter (one posterior and one prior draw per "
        "replication) + stochastic."
        if drawn
        else f"adoptsim {__version__}. Uncertainty: stochastic only."
    )
    title = f"AI adoption — {scenario.name}"
    frames = survey_frames(result)
    # drawn first, then committed with the tables: never a folder of two runs
    png = guards.png_of(
        lambda f: fan_chart(result.adoption, title, caption, f, scenario, frames=frames)
    )
    csv = result.save(out, extra={"adoption.png": png})
    wrote = f"wrote {csv} and {out / 'adoption.png'} in {time.perf_counter() - t0:.1f} s"
    notes = cap_note_lines(scenario, [scenario])
    print("\n".join([*notes, *run_summary(result.adoption, args.seed, scenario.name), wrote]))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """Compare scenarios with common random numbers; writes comparison.csv/.png, adoption.csv."""
    with _prestarted(args.workers, args.replications):
        return _compare(args)


def _compare(args: argparse.Namespace) -> int:
    _figures()

    from adoptsim import __version__
    from adoptsim.atomic import csv_bytes
    from adoptsim.comparison import compare, report_lines
    from adoptsim.plots import comparison_figure

    out = guards.out_folder("compare", args.out, "compare")
    comp = compare(
        args.scenarios,
        n_firms=args.firms,
        seed=args.seed,
        replications=args.replications,
        progress=not args.quiet,
        workers=args.workers,
    )
    caption = f"adoptsim {__version__}"
    png = guards.png_of(lambda f: comparison_figure(comp, f, caption))
    tables = {"comparison.csv": csv_bytes(comp.summary, float_format="%.5f")}
    tables["adoption.csv"] = csv_bytes(comp.adoption, float_format="%.17g")
    guards.commit(out, {**tables, "comparison.png": png})
    print("\n".join(report_lines(comp)))
    from adoptsim.notes import cap_note_lines

    for line in cap_note_lines(comp.scenarios[comp.reference], list(comp.scenarios.values())):
        print(line)
    print(
        f"(vs {comp.reference}: the median of paired differences over {args.replications} "
        "replications with common random numbers, [5 %, 95 %] of them; not the difference "
        "of the medians; ± the Monte-Carlo standard error of each median, docs/uncertainty.md)"
    )
    print(f"wrote {out / 'comparison.csv'}, {out / 'comparison.png'}, {out / 'adoption.csv'}")
    return 0


def cmd_explore(args: argparse.Namespace) -> int:
    """Serve the lever explorer in the browser until Ctrl-C."""
    try:
        from adoptsim.explorer import check_settings, serve
    except ImportError as exc:
        raise AdoptsimError(
            f"explore needs Panel ({exc.name} missing): pip install 'adoptsim[jupyter]'"
        ) from None
    # before the URL is announced: a bad setting or a busy port is one line, not a broken page
    settings = {"base": args.scenario, "n_firms": args.firms, "replications": args.replications}
    check_settings(args.port, **settings)
    print(f"adoptsim lever explorer on http://127.0.0.1:{args.port}/ (Ctrl-C stops it)")
    serve(
        args.port,
        base=args.scenario,
        n_firms=args.firms,
        replications=args.replications,
        show=args.show,
    )
    return 0
