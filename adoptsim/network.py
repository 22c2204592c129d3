"""Peer networks over firms as ``scipy.sparse`` CSR adjacency matrices, built from a seeded stream.

Agents are a weighted sample of firms (see [`adoptsim.population`][adoptsim.population]): a
cell's agents stand for its real firms in proportion to their weights. Peers must represent real
firms however agents were allocated to cells (square-root or proportional), so:

- ``sector_region`` draws each of a firm's ties to an agent with probability ∝ weight × degree
  propensity (the real firms a tie can land on), and peer shares are plain shares of ties;
- ``erdos_renyi`` pairs agents uniformly and weights each neighbour by its firm weight;
- ``complete`` (mean field) is never materialised:
  [`CompleteNetwork`][adoptsim.network.CompleteNetwork] computes each firm's firm-weighted peer
  share from the population totals in O(n) instead of n² edges.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from adoptsim import kernels
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


# Peer weights are rounded to whole multiples of w_max / 2^30: sums of whole numbers below 2^53
# are exact in float64 whatever their order, so a count kept up to date by adding and
# subtracting single neighbours equals the full product bit for bit. The rounding changes a
# weight by at most 2^-31 of the largest weight (tested against unrounded weights).
WEIGHT_BITS = 30
_MAX_EXACT_DEGREE = 1 << (52 - WEIGHT_BITS)


def peer_weights(weight: np.ndarray) -> np.ndarray:
    """Firm weights as whole numbers (float64) in units of ``max(weight) / 2^30``, each >= 1."""
    w = np.asarray(weight, dtype=np.float64)
    if w.size == 0:
        return w.copy()
    top = float(w.max())
    if not top > 0:
        return np.ones_like(w)
    return np.maximum(np.rint(w * (2.0**WEIGHT_BITS / top)), 1.0)


@dataclass
class SparseNetwork:
    """A network of agents; ``adjacency[i, j]`` is how many of firm i's ties go to agent j.

    Row i lists whose state firm i sees. Entries are whole numbers (a firm may draw the same
    representative agent twice). ``weight`` (real firms per agent) makes peer shares
    firm-weighted: a neighbour counts with its weight; without it every tie counts once.
    ``symmetric`` promises that ``adjacency`` equals its transpose; it lets `PeerCounter` read a
    firm's column as its row.
    """

    adjacency: sp.csr_array
    symmetric: bool = False
    weight: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.degree = np.diff(self.adjacency.indptr)
        self.ties = self.adjacency @ np.ones(self.adjacency.shape[1])
        if self.weight is None:
            self.peer_weight = None
            mass = self.ties
        else:
            if self.weight.shape != (self.adjacency.shape[1],):
                raise ValueError("weight must have one entry per firm")
            self.peer_weight = peer_weights(self.weight)
            mass = self.adjacency @ self.peer_weight
        # 1 / (weighted number of ties); 0 for isolated firms, whose peer share is 0.
        self._inv_degree = np.divide(1.0, mass, out=np.zeros(len(mass)), where=mass > 0)

    def peer_share(self, active: np.ndarray) -> np.ndarray:
        """Firm-weighted share of active peers (0 for isolated firms).

        Σ_j a_ij w_j x_j / Σ_j a_ij w_j, one sparse matrix–vector product.
        """
        x = active.astype(np.float64)
        if self.peer_weight is not None:
            x *= self.peer_weight
        return (self.adjacency @ x) * self._inv_degree

    def counter(self) -> PeerCounter:
        """A `PeerCounter` over this network."""
        return PeerCounter(self)

    def in_edges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The edges into each firm's column, for counting a firm's change at its watchers.

        Returns ``(start, length, watcher, step)``: firm j's edges are positions ``start[j]``
        to ``start[j] + length[j]``; ``watcher`` is the firm that sees j along an edge and
        ``step`` what j adds to that firm's weighted count of active peers (ties × peer weight).
        Made once per network, then shared by its counters.
        """
        if "_in_edges" not in self.__dict__:
            adj = self.adjacency
            if self.symmetric:
                indptr, indices, data = adj.indptr, adj.indices, adj.data
            elif kernels.enabled():  # the arrays of adj.T.tocsr(), by one compiled pass
                indptr, indices, data = kernels.transpose(
                    adj.indptr, adj.indices, adj.data, adj.shape[0]
                )
            else:
                cols = adj.T.tocsr()
                indptr, indices, data = cols.indptr, cols.indices, cols.data
            start = indptr[:-1].astype(np.intp)
            length = np.diff(indptr).astype(np.intp)
            step = data.astype(np.float64)
            if self.peer_weight is not None:
                step *= np.repeat(self.peer_weight, length)  # whole numbers: exact products
            self._in_edges = (start, length, indices, step)
        return self._in_edges


Network = CompleteNetwork | SparseNetwork


