"""Survey observation models: what each survey would have measured of the simulated firms.

Surveys measure different things, so a simulated share is only ever compared with a target over
the *same denominator*, through the survey's observation model:

``barometer`` (Flemish AI-barometer, Dept. EWI / ECOOM-STORE)
    Flemish firms (provinces BE-V*) of all sections C–N with at least ``barometer_min_employees``
    employees (its sample frame is not published; 10 is our judgement, matching the ICT survey's
    threshold). Its broad notion of AI counts every user: share with state >= 1.
``ict_survey`` (Eurostat isoc_eb_ai; Statbel/FOD Economie; CBS)
    Enterprises with 10+ persons employed (2–9 where the segment says so), NACE C–N excluding K
    (95.1 is not modelled); CBS's K figures are observed on K alone. It asks about 7 named
    technologies (8 from 2025). Firms using AI at scale always report; a light (pilot,
    occasional) user reports with a **time-dependent detection** d(t): ``ict_detect_pre``
    before generative tools, rising linearly to ``ict_detect_gen`` over ``detect_ramp_months``
    from ``detect_ramp_start`` (2022-12). Why: a light user of a chatbot uses "natural language
    generation", one of the seven listed technologies, so as generative tools spread a growing
    share of light use is of a kind the survey names; the barometer's broad notion counted such
    users all along. So the barometer/ICT ratio can fall over time (docs/calibration.md shows
    it). Both detections are calibrated; the ramp's start and length are fixed (documented).
    From 2025 the questionnaire adds generative items (8 technologies, a series break): light
    detection is multiplied by ``ict_break_2025`` — a documented prior (uniform 1.0–1.4), never
    fitted: no wave after 2024 is used (`TARGET_CUTOFF`).
``ict_survey_old`` (CBS 2019, older broader technology list)
    As ``ict_survey`` with its own constant detection ``ict_old_detection`` (not comparable).

"At scale" has no direct target: the surveys see at-scale users only mixed with detected light
users, so the at-scale share is identified only through that mixture and the prior; it is
reported as not identified wherever it is shown.

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

#: Most target rows a file may hold: each is simulated and gets a line in the fit figure.
MAX_TARGET_ROWS = 2000
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
# Targets are used up to this month only: later waves are kept for out-of-sample evaluation and
# are never targets, priors or tuning signals (shared/data/README.md).
TARGET_CUTOFF = "2024-12"
# Prior of the 2025 questionnaire change (8th technology, generative items): a multiplier of the
# light-user detection, uniform on this range. Not fitted (no post-2024 wave is used).
BREAK_2025_PRIOR = (1.0, 1.4)


@dataclass(frozen=True)
class Observation:
    """Settings of the observation models (calibrated where the docstring of the module says)."""

    barometer_min_employees: int = 10
    ict_detect_pre: float = 0.3
    ict_detect_gen: float = 0.5
    detect_ramp_start: str = "2022-12"
    detect_ramp_months: int = 24
    ict_old_detection: float = 0.5
    ict_break_2025: float = 1.2

    def detection(self, survey: str, month: int) -> float:
        """Chance that a light (not at-scale) user is counted by `survey` in `month`.

        Args:
            survey: `ict_survey` or `ict_survey_old` (the barometer counts every user: 1).
            month: month index (see `adoptsim.months`).
        """
        if survey == "barometer":
            return 1.0
        if survey == "ict_survey_old":
            return self.ict_old_detection
        start = parse_month(self.detect_ramp_start)
        w = min(max((month - start) / max(self.detect_ramp_months, 1), 0.0), 1.0)
        d = self.ict_detect_pre + w * (self.ict_detect_gen - self.ict_detect_pre)
        if month >= parse_month("2025-01"):
            d *= self.ict_break_2025
        return min(max(d, 0.0), 1.0)

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
        current["detect_ramp_months"] = int(current["detect_ramp_months"])
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
        from adoptsim.arguments import path_or_name

        df = _read_targets_csv(path_or_name(path, "targets"))
        where = str(path)
    if len(df) > MAX_TARGET_ROWS:
        raise TargetsError(
            f"{where}: {len(df):,} target rows; at most {MAX_TARGET_ROWS:,} (each is simulated "
            "and drawn; the shipped file has fewer than 100)"
        )
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
        if "n" in df.columns and not pd.isna(row["n"]):
            n = pd.to_numeric(pd.Series([row["n"]]), errors="coerce").iloc[0]
            if pd.isna(n) or n < 1 or n != int(n):
                raise _bad(row, line, "n", row["n"], "must be empty or a whole number >= 1")
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


def target_cells(row: pd.Series, record: CellRecord, obs: Observation) -> np.ndarray:
    """Cell mask of the firms a target's survey counts (its denominator)."""
    st, seg, survey = row["segment_type"], str(row["segment"]), row["survey"]
    regions = _regions(row["geography"], record)
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
    return record.mask(sectors=sectors, bands=_band_indices(lo, hi), regions=regions)


