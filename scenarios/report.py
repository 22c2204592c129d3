"""Projections of every library scenario to 2028 for docs/scenarios.md.

    python scenarios/report.py --out results/scenarios [--firms 20000] [--replications 20]

Runs all scenarios with common random numbers against the baseline (adoptsim.compare), writes
the comparison table and figure, and prints markdown tables: 2028 level and paired difference
with the baseline (median [5 %, 95 %]), overall, by size class and by sector.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from adoptsim.comparison import compare
from adoptsim.plots import comparison_figure

LIBRARY = [
    "baseline",
    "no_policy",
    "subsidy_plus",
    "literacy_push",
    "ai_act_original",
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
    comp.summary.to_csv(out / "comparison.csv", index=False, float_format="%.5f")
    comparison_figure(
        comp,
        out / "comparison.png",
        f"{args.replications} paired replications, {args.firms} agents, "
        f"seed {args.seed}; bands = parameter + stochastic uncertainty",
    )
    s = comp.summary[comp.summary.year == 2028]
    print("### All firms, December 2028 (% of firms; median [5 %, 95 %])\n")
    print(
        "| scenario | uses AI | at scale | uses AI vs baseline (pp) | at scale vs baseline (pp) |"
    )
    print("|---|---|---|---|---|")
    for _, r in s[s.segment_type == "all"].iterrows():
        d1 = _cell(r, "diff_uses_ai") if r.scenario != "baseline" else "—"
        d2 = _cell(r, "diff_at_scale") if r.scenario != "baseline" else "—"
        print(f"| {r.scenario} | {_cell(r, 'uses_ai')} | {_cell(r, 'at_scale')} | {d1} | {d2} |")
    for seg in ("size", "sector"):
        part = s[s.segment_type == seg]
        labels = list(dict.fromkeys(part.segment))
        print(f"\n### Uses AI by {seg}, December 2028: baseline level and difference (pp)\n")
        print("| scenario | " + " | ".join(labels) + " |")
        print("|---|" + "---|" * len(labels))
        for name in LIBRARY:
            rows = part[part.scenario == name].set_index("segment")
            key = "uses_ai" if name == "baseline" else "diff_uses_ai"
            vals = []
            for lab in labels:
                med = rows.loc[lab, f"{key}_median"]
                vals.append(f"{100 * med:.1f}" if name == "baseline" else f"{100 * med:+.1f}")
            print(f"| {name} | " + " | ".join(vals) + " |")


if __name__ == "__main__":
    main()
