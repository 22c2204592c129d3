"""Enterprise counts by sector × size class × region, fitted from the shipped marginal tables.

Only marginals are published (sizes, provinces, sectors, each from a different source), so the
joint table is fitted by iterative proportional fitting (IPF). With no joint information the seed
is uniform, which makes sector and size independent within a region group: that is an assumption,
listed with every other estimate in ``docs/population.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType

import numpy as np
import pandas as pd

from adoptsim.data import read_table
from adoptsim.taxonomy import FLEMISH_PROVINCES, POPULATIONS, REGIONS, SECTORS, SIZE_LABELS


@dataclass(frozen=True)
class JointTable:
    """Firm counts ``counts[sector, size, region]`` for one population, with provenance notes."""

    counts: np.ndarray
    regions: tuple[str, ...]
    provenance: tuple[str, ...]

    def margin(self, axis: str) -> dict[str, float]:
        """Total firms per sector, size class or region."""
        labels = {"sector": SECTORS, "size": SIZE_LABELS, "region": self.regions}[axis]
        keep = {"sector": (1, 2), "size": (0, 2), "region": (0, 1)}[axis]
        return dict(zip(labels, self.counts.sum(axis=keep), strict=True))


def ipf(
    seed: np.ndarray,
    margins: list[tuple[tuple[int, ...], np.ndarray]],
    tol: float = 1e-10,
    max_iter: int = 1000,
) -> np.ndarray:
    """Iterative proportional fitting of ``seed`` to target margins.

    Args:
        seed: non-negative prior table (its dependence structure is kept where margins allow).
        margins: ``(axes, target)`` pairs; ``target`` is the table summed over all other axes.
        tol: stop when every margin is matched within this relative error.
        max_iter: most rounds of fitting every margin once.

    Returns:
        The fitted table, same shape as ``seed``.
    """
    table = seed.astype(float).copy()
    for _ in range(max_iter):
        worst = 0.0
        for axes, target in margins:
            other = tuple(i for i in range(table.ndim) if i not in axes)
            current = table.sum(axis=other)
            ratio = np.divide(target, current, out=np.zeros_like(current), where=current > 0)
            worst = max(worst, float(np.max(np.abs(current - target) / np.maximum(target, 1e-12))))
            shape = [table.shape[i] if i in axes else 1 for i in range(table.ndim)]
            table *= ratio.reshape(shape)
        if worst < tol:
            break
    return table


def _value(df: pd.DataFrame, geography: str, dimension: str, category: str) -> float:
    row = df[(df.geography == geography) & (df.dimension == dimension) & (df.category == category)]
    if len(row) != 1:
        raise KeyError(f"population.csv has no single row {geography}/{dimension}/{category}")
    return float(row.value.iloc[0])


@cache
def assumptions() -> Mapping[str, float]:
    """The estimates that fill gaps in the published tables (``adoptsim/data/assumptions.csv``).

    Read-only: the mapping is cached and shared by every caller.
    """
    a = read_table("assumptions")
    return MappingProxyType(dict(zip(a.key, a.value.astype(float), strict=True)))


def flanders_sizes() -> np.ndarray:
    """Flemish enterprises with 1+ employees per size class (see assumptions.csv for each split)."""
    pop, a = read_table("population"), assumptions()
    small = _value(pop, "flanders", "employees", "10-49")
    medium = _value(pop, "flanders", "employees", "50-249")
    large = _value(pop, "flanders", "employees", "250+")
    micro = _value(pop, "flanders", "employees", "1+") - small - medium - large
    s10 = a["share_10_19_in_10_49"]
    s250 = a["share_250_499_in_250plus"]
    return np.array(
        [micro, small * s10, small * (1 - s10), medium, large * s250, large * (1 - s250)]
    )


def netherlands_sizes() -> np.ndarray:
    """Dutch enterprises with 2+ persons employed per size class (CBS; small bands split, E)."""
    pop = read_table("population")
    two_to_49 = _value(pop, "netherlands", "employees", "0-49") - _value(
        pop, "netherlands", "employees", "1"
    )
    fl = flanders_sizes()[:3]
    small = two_to_49 * fl / fl.sum()
    medium = _value(pop, "netherlands", "employees", "50-249")
    l250 = _value(pop, "netherlands", "employees", "250-499")
    large = _value(pop, "netherlands", "employees", "250+")
    return np.array([*small, medium, l250, large - l250])


def sector_shares(geography: str) -> np.ndarray:
    """Shares of sections C–N; Dutch from CBS counts, Belgian by the rule in assumptions.csv."""
    pop = read_table("population")
    nl = np.array([_value(pop, "netherlands", "sector", s) for s in SECTORS])
    if geography == "netherlands":
        return nl / nl.sum()
    nl_all = _value(pop, "netherlands", "employees", "all")
    be_all = _value(pop, "belgium", "sector", "all")
    of_all = nl / nl_all  # Dutch share of all enterprises, per section
    for s in ("M", "G", "F"):
        of_all[SECTORS.index(s)] = _value(pop, "belgium", "sector", s) / be_all
    return of_all / of_all.sum()


def province_shares() -> np.ndarray:
    """Shares of the five Flemish provinces in active enterprises (Statbel; four are E)."""
    pop = read_table("population")
    counts = np.array([_value(pop, "flanders", "region", r) for r in FLEMISH_PROVINCES])
    return counts / counts.sum()


@cache
def joint_table(population: str, include_micro: bool = True) -> JointTable:
    """Counts by sector × size × region for ``flanders``, ``belgium`` or ``netherlands``."""
    regions = POPULATIONS[population]
    a = assumptions()
    if population == "netherlands":
        size_by_region = netherlands_sizes()[:, None]
        sector = sector_shares("netherlands")
        notes = ("NL sizes: CBS 81588NED (V), 2-49 split by Flemish proportions (E)",)
    else:
        fl = flanders_sizes()
        size_by_region = fl[:, None] * province_shares()[None, :]
        notes = (
            "Flemish sizes: population.csv estimates (E) anchored on Statbel 1+ (S)",
            "provinces: Oost-Vlaanderen Statbel (V), others estimated (E)",
        )
        if population == "belgium":
            rest = fl * (1 - a["flanders_share_of_belgium"]) / a["flanders_share_of_belgium"]
            bru = a["brussels_share_of_rest"]
            size_by_region = np.column_stack([size_by_region, rest * bru, rest * (1 - bru)])
            notes += (
                "Brussels/Wallonia: Flanders scaled by the FOD 62.4 % share (V), split 28/72 (E)",
            )
        sector = sector_shares("belgium")
        notes += ("sectors: Statbel M, G, F (V), other sections from CBS relative sizes (E)",)
    if not include_micro:
        size_by_region = size_by_region.copy()
        size_by_region[0, :] = 0.0
    total = size_by_region.sum()
    seed = np.ones((len(SECTORS), len(SIZE_LABELS), len(regions)))
    counts = ipf(seed, [((1, 2), size_by_region), ((0,), sector * total)])
    notes += ("joint: IPF with a uniform seed — sector independent of size within a region (E)",)
    counts.flags.writeable = False  # cached and shared: a caller's edit must not leak into others
    return JointTable(counts, tuple(regions), notes)


def region_codes(regions: tuple[str, ...]) -> np.ndarray:
    """Global `adoptsim.taxonomy.REGIONS` index of each population region."""
    return np.array([REGIONS.index(r) for r in regions], dtype=np.int8)
