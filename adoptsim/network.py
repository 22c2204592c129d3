"""Peer networks over firms as ``scipy.sparse`` CSR adjacency matrices, built from a seeded stream.

The ``complete`` network (mean field) is never materialised: :class:`CompleteNetwork` computes each
firm's peer share from the population totals in O(n) instead of n² edges.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from adoptsim.population import Firms

NETWORK_KINDS = ("complete", "erdos_renyi", "sector_region")


@dataclass
class CompleteNetwork:
    """Everyone is everyone's peer; peer share = weighted share among all *other* firms."""

    weight: np.ndarray

    def peer_share(self, active: np.ndarray) -> np.ndarray:
        """Weighted share of active firms among each firm's peers (excluding itself)."""
        w = self.weight
        total = float(w.sum())
        on = float(w @ active)
        return (on - w * active) / (total - w)

    @property
    def degree(self) -> np.ndarray:
        """Number of peers of each firm."""
        return np.full(self.weight.shape[0], self.weight.shape[0] - 1)


@dataclass
class SparseNetwork:
    """An undirected, unweighted network; ``adjacency`` is symmetric CSR with unit entries."""

    adjacency: sp.csr_array

    def __post_init__(self) -> None:
        self.degree = np.diff(self.adjacency.indptr)
        self._inv_degree = np.divide(
            1.0, self.degree, out=np.zeros(len(self.degree)), where=self.degree > 0
        )

    def peer_share(self, active: np.ndarray) -> np.ndarray:
        """Share of active neighbours (0 for isolated firms): one sparse matrix–vector product."""
        return (self.adjacency @ active.astype(np.float64)) * self._inv_degree


Network = CompleteNetwork | SparseNetwork


def _from_pairs(i: np.ndarray, j: np.ndarray, n: int) -> SparseNetwork:
    """Symmetric CSR from undirected pairs, dropping self-loops and duplicate edges.

    Built by sorting directed edge keys (row·n + col) once; that is several times faster than
    ``np.unique`` (hash-based in NumPy 2.x) or SciPy's COO → CSR conversion at 10⁷ edges.
    """
    keep = i != j
    i, j = i[keep].astype(np.int64), j[keep].astype(np.int64)
    key = np.sort(np.concatenate([i * n + j, j * n + i]))
    if key.size:
        key = key[np.r_[True, key[1:] != key[:-1]]]
    rows = key // n
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    idx_dtype = np.int32 if key.size < 2**31 else np.int64
    adj = sp.csr_array(
        (
            np.ones(key.size, dtype=np.float32),
            (key % n).astype(idx_dtype),
            indptr.astype(idx_dtype),
        ),
        shape=(n, n),
    )
    return SparseNetwork(adj)


def erdos_renyi(n: int, mean_degree: float, rng: np.random.Generator) -> SparseNetwork:
    """G(n, m) with m = n·mean_degree/2 uniformly drawn edges (duplicates dropped, <0.01 % at
    n = 10⁶, k = 10)."""
    m = round(n * mean_degree / 2)
    i = rng.integers(0, n, size=m, dtype=np.int64)
    j = rng.integers(0, n, size=m, dtype=np.int64)
    return _from_pairs(i, j, n)


def _pair_stubs(owner: np.ndarray, group: np.ndarray, rng: np.random.Generator):
    """Randomly pair stubs inside each group; an odd stub out per group is dropped."""
    order = np.lexsort((rng.random(owner.shape[0]), group))
    owner, group = owner[order], group[order]
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    pos = np.arange(owner.shape[0]) - np.repeat(starts, np.diff(np.r_[starts, owner.shape[0]]))
    first = np.flatnonzero(pos % 2 == 0)
    first = first[first + 1 < owner.shape[0]]
    first = first[group[first] == group[first + 1]]
    return owner[first], owner[first + 1]


def sector_region(
    firms: Firms,
    mean_degree: float,
    within_share: float,
    size_exponent: float,
    rng: np.random.Generator,
) -> SparseNetwork:
    """Block model: most ties within the firm's sector × region, larger firms more connected.

    Each firm gets a Poisson number of stubs with mean ∝ employees^size_exponent (scaled to
    ``mean_degree``); a share ``within_share`` of stubs is paired inside the sector × region block,
    the rest across the whole population (a configuration model per block).
    """
    n = firms.n
    propensity = firms.employees.astype(np.float64) ** size_exponent
    stubs = rng.poisson(mean_degree * propensity / propensity.mean())
    owner = np.repeat(np.arange(n, dtype=np.int32), stubs)
    inside = rng.random(owner.shape[0]) < within_share
    block = firms.sector.astype(np.int64) * 256 + firms.region.astype(np.int64)
    i1, j1 = _pair_stubs(owner[inside], block[owner[inside]], rng)
    i2, j2 = _pair_stubs(owner[~inside], np.zeros(int((~inside).sum()), dtype=np.int64), rng)
    return _from_pairs(np.concatenate([i1, i2]), np.concatenate([j1, j2]), n)


def build_network(
    kind: str,
    firms: Firms,
    rng: np.random.Generator,
    *,
    mean_degree: float = 10.0,
    within_share: float = 0.7,
    size_exponent: float = 0.3,
) -> Network:
    """Build the peer network named ``kind`` (one of :data:`NETWORK_KINDS`)."""
    if kind == "complete":
        return CompleteNetwork(firms.weight)
    if kind == "erdos_renyi":
        return erdos_renyi(firms.n, mean_degree, rng)
    if kind == "sector_region":
        return sector_region(firms, mean_degree, within_share, size_exponent, rng)
    raise ValueError(f"network.kind = {kind!r} — must be one of {', '.join(NETWORK_KINDS)}")
