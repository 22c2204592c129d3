"""Recording weighted adoption by segment each month, and the tidy result tables.

The recorder keeps, per month, the weighted number of users and at-scale users in every
sector × employee band × region cell (a few hundred numbers), so any segment — including survey
bands such as 10–49 or 500+ — is an exact sum afterwards, without touching firms again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from adoptsim.errors import AdoptsimError
from adoptsim.population import Firms
from adoptsim.segments import ADOPTION_COLUMNS
from adoptsim.taxonomy import (
    BARRIERS,
    RECORD_BANDS,
    REGIONS,
    SECTORS,
    record_band_of,
)

#: The commit record of a run folder: written last, names the SHA-256 of its siblings.
RUN_RECORD = "run.json"


@dataclass
class CellRecord:
    """Weighted users per cell and month for one run.

    ``users[t, c]`` and ``at_scale[t, c]`` are weighted counts in month ``months[t]`` and cell
    ``c = (sector · n_bands + band) · n_regions + region``; ``firms[c]`` is the cell's weight.
    ``barriers[month]`` holds, for months asked for, weighted barrier counts by
    (region, state, employees >= 10, barrier) and ``state_weight[month]`` the weight by
    (region, state, employees >= 10).
    """

    months: np.ndarray
    regions: tuple[str, ...]
    firms: np.ndarray
    users: np.ndarray
    at_scale: np.ndarray
    barriers: dict[int, np.ndarray] = field(default_factory=dict)
    state_weight: dict[int, np.ndarray] = field(default_factory=dict)
    draw: int = -1
    agents: np.ndarray | None = None  # unweighted number of agents per cell
    priors: dict = field(default_factory=dict)  # prior-only parameter values drawn (dotted keys)

    @property
    def shape(self) -> tuple[int, int, int]:
        """(sectors, employee bands, regions)."""
        return len(SECTORS), len(RECORD_BANDS), len(self.regions)

    def share(self, month: int, cell_mask: np.ndarray, at_scale: bool = False) -> float:
        """Weighted share of users (or at-scale users) among the cells in ``cell_mask``."""
        t = int(np.searchsorted(self.months, month))
        num = (self.at_scale if at_scale else self.users)[t][cell_mask].sum()
        den = self.firms[cell_mask].sum()
        return min(float(num / den), 1.0) if den > 0 else float("nan")  # see _SHARE_ROUNDING

    def mask(self, sectors=None, bands=None, regions=None) -> np.ndarray:
        """Boolean cell mask from lists of sector letters, band indices and region codes."""
        s, b, r = self.shape
        sec = (
            np.isin(np.arange(s), [SECTORS.index(x) for x in sectors])
            if sectors
            else np.ones(s, bool)
        )
        ban = np.isin(np.arange(b), bands) if bands is not None else np.ones(b, bool)
        reg = (
            np.isin(np.arange(r), [self.regions.index(x) for x in regions if x in self.regions])
            if regions is not None
            else np.ones(r, bool)
        )
        return (sec[:, None, None] & ban[None, :, None] & reg[None, None, :]).ravel()


class Recorder:
    """Accumulates [`CellRecord`][adoptsim.results.CellRecord] arrays while a model runs.

    Firms are summed into cells (sector × record size band × region) with two bincounts per
    month, so recording costs no loop over agents.
    """

    def __init__(self, firms: Firms, months: range, barrier_months: set[int] | None = None):
        self.regions = firms.regions
        region_local = np.searchsorted(
            np.array([REGIONS.index(r) for r in firms.regions]), firms.region
        )
        self.n_regions = len(firms.regions)
        self.cell = (
            firms.sector.astype(np.int32) * len(RECORD_BANDS) + record_band_of(firms.employees)
        ) * self.n_regions + region_local
        self.n_cells = len(SECTORS) * len(RECORD_BANDS) * self.n_regions
        self.weight = firms.weight
        self.region_local = region_local
        self.ten_plus = (firms.employees >= 10).astype(np.int64)
        self.months = np.array(list(months))
        self.users = np.zeros((len(self.months), self.n_cells))
        self.at_scale = np.zeros((len(self.months), self.n_cells))
        self.barrier_months = barrier_months or set()
        self.barriers: dict[int, np.ndarray] = {}
        self.state_weight: dict[int, np.ndarray] = {}
        self.firms_per_cell = np.bincount(self.cell, weights=self.weight, minlength=self.n_cells)
        self.agents_per_cell = np.bincount(self.cell, minlength=self.n_cells)
        self._cell3 = self.cell.astype(np.intp) * 3

    def record(self, t: int, state: np.ndarray, barriers: np.ndarray) -> None:
        """Store month ``t``'s weighted users and at-scale users per cell."""
        # One weighted count per (cell, state); users are states 1 + 2.
        by_state = np.bincount(
            self._cell3 + state, weights=self.weight, minlength=3 * self.n_cells
        ).reshape(self.n_cells, 3)
        np.add(by_state[:, 1], by_state[:, 2], out=self.users[t])
        self.at_scale[t] = by_state[:, 2]
        month = int(self.months[t])
        if month in self.barrier_months:
            group = (self.region_local * 3 + state) * 2 + self.ten_plus
            n_groups = self.n_regions * 6
            counts = np.stack(
                [
                    np.bincount(group, weights=self.weight * barriers[:, k], minlength=n_groups)
                    for k in range(len(BARRIERS))
                ],
                1,
            )
            self.barriers[month] = counts.reshape(self.n_regions, 3, 2, len(BARRIERS))
            self.state_weight[month] = np.bincount(
                group, weights=self.weight, minlength=n_groups
            ).reshape(self.n_regions, 3, 2)

    def result(self) -> CellRecord:
        """The finished record."""
        return CellRecord(
            self.months,
            self.regions,
            self.firms_per_cell,
            self.users,
            self.at_scale,
            self.barriers,
            self.state_weight,
            agents=self.agents_per_cell,
        )


