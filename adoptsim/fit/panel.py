"""The EU-27 panel (Eurostat ``isoc_eb_ai``) and any panel in the targets' columns, checked.

A panel has the columns of ``targets.csv`` (``id, survey, geography, segment_type, segment, date,
value, se``, and optionally ``n, definition, source, status, note``); ``geography`` is any
lower-case code (``be``, ``nl``, ``eu27``, …). The shipped panel is
``adoptsim/data/eu_panel.csv``, a copy of ``shared/data/eu_panel.csv`` with its sources and
status per row (waves 2021, 2023 and 2024; later waves are kept out for evaluation).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from adoptsim.errors import ScenarioError, TargetsError
from adoptsim.months import parse_month
from adoptsim.observe import STATUSES, SURVEYS, TARGET_COLUMNS

_CODE = re.compile(r"^[a-z][a-z0-9_]*$")


def load_panel(path: str | Path | None = None) -> pd.DataFrame:
    """A panel table (default: the shipped EU-27 panel), checked row by row.

    Args:
        path: a CSV in the targets' columns; None for ``adoptsim/data/eu_panel.csv``.

    Returns:
        The rows, with ``value`` and ``se`` as floats and ``date`` as "YYYY-MM" text.

    Raises:
        TargetsError: one line naming the file, the row and the column of the first bad value.
    """
    if path is None:
        from adoptsim.data import read_table

        df, where = read_table("eu_panel"), "eu_panel.csv"
    else:
        from adoptsim.observe import _read_targets_csv

        df, where = _read_targets_csv(path), str(path)
    required = list(TARGET_COLUMNS[:8])
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise TargetsError(
            f"{where}: missing column {missing[0]!r}; required: {', '.join(required)}"
        )
    unknown = [c for c in df.columns if c not in TARGET_COLUMNS]
    if unknown:
        raise TargetsError(
            f"{where}: unknown column {str(unknown[0])!r}; allowed: {', '.join(TARGET_COLUMNS)}"
        )
    if df.empty:
        raise TargetsError(f"{where}: has a header but no rows")
    df = df.copy()
    df["date"] = df["date"].astype(str)
    for i, row in df.iterrows():
        line = int(i) + 2

        def bad(column: str, allowed: str, row=row, line=line) -> TargetsError:
            return TargetsError(
                f"{where}: row {row.get('id', '?')!s} (line {line}), column {column}: "
                f"{row[column]!r} — {allowed}"
            )

        if row["survey"] not in SURVEYS:
            raise bad("survey", f"must be one of {', '.join(SURVEYS)}")
        if not isinstance(row["geography"], str) or not _CODE.match(row["geography"]):
            raise bad("geography", "must be a lower-case code such as be, nl or eu27")
        if not isinstance(row["segment_type"], str) or not row["segment_type"]:
            raise bad("segment_type", "must be a segment type such as all, size or technology")
        if pd.isna(row["segment"]) or not str(row["segment"]).strip():
            raise bad("segment", "must name the segment (e.g. 10+ for all firms)")
        try:
            parse_month(row["date"], "date")
        except ScenarioError:
            raise bad("date", 'must be a month "YYYY-MM"') from None
        for col in ("value", "se"):
            v = pd.to_numeric(pd.Series([row[col]]), errors="coerce").iloc[0]
            if pd.isna(v) or not 0 <= v <= 1 or (col == "se" and v == 0):
                why = "must be a number within [0, 1)" if col == "value" else "must be in (0, 1]"
                raise bad(col, why)
            if col == "value" and v >= 1:  # the hazard among non-users needs non-users
                raise bad(col, "must be a number within [0, 1)")
        if "status" in df.columns and row["status"] not in STATUSES:
            raise bad("status", f"must be one of {', '.join(STATUSES)}")
    key = ["survey", "geography", "segment_type", "segment", "date"]
    dup = df.duplicated(key)
    if dup.any():
        r = df[dup].iloc[0]
        raise TargetsError(
            f"{where}: row {r['id']!s}: a second value for {r.survey}/{r.geography}/"
            f"{r.segment_type}/{r.segment} at {r.date}; one value per series and date"
        )
    df["value"] = df["value"].astype(float)
    df["se"] = df["se"].astype(float)
    df["segment"] = df["segment"].astype(str)
    return df
