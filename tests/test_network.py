"""Peer networks: degrees, symmetry, within-block share, size effect, mean field, firm-weighted
peer shares against plain reference computations, and invariance to the agent allocation."""

import numpy as np
import pytest

from adoptsim.network import (
    CompleteNetwork,
    PeerCounter,
    erdos_renyi,
    peer_weights,
    sector_region,
)
from adoptsim.population import build_population


@pytest.fixture(scope="module")
def firms():
    return build_population("belgium", 30_000, np.random.default_rng(0))


def test_erdos_renyi_degree_symmetry_and_no_loops():
    g = erdos_renyi(50_000, 10, np.random.default_rng(1))
    a = g.adjacency
    assert g.degree.mean() == pytest.approx(10, rel=0.01)
    assert (a != a.T).nnz == 0
    assert a.diagonal().sum() == 0
    assert a.max() == 1  # no multi-edges
    # Poisson degrees: variance ≈ mean.
    assert g.degree.var() == pytest.approx(10, rel=0.05)


@pytest.mark.parametrize("within", [0.3, 0.7, 0.9])
def test_sector_region_within_block_share(firms, within):
    g = sector_region(firms, 12, within, 0.3, np.random.default_rng(2))
    coo = g.adjacency.tocoo()
    block = firms.sector.astype(int) * 256 + firms.region
    same = np.average(block[coo.row] == block[coo.col], weights=coo.data)
    # Ties going anywhere also land inside the block by chance (about Σ block share²), and
    # ties a firm would draw to itself are dropped (most often inside small blocks), so the
    # observed share is close to the parameter.
    assert within - 0.03 <= same <= within + 0.08
    # The mean number of ties over real firms (weighted) is the parameter.
    assert np.average(g.ties, weights=firms.weight) == pytest.approx(12, rel=0.05)


def test_sector_region_larger_firms_more_connected(firms):
    g = sector_region(firms, 10, 0.7, 0.3, np.random.default_rng(3))
    by_size = [g.ties[firms.size == s].mean() for s in range(6)]
    assert all(np.diff(by_size) > 0)
    flat = sector_region(firms, 10, 0.7, 0.0, np.random.default_rng(3))
    assert flat.ties[firms.size == 5].mean() == pytest.approx(10, rel=0.15)


def _peer_size_mix(firms, g):
    """Share of ties landing on each size class, each tie weighted by its owner's firms."""
    coo = g.adjacency.tocoo()
    w = firms.weight[coo.row] * coo.data
    return np.bincount(firms.size[coo.col], weights=w, minlength=6) / w.sum()


def test_sector_region_peers_represent_real_firms_under_both_allocations():
    # Real firms' ties land on size classes in proportion to firms × degree; the agents' ties
    # must do the same, whether agents were allocated ∝ sqrt(firms) or ∝ firms.
    mixes = []
    for allocation in ("sqrt", "proportional"):
        f = build_population("flanders", 40_000, np.random.default_rng(5), allocation=allocation)
        g = sector_region(f, 10, 0.7, 0.3, np.random.default_rng(6))
        mass = f.weight * f.employees.astype(float) ** 0.3
        expected = np.bincount(f.size, weights=mass, minlength=6) / mass.sum()
        got = _peer_size_mix(f, g)
        np.testing.assert_allclose(got, expected, atol=0.01)
        # Mean ties per real firm, by size class, do not depend on the allocation either.
        mixes.append(
            [np.average(g.ties[f.size == s], weights=f.weight[f.size == s]) for s in range(6)]
        )
    np.testing.assert_allclose(mixes[0], mixes[1], rtol=0.05)


def test_weighted_peer_share_equals_plain_reference():
    rng = np.random.default_rng(11)
    n = 1_500
    w = rng.lognormal(0.0, 1.5, n)
    g = erdos_renyi(n, 8, np.random.default_rng(12), weight=w)
    active = rng.random(n) < 0.3
    a = g.adjacency.toarray().astype(float)
    num, den = a @ (w * active), a @ w
    expected = np.divide(num, den, out=np.zeros(n), where=den > 0)
    # Weights are rounded to multiples of max(w)/2^30 so that counts are exact sums: each weight
    # moves by at most 2^-31 max(w), numerator and denominator by at most ties × that.
    bound = 2 * (a @ np.ones(n)) * 2.0**-31 * w.max() / np.where(den > 0, den, 1.0)
    err = np.abs(g.peer_share(active.astype(np.float32)) - expected)
    assert np.all(err <= bound + 1e-15) and err.max() < 1e-4
    q = peer_weights(w)
    assert np.all(q == np.rint(q)) and np.abs(q / q.max() - w / w.max()).max() <= 2.0**-30
    # The incremental counter equals the full product bit for bit, month after month.
    counter = PeerCounter(g)
    on = active.copy()
    for _ in range(6):
        flip = rng.random(n) < 0.05
        on = on ^ flip
        np.testing.assert_array_equal(counter.share(on), g.peer_share(on.astype(np.float32)))


def test_counter_with_repeated_ties_equals_reference(firms):
    g = sector_region(firms, 10, 0.7, 0.3, np.random.default_rng(13))
    assert g.adjacency.data.max() > 1  # some ties drawn twice: they count twice
    rng = np.random.default_rng(14)
    on = rng.random(firms.n) < 0.2
    counter = PeerCounter(g)
    a = g.adjacency
    for _ in range(5):
        got = counter.share(on)
        num = a @ on.astype(float)
        den = a @ np.ones(firms.n)
        # Same arithmetic as the model (count × 1/ties), so the counts must match exactly.
        expected = num * np.divide(1.0, den, out=np.zeros(firms.n), where=den > 0)
        np.testing.assert_array_equal(got, expected)
        on = on | (rng.random(firms.n) < 0.03)


def test_peer_share_is_share_of_active_neighbours():
    g = erdos_renyi(2_000, 6, np.random.default_rng(4))  # unweighted: every neighbour once
    active = (np.random.default_rng(5).random(2_000) < 0.3).astype(np.float32)
    got = g.peer_share(active)
    a = g.adjacency.toarray()
    deg = a.sum(1)
    expected = np.divide(a @ active, deg, out=np.zeros(2_000), where=deg > 0)
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_complete_network_is_weighted_share_of_others():
    w = np.array([1.0, 2.0, 3.0, 4.0])
    active = np.array([1.0, 0.0, 1.0, 0.0])
    got = CompleteNetwork(w).peer_share(active)
    expected = [(3.0) / 9, 4.0 / 8, 1.0 / 7, 4.0 / 6]
    np.testing.assert_allclose(got, expected)


def test_network_is_reproducible_from_its_seed(firms):
    a = sector_region(firms, 10, 0.7, 0.3, np.random.default_rng(9)).adjacency
    b = sector_region(firms, 10, 0.7, 0.3, np.random.default_rng(9)).adjacency
    c = sector_region(firms, 10, 0.7, 0.3, np.random.default_rng(10)).adjacency
    assert (a != b).nnz == 0 and (a != c).nnz > 0
