"""Survey observation models: what each survey would have measured of the simulated firms.

Surveys measure different things, so a simulated share is only ever compared with a target over
the *same denominator*, through the survey's observation model:

``barometer`` (Flemish AI-barometer, Dept. EWI / ECOOM-STORE)
    Flemish firms (provinces BE-V*) of all sections C–N with at least ``barometer_min_employees``
    employees (its sample frame is not published; 10 is our judgement, matching the ICT survey's
    threshold). Its broad notion of AI counts every user: share with state >= 1.
``ict_survey`` (Eurostat isoc_eb_ai; Statbel/FOD Economie; CBS)
    Enterprises with 10+ persons employed (2–9 where the segment says so), NACE C–N excluding K
    (95.1 is not modelled); CBS's K figures are observed on K alone. It asks about use of 7 (from
    2025: 8) specific technologies: firms using AI at scale always report; pilot / occasional users
    report with probability ``ict_pilot_detection`` (calibrated). This is why the barometer reads
    about twice the ICT survey, and why the gap narrows for large firms (more of them at scale).
    From 2025 the detection of pilot users is multiplied by ``ict_break_2025`` (the 8th technology;
    no data yet, default 1).
``ict_survey_old`` (CBS 2019, older broader technology list)
    As ``ict_survey`` with its own detection ``ict_old_pilot_detection`` (not comparable).

Barrier targets (``barrier_among_users`` / ``barrier_among_non_users``) are observed as the
weighted share of users / non-users holding the barrier in the survey's population. Technology
shares, intentions and "considering" non-users are not modelled: those rows are reported as not
observable, with the reason.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import pandas as pd

from adoptsim.errors import ScenarioError, TargetsError
from adoptsim.months import parse_month
from adoptsim.results import CellRecord
from adoptsim.taxonomy import BARRIER_INDEX, BARRIERS, POPULATIONS, RECORD_BANDS, SECTORS

TARGET_COLUMNS = (
    "id",
    "survey",
    "geography",
    "segment_type",
    "segment",
    "date",
    "value",
    "se",
    "n",
    "definition",
    "source",
    "status",
    "note",
)
SURVEYS = ("barometer", "ict_survey", "ict_survey_old")
GEOGRAPHIES = tuple(POPULATIONS)
SEGMENT_TYPES = (
    "all",
    "size",
    "sector",
    "technology",
    "adoption_state",
    "barrier_among_users",
    "barrier_among_non_users",
    "barrier_among_considering_non_users",
)
STATUSES = ("V", "S", "E", "U")
ICT_SECTORS = tuple(s for s in SECTORS if s != "K")  # C–N excluding K (95.1 not modelled)


@dataclass(frozen=True)
class Observation:
    """Settings of the observation models (calibrated where the docstring of the module says)."""

    barometer_min_employees: int = 10
    ict_pilot_detection: float = 0.3
    ict_old_pilot_detection: float = 0.5
    ict_break_2025: float = 1.0

    def with_values(self, values: dict[str, float]) -> Observation:
        """A copy with ``observe.<name>`` (or bare ``<name>``) values replaced."""
        names = {f.name for f in fields(self)}
        kw = {
            k.removeprefix("observe."): v
            for k, v in values.items()
            if k.removeprefix("observe.") in names
        }
        current = {f.name: getattr(self, f.name) for f in fields(self)}
        current.update(kw)
        current["barometer_min_employees"] = int(current["barometer_min_employees"])
        return Observation(**current)


# --- targets -----------------------------------------------------------------------------------
FIRST_TARGET_MONTH = 1900 * 12 + 1  # 1900-02


def _read_targets_csv(path: str | Path) -> pd.DataFrame:
    """Read a targets CSV, turning every way it can fail to parse into one line."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(1 << 16)
    except OSError as exc:
        raise TargetsError(f"{path}: cannot be read ({exc.strerror})") from None
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a multi-byte character cut at the block end
            raise TargetsError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    if not head.strip():
        raise TargetsError(
            f"{path}: empty file; a targets CSV has a header line ({', '.join(TARGET_COLUMNS)}) "
            "and one row per target"
        )
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            rows = csv.reader(fh)
            header = next(rows, [])
            for number, fields_ in enumerate(rows, start=2):
                if fields_ and len(fields_) != len(header):
                    raise TargetsError(
                        f"{path}: line {number} has {len(fields_)} fields, the header "
                        f"{len(header)}; columns: {', '.join(TARGET_COLUMNS)}"
                    )
    except (csv.Error, UnicodeDecodeError) as exc:
        raise TargetsError(f"{path}: cannot be read as CSV: {exc}") from None
    try:
        return pd.read_csv(
            path, keep_default_na=False, na_values=[""], dtype={"date": str}, index_col=False
        )
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        text = " ".join(str(exc).split())
        raise TargetsError(f"{path}: cannot be read as CSV: {text}") from None