class PeerCounter:
    """Each firm's share of peers in a set of firms that changes a little from call to call.

    ``share(on)`` equals ``network.peer_share(on.astype(np.float32))`` bit for bit. On a sparse
    network with unit edge entries the (weighted) numbers of active neighbours are sums of whole
    numbers (see `peer_weights`), exact in floating point whatever order they are summed in, so
    instead of a full sparse product per call the counter adds the weights of the firms that
    joined to their neighbours' counts (and subtracts those of the firms that left) since its
    previous call: in a monthly step that touches a few per cent of the edges. The first call,
    and any call where many firms changed, does the full product.
    """

    def __init__(self, network: Network) -> None:
        self.network = network
        self._on: np.ndarray | None = None
        self._count: np.ndarray | None = None
        adj = getattr(network, "adjacency", None)
        self._exact = (
            adj is not None
            and adj.shape[0] == adj.shape[1]
            and float(network.ties.max(initial=0)) < _MAX_EXACT_DEGREE  # sums below 2^53
            and bool(np.all((adj.data >= 0) & (adj.data == np.rint(adj.data))))
        )
        self._w = getattr(network, "peer_weight", None) if self._exact else None

    def share(self, on: np.ndarray) -> np.ndarray:
        """Share of each firm's peers for which boolean ``on`` is true (0 for isolated firms)."""
        net = self.network
        if not self._exact:
            return net.peer_share(on.astype(np.float32))
        if self._on is None or not self._add_changes(on):
            adj = net.adjacency
            if self._w is None:
                # Float32 product: exact for 0/1 inputs and whole-number ties below 2^22 per
                # firm, twice as fast as float64.
                self._count = (adj @ on.astype(np.float32)).astype(np.float64)
            else:
                self._count = adj @ (on * self._w)
            self._on = on.copy()
        return self._count * net._inv_degree

    def _add_changes(self, on: np.ndarray) -> bool:
        """Bring the counts up to ``on`` from the firms that changed; False if too many did.

        For every edge j → i from a changed firm j, count[i] += its step (− if j left).
        Above a quarter of all edges the full product is cheaper (the caller does it).
        """
        changed = (on != self._on).nonzero()[0]
        if changed.size == 0:
            return True
        start, length, watcher, step = self.network.in_edges()
        lens = length[changed]
        total = int(lens.sum())
        if total > watcher.shape[0] // 4:
            return False
        if total:
            # Positions of the changed firms' edges: their runs start..start+length, joined.
            ends = lens.cumsum()
            at = np.arange(total) + np.repeat(start[changed] - ends + lens, lens)
            add = step[at]
            joined = on[changed]
            if not joined.all():
                add *= np.repeat(np.where(joined, 1.0, -1.0), lens)
            np.add.at(self._count, watcher[at], add)
        np.copyto(self._on, on)
        return True


def _from_pairs(
    i: np.ndarray, j: np.ndarray, n: int, weight: np.ndarray | None = None
) -> SparseNetwork:
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
    return SparseNetwork(adj, symmetric=True, weight=weight)


def erdos_renyi(
    n: int, mean_degree: float, rng: np.random.Generator, weight: np.ndarray | None = None
) -> SparseNetwork:
    """G(n, m) with m = n·mean_degree/2 uniformly drawn edges.

    Duplicates are dropped (< 0.01 % at n = 10⁶, k = 10); ``weight`` (firms per agent) makes peer
    shares firm-weighted.
    """
    m = round(n * mean_degree / 2)
    i = rng.integers(0, n, size=m, dtype=np.int64)
    j = rng.integers(0, n, size=m, dtype=np.int64)
    return _from_pairs(i, j, n, weight)