def latent(row: pd.Series, record: CellRecord, obs: Observation) -> tuple[float, float]:
    """(users, at-scale users) as shares of the target's denominator in this run.

    For barrier rows: (the barrier share, NaN) — no survey detection applies to them.
    """
    if row["segment_type"].startswith("barrier_among"):
        month = parse_month(str(row["date"]))
        regions = _regions(row["geography"], record)
        return _observe_barrier(row, record, obs, month, regions), float("nan")
    month = parse_month(str(row["date"]))
    mask = target_cells(row, record, obs)
    return record.share(month, mask), record.share(month, mask, at_scale=True)


def observe_latent(row: pd.Series, users, at_scale, obs: Observation):
    """What the row's survey reads from latent shares: at-scale + d(t) · (users − at-scale).

    Works on floats or arrays (e.g. emulated latents for many parameter draws).
    """
    if row["segment_type"].startswith("barrier_among") or row["survey"] == "barometer":
        return users
    d = obs.detection(row["survey"], parse_month(str(row["date"])))
    return at_scale + d * (users - at_scale)


def observe(row: pd.Series, record: CellRecord, obs: Observation) -> float:
    """What the row's survey would have measured in this simulated run (a share 0..1)."""
    users, at_scale = latent(row, record, obs)
    return float(observe_latent(row, users, at_scale, obs))


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


# --- the model in each survey's frame (for figures) -------------------------------------------
FRAME_LABELS = {
    "barometer": "its frame: firms 10+, every user counted",
    "ict_survey": "its frame: 10+, C–N excl. K, light users partly detected",
}


def frame_surveys(population: str) -> list[tuple[str, str]]:
    """(survey, geography) pairs whose all-firm series a run of ``population`` can be read as.

    The barometer covers Flanders only; the ICT survey is drawn where its geography is the
    population simulated (Belgium, the Netherlands), not for Flanders (it reports Belgium).
    """
    if population == "flanders":
        return [("barometer", "flanders")]
    return [("ict_survey", population)] if population in ("belgium", "netherlands") else []


def survey_frame(
    records: list[CellRecord],
    survey: str,
    geography: str,
    observations: list[Observation] | None = None,
) -> pd.DataFrame:
    """What ``survey`` would read of each simulated run, month by month (all firms, its frame).

    Args:
        records: one [`CellRecord`][adoptsim.results.CellRecord] per replication.
        survey: ``barometer`` or ``ict_survey``.
        geography: the survey's geography (``flanders``, ``belgium``, ``netherlands``).
        observations: the observation settings of each replication (its posterior draw's
            ``observe.*`` values); default `Observation()` for all.

    Returns:
        Columns replication, date (``YYYY-MM``), value (share 0–1): the survey's denominator
        (`target_cells`) and detection (`observe_latent`) applied to every month.
    """
    from adoptsim.months import format_month

    frames = []
    for r, record in enumerate(records):
        obs = observations[r] if observations else Observation()
        row = pd.Series(
            {"survey": survey, "geography": geography, "segment_type": "all", "segment": "all"}
        )
        mask = target_cells(row, record, obs)
        den = record.firms[mask].sum()
        users = record.users[:, mask].sum(axis=1) / den
        scale = record.at_scale[:, mask].sum(axis=1) / den
        dates = [format_month(int(m)) for m in record.months]
        if survey == "barometer":
            value = users
        else:
            d = np.array([obs.detection(survey, int(m)) for m in record.months])
            value = scale + d * (users - scale)
        frames.append(pd.DataFrame({"replication": r, "date": dates, "value": value}))
    return pd.concat(frames, ignore_index=True)


def run_observations(records: list[CellRecord], posterior: str) -> list[Observation]:
    """Each replication's observation settings: its posterior draw's ``observe.*`` values."""
    from adoptsim.posterior import posterior_draw, split_overrides

    out = []
    for record in records:
        draw = getattr(record, "draw", -1)
        if posterior == "none" or draw is None or draw < 0:
            out.append(Observation())
        else:
            out.append(
                Observation().with_values(split_overrides(posterior_draw(posterior, draw)[1])[1])
            )
    return out


def survey_frames(result) -> pd.DataFrame:
    """The model in each survey's own frame, for a `simulate` result (a `SimulationResult`).

    `survey_frame` for every pair of `frame_surveys` of its population, with ``survey`` and
    ``geography`` columns; empty where no survey's frame applies.
    """
    data = result.resolved  # the scenario as run, one table
    population = data["population"]["name"]
    obs = run_observations(result.records, data["calibration"]["posterior"])
    parts = [
        survey_frame(result.records, survey, geo, obs).assign(survey=survey, geography=geo)
        for survey, geo in frame_surveys(population)
    ]
    cols = ["survey", "geography", "replication", "date", "value"]
    return pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)
