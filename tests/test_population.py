"""Synthetic population: fitted counts match the shipped tables, weights, barriers, bands."""

import numpy as np
import pytest

from adoptsim.data import read_table
from adoptsim.population import build_population
from adoptsim.population_tables import joint_table
from adoptsim.taxonomy import BARRIERS, POPULATIONS, SECTORS, SIZE_CLASSES, SIZE_LABELS


def _pop_value(geography, dimension, category):
    t = read_table("population")
    row = t[(t.geography == geography) & (t.dimension == dimension) & (t.category == category)]
    return float(row.value.iloc[0])


@pytest.mark.parametrize("population", list(POPULATIONS))
def test_agent_weights_reproduce_joint_margins_within_1pct(population):
    firms = build_population(population, 20_000, np.random.default_rng(0))
    table = joint_table(population)
    for axis, values, labels in (
        ("sector", firms.sector, SECTORS),
        ("size", firms.size, SIZE_LABELS),
    ):
        fitted = np.bincount(values, weights=firms.weight, minlength=len(labels))
        expected = np.array(list(table.margin(axis).values()))
        np.testing.assert_allclose(fitted, expected, rtol=0.01)
    assert firms.weight.sum() == pytest.approx(table.counts.sum(), rel=1e-9)


def test_flanders_table_matches_published_figures():
    m = joint_table("flanders").margin("size")
    # Statbel: 114,677 Flemish enterprises with 1+ employees (population.csv, status S).
    assert sum(m.values()) == pytest.approx(_pop_value("flanders", "employees", "1+"), rel=1e-9)
    # 10-49, 50-249 and 250+ estimates in population.csv are kept exactly.
    assert m["10-19"] + m["20-49"] == pytest.approx(15600, rel=1e-9)
    assert m["50-249"] == pytest.approx(3300, rel=1e-9)
    assert m["250-499"] + m["500+"] == pytest.approx(750, rel=1e-9)
    # Province shares follow the active-enterprise counts (Oost-Vlaanderen verified: 155,314).
    r = joint_table("flanders").margin("region")
    prov = read_table("population").query("dimension == 'region'")
    share_vov = 155314 / prov.value.sum()
    assert r["BE-VOV"] / sum(r.values()) == pytest.approx(share_vov, rel=1e-9)


def test_netherlands_uses_cbs_size_counts():
    m = joint_table("netherlands").margin("size")
    assert m["50-249"] == pytest.approx(_pop_value("netherlands", "employees", "50-249"), rel=1e-9)
    assert m["250-499"] == pytest.approx(1865, rel=1e-9)
    assert m["500+"] == pytest.approx(3620 - 1865, rel=1e-9)


def test_belgium_contains_flanders_and_brussels_wallonia():
    be, fl = joint_table("belgium"), joint_table("flanders")
    r = be.margin("region")
    assert set(r) == set(POPULATIONS["belgium"])
    flemish = sum(v for k, v in r.items() if k.startswith("BE-V"))
    assert flemish == pytest.approx(fl.counts.sum(), rel=1e-9)
    assert flemish / be.counts.sum() == pytest.approx(0.624, abs=1e-9)


def test_micro_firms_can_be_switched_off():
    firms = build_population("flanders", 5_000, np.random.default_rng(1), include_micro=False)
    assert firms.employees.min() >= 10
    assert firms.weight.sum() == pytest.approx(114677 - 95027, rel=1e-3)


def test_employees_stay_inside_their_size_class():
    firms = build_population("flanders", 20_000, np.random.default_rng(2))
    for k, (_, lo, hi) in enumerate(SIZE_CLASSES):
        e = firms.employees[firms.size == k]
        assert e.min() >= lo and e.max() <= hi
    # Large firms are over-represented among agents (stratified) and weighted down.
    assert firms.weight[firms.size == 5].mean() < firms.weight[firms.size == 0].mean() / 10


def test_barrier_prevalence_and_maturity_correlation():
    prevalence = {b: 0.2 + 0.05 * i for i, b in enumerate(BARRIERS)}
    firms = build_population(
        "flanders",
        50_000,
        np.random.default_rng(3),
        barrier_prevalence=prevalence,
        barrier_maturity_loading=0.8,
    )
    got = np.average(firms.barriers, axis=0, weights=firms.weight)
    np.testing.assert_allclose(got, list(prevalence.values()), atol=0.01)
    # One latent factor: barriers correlate positively with each other, negatively with maturity.
    b = firms.barriers.astype(float)
    assert np.corrcoef(b[:, 0], b[:, 1])[0, 1] > 0.02
    assert np.corrcoef(firms.maturity, b.sum(axis=1))[0, 1] < -0.1
    assert np.corrcoef(firms.maturity, np.log(firms.employees))[0, 1] > 0.2
