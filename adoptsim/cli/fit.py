"""``adoptsim calibrate``, ``backtest`` and ``validate``: the fit to the targets."""

from __future__ import annotations

import argparse

from adoptsim import cli_guards as guards
from adoptsim import memory
from adoptsim.cli._common import _figures


def cmd_calibrate(args: argparse.Namespace) -> int:
    """Fit the joint posterior; writes posterior.csv, fit.json, fit.csv into ``--out``."""
    from adoptsim.fit.calibrate import calibrate
    from adoptsim.posterior import COUNTRIES

    countries = COUNTRIES if args.population == "both" else (args.population,)
    out = guards.out_folder("calibrate", args.out, "calibration", args.population)
    memory.check_firms(args.firms, "baseline", args.workers)
    guards.check_design(args.budget, args.replications, len(countries))
    targets, cutoff = guards.targets_and_cutoff(args.targets, args.cutoff, args.origin)
    result = calibrate(
        countries,
        out=out,
        budget=args.budget,
        n_firms=args.firms,
        replications=args.replications,
        seed=args.seed,
        workers=args.workers,
        origin=args.origin,
        cutoff=cutoff,
        targets=targets,
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
    """Fit on targets up to ``--origin``, forecast every later target to the cutoff, score it."""
    _figures()
    from adoptsim.fit.backtest import backtest

    out = guards.out_folder("backtest", args.out, "backtest", args.origin)
    memory.check_firms(args.firms, "baseline", args.workers)
    guards.check_design(args.budget, 1, 2 if args.population == "both" else 1)
    targets, cutoff = guards.targets_and_cutoff(args.targets, args.cutoff, args.origin)
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
        targets=targets,
        cutoff=cutoff,
        progress=not args.quiet,
    )
    result.figure(out / "backtest.png")
    print(result.summary() + "\n" + result.skill_report())
    print(f"wrote {out / 'forecast.csv'}, {out / 'score.csv'} and {out / 'backtest.png'}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    """Compare the shipped calibration with every target row; writes fit.csv and fit.png."""
    _figures()
    from adoptsim import __version__
    from adoptsim.atomic import csv_bytes
    from adoptsim.fit.validation import skill_report, validate
    from adoptsim.plots import fit_figure

    out = guards.out_folder("validate", args.out, "validate")
    memory.check_firms(args.firms, "baseline")
    targets, cutoff = guards.targets_and_cutoff(args.targets, args.cutoff, None)
    guards.check_validate(targets, args.replications)
    fit = validate(
        targets,
        cutoff=cutoff,
        replications=args.replications,
        n_firms=args.firms,
        seed=args.seed,
        progress=not args.quiet,
    )
    caption = (
        f"{args.replications} replications per country, each with its own joint posterior draw; "
        f"predictive band = parameter + discrepancy + survey noise; seed {args.seed}; "
        f"adoptsim {__version__}"
    )
    png = guards.png_of(lambda f: fit_figure(fit, f, caption))
    guards.commit(out, {"fit.csv": csv_bytes(fit, float_format="%.5g"), "fit.png": png})
    observed = fit[fit.sim_mean.notna()]
    for _, row in fit[fit.sim_mean.isna()].iterrows():
        print(f"not observed: {row.id}: {row.reason}")
    print(skill_report(fit, targets, out, args.seed))  # writes skill.csv
    print(
        f"{int(observed.within.sum())} of {len(observed)} observed targets within "
        f"max(2 se, 0.02); wrote {out / 'fit.csv'} and {out / 'fit.png'}"
    )
    return 0
