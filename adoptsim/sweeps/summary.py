"""What a finished sweep says: each scenario × point's last-month median, with its MC error.

`adoptsim sweep` prints these lines after the run report, like `adoptsim run` and `compare`: the
all-firm share using AI in the last month, median over the point's replications, with its
Monte-Carlo standard error and a warning above 1 pp, then the KMO-portefeuille cap notes of
every scenario and point that raises a subsidy rate. Sweep tasks draw posterior draw
``r mod n_draws`` and independent priors (not `simulate`'s stratified design: a task's identity
must not depend on the replication count), so the error is that of independent draws
(`adoptsim.precision.median_mc_error` with ``stratified=False``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from adoptsim.notes import cap_note_lines
from adoptsim.precision import median_mc_error, precision_note, precision_warning
from adoptsim.sweeps.spec import SweepSpec
from adoptsim.sweeps.store import load_results

META = {"scenario", "seed", "n_firms", "replication", "date", "segment_type", "segment"}


def headline_lines(spec: SweepSpec, out: str | Path) -> list[str]:
    """Console lines: per scenario and point, the last month's median ± MC s.e.; then notes.

    Args:
        spec: the sweep that ran.
        out: its folder.

    Returns:
        One line per scenario × point with finished runs, a warning line per MC error above
        1 pp, and one line per cap note (empty when nothing finished).
    """
    table = load_results(out)
    if table.empty:
        return []
    last = table[(table.segment_type == "all") & (table.date == table.date.max())]
    keys = [
        c
        for c in last.columns
        if c not in META and c not in ("adopters_share", "at_scale_share", "draw")
    ]
    lines, warnings = [], []
    for group, part in last.groupby(["scenario", *keys], dropna=False, sort=False):
        values = part.sort_values("replication").adopters_share.to_numpy()
        se = median_mc_error(values, seed=spec.seed, stratified=False)
        where = dict(
            zip(["scenario", *keys], group if isinstance(group, tuple) else (group,), strict=True)
        )
        point = {k: v for k, v in where.items() if k != "scenario" and not pd.isna(v)}
        label = where["scenario"] + (f" {json.dumps(point, default=str)}" if point else "")
        date = part.date.iloc[0]
        lines.append(
            f"{label}: {date} uses AI {pd.Series(values).median():.1%} ({precision_note(se)}), "
            f"median of {len(values)} replications"
        )
        warnings.append(precision_warning(se, f"{label}'s {date} median"))
    reference = spec.scenarios[0]
    variants = [sc.with_overrides(p) if p else sc for sc in spec.scenarios for p in spec.points]
    notes = cap_note_lines(reference, [v for v in variants if v.data != reference.data])
    return lines + [w for w in warnings if w] + list(dict.fromkeys(notes))
