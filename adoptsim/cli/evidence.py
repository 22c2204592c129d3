"""The ``adoptsim evidence`` command: measure every lever quantity, write the table, draw."""

from __future__ import annotations

import argparse

from adoptsim import cli_guards as guards
from adoptsim import memory
from adoptsim.bounds import whole_number_arg
from adoptsim.cli._common import _figures


def cmd_evidence(args: argparse.Namespace) -> int:
    """Measure every lever quantity by simulation; writes evidence.csv and evidence.png."""
    _figures()
    from adoptsim import __version__
    from adoptsim.atomic import csv_bytes
    from adoptsim.evidence import COLUMNS, evidence_check
    from adoptsim.plots_evidence import evidence_figure

    out = guards.out_folder("evidence", args.out, "evidence")
    memory.check_firms(args.firms, args.scenario, 3)
    result = evidence_check(
        args.scenario,
        n_firms=args.firms,
        replications=args.replications,
        seed=args.seed,
        progress=not args.quiet,
    )
    table = result.table
    cols = [*COLUMNS, "unit", "lever", "replications", "mc_se"]
    caption = (
        f"scenario {args.scenario}; {args.firms} firms; {args.replications} replications (each "
        f"its own posterior and prior draw); seed {args.seed}; adoptsim {__version__}"
    )
    files = {"evidence.csv": csv_bytes(table[cols], float_format="%.6g")}
    files["evidence_draws.csv"] = csv_bytes(result.draws, float_format="%.6g")
    files["evidence.png"] = guards.png_of(lambda f: evidence_figure(table, f, caption))
    guards.commit(out, files)  # all three, or an earlier result left whole
    for row in table.itertuples():
        flag = "ok " if row.inside else "OUT"
        print(
            f"  {flag} {row.quantity:26s} simulated {row.simulated_median:10.4g} "
            f"[{row.simulated_p05:.4g}, {row.simulated_p95:.4g}]  evidence {row.central:g} "
            f"[{row.low:g}, {row.high:g}]"
        )
    print(
        f"{result.inside} of {len(table)} quantities inside their evidence range; wrote "
        f"{out / 'evidence.csv'} and {out / 'evidence.png'}"
    )
    return 0


def add_evidence_parser(sub: argparse._SubParsersAction) -> None:
    """Add ``adoptsim evidence`` to the command's subparsers."""
    ev = sub.add_parser(
        "evidence", help="measure every lever quantity by simulation against the evidence table"
    )
    ev.add_argument("scenario", nargs="?", default="baseline", help="scenario (default baseline)")
    ev.add_argument(
        "--firms", type=whole_number_arg(1), default=20000, help="agents (default 20000)"
    )
    ev.add_argument("--replications", type=whole_number_arg(1), default=8, help="draws (default 8)")
    ev.add_argument("--seed", type=whole_number_arg(0), default=0)
    ev.add_argument("--out", default=None, help="output folder (default results/evidence)")
    ev.add_argument("--quiet", action="store_true", help="no progress bar")
    ev.set_defaults(func=cmd_evidence)
