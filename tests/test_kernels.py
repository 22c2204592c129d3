"""The fast kernels the speed rests on, each against a plain reference on random cases.

- `PeerCounter` (incremental neighbour counts) vs the network's own sparse product and a dense
  float64 reference with unrounded firm weights;
- `BarrierSums` (table lookup by barrier combination) vs the float32 product it replaces and an
  exact sum;
- `_representative_targets` (one sorted search for all ties) vs a per-tie inverse CDF, and bit
  for bit vs the same formula searched tie by tie; `_at_most` (a merge) vs ``np.searchsorted``;
- `_logit_offsets` (blocked Newton, stopped once converged) vs fifty plain Newton steps;
- `Levers.treatment` (fade read from a table by months since the project's end, deadweight
  firms left out) vs the fade formula evaluated for every firm that ever had a project;
- the whole model: byte-identical results on 1 and 2 threads.
"""

import numpy as np
import pytest

import adoptsim
from adoptsim import _blocks
from adoptsim.levers import Levers
from adoptsim.months import parse_month
from adoptsim.network import (
    CompleteNetwork,
    PeerCounter,
    _at_most,
    _from_ties,
    _representative_targets,
    build_network,
    erdos_renyi,
)
from adoptsim.population import _logit_offsets, build_population
from adoptsim.rules import BarrierSums


