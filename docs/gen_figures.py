"""Redraw the docs' sensitivity figure from its saved results.

    python docs/gen_figures.py

docs/img/sensitivity_baseline.png from the indices table of docs/sensitivity.md (the run of the
`adoptsim sensitivity` command printed there): it only redraws saved numbers with adoptsim.plots,
so the figure and table agree. The calibration-fit figure (docs/img/fit.png) is drawn by
calibration/report.py with its tables, the scenario figure (docs/img/scenarios.png) by
scenarios/report.py.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's adoptsim

import matplotlib

matplotlib.use("Agg")
import pandas as pd

from adoptsim.plots import indices_figure

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class _Indices:
    method: str
    indices: pd.DataFrame
    outcome: str


def sensitivity_table(path: Path) -> pd.DataFrame:
    """The Sobol indices table of docs/sensitivity.md as numbers."""
    rows = []
    pat = re.compile(r"([0-9.]+) ± ([0-9.]+)")
    for line in path.read_text("utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 5 or not pat.search(cells[2] or ""):
            continue
        name = re.sub(r"\*|\(.*\)", "", cells[0]).strip()
        s1, st = pat.search(cells[2]), pat.search(cells[3].replace("*", ""))
        role = "dummy" if name == "dummy" else cells[1].split()[0]
        rows.append((name, role, float(s1[1]), float(s1[2]), float(st[1]), float(st[2])))
    return pd.DataFrame(rows, columns=["parameter", "role", "S1", "S1_conf", "ST", "ST_conf"])


def main() -> None:
    img = ROOT / "docs" / "img"
    t = sensitivity_table(ROOT / "docs" / "sensitivity.md")
    indices_figure(
        _Indices("sobol", t, "share:2028-12"),
        img / "sensitivity_baseline.png",
        "Baseline: what drives the share of Flemish firms (1+ employees) using AI in 2028-12 "
        "(Sobol, N = 128)",
    )
    print(f"wrote {img / 'sensitivity_baseline.png'}")


if __name__ == "__main__":
    main()
