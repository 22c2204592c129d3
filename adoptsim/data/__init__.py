"""Shipped reference tables.

Every row keeps the ``source`` and ``status`` columns of ``shared/data`` (V verified, S secondary,
E estimate, U unverified).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pandas as pd

DATA_DIR = Path(__file__).resolve().parent
TABLES = (
    "population",
    "policy_timeline",
    "targets",
    "assumptions",
    "lever_evidence",
    "eu_panel",
)


@cache
def _read(name: str) -> pd.DataFrame:
    return pd.read_csv(DATA_DIR / f"{name}.csv", keep_default_na=False, na_values=[""])


def read_table(name: str) -> pd.DataFrame:
    """A copy of a shipped table by name.

    Args:
        name: one of ``population``, ``policy_timeline``, ``targets``, ``assumptions``,
            ``lever_evidence``, ``eu_panel``.
    """
    if name not in TABLES:
        raise KeyError(f"unknown table {name!r}; shipped tables: {', '.join(TABLES)}")
    return _read(name).copy()
