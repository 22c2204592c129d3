"""Command line: ``adoptsim run SCENARIO [--firms N] [--seed S] [--replications R] [--out DIR]``.

Input errors print one line naming the field and exit with code 2 (no traceback).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from adoptsim.errors import AdoptsimError


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be >= 1")
    return value


def _nonneg_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} must be >= 0")
    return value


def cmd_run(args: argparse.Namespace) -> int:
    """Simulate a scenario and write ``adoption.csv`` and ``adoption.png`` into ``--out``."""
    import matplotlib

    matplotlib.use("Agg")
    from adoptsim import __version__, load_scenario, simulate
    from adoptsim.plots import fan_chart

    scenario = load_scenario(args.scenario)
    out = Path(args.out or Path("results") / scenario.name)
    t0 = time.perf_counter()
    result = simulate(
        scenario,
        n_firms=args.firms,
        seed=args.seed,
        replications=args.replications,
        progress=not args.quiet,
    )
    csv = result.save(out)
    caption = (
        f"scenario {scenario.name}, seed {args.seed}, {result.n_firms} agents, "
        f"adoptsim {__version__}."
    )
    fan_chart(result.adoption, f"AI adoption — {scenario.name}", caption, out / "adoption.png")
    last = result.adoption[(result.adoption.segment_type == "all")]
    final = last[last.date == last.date.max()]
    print(
        f"{scenario.name}: {final.date.iloc[0]} uses AI {final.adopters_share.median():.1%}, "
        f"at scale {final.at_scale_share.median():.1%} (median of {args.replications}); "
        f"wrote {csv} and {out / 'adoption.png'} in {time.perf_counter() - t0:.1f} s"
    )
    return 0


class _Parser(argparse.ArgumentParser):
    """Argument errors in one line (``adoptsim: error: ...``), exit code 2, like value errors."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def cmd_sweep(args: argparse.Namespace) -> int:
    """Run a sweep spec into ``--out`` (resumable); exit 1 if a task failed, 130 on Ctrl-C."""
    from adoptsim.runner import SweepInterrupted, connect_scheduler, load_sweep_spec, sweep

    spec = load_sweep_spec(args.spec)  # bad specs stop here, before connecting or running
    client = connect_scheduler(args.scheduler) if args.scheduler else None
    try:
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
        if client is not None:
            client.close()
    print(summary.report())
    return 1 if summary.failures else 0


def build_parser() -> argparse.ArgumentParser:
    """The ``adoptsim`` argument parser."""
    parser = _Parser(prog="adoptsim", description="AI adoption by Flemish SMEs, agent-based.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
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
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.set_defaults(func=cmd_run)
    sw = sub.add_parser(
        "sweep", help="run scenario × parameter point × replication tasks (resumable)"
    )
    sw.add_argument("spec", help="sweep spec (TOML file with a [sweep] table)")
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
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code (2 for bad input)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except AdoptsimError as exc:
        print(f"adoptsim: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("adoptsim: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