def _bad(row: pd.Series, line: int, column: str, value: object, allowed: str) -> TargetsError:
    return TargetsError(
        f"targets row {row.get('id', '?')!s} (line {line}), column {column}: {value!r} — {allowed}"
    )


def _parse_band(text: str) -> tuple[int, int] | None:
    t = str(text).strip()
    try:
        if t.endswith("+"):
            return int(t[:-1]), 10**9
        lo, sep, hi = t.partition("-")
        return (int(lo), int(hi)) if sep and int(lo) <= int(hi) else None
    except ValueError:
        return None


def load_targets(path: str | Path | None = None) -> pd.DataFrame:
    """The calibration targets (default: the shipped ``targets.csv``), checked row by row.

    Raises:
        TargetsError: naming the row id, line and column of the first bad value.
    """
    if path is None:
        from adoptsim.data import read_table

        df = read_table("targets")
        where = "targets.csv"
    else:
        df = _read_targets_csv(path)
        where = str(path)
    missing = [c for c in TARGET_COLUMNS[:8] if c not in df.columns]
    if missing:
        raise TargetsError(
            f"{where}: missing column {missing[0]!r}; required: {', '.join(TARGET_COLUMNS[:8])}"
        )
    unknown = [c for c in df.columns if c not in TARGET_COLUMNS]
    if unknown:
        raise TargetsError(
            f"{where}: unknown column {str(unknown[0])!r}; allowed: {', '.join(TARGET_COLUMNS)}"
        )
    if df.empty:
        raise TargetsError(f"{where}: has a header but no target rows")
    for i, row in df.iterrows():
        line = int(i) + 2  # header is line 1
        checks = (("survey", SURVEYS), ("geography", GEOGRAPHIES), ("segment_type", SEGMENT_TYPES))
        for col, allowed in checks:
            if row[col] not in allowed:
                raise _bad(row, line, col, row[col], f"must be one of {', '.join(allowed)}")
        try:
            month = parse_month(str(row["date"]), "date")
        except ScenarioError as exc:
            why = 'must be a month "YYYY-MM"'
            why += "" if exc.allowed.startswith(why) else f" ({exc.allowed})"
            raise _bad(row, line, "date", row["date"], why) from None
        if month < FIRST_TARGET_MONTH:
            # the simulation that observes a target starts the month before it, and scenario
            # months start at 1900-01
            raise _bad(row, line, "date", row["date"], "must be 1900-02 or later")
        for col, lo, hi in (("value", 0.0, 1.0), ("se", 0.0, 1.0)):
            v = pd.to_numeric(pd.Series([row[col]]), errors="coerce").iloc[0]
            if pd.isna(v) or not lo <= v <= hi or (col == "se" and v == 0):
                rng = "must be a number within [0, 1]" if col == "value" else "must be in (0, 1]"
                raise _bad(row, line, col, row[col], rng)
        if "status" in df.columns and row["status"] not in STATUSES:
            raise _bad(row, line, "status", row["status"], f"must be one of {', '.join(STATUSES)}")
        st, seg = row["segment_type"], str(row["segment"])
        if st == "all" and seg not in ("all", "10+"):
            raise _bad(row, line, "segment", seg, "for segment_type all: all or 10+")
        if st == "size" and _parse_band(seg) is None:
            raise _bad(row, line, "segment", seg, "an employee band such as 10-49 or 250+")
        if st == "sector" and seg not in SECTORS:
            raise _bad(row, line, "segment", seg, f"a NACE section: {', '.join(SECTORS)}")
        if st.startswith("barrier") and seg not in BARRIERS:
            raise _bad(row, line, "segment", seg, f"a barrier: {', '.join(BARRIERS)}")
    if df["id"].duplicated().any():
        dup = df["id"][df["id"].duplicated()].iloc[0]
        raise TargetsError(f"{where}: id {dup!r} appears more than once")
    df = df.copy()
    df["value"] = df["value"].astype(float)
    df["se"] = df["se"].astype(float)
    return df


