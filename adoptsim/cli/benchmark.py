"""``adoptsim benchmark``: the panel benchmark's command (parser and run), added by `cli`.

Input errors raise `adoptsim.errors.AdoptsimError`, which the ``adoptsim`` command prints in one
line with exit code 2; nothing is written before the origin, dates and panel are checked.
"""

from __future__ import annotations

import argparse

from adoptsim.bounds import whole_number_arg
from adoptsim.cli._common import _figures


def add_command(sub) -> None:
    """Add ``benchmark`` to the ``adoptsim`` subcommands (an argparse subparsers action)."""
    bm = sub.add_parser(
        "benchmark", help="statistical benchmark forecast of a panel (hierarchical hazard model)"
    )
    bm.add_argument("--panel", default=None, help="panel CSV (default: the shipped EU-27 panel)")
    bm.add_argument("--origin", required=True, help="last month fitted, YYYY-MM (<= 2024-12)")
    bm.add_argument("--dates", required=True, help="forecast months YYYY-MM[,YYYY-MM...]")
    bm.add_argument("--seed", type=whole_number_arg(0), default=0)
    bm.add_argument("--out", default=None, help="output folder (default results/benchmark/ORIGIN)")
    bm.set_defaults(func=cmd_benchmark)


def cmd_benchmark(args: argparse.Namespace) -> int:
    """Fit on the panel's waves up to ``--origin``; write forecast.csv and forecast.png."""
    from adoptsim import __version__
    from adoptsim.fit.benchmark import benchmark_forecast, check_dates, write_forecast
    from adoptsim.fit.panel import load_panel
    from adoptsim.paths import default_out, writable_folder

    check_dates(args.origin, args.dates)  # before reading anything
    panel = load_panel(args.panel)
    given = args.out if args.out is not None else default_out("benchmark", args.origin)
    out = writable_folder(given, files=("forecast.csv", "forecast.png"))
    result = benchmark_forecast(args.origin, args.dates, panel, seed=args.seed)
    _figures()
    csv = write_forecast(result, out)
    caption = (
        f"Bands: 50 % and 90 % of what the survey would read (hazard, jump, drift after 2024-03, "
        f"2025 questionnaire break, sampling and wave noise); {result.info['draws']} draws, "
        f"seed {args.seed}; panel {args.panel or 'shipped eu_panel.csv'}; adoptsim {__version__}"
    )
    result.figure(out / "forecast.png", caption)
    print(result.summary())
    print(f"wrote {csv} and {out / 'forecast.png'} in {result.info['runtime_s']:.1f} s")
    return 0
