"""Projections of every library scenario to 2028: writes docs/scenarios.md and its figure.

    python scenarios/report.py --out results/scenarios [--firms 20000] [--replications 20]

Runs all scenarios with common random numbers against the baseline (adoptsim.compare), writes
the comparison table and figure, and writes the whole page docs/scenarios.md: 2028 level and
paired difference with the baseline (median [5 %, 95 %]), overall, by size class and by sector.
Every number on the page comes from this run: do not edit the page by hand.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np

from adoptsim.atomic import write_text
from adoptsim.comparison import compare
from adoptsim.plots import comparison_figure
from adoptsim.precision import table_mc_error
from adoptsim.priors import PRIORS, prior_draw
from adoptsim.scenario import load_scenario

LIBRARY = [
    "baseline",
    "no_policy",
    "subsidy_plus",
    "literacy_push",
    "ai_act_original",
    "ai_act_clarity",
    "coaching",
    "tech_slow",
    "tech_fast",
    "combined",
]


def _cell(row, prefix: str) -> str:
    med, lo, hi = (row[f"{prefix}_{q}"] for q in ("median", "p05", "p95"))
    scale = 100
    if prefix.startswith("diff"):
        return f"{scale * med:+.1f} [{scale * lo:+.1f}, {scale * hi:+.1f}]"
    return f"{scale * med:.1f} [{scale * lo:.1f}, {scale * hi:.1f}]"


ROOT = Path(__file__).resolve().parents[1]
EVIDENCE_RUN = ROOT / "docs" / "data" / "evidence" / "evidence.csv"
DATA = ROOT / "docs" / "data" / "scenarios"


def run_record(args: argparse.Namespace | None = None) -> dict:
    """What the page was made from: each scenario's hash and the posterior's (freshness test)."""
    from adoptsim.precision import _posterior_sha
    from adoptsim.sweeps.spec import scenario_hash

    record = {
        "scenario_hash": {n: scenario_hash(load_scenario(n)) for n in LIBRARY},
        "posterior_sha256": _posterior_sha(),
    }
    if args is not None:
        record |= {"firms": args.firms, "replications": args.replications, "seed": args.seed}
    return record


def _reach_times_effect() -> list[str]:
    """Why the portfolio's effect on all firms is small: reach × effect per treated firm.

    From the kept `adoptsim evidence` run (docs/data/evidence/evidence.csv): the simulated AI
    projects a year and 12-month effect per treated firm, over the Flemish enterprises of
    population.csv (the projects' own universe, firms without employees included).
    """
    import pandas as pd

    from adoptsim.data import read_table

    if not EVIDENCE_RUN.is_file():
        return []
    ev = pd.read_csv(EVIDENCE_RUN).set_index("quantity").simulated_median
    pop = read_table("population")
    row = (pop.geography == "flanders") & (pop.dimension == "employees") & (pop.category == "all")
    firms = float(pop[row].value.iloc[0])
    reach = ev["kmo_ai_projects_per_year"] / firms
    effect = ev["subsidy_effect_12m"]
    return [
        f"Why the KMO-portefeuille moves little: its AI projects reach about {100 * reach:.1f} % "
        f"of Flemish enterprises a year ({ev['kmo_ai_projects_per_year']:,.0f} projects among "
        f"{firms:,.0f}) and raise a treated firm's chance of using AI a year later by about "
        f"{100 * effect:.1f} pp, so they add about {100 * reach * effect:.2f} pp of all firms a "
        "year (reach × effect per treated firm, from the kept `adoptsim evidence` run).",
        "",
    ]


def _mc(comp, name: str, seed: int) -> str:
    """MC standard errors (pp) of a scenario's 2028-12 median and of its paired difference."""
    a, d = comp.adoption, comp.differences
    level = a[(a.scenario == name) & (a.date == "2028-12") & (a.segment_type == "all")]
    out = f"{100 * table_mc_error(level, seed=seed):.1f}"
    if name != comp.reference:
        paired = d[(d.scenario == name) & (d.date == "2028-12") & (d.segment_type == "all")]
        out += f" / {100 * table_mc_error(paired, seed=seed):.1f}"
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="results/scenarios")
    ap.add_argument("--firms", type=int, default=20000)
    ap.add_argument("--replications", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    comp = compare(
        LIBRARY, n_firms=args.firms, seed=args.seed, replications=args.replications, progress=True
    )
    # The same paired runs with every prior-only parameter held at the middle of its range: what
    # is left of a lever's band is the baseline's (posterior + stochastic) uncertainty; the rest
    # of the full band is the effect-size priors'.
    middle = prior_draw(args.seed, 0, "all", np.full(len(PRIORS), 0.5))
    held = compare(
        [load_scenario(n).with_draw(middle) for n in LIBRARY],
        n_firms=args.firms,
        seed=args.seed,
        replications=args.replications,
        progress=True,
    )
    comp.summary.to_csv(out / "comparison.csv", index=False, float_format="%.5f")
    DATA.mkdir(parents=True, exist_ok=True)
    write_text(DATA / "run.json", json.dumps(run_record(args), indent=2) + "\n")
    comparison_figure(
        comp,
        out / "comparison.png",
        "scenarios/report.py",
    )
    shutil.copy(out / "comparison.png", ROOT / "docs" / "img" / "scenarios.png")
    s = comp.summary[comp.summary.year == 2028]
    sh = held.summary[held.summary.year == 2028]
    sh = sh[sh.segment_type == "all"].set_index("scenario")
    lines = [
        "# Policy scenarios to 2028",
        "",
        "<!-- generated by scenarios/report.py: do not edit by hand -->",
        "",
        "Every library scenario (`scenarios/*.toml`, each with its rationale and sources in the "
        "file) was run with **common random numbers** against the baseline: replication *r* of "
        "each scenario has the same firms, network, random draws and posterior parameter draw, so "
        "the paired difference is the policy's effect alone. Bands: 5–95 % over "
        f"{args.replications} paired replications of {args.firms:,} agents (Flanders, firms with "
        "1+ employees), **every uncertainty of the model**: each replication uses its own "
        "draw of the joint posterior of Flanders/Belgium and the Netherlands, fitted on survey "
        "waves up to 2024-12 ([calibration.md](calibration.md), which also shows how the model "
        "forecast the 2024 waves from earlier data), its own draw of every prior-only parameter "
        "(the same for every scenario: paired) and its own stochastic path. Reproduce:",
        "",
        "```bash",
        f"python scenarios/report.py --out results/scenarios --firms {args.firms} "
        f"--replications {args.replications}",
        "# or any subset:",
        "adoptsim compare baseline no_policy subsidy_plus --out results/compare",
        "```",
        "",
        '"Uses AI" is the barometer\'s broad notion among *all* Flemish firms with 1+ employees '
        "(micro firms included, so the level is below the barometer's 10+ reading); official "
        'ICT-survey figures are lower (see [calibration.md](calibration.md)). "At scale" has no '
        "direct survey target: its level is **not identified** by data and rests on the prior.",
        "",
        "The former `nl_policy_mix` scenario is withdrawn: it transferred one Dutch coefficient "
        "without the intercept it was fitted with. The NL-vs-Flanders comparison now lives in "
        "[calibration.md](calibration.md), computed from whole joint posterior draws.",
        "",
        "![scenarios](img/scenarios.png)",
        "",
        "### All firms, December 2028 (% of firms; median [5 %, 95 %]; MC s.e.: the Monte-Carlo "
        "standard error of a median over the replications, [uncertainty.md](uncertainty.md))",
        "",
        "| scenario | uses AI | at scale (not identified) | uses AI vs baseline (pp) | "
        "vs baseline, effect-size priors held (pp) | at scale vs baseline (pp) | "
        "MC s.e. of the uses-AI median / difference (pp) |",
        "|---|---|---|---|---|---|---|",
    ]
    for _, r in s[s.segment_type == "all"].iterrows():
        d1 = _cell(r, "diff_uses_ai") if r.scenario != "baseline" else "—"
        d2 = _cell(r, "diff_at_scale") if r.scenario != "baseline" else "—"
        d3 = _cell(sh.loc[r.scenario], "diff_uses_ai") if r.scenario != "baseline" else "—"
        lines.append(
            f"| {r.scenario} | {_cell(r, 'uses_ai')} | {_cell(r, 'at_scale')} | {d1} | {d3} "
            f"| {d2} | {_mc(comp, r.scenario, args.seed)} |"
        )
    lines += [
        "",
        "*Band split.* The column *effect-size priors held* repeats the paired runs with every "
        "prior-only parameter (lever effect sizes and reach, exit hazards, the technology drift "
        "after the data, network structure: `adoptsim/priors.py`) at the middle of its range: "
        "its band is the baseline's own uncertainty (posterior draws and stochastic variation) "
        "acting on a lever of known effect; the difference to the full band is what the "
        "effect-size priors add.",
    ]
    for seg in ("size", "sector"):
        part = s[s.segment_type == seg]
        labels = list(dict.fromkeys(part.segment))
        lines += [
            "",
            f"### Uses AI by {seg}, December 2028: baseline level and difference (pp)",
            "",
            "| scenario | " + " | ".join(labels) + " |",
            "|---|" + "---|" * len(labels),
        ]
        for name in LIBRARY:
            rows = part[part.scenario == name].set_index("segment")
            key = "uses_ai" if name == "baseline" else "diff_uses_ai"
            vals = []
            for lab in labels:
                med = rows.loc[lab, f"{key}_median"]
                vals.append(f"{100 * med:.1f}" if name == "baseline" else f"{100 * med:+.1f}")
            lines.append(f"| {name} | " + " | ".join(vals) + " |")
    evidence = (
        "[evidence.md](evidence.md)"
        if (ROOT / "docs" / "evidence.md").is_file()
        else "the scenario files"
    )
    lines += [
        "",
        f"Policy effect sizes that no data identify dominate the lever differences: see {evidence} "
        "for their priors and [sensitivity.md](sensitivity.md) for how much they matter.",
        "",
        *_reach_times_effect(),
    ]
    (ROOT / "docs" / "scenarios.md").write_text("\n".join(lines))
    print("wrote docs/scenarios.md")


if __name__ == "__main__":
    main()