# --- observation -------------------------------------------------------------------------------
@dataclass
class Observable:
    """Whether a target row can be observed, and where (population to simulate, reason if not)."""

    ok: bool
    population: str = ""
    reason: str = ""
    extra: dict = field(default_factory=dict)


def simulation_population(geography: str) -> str:
    """Which simulated population contains a target's geography (Flanders lies in Belgium)."""
    return "netherlands" if geography == "netherlands" else "belgium"


def observability(row: pd.Series) -> Observable:
    """Can this target be observed from the model, and from which population?"""
    st = row["segment_type"]
    if st == "technology":
        return Observable(False, reason="technology-level shares are not modelled")
    if st == "adoption_state":
        return Observable(False, reason="adoption intentions (plans) are not modelled")
    if st == "barrier_among_considering_non_users":
        return Observable(
            False,
            reason="'considered AI' is not a modelled state; the "
            "denominator differs from all non-users",
        )
    if st == "size":
        lo, hi = _parse_band(str(row["segment"]))
        if lo not in {b[0] for b in RECORD_BANDS} or hi not in {b[1] for b in RECORD_BANDS}:
            return Observable(False, reason=f"band {row['segment']} cuts through a recorded band")
    if row["survey"] == "barometer" and row["geography"] != "flanders":
        return Observable(False, reason="the barometer covers Flanders only")
    return Observable(True, simulation_population(row["geography"]))


def _band_indices(lo: int, hi: int) -> list[int]:
    """Recorded bands lying inside [lo, hi] employees."""
    return [i for i, (a, b) in enumerate(RECORD_BANDS) if a >= lo and b <= hi]


def _regions(geography: str, record: CellRecord) -> list[str]:
    return [r for r in POPULATIONS[geography] if r in record.regions]


def observe(row: pd.Series, record: CellRecord, obs: Observation) -> float:
    """What the row's survey would have measured in this simulated run (a share 0..1)."""
    month = parse_month(str(row["date"]))
    st, seg, survey = row["segment_type"], str(row["segment"]), row["survey"]
    regions = _regions(row["geography"], record)
    if st.startswith("barrier_among"):
        return _observe_barrier(row, record, obs, month, regions)
    if survey == "barometer":
        lo, hi = obs.barometer_min_employees, 10**9
        sectors = list(SECTORS)
    else:
        lo, hi = 10, 10**9
        sectors = list(ICT_SECTORS)
    if st == "size":
        lo, hi = _parse_band(seg)
    if st == "sector":
        sectors = [seg]
    mask = record.mask(sectors=sectors, bands=_band_indices(lo, hi), regions=regions)
    users = record.share(month, mask)
    if survey == "barometer":
        return users
    at_scale = record.share(month, mask, at_scale=True)
    detect = obs.ict_old_pilot_detection if survey == "ict_survey_old" else obs.ict_pilot_detection
    if survey == "ict_survey" and month >= parse_month("2025-01"):
        detect = min(1.0, detect * obs.ict_break_2025)
    return at_scale + detect * (users - at_scale)


def _observe_barrier(row, record: CellRecord, obs: Observation, month: int, regions) -> float:
    if month not in record.barriers:
        raise KeyError(f"barriers were not recorded at {row['date']} (pass barrier_months)")
    reg = [record.regions.index(r) for r in regions]
    ten_plus = [1] if obs.barometer_min_employees >= 10 else [0, 1]
    states = [1, 2] if row["segment_type"] == "barrier_among_users" else [0]
    k = BARRIER_INDEX[str(row["segment"])]
    num = record.barriers[month][np.ix_(reg, states, ten_plus)][..., k].sum()
    den = record.state_weight[month][np.ix_(reg, states, ten_plus)].sum()
    return float(num / den) if den > 0 else float("nan")