def _states(rng: np.random.Generator, n: int, steps: int):
    """A random walk of boolean states: small monthly changes, joins and leaves, one big jump."""
    on = rng.random(n) < 0.1
    yield on.copy()
    for step in range(steps):
        flip = rng.random(n) < (0.6 if step == steps // 2 else 0.02)  # one call redoes it all
        on ^= flip
        yield on.copy()


def _dense_share(net, on: np.ndarray, weight: np.ndarray | None) -> np.ndarray:
    a = net.adjacency.toarray().astype(np.float64)
    w = np.ones(a.shape[1]) if weight is None else weight
    num, den = a @ (w * on), a @ w
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def _networks(rng: np.random.Generator, n: int):
    weight = rng.lognormal(0.0, 1.5, n)  # firms per agent, spread as under sqrt allocation
    yield "erdos_renyi unweighted", erdos_renyi(n, 8.0, rng), None
    yield "erdos_renyi weighted", erdos_renyi(n, 8.0, rng, weight), weight
    i = rng.integers(0, n, 6 * n)
    j = rng.integers(0, n // 3, 6 * n)  # directed, repeated ties, isolated firms
    keep = i != j
    yield "directed multi-ties", _from_ties(i[keep], j[keep], n), None


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_peer_counter_equals_full_product_and_dense_reference(seed):
    rng = np.random.default_rng(seed)
    n = 600
    for name, net, weight in _networks(rng, n):
        counter = PeerCounter(net)
        for t, on in enumerate(_states(rng, n, 12)):
            fast = counter.share(on)
            assert np.array_equal(fast, net.peer_share(on.astype(np.float32))), (name, t)
            # Peer weights are rounded to whole units of 2^-30 of the largest weight; with weights
            # spread over four orders of magnitude shares then move by ~1e-7, far below any
            # effect on a hazard.
            np.testing.assert_allclose(fast, _dense_share(net, on, weight), rtol=0, atol=1e-6)


def test_peer_counter_on_the_models_networks():
    rng = np.random.default_rng(5)
    firms = build_population("flanders", 2000, rng)
    for kind in ("sector_region", "erdos_renyi"):
        net = build_network(kind, firms, np.random.default_rng(6))
        counter = net.counter()
        for on in _states(rng, firms.n, 8):
            assert np.array_equal(counter.share(on), net.peer_share(on.astype(np.float32)))
    complete = CompleteNetwork(firms.weight)
    on = rng.random(firms.n) < 0.3
    w = firms.weight
    ref = np.array([(w @ on - w[i] * on[i]) / (w.sum() - w[i]) for i in range(0, firms.n, 97)])
    np.testing.assert_allclose(complete.peer_share(on)[::97], ref, rtol=1e-12)


@pytest.mark.parametrize("k", [9, 4, 13])
def test_barrier_sums_equal_the_float32_product_and_the_exact_sum(k):
    rng = np.random.default_rng(k)
    n = 3000
    deltas = [rng.normal(0.3, 0.4, k).astype(np.float32), rng.uniform(-1, 2, k)]
    sums = BarrierSums(deltas)
    barriers = rng.random((n, k)) < 0.4
    for step in range(10):
        got = sums(barriers)
        as_float = barriers.astype(np.float32)
        for d, g in zip(sums.deltas, got, strict=True):
            assert np.array_equal(g, as_float @ d), (k, step)  # the same bits as the product
            exact = np.array([sum(float(d[j]) for j in range(k) if row[j]) for row in barriers])
            np.testing.assert_allclose(g, exact, rtol=0, atol=1e-5)
        # Next month: a few firms lose barriers (as in the model), sometimes many, sometimes none.
        share = (0.0, 0.01, 0.5)[step % 3]
        barriers &= ~(rng.random((n, k)) < share)
    if k > 12:
        assert sums.codes(barriers) is None  # 2^13 combinations: no table, direct product


@pytest.mark.parametrize("k", [3, 5, 9])
def test_barrier_sums_follow_one_firm_at_a_time(k):
    # With fewer than eight barriers a row can lie inside one eight-byte word with both of the
    # word's end bytes unchanged: the codes must still follow a change in that row alone.
    rng = np.random.default_rng(20 + k)
    n = 1001  # n·k not a multiple of eight: a tail of single bytes too
    sums = BarrierSums([rng.normal(0.3, 0.4, k).astype(np.float32)])
    barriers = rng.random((n, k)) < 0.5
    for _ in range(200):
        assert np.array_equal(sums(barriers)[0], barriers.astype(np.float32) @ sums.deltas[0])
        barriers[rng.integers(n), rng.integers(k)] ^= True  # gains or loses one barrier


def test_barrier_sums_on_a_strided_array_use_the_direct_product():
    rng = np.random.default_rng(3)
    wide = rng.random((500, 18)) < 0.5
    view = wide[:, ::2]  # not C-contiguous
    sums = BarrierSums([rng.normal(size=9).astype(np.float32)])
    assert sums.codes(view) is None
    assert np.array_equal(sums(view)[0], view.astype(np.float32) @ sums.deltas[0])


def _targets_reference(owner_group, group, mass, u):
    out = np.empty(owner_group.shape[0], dtype=np.int64)
    for t, g in enumerate(owner_group):
        members = np.flatnonzero(group == g)  # in index order, as the stable argsort
        cum = np.cumsum(mass[members])
        if members.size == 0 or cum[-1] <= 0:
            out[t] = -1
            continue
        pos = np.searchsorted(cum, u[t] * cum[-1], side="right")
        out[t] = members[min(pos, members.size - 1)]
    return out


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_representative_targets_equal_a_per_tie_inverse_cdf(seed):
    rng = np.random.default_rng(seed)
    n, groups, ties = 400, 12, 3000
    group = rng.integers(0, groups - 1, n)  # the last group has no agents
    mass = rng.lognormal(0, 1, n) * (rng.random(n) < 0.9)  # some agents cannot be drawn
    mass[group == 3] = 0.0  # a group whose agents all have no mass
    owner_group = rng.integers(0, groups, ties)
    u = rng.random(ties)
    fast = _representative_targets(owner_group, group, mass, u)
    ref = _targets_reference(owner_group, group, mass, u)
    # Group-local vs global cumulative sums can round differently at a boundary between two
    # agents: allow one tie in a thousand to land on a neighbour, none elsewhere.
    assert (fast != ref).mean() <= 1e-3
    assert np.all(fast[np.isin(owner_group, [3, groups - 1])] == -1)
    drawn = fast[fast >= 0]
    assert np.all(group[drawn] == owner_group[fast >= 0]) and np.all(mass[drawn] > 0)


def _targets_plain(owner_group, group, mass, u):
    """The formula of `_representative_targets`, every quantity computed per tie."""
    order = np.argsort(group, kind="stable")
    cum = np.cumsum(mass[order])
    n_groups = int(max(group.max(initial=-1), owner_group.max(initial=-1))) + 1
    end = np.cumsum(np.bincount(group, minlength=n_groups))
    begin = end - np.bincount(group, minlength=n_groups)
    base = np.where(begin > 0, cum[np.maximum(begin - 1, 0)], 0.0)
    top = np.where(end > 0, cum[np.maximum(end - 1, 0)], 0.0)
    g = owner_group
    x = base[g] + u * (top[g] - base[g])
    pos = np.searchsorted(cum, x, side="right")
    pos = np.clip(pos, begin[g], np.maximum(end[g] - 1, begin[g]))
    return np.where(top[g] > base[g], order[np.minimum(pos, order.shape[0] - 1)], -1)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_representative_targets_equal_the_formula_tie_by_tie(seed):
    rng = np.random.default_rng(seed)
    n, groups, ties = 300, 9, 5000
    group = rng.integers(0, groups - 1, n)
    mass = rng.lognormal(0, 1, n) * (rng.random(n) < 0.8)
    owner_group = rng.integers(0, groups, ties)
    u = rng.random(ties)
    u[:50] = 0.0  # ties at a group's first agent
    fast = _representative_targets(owner_group, group, mass, u)
    assert np.array_equal(fast, _targets_plain(owner_group, group, mass, u))
    one = _representative_targets(0, np.zeros(n, dtype=np.int64), mass, u)
    zeros = np.zeros(ties, dtype=np.int64)
    assert np.array_equal(one, _targets_plain(zeros, np.zeros(n, dtype=np.int64), mass, u))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_at_most_equals_searchsorted(seed):
    rng = np.random.default_rng(seed)
    cum = np.cumsum(rng.integers(0, 3, 200).astype(float))  # repeated values
    for xs in (
        np.sort(rng.uniform(-5, cum[-1] + 5, 3000)),
        np.sort(rng.choice(cum, 500)),  # exactly at cum values, repeated
        np.zeros(0),
    ):
        assert np.array_equal(_at_most(cum, xs), np.searchsorted(cum, xs, side="right"))


def test_representative_targets_draw_in_proportion_to_mass():
    rng = np.random.default_rng(11)
    group, mass = np.zeros(5, dtype=np.int64), np.array([1.0, 2.0, 0.0, 3.0, 4.0])
    u = rng.random(200_000)
    hits = np.bincount(_representative_targets(np.zeros_like(u, np.int64), group, mass, u), None, 5)
    np.testing.assert_allclose(hits / u.size, mass / mass.sum(), atol=0.005)


def _plain_newton(target, loading, z, w, steps=50):
    c = np.log(target / (1 - target))
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(loading * z[None, :] - c[:, None]))
        q = (1.0 - p) * p
        c = c - (p @ w / w.sum() - target) / (q @ w / w.sum())
    return c


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_logit_offsets_agree_with_fifty_plain_newton_steps(seed):
    rng = np.random.default_rng(seed)
    n = 20_000  # several blocks per row, so the blocked loop really splits the work
    z, w = rng.normal(size=n), rng.lognormal(0, 1, n)
    target = rng.uniform(0.05, 0.9, 9)
    loading = float(rng.uniform(0.2, 1.5))
    fast = _logit_offsets(target, loading, z, w)
    # stopped at a step below 1e-12: within a few 1e-13 of where fifty steps end
    np.testing.assert_allclose(fast, _plain_newton(target, loading, z, w), rtol=0, atol=1e-11)
    p = 1.0 / (1.0 + np.exp(loading * z[None, :] - fast[:, None]))
    np.testing.assert_allclose(p @ w / w.sum(), target, rtol=0, atol=1e-12)


def _run_two_years(n: int) -> adoptsim.SimulationResult:
    sc = adoptsim.load_scenario("baseline").with_overrides(
        {"scenario.start": "2019-01", "scenario.end": "2020-12"}
    )
    return adoptsim.simulate(sc, n_firms=n, seed=4, replications=1)


def _same(a: adoptsim.SimulationResult, b: adoptsim.SimulationResult) -> bool:
    ra, rb = a.records[0], b.records[0]
    return (
        a.adoption.equals(b.adoption)
        and np.array_equal(ra.users, rb.users)
        and np.array_equal(ra.at_scale, rb.at_scale)
    )


def test_one_and_two_threads_give_identical_bytes_in_small_blocks(monkeypatch):
    # Small blocks and a low threshold make a 20,000-firm run use two threads for everything.
    monkeypatch.setattr(_blocks, "_MIN_PARALLEL", 2048)
    monkeypatch.setattr(_blocks.for_blocks, "__defaults__", (1024,))
    runs = {}
    for t in ("1", "2"):
        monkeypatch.setenv("ADOPTSIM_THREADS", t)
        assert _blocks.threads() == int(t)
        runs[t] = _run_two_years(20_000)
    assert _same(runs["1"], runs["2"])


@pytest.mark.slow
def test_one_and_two_threads_give_identical_bytes_at_scale(monkeypatch):
    # Above the real thresholds: blocks on two threads and this month's draws in a helper thread.
    runs = {}
    for t in ("1", "2"):
        monkeypatch.setenv("ADOPTSIM_THREADS", t)
        runs[t] = _run_two_years(140_000)
    assert _same(runs["1"], runs["2"])


def _treatment_reference(lev: Levers, month: int) -> tuple[np.ndarray, np.ndarray]:
    """Per firm, plainly: the running project's cover, and the treatment's own start chance."""
    n = lev.group.shape[0]
    cover, lift = np.zeros(n), np.zeros(n)
    for i in range(n):
        a1 = a2 = 0.0
        if lev.project_start[i] <= month <= lev.project_end[i]:
            cover[i] = lev.project_cover[i]
            a1 = lev.project_rate[i]
        if lev.programme_start[i] <= month <= lev.programme_end[i]:
            a2 = lev.programme_rate[i]
        lift[i] = 1.0 - (1.0 - a1) * (1.0 - a2)
    return cover, lift


@pytest.mark.parametrize("months", [1, 6, 12])
def test_treatment_and_lift_equal_a_per_firm_reference(months):
    rng = np.random.default_rng(months)
    firms = build_population("flanders", 1500, rng)
    d = (
        adoptsim.load_scenario("baseline")
        .with_overrides(
            {
                "levers.projects.months": months,
                "levers.training.effect_months": max(1, 13 - months),
                "levers.coaching.reach": 0.2,
            }
        )
        .data
    )
    lev = Levers(d["levers"], d["regulation"], d["shocks"], firms, deadweight_u=rng.random(firms.n))
    lev.induced_exit = 0.01
    state = np.zeros(firms.n, dtype=np.int8)
    m0 = parse_month("2024-01")
    for month in range(m0, m0 + 60):
        cover, lift = _treatment_reference(lev, month)
        np.testing.assert_array_equal(lev.treatment(month), cover)
        idx, got = lev.lift(month)
        full = np.zeros(firms.n)
        full[idx] = got
        np.testing.assert_array_equal(full, lift)
        # Many applications and programme reaches, so windows end, wait, and open again.
        hazard = rng.random(firms.n) * 0.05
        scale = 0.02 if month % 7 else 10.0
        lev.start_projects(month, rng.random(firms.n) * scale, hazard)
        lev.start_programmes(month, state, rng.random(firms.n) * scale, hazard)
    assert lev.treatment(m0 + 30).any() and (lev.programme_rate > 0).any()