class RunFolderError(AdoptsimError):
    """A run folder is missing, damaged or inconsistent with its ``run.json``."""


@dataclass
class SimulationResult:
    """Outcome of [`simulate`][adoptsim.simulation.simulate].

    Attributes:
        adoption: tidy table, one row per replication × month × segment (see ADOPTION_COLUMNS);
            ``date`` is the month as ``"YYYY-MM"`` text (`tidy` gives real datetimes).
        records: the per-cell records of each replication (for observation models; empty for a
            result read back with `load_run`).
        scenario: name of the scenario; seed, n_firms: how it was run.
        parameters: per replication, the parameter values it ran with that differ from the
            scenario file: the posterior draw (dotted scenario keys) and any explicit overrides.
        resolved: the fully resolved scenario (one table, no ``extends``), as saved in
            ``scenario.toml``.
        run_info: provenance written to ``run.json`` (seed, agents, replications, posterior
            draws, versions, command line, wall time).
    """

    adoption: pd.DataFrame
    records: list[CellRecord]
    scenario: str
    seed: int
    n_firms: int
    parameters: list[dict] = field(default_factory=list)
    resolved: dict | None = None
    run_info: dict = field(default_factory=dict)

    def save(self, out: str | Path, extra: Mapping[str, bytes] | None = None) -> Path:
        """Write ``adoption.csv``, ``scenario.toml`` and ``run.json`` into folder ``out``.

        The folder is committed as a whole ([`FolderCommit`][adoptsim.atomic.FolderCommit]):
        every file is written beside its destination first, then swapped in, ``run.json`` last;
        ``run.json`` names the SHA-256 of each sibling (``files``), which
        [`load_run`][adoptsim.results.load_run] checks. A full disk or a missing permission
        ends in one line (`OutputError`) and leaves an earlier run in ``out`` as it was.

        Identical runs give identical ``adoption.csv`` bytes, and ``adoptsim run
        out/scenario.toml`` with the seed, agents and replications of ``run.json`` reproduces
        it byte for byte. Shares are written with 17 significant digits, so `load_run` reads
        back exactly the numbers of the run. Returns the path of ``adoption.csv``.

        Args:
            out: the run folder (created if missing).
            extra: more files of the run, by file name (e.g. ``{"adoption.png": png_bytes}``),
                committed with the others.
        """
        import json

        import tomli_w

        from adoptsim.atomic import FolderCommit, csv_bytes

        out = Path(out)
        with FolderCommit(out) as commit:
            commit.add("adoption.csv", csv_bytes(self.adoption, float_format="%.17g"))
            if self.resolved is not None:
                header = (
                    f"# Scenario {self.scenario!r} fully resolved by adoptsim "
                    f"{self.run_info.get('adoptsim', '')}: every value, no extends.\n"
                    f"# Reproduce: {self.run_info.get('rerun', '')}\n\n"
                )
                commit.add("scenario.toml", (header + tomli_w.dumps(self.resolved)).encode())
            for name, data in (extra or {}).items():
                commit.add(name, data)

            def record(sums: dict[str, str]) -> str:
                info = {**self.run_info, "parameters": self.parameters, "files": sums}
                return json.dumps(info, indent=2, ensure_ascii=False) + "\n"

            commit.commit(RUN_RECORD, record)
        return out / "adoption.csv"

    def tidy(self) -> pd.DataFrame:
        """The adoption table with ``date`` as a datetime (first day of the month)."""
        return self.adoption.assign(date=pd.to_datetime(self.adoption["date"], format="%Y-%m"))

    def to_xarray(self):
        """The result as an ``xarray.Dataset`` with dims replication × date × segment.

        Variables ``adopters_share`` and ``at_scale_share`` (weighted shares 0..1), and ``draw``
        (posterior draw per replication, −1: none). ``segment`` labels are
        ``"all"``, ``"size:10-19"``, ``"sector:J"``, ``"region:…"``; the coordinate
        ``segment_type`` says which kind each is. ``date`` holds datetimes.
        """
        import xarray as xr

        a = self.adoption
        label = np.where(
            a["segment_type"] == "all", "all", a["segment_type"] + ":" + a["segment"].astype(str)
        )
        frame = a.assign(segment=label, date=pd.to_datetime(a["date"], format="%Y-%m"))
        order = list(dict.fromkeys(label))
        wide = frame.set_index(["replication", "date", "segment"])[
            ["adopters_share", "at_scale_share"]
        ]
        ds = xr.Dataset.from_dataframe(wide).reindex(segment=order)
        kinds = dict(zip(label, a["segment_type"], strict=True))
        ds = ds.assign_coords(segment_type=("segment", [kinds[s] for s in order]))
        draws = a.groupby("replication")["draw"].first()
        ds["draw"] = ("replication", draws.reindex(ds.replication.values).to_numpy())
        ds.attrs.update(scenario=self.scenario, seed=self.seed, n_firms=self.n_firms)
        ds["adopters_share"].attrs.update(units="share of firms (weighted)")
        ds["at_scale_share"].attrs.update(units="share of firms (weighted)")
        return ds


