"""The fused compiled step (adoptsim.kernels, adoptsim.block) against the NumPy reference step.

The compiled path must give the reference's results bit for bit (`np.testing.assert_array_equal`
on every array a step writes), on random states that exercise every mechanism (starts, scale-ups,
exits of light, induced and at-scale users, barrier removal by peer learning, subsidised projects
with deadweight, programmes, legal clarity for unsure firms, the AI-Act burden), for models stepped
alone and in a block of several; and `simulate` must give the same tables on both paths. The
compiled network build and sum are held to their NumPy references too.
"""

import numpy as np
import pandas as pd
import pytest

import adoptsim
from adoptsim import block, kernels
from adoptsim.model import AdoptionModel
from adoptsim.months import parse_month
from adoptsim.network import _representative_targets, sector_region
from adoptsim.scenario import load_scenario

pytestmark = pytest.mark.skipif(not kernels.AVAILABLE, reason="numba is not installed")

# High exit and peer-learning rates, more unsure firms: every mechanism fires every month.
BUSY = {
    "exit.light": 0.1,
    "exit.induced_extra": 0.3,
    "exit.at_scale": 0.1,
    "levers.peer_learning.knowledge_skills": 0.6,
    "levers.peer_learning.hard_to_assess": 0.6,
    "levers.peer_learning.cost_benefit": 0.6,
    "regulation.clarity_share": 0.4,
    "levers.projects.deadweight": 0.5,
    "levers.benefit.barrier_tilt": 2.0,  # barriers tilt who benefits (the kernel's own pass)
}

STEP_ARRAYS = ("state", "month_started", "month_scaled", "induced")
LEVER_ARRAYS = ("project_start", "project_end", "project_cover", "project_rate")
PROGRAMME_ARRAYS = ("start", "end", "rate", "kind", "benefit_share")


def _model(scenario: str, n: int, seed: int, month: str) -> AdoptionModel:
    """A model stepped by the reference to ``month``."""
    sc = load_scenario(scenario).with_overrides(BUSY)
    model = AdoptionModel(sc, n_firms=n, seed=seed)
    while model.month < parse_month(month):
        model.step()
    return model


def _scramble(model: AdoptionModel, seed: int) -> None:
    """A random state: states, induced users, barriers, running and ended project and
    programme windows (some deadweight: no own chance), every firm of them in the active set."""
    rng = np.random.default_rng(seed)
    n, month, lv = model.firms.n, model.month, model.levers
    model.state[:] = rng.choice(3, n, p=[0.5, 0.3, 0.2])
    model.induced[:] = (model.state == 1) & (rng.random(n) < 0.4)
    model.month_started[:] = np.where(model.state > 0, rng.integers(0, model.t + 1, n), -1)
    model.month_scaled[:] = np.where(model.state == 2, rng.integers(0, model.t + 1, n), -1)
    model.firms.barriers[:] = rng.random(model.firms.barriers.shape) < 0.5
    project = rng.random(n) < 0.2
    lv.project_start[project] = month - rng.integers(-1, 8, project.sum())
    lv.project_end[project] = lv.project_start[project] + 5
    lv.project_cover[project] = rng.random(project.sum())
    rate = rng.random(project.sum()) * 0.2
    lv.project_rate[project] = np.where(rng.random(project.sum()) < 0.3, 0.0, rate)
    prog = lv.programmes
    programme = rng.random(n) < 0.2
    prog.start[programme] = month - rng.integers(-1, 8, programme.sum())
    prog.end[programme] = prog.start[programme] + 4
    prog.rate[programme] = rng.random(programme.sum()) * 0.2
    prog.kind[programme] = rng.integers(0, 4, programme.sum())
    lv._active = np.union1d(lv._active, np.flatnonzero(project | programme)).astype(np.intp)


def _snapshot(model: AdoptionModel) -> dict[str, np.ndarray]:
    lv = model.levers
    out = {k: getattr(model, k).copy() for k in STEP_ARRAYS}
    out["barriers"] = model.firms.barriers.copy()
    out |= {k: getattr(lv, k).copy() for k in LEVER_ARRAYS}
    out |= {f"programme_{k}": getattr(lv.programmes, k).copy() for k in PROGRAMME_ARRAYS}
    out["users"] = model.recorder.users.copy()
    out["at_scale"] = model.recorder.at_scale.copy()
    return out


