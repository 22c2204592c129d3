"""Peer networks over firms as ``scipy.sparse`` CSR adjacency matrices, built from a seeded stream.

The ``complete`` network (mean field) is never materialised:
[`CompleteNetwork`][adoptsim.network.CompleteNetwork] computes each firm's peer share from the
population totals in O(n) instead of n² edges.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from adoptsim._blocks import run_parallel
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

    def counter(self) -> PeerCounter:
        """A [`PeerCounter`][adoptsim.network.PeerCounter] over this network."""
        return PeerCounter(self)


@dataclass
class SparseNetwork:
    """An undirected, unweighted network; ``adjacency`` is symmetric CSR with unit entries.

    ``symmetric`` promises that ``adjacency`` equals its transpose (true of every network built
    here); it lets [`PeerCounter`][adoptsim.network.PeerCounter] read a firm's column as its row.
    """

    adjacency: sp.csr_array
    symmetric: bool = False

    def __post_init__(self) -> None:
        self.degree = np.diff(self.adjacency.indptr)
        self._inv_degree = np.divide(
            1.0, self.degree, out=np.zeros(len(self.degree)), where=self.degree > 0
        )

    def peer_share(self, active: np.ndarray) -> np.ndarray:
        """Share of active neighbours (0 for isolated firms): one sparse matrix–vector product."""
        return (self.adjacency @ active.astype(np.float64)) * self._inv_degree

    def counter(self) -> PeerCounter:
        """A [`PeerCounter`][adoptsim.network.PeerCounter] over this network."""
        return PeerCounter(self)


Network = CompleteNetwork | SparseNetwork


class PeerCounter:
    """Each firm's share of peers in a set of firms that changes a little from call to call.

    ``share(on)`` equals ``network.peer_share(on.astype(np.float32))`` bit for bit. On a sparse
    network with unit edge weights the numbers of active neighbours are integers, exact in
    floating point whatever order they are summed in, so instead of a full sparse product per call
    the counter adds the neighbours of the firms that joined (and subtracts those of the firms
    that left) since its previous call: in a monthly step that touches a few per cent of the
    edges. The first call, and any call where many firms changed, does the full product.
    """

    def __init__(self, network: Network) -> None:
        self.network = network
        self._on: np.ndarray | None = None
        self._count: np.ndarray | None = None
        self._columns: sp.csr_array | None = None
        adj = getattr(network, "adjacency", None)
        self._exact = (
            adj is not None
            and adj.shape[0] == adj.shape[1]
            and int(network.degree.max(initial=0)) < 2**24  # counts exact in float32 too
            and bool(np.all(adj.data == 1))
        )

    def share(self, on: np.ndarray) -> np.ndarray:
        """Share of each firm's peers for which boolean ``on`` is true (0 for isolated firms)."""
        net = self.network
        if not self._exact:
            return net.peer_share(on.astype(np.float32))
        adj = net.adjacency
        changed = None if self._on is None else np.flatnonzero(on != self._on)
        if changed is None or net.degree[changed].sum() > adj.nnz // 4:
            # Float32 product: exact for 0/1 inputs and unit weights, twice as fast as float64.
            self._count = (adj @ on.astype(np.float32)).astype(np.float64)
            self._on = on.copy()
        elif changed.size:
            self._add_neighbours(changed, on[changed])
            self._on[changed] = on[changed]
        return self._count * net._inv_degree

    def _add_neighbours(self, firms: np.ndarray, joined: np.ndarray) -> None:
        """count[i] += ±1 for every edge j → i from a changed firm j (+ joined, − left)."""
        if self._columns is None:
            net = self.network
            self._columns = net.adjacency if net.symmetric else net.adjacency.T.tocsr()
        cols = self._columns
        starts = cols.indptr[firms].astype(np.int64)
        lens = cols.indptr[firms + 1] - starts
        total = int(lens.sum())
        if total == 0:
            return
        offset = np.cumsum(lens) - lens
        edges = cols.indices[np.arange(total) + np.repeat(starts - offset, lens)]
        if joined.all():
            np.add.at(self._count, edges, 1.0)
        else:
            np.add.at(self._count, edges, np.repeat(np.where(joined, 1.0, -1.0), lens))


def _from_pairs(i: np.ndarray, j: np.ndarray, n: int) -> SparseNetwork:
    """Symmetric CSR from undirected pairs, dropping self-loops and duplicate edges.

    Built by sorting directed edge keys (row·n + col) once; that is several times faster than
    ``np.unique`` (hash-based in NumPy 2.x) or SciPy's COO → CSR conversion at 10⁷ edges.
    """
    keep = i != j
    i, j = i[keep].astype(np.int64), j[keep].astype(np.int64)
    key = np.concatenate([i * n + j, j * n + i])
    key.sort()
    if key.size:
        key = key[np.r_[True, key[1:] != key[:-1]]]
    rows = key // n
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    idx_dtype = np.int32 if key.size < 2**31 else np.int64
    rows *= n
    np.subtract(key, rows, out=key)  # key % n
    adj = sp.csr_array(
        (
            np.ones(key.size, dtype=np.float32),
            key.astype(idx_dtype),
            indptr.astype(idx_dtype),
        ),
        shape=(n, n),
    )
    return SparseNetwork(adj, symmetric=True)


