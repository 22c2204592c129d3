"""Cached tables are shared by every caller, so none can be changed through what a call returns."""

import numpy as np
import pytest

from adoptsim.data import read_table
from adoptsim.policy import timeline_points
from adoptsim.population_tables import assumptions, joint_table
from adoptsim.posterior import posterior_table


def test_joint_table_counts_are_read_only():
    table = joint_table("flanders")
    before = table.counts.sum()
    with pytest.raises(ValueError, match="read-only"):
        table.counts[0, 0, 0] = 1e9
    assert joint_table("flanders").counts.sum() == before


def test_assumptions_are_read_only():
    a = assumptions()
    key = next(iter(a))
    with pytest.raises(TypeError):
        a[key] = -1.0  # type: ignore[index]
    assert assumptions()[key] == a[key]


def test_timeline_points_and_tables_are_fresh_copies():
    first = timeline_points("kmo_portefeuille", "rate", "small")
    first.clear()
    assert timeline_points("kmo_portefeuille", "rate", "small")
    t = read_table("assumptions")
    t["value"] = -123.0
    assert (read_table("assumptions").value != -123.0).all()


def test_posterior_table_is_a_copy():
    t = posterior_table("flanders")
    original = t.iloc[0, 0]
    t.iloc[0, 0] = np.nan
    assert posterior_table("flanders").iloc[0, 0] == original