def _assert_same(ref: AdoptionModel, new: AdoptionModel) -> None:
    a, b = _snapshot(ref), _snapshot(new)
    for key in a:
        np.testing.assert_array_equal(b[key], a[key], err_msg=key)
        assert a[key].dtype == b[key].dtype, key
    assert ref.levers.starts == new.levers.starts
    assert (ref.month, ref.running, ref.steps) == (new.month, new.running, new.steps)
    # both go on identically from here (the active set and the counters are consistent)
    ref.step()
    new.step()
    np.testing.assert_array_equal(new.state, ref.state)
    np.testing.assert_array_equal(new.levers.project_rate, ref.levers.project_rate)


def _mechanisms(before: dict, after: dict, month: int, model: AdoptionModel) -> dict[str, int]:
    """How often each mechanism acted in one reference month (from two snapshots)."""
    s0, s1 = before["state"], after["state"]
    new_project = after["project_start"] == month + 1
    lv = model.levers
    clarity = lv.clarity_lift(lv._tables_at(month)[0].clarity[lv._tables_at(month)[1]])
    w, i = lv._tables_at(month)
    return {
        "starts": int(((s0 == 0) & (s1 == 1)).sum()),
        "scale-ups": int(((s0 == 1) & (s1 == 2)).sum()),
        "light exits": int(((s0 == 1) & (s1 == 0) & ~before["induced"]).sum()),
        "induced exits": int(((s0 == 1) & (s1 == 0) & before["induced"]).sum()),
        "at-scale exits": int(((s0 == 2) & (s1 == 1)).sum()),
        "induced starts": int(((s0 == 0) & after["induced"]).sum()),
        "barrier removals": int((before["barriers"] & ~after["barriers"]).sum()),
        "projects": int(new_project.sum()),
        "deadweight projects": int((new_project & (after["project_rate"] == 0)).sum()),
        "programmes": int((after["programme_start"] == month + 1).sum()),
        "clarity for unsure firms": int(clarity > 0 and lv.unsure.any()),
        "burden": int(np.any(w.burden[i] > 0)),
    }


@pytest.mark.parametrize(
    ("scenario", "month"),
    [("combined", "2025-06"), ("ai_act_clarity", "2027-10"), ("baseline", "2021-03")],
)
def test_kernel_equals_the_reference_step_on_random_states(scenario, month):
    steps, seeds = 6, (3, 4, 5)
    ref = [_model(scenario, 1500, s, month) for s in seeds]
    new = [_model(scenario, 1500, s, month) for s in seeds]
    for k, (a, b) in enumerate(zip(ref, new, strict=True)):
        _scramble(a, 100 + k)
        _scramble(b, 100 + k)
    acted: dict[str, int] = {}
    for a in ref:
        for _ in range(steps):
            before, m = _snapshot(a), a.month
            a.step()
            for key, v in _mechanisms(before, _snapshot(a), m, a).items():
                acted[key] = acted.get(key, 0) + v
    block.run_models(new, months=steps)  # the three models in one block
    for a, b in zip(ref, new, strict=True):
        _assert_same(a, b)
    expected = set(acted) - ({"burden"} if month < "2027" else set())
    expected -= {"clarity for unsure firms"} if month < "2024-09" else set()
    assert {k for k in expected if acted[k] == 0} == set(), acted


def test_a_model_alone_and_in_a_block_end_the_same():
    alone = _model("subsidy_plus", 1200, 8, "2019-01")
    together = [_model("subsidy_plus", 1200, s, "2019-01") for s in (8, 9)]
    alone.run()
    block.run_models(together)
    _assert_same_record(alone, together[0])


def _assert_same_record(a: AdoptionModel, b: AdoptionModel) -> None:
    np.testing.assert_array_equal(b.recorder.users, a.recorder.users)
    np.testing.assert_array_equal(b.recorder.at_scale, a.recorder.at_scale)
    np.testing.assert_array_equal(b.state, a.state)
    assert b.levers.starts == a.levers.starts


