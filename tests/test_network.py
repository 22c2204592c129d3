"""Peer networks: degrees, symmetry, within-block share, size effect, mean field."""

import numpy as np
import pytest

from adoptsim.network import CompleteNetwork, erdos_renyi, sector_region
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
    same = (block[coo.row] == block[coo.col]).mean()
    # Global pairing also lands inside the block by chance (about Σ block share²), so the
    # observed share is at least the parameter and close to it.
    assert within - 0.02 <= same <= within + 0.08
    assert g.degree.mean() == pytest.approx(12, rel=0.05)


def test_sector_region_larger_firms_more_connected(firms):
    g = sector_region(firms, 10, 0.7, 0.3, np.random.default_rng(3))
    by_size = [g.degree[firms.size == s].mean() for s in range(6)]
    assert all(np.diff(by_size) > 0)
    flat = sector_region(firms, 10, 0.7, 0.0, np.random.default_rng(3))
    assert flat.degree[firms.size == 5].mean() == pytest.approx(10, rel=0.15)


def test_peer_share_is_share_of_active_neighbours():
    g = erdos_renyi(2_000, 6, np.random.default_rng(4))
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
