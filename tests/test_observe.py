"""Targets with provenance and the survey observation models (denominators, definitions)."""

import numpy as np
import pandas as pd
import pytest

from adoptsim import load_targets
from adoptsim.cli import main
from adoptsim.errors import TargetsError
from adoptsim.months import parse_month
from adoptsim.observe import TARGET_COLUMNS, Observation, observability, observe
from adoptsim.results import CellRecord
from adoptsim.taxonomy import POPULATIONS, RECORD_BANDS, SECTORS


def test_shipped_targets_keep_their_columns_and_sources():
    t = load_targets()
    assert tuple(t.columns) == TARGET_COLUMNS
    assert len(t) == 58 and t.date.max() <= "2024-12"
    assert t.source.notna().all() and set(t.status) <= {"V", "S", "E", "U"}
    shared = pd.read_csv("calibration/targets.csv")
    pd.testing.assert_frame_equal(t.reset_index(drop=True), shared, check_dtype=False)


def _record(users_by_cell, scale_by_cell, regions=POPULATIONS["belgium"]):
    s, b, r = len(SECTORS), len(RECORD_BANDS), len(regions)
    firms = np.ones(s * b * r)
    month = np.array([parse_month("2023-03")])
    return CellRecord(month, tuple(regions), firms, users_by_cell[None, :], scale_by_cell[None, :])


def _row(**kw):
    base = {
        "id": "X",
        "survey": "ict_survey",
        "geography": "belgium",
        "segment_type": "all",
        "segment": "10+",
        "date": "2023-03",
        "value": 0.1,
        "se": 0.01,
        "status": "V",
    }
    return pd.Series(base | kw)


def _cells(regions=POPULATIONS["belgium"]):
    s, b, r = len(SECTORS), len(RECORD_BANDS), len(regions)
    idx = np.indices((s, b, r)).reshape(3, -1)
    return idx[0], idx[1], idx[2]


def test_ict_survey_counts_at_scale_users_and_some_pilots():
    sector, _band, _region = _cells()
    users = np.full(sector.shape, 0.4)
    scale = np.full(sector.shape, 0.1)
    rec = _record(users, scale)
    obs = Observation(ict_detect_pre=0.5, ict_detect_gen=0.5)
    assert observe(_row(), rec, obs) == pytest.approx(0.1 + 0.5 * 0.3)
    bar = _row(survey="barometer", geography="flanders", segment="all")
    assert observe(bar, rec, obs) == pytest.approx(0.4)  # broad notion: every user


def test_ict_detection_rises_with_generative_tools_so_the_barometer_ratio_can_fall():
    obs = Observation(ict_detect_pre=0.2, ict_detect_gen=0.6, ict_break_2025=1.25)
    d = {
        m: obs.detection("ict_survey", parse_month(m))
        for m in ("2021-03", "2022-12", "2023-12", "2024-12", "2025-03")
    }
    assert d["2021-03"] == d["2022-12"] == pytest.approx(0.2)
    assert d["2023-12"] == pytest.approx(0.2 + 0.4 * 12 / 24)
    assert d["2024-12"] == pytest.approx(0.6)
    assert d["2025-03"] == pytest.approx(0.6 * 1.25)  # the 2025 questionnaire change only
    assert obs.detection("barometer", parse_month("2021-03")) == 1.0
    assert obs.detection("ict_survey_old", parse_month("2019-03")) == obs.ict_old_detection
    # Same firms (40 % users, 10 % at scale): the barometer/ICT ratio falls from 2021 to 2024.
    sector, _b, _r = _cells()
    users, scale = np.full(sector.shape, 0.4), np.full(sector.shape, 0.1)
    rec = _record(users, scale)
    ratio = {}
    for m in ("2021-03", "2024-12"):
        rec.months[:] = parse_month(m)
        ict = observe(_row(date=m), rec, obs)
        ratio[m] = 0.4 / ict
    assert ratio["2021-03"] == pytest.approx(0.4 / (0.1 + 0.2 * 0.3))
    assert ratio["2024-12"] == pytest.approx(0.4 / (0.1 + 0.6 * 0.3))


def test_denominators_ict_excludes_k_and_micro_barometer_covers_flanders_only():
    sector, band, region = _cells()
    users = np.where(sector == SECTORS.index("K"), 1.0, 0.0)  # only finance uses AI
    users += np.where(band <= 1, 1.0, 0.0) * (sector != SECTORS.index("K"))  # and micro firms
    users = np.minimum(users, 1.0)
    rec = _record(users, np.zeros_like(users))
    obs = Observation(ict_detect_pre=1.0, ict_detect_gen=1.0, barometer_min_employees=10)
    assert observe(_row(), rec, obs) == 0.0  # C–N excl. K, 10+
    assert observe(_row(segment_type="sector", segment="K"), rec, obs) == 1.0  # CBS's K
    assert observe(_row(segment_type="size", segment="2-9"), rec, obs) == 1.0
    barometer = observe(_row(survey="barometer", geography="flanders", segment="all"), rec, obs)
    assert barometer == pytest.approx(1 / len(SECTORS))  # K among 10+ firms, all sections
    wallonia = np.where(region == POPULATIONS["belgium"].index("BE-WAL"), 1.0, 0.0)
    rec2 = _record(wallonia, wallonia)
    assert observe(_row(survey="barometer", geography="flanders", segment="all"), rec2, obs) == 0
    assert observe(_row(), rec2, obs) == pytest.approx(1 / 7)  # one of seven Belgian regions


def test_unobservable_rows_have_reasons():
    t = load_targets()
    reasons = {r.id: observability(r) for _, r in t.iterrows()}
    assert not reasons["BAR21-TECH-TEXT"].ok and "technology" in reasons["BAR21-TECH-TEXT"].reason
    assert not reasons["NL24-REASON-PRIVACY"].ok
    assert reasons["BE23-SIZE-SME"].ok and reasons["NL24-SIZE-500"].ok
    assert not observability(_row(segment_type="size", segment="10-30")).ok
    adoption = t[t.segment_type.isin(["all", "size", "sector"])]
    assert all(reasons[i].ok for i in adoption.id)  # every adoption target can be simulated


BAD = [
    ("survey", "telepathy", "column survey: 'telepathy' — must be one of barometer"),
    ("value", "1.3", "column value: 1.3 — must be a number within [0, 1]"),
    ("value", "abc", "column value: 'abc' — must be a number within [0, 1]"),
    ("date", "2023-14", "column date: '2023-14' — must be a month"),
    ("date", "March 2023", "column date: 'March 2023' — must be a month"),
    ("segment", "Z", "column segment: 'Z' — a NACE section"),
    ("geography", "mars", "column geography: 'mars' — must be one of flanders"),
]


@pytest.mark.parametrize(("column", "value", "message"), BAD)
def test_bad_targets_name_row_and_column(tmp_path, capsys, column, value, message):
    t = load_targets()
    row = t.index[t.id == "NL24-SECTOR-J"][0]
    t[column] = t[column].astype(object)
    t.loc[row, column] = value
    path = tmp_path / "bad.csv"
    t.to_csv(path, index=False)
    with pytest.raises(TargetsError, match="targets row NL24-SECTOR-J"):
        load_targets(path)
    assert main(["validate", "--targets", str(path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "NL24-SECTOR-J" in err and message in err


def test_missing_column_is_named(tmp_path):
    path = tmp_path / "t.csv"
    load_targets().drop(columns=["se"]).to_csv(path, index=False)
    with pytest.raises(TargetsError, match="missing column 'se'"):
        load_targets(path)