def versions() -> dict[str, str]:
    """Installed versions of adoptsim, Python and every declared dependency."""
    import platform
    import re
    from importlib import metadata

    out = {"python": platform.python_version()}
    try:
        out["adoptsim"] = metadata.version("adoptsim")
        requires = metadata.requires("adoptsim") or []
    except metadata.PackageNotFoundError:  # running from a bare source tree
        requires = []
    for req in requires:
        if "extra ==" in req:
            continue
        name = re.match(r"[A-Za-z0-9_.\-]+", req).group(0)
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def run_info(scenario, *, seed: int, n_firms: int, replications: int) -> dict:
    """Provenance of one run: what was run, with which versions, how to run it again."""
    import datetime
    import sys

    import adoptsim

    return {
        "scenario": scenario.name,
        "scenario_origin": scenario.origin,
        "seed": seed,
        "n_firms": n_firms,
        "replications": replications,
        "posterior": scenario.data["calibration"]["posterior"],
        "adoptsim": adoptsim.__version__,
        "versions": versions(),
        "command": [Path(sys.argv[0]).name, *sys.argv[1:]],
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "rerun": (
            f"adoptsim run scenario.toml --firms {n_firms} --replications {replications} "
            f"--seed {seed}"
        ),
    }


def load_run(folder: str | Path) -> SimulationResult:
    """Read a run folder written by ``adoptsim run`` (or `SimulationResult.save`), checked.

    What is read is validated: the files ``run.json`` lists have the SHA-256 it records (a
    folder left between two renames, or a file edited since, is refused); ``adoption.csv`` has
    the columns of `ADOPTION_COLUMNS`, dates ``YYYY-MM``, shares within [0, 1], and the
    replications, seed and scenario that ``run.json`` says.

    Args:
        folder: holds ``adoption.csv`` and, when written by this version, ``run.json`` and
            ``scenario.toml``.

    Returns:
        A [`SimulationResult`][adoptsim.results.SimulationResult] without per-cell records.

    Raises:
        RunFolderError: not a run folder, or what it holds is damaged or inconsistent (one line
            naming the file and what is wrong).
    """
    import json
    import tomllib

    from adoptsim.atomic import file_sha256

    if not isinstance(folder, str | Path) or str(folder) == "":
        raise RunFolderError(f"folder = {folder!r} — must be the path of a run folder")
    folder = Path(folder)
    csv = folder / "adoption.csv"
    if not csv.is_file():
        raise RunFolderError(f"{folder}: no adoption.csv here (not a run folder)")
    record = folder / RUN_RECORD
    info: dict = {}
    if record.exists() or record.is_symlink():
        if not record.is_file():
            raise RunFolderError(f"{record}: is not a file (a run record is a JSON file)")
        try:
            info = json.loads(record.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise RunFolderError(f"{record}: not a readable JSON run record ({exc})") from None
        if not isinstance(info, dict):
            raise RunFolderError(f"{record}: must hold a JSON object, not {type(info).__name__}")
    files = info.get("files", {})
    if not isinstance(files, dict):
        raise RunFolderError(f"{record}: files must map file names to SHA-256")
    for name, digest in files.items():
        path = folder / str(name)
        if Path(str(name)).name != name or not path.is_file():
            raise RunFolderError(f"{path}: listed in {RUN_RECORD} but missing")
        if file_sha256(path) != digest:
            raise RunFolderError(
                f"{path}: its SHA-256 differs from {RUN_RECORD} (written by another run, "
                "edited, or damaged); run it again"
            )
    try:
        adoption = pd.read_csv(csv, dtype={"date": str, "segment": str, "segment_type": str})
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise RunFolderError(f"{csv}: cannot be read as CSV ({exc})".splitlines()[0]) from None
    _check_adoption(adoption, csv, info)
    resolved = None
    if (folder / "scenario.toml").is_file():
        try:
            with (folder / "scenario.toml").open("rb") as fh:
                resolved = tomllib.load(fh)
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError) as exc:
            raise RunFolderError(f"{folder / 'scenario.toml'}: not valid TOML ({exc})") from None
    name = info.get("scenario") or (resolved or {}).get("scenario", {}).get("name", folder.name)
    return SimulationResult(
        adoption,
        [],
        str(name),
        _whole(info.get("seed", -1), record, "seed"),
        _whole(info.get("n_firms", -1), record, "n_firms"),
        list(info.get("parameters", [])),
        resolved,
        {k: v for k, v in info.items() if k != "parameters"},
    )