@pytest.mark.parametrize(
    "scenario", ["baseline", "subsidy_plus", "ai_act_clarity", "bass_validation"]
)
def test_simulate_is_identical_on_the_compiled_and_the_reference_path(scenario, monkeypatch):
    kw = {"n_firms": 1200, "seed": 21, "replications": 3}
    if scenario == "bass_validation":
        kw["n_firms"] = 2000
    monkeypatch.setenv(kernels.ENV, "0")
    ref = adoptsim.simulate(scenario, **kw)
    monkeypatch.setenv(kernels.ENV, "1")
    new = adoptsim.simulate(scenario, **kw)
    pd.testing.assert_frame_equal(new.adoption, ref.adoption, check_exact=True)
    for a, b in zip(ref.records, new.records, strict=True):
        np.testing.assert_array_equal(b.users, a.users)
        np.testing.assert_array_equal(b.at_scale, a.at_scale)
    covered = AdoptionModel(scenario, n_firms=kw["n_firms"], seed=0)
    # the Bass validation rule has no treatments: it always steps with the reference
    assert block.covered(covered) == (scenario != "bass_validation")


def test_barrier_months_are_recorded_on_the_compiled_path(monkeypatch):
    months = {parse_month("2022-01"), parse_month("2026-06")}
    kw = {"n_firms": 1200, "seed": 2, "replications": 2, "barrier_months": months}
    monkeypatch.setenv(kernels.ENV, "0")
    ref = adoptsim.simulate("baseline", **kw)
    monkeypatch.setenv(kernels.ENV, "1")
    new = adoptsim.simulate("baseline", **kw)
    for a, b in zip(ref.records, new.records, strict=True):
        assert set(a.barriers) == set(b.barriers) == months
        for m in months:
            np.testing.assert_array_equal(b.barriers[m], a.barriers[m])
            np.testing.assert_array_equal(b.state_weight[m], a.state_weight[m])


@pytest.mark.parametrize("seed", range(4))
def test_ties_listed_by_owner_or_not_give_the_numpy_matrix(seed):
    """The compiled CSR build gives `_from_ties`'s matrix for ties in owner order (as networks
    draw them) or any order, self-ties and misses (−1) dropped, repeated ties counted."""
    from adoptsim.network import _from_ties

    rng = np.random.default_rng(seed)
    n, m = 300, 4000
    owner = np.sort(rng.integers(0, n, m))
    target = rng.integers(-1, n, m)
    target[::7] = owner[::7]  # self-ties
    target[1::5] = target[::5][: target[1::5].shape[0]]  # repeats
    for own, tgt in ((owner, target), (owner[::-1].copy(), target[::-1].copy())):
        keep = (tgt >= 0) & (tgt != own)
        ref = _from_ties(own[keep], tgt[keep], n).adjacency
        indptr, cols, count = kernels.ties_to_csr(own, tgt, n)
        np.testing.assert_array_equal(indptr, ref.indptr)
        np.testing.assert_array_equal(cols, ref.indices)
        np.testing.assert_array_equal(count, ref.data)


@pytest.mark.parametrize("seed", range(4))
def test_compiled_network_equals_the_numpy_build(seed, monkeypatch):
    model = AdoptionModel("baseline", n_firms=1500 + 700 * seed, seed=seed)
    nets = []
    for flag in ("0", "1"):
        monkeypatch.setenv(kernels.ENV, flag)
        net = sector_region(model.firms, 10.0, 0.7, 0.3, np.random.default_rng(seed))
        adj = net.adjacency
        nets.append((adj.indptr, adj.indices, adj.data, *net.in_edges()))
    for ref, new in zip(*nets, strict=True):
        np.testing.assert_array_equal(new, ref)
        assert new.dtype == ref.dtype


@pytest.mark.parametrize("seed", range(5))
def test_compiled_targets_equal_the_sorted_search(seed):
    rng = np.random.default_rng(seed)
    n, ties, groups = 400, 3000, 9
    group = rng.integers(0, groups - 1, n)  # the last group has no agents
    mass = rng.lognormal(0, 1.5, n) * (rng.random(n) < 0.8)  # zero masses, maybe empty groups
    u = rng.random(ties)
    u[:5] = [0.0, 1.0 - 2**-53, 0.5, 0.0, 1.0 - 2**-53]  # the ends of a group's range
    owner = rng.integers(0, groups, ties)
    ref = _representative_targets(owner, group, mass, u)
    np.testing.assert_array_equal(
        kernels.representative_targets(owner, group, groups, mass, u), ref
    )
    assert (ref[owner == groups - 1] == -1).all()


def test_weighted_sum_is_numpys_pairwise_sum():
    rng = np.random.default_rng(0)
    for n in [*range(0, 300), 513, 1000, 4097]:
        w = rng.lognormal(0.0, 2.0, n)
        assert kernels.weighted_sum(w) == w.sum(), n