def _at_most(cum: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """``np.searchsorted(cum, xs, side="right")`` for ascending ``xs``, by merging.

    The number of cum values <= xs[q] is the number of cum values whose count of xs below them
    is at most q: one search per cum value in xs (few, when ties outnumber agents) and a
    cumulative count, instead of one search per tie.
    """
    below = np.searchsorted(xs, cum, side="left")
    counts = np.bincount(below, minlength=xs.shape[0] + 1)[: xs.shape[0]]
    return counts.cumsum(out=counts)  # in place: one array the length of the ties


def _representative_targets(
    owner_group: np.ndarray | int,
    group: np.ndarray,
    mass: np.ndarray,
    u: np.ndarray,
) -> np.ndarray:
    """For each tie, an agent of the tie's group drawn with probability ∝ ``mass``.

    ``owner_group[t]`` is the group tie t must land in (an int: the same group for all ties),
    ``group[j]``/``mass[j]`` the group and sampling mass of agent j, ``u[t]`` a uniform number:
    the target is found by inverting the cumulative mass of the group's agents (one sorted
    search for all ties). Groups with no mass give −1.
    """
    order = np.argsort(group, kind="stable")
    cum = np.cumsum(mass[order])
    n_groups = int(max(group.max(initial=-1), np.max(owner_group, initial=-1))) + 1
    size = np.bincount(group, minlength=n_groups)
    end = np.cumsum(size)
    begin = end - size
    base = np.where(begin > 0, cum[np.maximum(begin - 1, 0)], 0.0)
    top = np.where(end > 0, cum[np.maximum(end - 1, 0)], 0.0)
    # Per group, then gathered per tie (the same values as computing them per tie): the
    # group's mass, and its last agent's position (or the first, for a group without agents).
    span = top - base
    last = np.minimum(np.maximum(end - 1, begin), order.shape[0] - 1)
    g = owner_group
    x = base[g] + u * span[g]
    # Searching sorted keys is several times faster than searching them in random order, even
    # counting the sort; the positions are the same.
    by_x = np.argsort(x)
    pos = np.empty(x.shape[0], dtype=np.intp)
    pos[by_x] = _at_most(cum, x[by_x])
    out = order[np.clip(pos, begin[g], last[g])]
    return np.where((top > base)[g], out, -1)


def sector_region(
    firms: Firms,
    mean_degree: float,
    within_share: float,
    size_exponent: float,
    rng: np.random.Generator,
) -> SparseNetwork:
    """Block model: most ties within the firm's sector × region, larger firms more connected.

    Each agent stands for a firm that has a Poisson number of ties with mean ∝
    employees^size_exponent, scaled so that the mean over *real firms* (weighted) is
    ``mean_degree``: a firm's expected degree depends on its size only. A share ``within_share`` of
    ties stays inside the firm's sector × region block, the rest go anywhere. Each tie lands on a
    real firm drawn in proportion to its own degree (as in a configuration model over the real
    firms): an agent j is drawn with probability ∝ weight_j · employees_j^size_exponent, with
    replacement. So every agent's peers are a sample of the real firms of their cells, with the
    same number of ties and the same composition whatever the allocation of agents to cells
    (weighting the neighbours of an agent-level network instead leaves the peers of small firms
    fewer *effective* ties under square-root allocation, a noisier peer share and, through the
    convex hazard, more adoption). Ties are directed (i sees j); peer shares are plain shares of
    ties because the weights are in the draw.
    """
    n = firms.n
    propensity = firms.employees.astype(np.float64) ** size_exponent
    stubs = rng.poisson(mean_degree * propensity / np.average(propensity, weights=firms.weight))
    owner = np.repeat(np.arange(n, dtype=np.int64), stubs)
    inside = rng.random(owner.shape[0]) < within_share
    u = rng.random(owner.shape[0])
    n_reg = int(firms.region.max(initial=0)) + 1
    block = firms.sector.astype(np.int64) * n_reg + firms.region.astype(np.int64)
    mass = firms.weight * propensity
    target = np.empty(owner.shape[0], dtype=np.int64)
    ins, outs = np.flatnonzero(inside), np.flatnonzero(~inside)
    if kernels.enabled():  # the same targets and matrix by compiled loops (tests/test_block.py)
        n_blocks = int(block.max(initial=-1)) + 1
        target[ins] = kernels.representative_targets(
            block[owner[ins]], block, n_blocks, mass, u[ins]
        )
        anywhere, agents = np.zeros(outs.size, dtype=np.int64), np.zeros(n, dtype=np.int64)
        target[outs] = kernels.representative_targets(anywhere, agents, 1, mass, u[outs])
        indptr, cols, count = kernels.ties_to_csr(owner, target, n)
        adj = sp.csr_array((count, cols, indptr.astype(np.int32)), shape=(n, n))
        return SparseNetwork(adj, symmetric=False)
    target[ins] = _representative_targets(block[owner[ins]], block, mass, u[ins])
    target[outs] = _representative_targets(0, np.zeros(n, dtype=np.int64), mass, u[outs])
    keep = (target >= 0) & (target != owner)  # a firm is not its own peer
    return _from_ties(owner[keep], target[keep], n)


def _from_ties(i: np.ndarray, j: np.ndarray, n: int) -> SparseNetwork:
    """CSR of directed ties i → j, a tie drawn k times having entry k (rows sorted, ascending)."""
    key = i * n + j
    key.sort()
    first = np.r_[True, key[1:] != key[:-1]] if key.size else np.zeros(0, dtype=bool)
    starts = np.flatnonzero(first)
    count = np.diff(np.r_[starts, key.size]).astype(np.float32)
    key = key[starts]
    rows = key // n
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    idx_dtype = np.int32 if key.size < 2**31 else np.int64
    cols = key - rows * n
    adj = sp.csr_array((count, cols.astype(idx_dtype), indptr.astype(idx_dtype)), shape=(n, n))
    return SparseNetwork(adj, symmetric=False)


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
        return erdos_renyi(firms.n, mean_degree, rng, firms.weight)
    if kind == "sector_region":
        return sector_region(firms, mean_degree, within_share, size_exponent, rng)
    raise ValueError(f"network.kind = {kind!r} — must be one of {', '.join(NETWORK_KINDS)}")