def erdos_renyi(n: int, mean_degree: float, rng: np.random.Generator) -> SparseNetwork:
    """G(n, m) with m = n·mean_degree/2 uniformly drawn edges (duplicates dropped, <0.01 % at
    n = 10⁶, k = 10)."""
    m = round(n * mean_degree / 2)
    i = rng.integers(0, n, size=m, dtype=np.int64)
    j = rng.integers(0, n, size=m, dtype=np.int64)
    return _from_pairs(i, j, n)


def _lexsort_with_starts(group: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.lexsort((r, group))
    g = group[order]
    return order, np.r_[True, g[1:] != g[:-1]]


def _order_within_groups(group: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``order = np.lexsort((r, group))`` for ``r`` in [0, 1), by one sort of packed 64-bit keys.

    Each key is (dense group rank, r truncated to the bits left over, position); sorting plain
    integers is an order of magnitude faster than ``lexsort``/``argsort`` at 10⁷ stubs. Runs whose
    truncated r tie (a handful per call) are then put in full-precision order, so the permutation is
    exactly lexsort's, including its stable tie-break by position. Returns ``order`` and a boolean
    array marking where a new group starts in sorted order.
    """
    m = group.shape[0]
    if m == 0:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=bool)
    g0 = int(group.min())
    span = int(group.max()) - g0 + 1
    if span > 1 << 22 or float(r.min()) < 0.0 or float(r.max()) >= 1.0:
        return _lexsort_with_starts(group, r)
    present = np.zeros(span, dtype=bool)
    present[group - g0] = True
    rank = np.cumsum(present, dtype=np.int64) - 1
    gbits = int(rank[-1]).bit_length()
    ibits = (m - 1).bit_length()
    rbits = min(53, 64 - gbits - ibits)  # a double in [0, 1) has at most 53 significant bits
    if rbits < 24:
        return _lexsort_with_starts(group, r)
    top = rank.astype(np.uint64) << (rbits + ibits)
    key = top[group - g0] if g0 else top[group]
    low = (r * 2.0**rbits).astype(np.uint64)
    low <<= ibits
    low |= np.arange(m, dtype=np.uint64)
    key |= low
    del low
    key.sort()
    order = (key & np.uint64((1 << ibits) - 1)).view(np.int64)
    # Neighbours in sorted order: same (group, truncated r) iff they differ only in the position
    # bits; same group iff they differ only below the group bits.
    step = key[1:] ^ key[:-1]
    tie = step < np.uint64(1 << ibits)
    if tie.any():
        runs = np.flatnonzero(np.r_[tie, False] | np.r_[False, tie])
        sub = order[runs]
        order[runs] = sub[np.lexsort((sub, r[sub], key[runs] >> ibits))]
    if gbits == 0:  # a single group
        return order, np.r_[True, np.zeros(m - 1, dtype=bool)]
    return order, np.r_[True, step >= np.uint64(1 << (rbits + ibits))]


def _pair_stubs(owner: np.ndarray, group: np.ndarray, r: np.ndarray):
    """Randomly pair stubs inside each group; an odd stub out per group is dropped.

    Stubs are put in random order (by the uniform numbers ``r``) within their group; then the
    1st and 2nd, 3rd and 4th, ... stub of each group are paired.
    """
    m = owner.shape[0]
    order, new_group = _order_within_groups(group, r)
    owner = owner[order]
    starts = np.flatnonzero(new_group)
    # A stub opens a pair if its position inside the group is even, i.e. if its index has the
    # parity of its group's first index, and the next stub is in the same group.
    odd = np.zeros(m, dtype=bool)
    odd[1::2] = True
    opens = odd == np.repeat((starts & 1).astype(bool), np.diff(np.r_[starts, m]))
    first = np.flatnonzero(opens[:-1] & ~new_group[1:])
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
    block = firms.sector.astype(np.int32) * 256 + firms.region.astype(np.int32)
    within, across = owner[inside], owner[~inside]
    r_within = rng.random(within.shape[0])
    r_across = rng.random(across.shape[0])
    (i1, j1), (i2, j2) = run_parallel(  # independent once their uniforms are drawn
        lambda: _pair_stubs(within, block[within], r_within),
        lambda: _pair_stubs(across, np.zeros(across.shape[0], dtype=np.int8), r_across),
    )
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
    """Build the peer network named ``kind`` (one of `NETWORK_KINDS`)."""
    if kind == "complete":
        return CompleteNetwork(firms.weight)
    if kind == "erdos_renyi":
        return erdos_renyi(firms.n, mean_degree, rng)
    if kind == "sector_region":
        return sector_region(firms, mean_degree, within_share, size_exponent, rng)
    raise ValueError(f"network.kind = {kind!r} — must be one of {', '.join(NETWORK_KINDS)}")
