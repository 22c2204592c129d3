"""``adoptsim sweep`` and ``sensitivity``: many runs of a design, resumable."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from adoptsim import cli_guards as guards
from adoptsim import memory
from adoptsim.cli._common import _figures
from adoptsim.errors import AdoptsimError


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
    from adoptsim.sweeps import pool as worker_pool

    if args.scheduler is None:
        # Workers spend their first second importing the model; they do it while this process
        # imports the sweep machinery and reads the spec (stopped at once if it is refused).
        worker_pool.prestart(args.workers or os.cpu_count() or 1)
    from adoptsim.sweeps.dispatch import SweepInterrupted, connect_scheduler, sweep
    from adoptsim.sweeps.spec import load_sweep_spec

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
    from adoptsim.sweeps.summary import headline_lines

    print("\n".join([summary.report(), *headline_lines(spec, args.out)]))
    return 1 if summary.failures else 0


def cmd_sensitivity(args: argparse.Namespace) -> int:
    """Sobol or Morris analysis of one outcome; writes indices.csv/.png, convergence.csv."""
    _figures()
    from adoptsim.sensitivity_analysis import sensitivity

    out = guards.out_folder("sensitivity", args.out, "sensitivity", Path(args.scenario).stem)
    memory.check_firms(args.firms, args.scenario, args.workers or os.cpu_count() or 1)
    params = guards.parse_params(args.params)
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
    result.figure(out / "indices.png")
    key = "ST" if args.method == "sobol" else "mu_star"
    top = result.indices.sort_values(key, ascending=False).head(5)
    print(f"{result.outcome} ({len(result.Y)} runs × {args.replications} replications):")
    for _, row in top.iterrows():
        print(f"  {row.parameter:24s} {key} = {row[key]:.3f}")
    print(f"wrote {out / 'indices.csv'}, {out / 'indices.png'}, {out / 'convergence.csv'}")
    return 0
