"""Shares from a run's cell record: a segment where every firm uses AI has a share of exactly 1."""

import numpy as np

from adoptsim.months import parse_month
from adoptsim.results import CellRecord
from adoptsim.segments import segment_table
from adoptsim.taxonomy import POPULATIONS, RECORD_BANDS, SECTORS


def test_share_of_a_segment_where_every_firm_uses_ai_is_exactly_one():
    # Three firms of weights 0.3, 0.2, 0.1 in the first cell, states 1, 2, 1 (all users). The
    # recorder sums the cell's weight at once, (0.3 + 0.2) + 0.1 = 0.6, and its users by state,
    # (0.3 + 0.1) + 0.2 = 0.6000000000000001: the plain quotient is 1 + 2e-16.
    regions = POPULATIONS["flanders"]
    n_cells = len(SECTORS) * len(RECORD_BANDS) * len(regions)
    firms = np.ones(n_cells)
    firms[: len(RECORD_BANDS) * len(regions)] = 0.0  # the first sector: only the first cell
    users = np.zeros((1, n_cells))
    firms[0] = (0.3 + 0.2) + 0.1
    users[0, 0] = (0.3 + 0.1) + 0.2
    assert users[0, 0] / firms[0] > 1.0  # the rounding this test is about does happen
    month = parse_month("2027-06")
    record = CellRecord(np.array([month]), tuple(regions), firms, users, users * 0.5)
    table = segment_table(record)
    first_sector = table[(table.segment_type == "sector") & (table.segment == SECTORS[0])]
    assert first_sector.adopters_share.iloc[0] == 1.0
    assert table.adopters_share.max() <= 1.0 and table.at_scale_share.max() <= 1.0
    cell = np.zeros(n_cells, bool)
    cell[0] = True
    assert record.share(month, cell) == 1.0
    # other shares are untouched by the cap: sector 1 has no users at all
    second = table[(table.segment_type == "sector") & (table.segment == SECTORS[1])]
    assert second.adopters_share.iloc[0] == 0.0


def test_segment_tables_do_not_depend_on_the_number_of_blas_threads():
    """A run's tables must be the same bits whatever the threads (workers 1 vs 2 in a sweep):
    the segment sums are NumPy's own, never a BLAS product whose order follows the threads."""
    from threadpoolctl import threadpool_limits

    import adoptsim
    from adoptsim.segments import segment_tables

    records = adoptsim.simulate("baseline", n_firms=3000, seed=3, replications=2).records
    with threadpool_limits(limits=1, user_api="blas"):
        one = segment_tables(records)
    with threadpool_limits(limits=2, user_api="blas"):
        two = segment_tables(records)
    assert one.equals(two)