def _whole(value: object, record: Path, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RunFolderError(f"{record}: {key} = {value!r} — must be a whole number")
    return value


def _check_adoption(adoption: pd.DataFrame, csv: Path, info: dict) -> None:
    """Refuse an adoption table that is not what `SimulationResult.save` writes."""
    import re

    missing = [c for c in ADOPTION_COLUMNS if c not in adoption.columns]
    if missing:
        raise RunFolderError(
            f"{csv}: column {missing[0]!r} missing; a run table has {', '.join(ADOPTION_COLUMNS)}"
        )
    if adoption.empty:
        raise RunFolderError(f"{csv}: has no rows")
    for column in ("replication", "draw", "adopters_share", "at_scale_share"):
        if not pd.api.types.is_numeric_dtype(adoption[column]):
            raise RunFolderError(f"{csv}: column {column!r} holds text; it must be numbers")
    for column in ("adopters_share", "at_scale_share"):
        values = adoption[column].to_numpy(dtype=float)
        bad = ~((values >= 0) & (values <= 1))
        if bad.any():
            raise RunFolderError(
                f"{csv}: {column} = {float(values[bad][0])!r} in row {int(np.argmax(bad)) + 2} — "
                "a share must be within [0, 1]"
            )
    dates = adoption["date"].astype(str)
    good = dates.str.fullmatch(r"[0-9]{4}-(0[1-9]|1[0-2])", flags=re.ASCII)
    if not good.all():
        row = int(np.argmax(~good.to_numpy()))
        raise RunFolderError(
            f"{csv}: date = {dates.iloc[row]!r} in row {row + 2} — must be YYYY-MM"
        )
    reps = adoption["replication"]
    if not (reps == reps.round()).all() or (reps < 0).any():
        raise RunFolderError(f"{csv}: replication must hold whole numbers >= 0")
    # every replication holds the same months, and each month of a replication the same
    # segments (which segments exist can differ between replications): a cut table does not
    per_month = adoption.groupby(["replication", "date"]).size()
    months = per_month.groupby(level=0).size()
    uneven = per_month.groupby(level=0).nunique() > 1
    if months.nunique() > 1 or uneven.any():
        rep = int(uneven.idxmax()) if uneven.any() else int(months.idxmin())
        raise RunFolderError(
            f"{csv}: replication {rep} has fewer months or segments than the others "
            "(a truncated or edited table)"
        )
    wanted = info.get("replications")
    if wanted is not None and (reps.nunique() != wanted or int(reps.max()) != wanted - 1):
        raise RunFolderError(
            f"{csv}: holds replications {int(reps.min())}..{int(reps.max())}, but "
            f"{RUN_RECORD} says {wanted}"
        )
    draws = info.get("posterior_draws")
    if isinstance(draws, list) and len(draws) == reps.nunique():
        found = adoption.groupby("replication")["draw"].first().tolist()
        if [int(d) for d in found] != [int(d) for d in draws]:
            raise RunFolderError(f"{csv}: posterior draws differ from {RUN_RECORD}")


def band_summary(
    adoption: pd.DataFrame,
    column: str = "adopters_share",
    quantiles: tuple[float, float] = (0.05, 0.95),
) -> pd.DataFrame:
    """Median and a quantile band over replications, per month and segment."""
    g = adoption.groupby(["segment_type", "segment", "date"], sort=False)[column]
    return pd.DataFrame(
        {
            "median": g.median(),
            f"p{int(quantiles[0] * 100):02d}": g.quantile(quantiles[0]),
            f"p{int(quantiles[1] * 100):02d}": g.quantile(quantiles[1]),
            "mean": g.mean(),
        }
    ).reset_index()
