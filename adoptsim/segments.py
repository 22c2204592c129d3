"""Tidy tables of a run's records: weighted shares by month for all firms and by segment.

A record (`adoptsim.results.CellRecord`) holds weighted users, at-scale users and firms per
sector × employee band × region cell; every segment of the tables (all firms, a sector, a size
class, a region) is a sum of cells, so a table is a few matrix products of the record.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from adoptsim.months import format_month
from adoptsim.taxonomy import SECTORS, SIZE_LABELS

if TYPE_CHECKING:
    from adoptsim.results import CellRecord

ADOPTION_COLUMNS = [
    "replication",
    "date",
    "segment_type",
    "segment",
    "adopters_share",
    "at_scale_share",
    "draw",
]

# _SHARE_ROUNDING: users and firms of a cell are sums of the same weights in different orders
# (by state, and all at once), so when every firm of a segment uses AI the quotient can come out
# as 1 + 2e-16. A share is at most 1: quotients are capped there, never rescaled.

# Which record bands make up each size class (the classes are unions of bands).
_SIZE_BANDS = {
    "1-9": [0, 1],
    "10-19": [2],
    "20-49": [3],
    "50-249": [4],
    "250-499": [5],
    "500+": [6],
}


_LABELS = ("date", "segment_type", "segment")


@lru_cache(maxsize=16)
def _segments(shape: tuple[int, int, int], regions: tuple[str, ...]) -> tuple[np.ndarray, ...]:
    """Each segment's type and label, in table order: all firms, sectors, size classes, regions."""
    s, _, r = shape
    kinds = ["all"] + ["sector"] * s + ["size"] * len(SIZE_LABELS) + ["region"] * r
    labels = ["all", *SECTORS[:s], *SIZE_LABELS, *regions]
    return np.array(kinds, dtype=object), np.array(labels, dtype=object)


_label_cache: dict[tuple, tuple] = {}


def _segment_arrays(record: CellRecord) -> tuple[tuple, np.ndarray, np.ndarray]:
    """The labels (date, segment type, segment) and the two shares of `segment_table`'s rows.

    The labels depend only on the months, regions and which segments have firms, so runs of
    one layout share one set of label arrays (made once per process; building text columns is
    most of a small run's table).
    """
    kinds = _segments(record.shape, tuple(record.regions))
    # Sums over the cells' axes (NumPy's pairwise sums: the same bits whatever the number of
    # BLAS threads, which a matrix product with a membership matrix does not promise).
    s, b, r = record.shape
    firms = record.firms.reshape(s, b, r)
    users = record.users.reshape(-1, s, b, r)
    scale = record.at_scale.reshape(-1, s, b, r)
    by_band_u, by_band_s = users.sum(axis=(1, 3)), scale.sum(axis=(1, 3))
    by_band_f = firms.sum(axis=(0, 2))

    def sizes(x: np.ndarray) -> np.ndarray:
        return np.stack([x[..., _SIZE_BANDS[k]].sum(-1) for k in SIZE_LABELS], -1)

    num_u = np.concatenate(
        [
            users.sum(axis=(1, 2, 3))[:, None],
            users.sum(axis=(2, 3)),
            sizes(by_band_u),
            users.sum(axis=(1, 2)),
        ],
        axis=1,
    )
    num_s = np.concatenate(
        [
            scale.sum(axis=(1, 2, 3))[:, None],
            scale.sum(axis=(2, 3)),
            sizes(by_band_s),
            scale.sum(axis=(1, 2)),
        ],
        axis=1,
    )
    den = np.concatenate(
        [[firms.sum()], firms.sum(axis=(1, 2)), sizes(by_band_f), firms.sum(axis=(0, 1))]
    )
    keep = den > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        su = np.minimum(num_u[:, keep] / den[keep], 1.0)  # see _SHARE_ROUNDING
        ss = np.minimum(num_s[:, keep] / den[keep], 1.0)
    key = (tuple(record.months), tuple(record.regions), keep.tobytes())
    cached = _label_cache.get(key)
    if cached is None:
        # rows by segment type, then date, then segment (the table's order)
        dates = np.array([format_month(m) for m in record.months], dtype=object)
        kind, label = kinds[0][keep], kinds[1][keep]
        n_t, n_k = su.shape
        order = [
            (np.arange(n_t)[:, None] * n_k + np.flatnonzero(kind == k)[None, :]).ravel()
            for k in dict.fromkeys(kind)
        ]
        index = np.concatenate(order)
        flat_kind, flat_label = np.tile(kind, n_t)[index], np.tile(label, n_t)[index]
        # as pandas' text arrays: repeating one for R replications is then a copy of its
        # buffers, not R × rows conversions of Python strings
        labels = tuple(
            pd.array(col, dtype=str)
            for col in (np.repeat(dates, n_k)[index], flat_kind, flat_label)
        )
        if len(_label_cache) > 64:  # a long-lived process running many layouts
            _label_cache.clear()
        cached = _label_cache[key] = (labels, index)
    labels, index = cached
    return labels, su.ravel()[index], ss.ravel()[index]


def segment_table(record: CellRecord) -> pd.DataFrame:
    """Tidy shares by month for all firms and by sector, size class and region."""
    labels, su, ss = _segment_arrays(record)
    return pd.DataFrame(
        {**dict(zip(_LABELS, labels, strict=True)), "adopters_share": su, "at_scale_share": ss}
    )


def segment_tables(records: list[CellRecord]) -> pd.DataFrame:
    """`segment_table` of each record, stacked, with columns ``replication`` and ``draw``.

    One frame for all records (the records of a run share their labels), in the columns of
    `ADOPTION_COLUMNS`; the same rows as concatenating the tables one by one.
    """
    if not records:
        return pd.DataFrame(columns=ADOPTION_COLUMNS)
    arrays = [_segment_arrays(rec) for rec in records]
    rows = [su.shape[0] for _, su, _ in arrays]
    same = all(a[0] is arrays[0][0] for a in arrays)
    if same:
        index = np.tile(np.arange(rows[0]), len(records))
        labels = [col.take(index) for col in arrays[0][0]]
    else:
        labels = [pd.concat([pd.Series(a[0][c]) for a in arrays]).array for c in range(3)]
    data = {"replication": np.repeat(np.arange(len(records)), rows)}
    data |= dict(zip(_LABELS, labels, strict=True))
    data["adopters_share"] = np.concatenate([su for _, su, _ in arrays])
    data["at_scale_share"] = np.concatenate([ss for _, _, ss in arrays])
    data["draw"] = np.repeat(np.array([rec.draw for rec in records]), rows)
    return pd.DataFrame(data)[ADOPTION_COLUMNS]


def agent_counts(record: CellRecord) -> pd.DataFrame:
    """Agents simulated per segment (unweighted): how much a segment's share can be trusted."""
    s, b, r = record.shape
    n = np.asarray(record.agents if record.agents is not None else np.zeros(s * b * r))
    n = n.reshape(s, b, r)
    by_band = n.sum(axis=(0, 2))
    rows = [("all", "all", int(n.sum()))]
    rows += [("sector", k, int(v)) for k, v in zip(SECTORS, n.sum(axis=(1, 2)), strict=True)]
    rows += [("size", k, int(by_band[_SIZE_BANDS[k]].sum())) for k in SIZE_LABELS]
    rows += [("region", k, int(v)) for k, v in zip(record.regions, n.sum(axis=(0, 1)), strict=True)]
    return pd.DataFrame(rows, columns=["segment_type", "segment", "agents"])
