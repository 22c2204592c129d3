"""Command line: ``adoptsim run SCENARIO [--firms N] [--seed S] [--replications R] [--out DIR]``.

Input errors print one line naming the field and exit with code 2 (no traceback). This module
holds the parser and ``main``; each command group's code is a module of its own (``run``:
scenarios, run, compare, explore; ``sweep``: sweep, sensitivity; ``fit``: calibrate, backtest,
validate; ``evidence``; ``benchmark``).
"""

from __future__ import annotations

import argparse
import os
import sys

from adoptsim import cli_guards as guards
from adoptsim.bounds import share_arg
from adoptsim.cli import benchmark
from adoptsim.cli._common import WORKERS_HELP, _port, _positive_int, _seed
from adoptsim.cli.evidence import add_evidence_parser
from adoptsim.cli.fit import cmd_backtest, cmd_calibrate, cmd_validate
from adoptsim.cli.run import (
    FIRST_REPLICATIONS,
    MAX_REPLICATIONS,
    cmd_compare,
    cmd_explore,
    cmd_run,
    cmd_scenarios,
)
from adoptsim.cli.sweep import cmd_sensitivity, cmd_sweep
from adoptsim.errors import AdoptsimError


class _Parser(argparse.ArgumentParser):
    """Argument errors in one line (``adoptsim: error: ...``), exit code 2, like value errors."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def _add_targets_options(parser: argparse.ArgumentParser) -> None:
    """``--targets`` and ``--cutoff``, the same for ``calibrate``, ``backtest`` and ``validate``."""
    parser.add_argument(
        "--targets", default=None, help="CSV in the targets schema (default: shipped)"
    )
    parser.add_argument(
        "--cutoff",
        default=None,
        help="last month of targets used (default 2024-12; later for waves added with --targets)",
    )


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
    run.add_argument("--seed", type=_seed, default=0, help="base seed (default 0)")
    run.add_argument(
        "--replications",
        type=_positive_int,
        default=None,
        help=f"replications (default: {FIRST_REPLICATIONS}, then as many as --precision needs, "
        f"at most {MAX_REPLICATIONS})",
    )
    run.add_argument(
        "--precision",
        type=share_arg,
        default=0.005,
        help="without --replications: add replications until the Monte-Carlo standard error of "
        "the last month's all-firm median is at most this share (default 0.005 = 0.5 pp)",
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
    cal.add_argument("--seed", type=_seed, default=0)
    cal.add_argument("--workers", type=_positive_int, default=2, help="local processes")
    cal.add_argument(
        "--origin", default=None, help="use only targets dated up to YYYY-MM (at most the cutoff)"
    )
    _add_targets_options(cal)
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
        "backtest", help="fit up to an origin, forecast every later target to the cutoff, score"
    )
    bt.add_argument("--origin", required=True, help="last month fitted, YYYY-MM")
    bt.add_argument("--population", choices=("flanders", "netherlands", "both"), default="both")
    bt.add_argument("--budget", type=_positive_int, default=300, help="design points")
    bt.add_argument("--firms", type=_positive_int, default=None, help="agents per simulation")
    bt.add_argument(
        "--replications", type=_positive_int, default=40, help="forecast runs per country"
    )
    bt.add_argument("--seed", type=_seed, default=0)
    bt.add_argument("--workers", type=_positive_int, default=2, help="local processes")
    _add_targets_options(bt)
    bt.add_argument("--mcmc-steps", type=_positive_int, default=1000, help="steps per ensemble")
    bt.add_argument("--out", default=None, help="output folder (default results/backtest/ORIGIN)")
    bt.add_argument("--quiet", action="store_true", help="no progress bar")
    bt.set_defaults(func=cmd_backtest)
    val = sub.add_parser("validate", help="simulate the shipped calibration against targets")
    _add_targets_options(val)
    val.add_argument("--replications", type=_positive_int, default=20, help="runs per country")
    val.add_argument("--firms", type=_positive_int, default=None, help="agents per simulation")
    val.add_argument("--seed", type=_seed, default=0)
    val.add_argument("--out", default=None, help="output folder (default results/validate)")
    val.add_argument("--quiet", action="store_true", help="no progress bar")
    val.set_defaults(func=cmd_validate)
    add_evidence_parser(sub)
    benchmark.add_command(sub)
    cmp_ = sub.add_parser("compare", help="compare scenarios (paired, common random numbers)")
    cmp_.add_argument("scenarios", nargs="+", help="reference first, then the others")
    cmp_.add_argument("--firms", type=_positive_int, default=None, help="agents per run")
    cmp_.add_argument("--seed", type=_seed, default=0)
    cmp_.add_argument("--replications", type=_positive_int, default=40)
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
    sen.add_argument("--seed", type=_seed, default=0)
    sen.add_argument("--workers", type=_positive_int, default=None, help="local processes")
    sen.add_argument("--out", default=None, help="output folder")
    sen.add_argument("--quiet", action="store_true", help="no progress bar")
    sen.set_defaults(func=cmd_sensitivity)
    exp = sub.add_parser("explore", help="the lever explorer in the browser (Panel app)")
    exp.add_argument("--port", type=_port, default=5006, help="port (default 5006)")
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
    """Entry point; returns the exit code (2 for bad input, 130 interrupted, 143 terminated)."""
    guards.unwind_on_sigterm()  # workers stopped, no leaked semaphores, not a bare exit -15
    parser = build_parser()
    args = parser.parse_args(argv)
    args.command_line = ["adoptsim", *(sys.argv[1:] if argv is None else argv)]
    previous = _apply_guard_flags(args)
    try:
        guards.cap_workers(args)
        return args.func(args)
    except AdoptsimError as exc:
        print(f"adoptsim: error: {exc}", file=sys.stderr)
        return 2
    except MemoryError:
        print("adoptsim: error: out of memory; use fewer firms or fewer workers", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        terminated = isinstance(exc, guards.Terminated)
        print(f"adoptsim: {'terminated' if terminated else 'interrupted'}", file=sys.stderr)
        return 143 if terminated else 130
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
