"""The sweep folder: shards that say what they are, a log, a lock, and reading results back.

A sweep folder holds one Parquet shard per finished task (``shards/<task_id>.parquet``), whose
metadata (key ``adoptsim.task``) names the task: scenario, content hash, point, seed,
replication, firm count, adoptsim version. The shards, not the log, are the record of what is
done; ``manifest.jsonl`` is the log (errors, hosts, timings) and ``.lock`` keeps a second sweep
out. [`load_results`][adoptsim.sweep_store.load_results] reads the shards back as one table
without duplicates. Running sweeps is [`adoptsim.runner`][adoptsim.runner]'s job.
"""

from __future__ import annotations

import json
import os
import re
import socket
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from adoptsim.errors import AdoptsimError
from adoptsim.results import ADOPTION_COLUMNS

SHARD_DIR = "shards"
MANIFEST = "manifest.jsonl"
META_KEY = b"adoptsim.task"
META_FIELDS = ("task_id", "scenario", "overrides", "seed", "replication", "n_firms")
LOCK = ".lock"
SORT_TAIL = ["replication", "date", "segment_type", "segment"]
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9-]+")


def canonical(obj: Any) -> str:
    """A stable JSON text of ``obj`` (sorted keys), used for task ids and comparisons."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=True)


def normalise(value: Any) -> Any:
    """``value`` with whole floats written as ints (``10.0`` → ``10``), in lists and tables too.

    TOML and JSON tell ``10`` from ``10.0``, the model does not: both must name the same
    parameter point, the same task and the same shard.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, Mapping):
        return {str(k): normalise(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [normalise(v) for v in value]
    return value


def point_key(overrides: Mapping) -> str:
    """The canonical text of a parameter point, equal for equal points (``10`` and ``10.0``)."""
    return canonical(normalise(dict(overrides)))


def host_tag() -> str:
    """This host's name as it appears in temporary file names (letters, digits, -)."""
    return _UNSAFE_NAME.sub("_", socket.gethostname())[:40] or "host"


class Manifest:
    """Append-only JSON-lines log, written by the parent process only.

    The shards, not the manifest, say what is done: the manifest is the log of what happened
    (errors, tracebacks, hosts, timings), so a sweep never depends on it being intact.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def entries(self, strict: bool = False) -> list[dict]:
        """The entries; ``strict`` raises on a damaged line (other than a cut-short last one)."""
        if not self.path.is_file():
            return []
        try:
            lines = self.path.read_bytes().decode("utf-8").splitlines()
        except UnicodeDecodeError as exc:
            if strict:
                raise AdoptsimError(
                    f"{self.path}: not UTF-8 text (byte {exc.start}); the file is damaged"
                ) from None
            lines = self.path.read_bytes().decode("utf-8", "replace").splitlines()
        out = []
        for i, line in enumerate(lines):
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                entry = None
            if isinstance(entry, dict) and isinstance(entry.get("task_id"), str):
                out.append(entry)
            elif strict and line.strip() and i < len(lines) - 1:
                raise AdoptsimError(
                    f"{self.path}: line {i + 1} is not a manifest entry ({line[:60]!r}); "
                    "the shards are the record of what finished — remove the line or the file"
                )
        return out

    def append(self, entry: dict) -> None:
        """Append one entry as a JSON line, on a new line if the last writer died mid-line."""
        text = json.dumps(entry, default=str, ensure_ascii=False) + "\n"
        if self.path.is_file() and self.path.stat().st_size > 0:
            with self.path.open("rb") as fh:
                fh.seek(-1, os.SEEK_END)
                if fh.read(1) != b"\n":
                    text = "\n" + text  # the previous writer died mid-line
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()


def read_manifest(out: str | Path) -> pd.DataFrame:
    """The manifest of sweep folder ``out`` as a table: the latest entry of each task.

    Raises:
        AdoptsimError: one line naming the file and line if a line is damaged.
    """
    entries = Manifest(Path(out) / MANIFEST).entries(strict=True)
    latest = {e["task_id"]: e for e in entries}
    return pd.DataFrame(list(latest.values()))


class FolderLock:
    """An exclusive lock on a sweep folder (``DIR/.lock``), held for the whole sweep.

    A second sweep on the same folder is refused at once rather than waiting, so two sweeps
    never clean up or write each other's files. The lock is released by the operating system
    when its holder dies, so a killed sweep never leaves a stale lock.
    """

    def __init__(self, out: Path) -> None:
        self.out = out
        self.fh: Any = None

    def __enter__(self) -> FolderLock:
        self.out.mkdir(parents=True, exist_ok=True)
        self.fh = (self.out / LOCK).open("a+", encoding="utf-8")
        try:
            import fcntl
        except ImportError:  # Windows: no advisory locks here; one sweep per folder by convention
            return self
        try:
            fcntl.flock(self.fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.fh.seek(0)
            holder = self.fh.read().strip() or "another process"
            self.fh.close()
            raise AdoptsimError(
                f"out = {str(self.out)!r} — another sweep is running in this folder ({holder}); "
                "wait for it to finish or use another --out"
            ) from None
        self.fh.seek(0)
        self.fh.truncate()
        self.fh.write(f"pid {os.getpid()} on {socket.gethostname()}, since {now()}\n")
        self.fh.flush()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fh is not None and not self.fh.closed:
            self.fh.close()  # closing releases the lock; the file stays (deleting it would race)


def now() -> str:
    """The current UTC time, ISO 8601, to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def clean_leftovers(shard_dir: Path) -> None:
    """Remove temporary shards and run markers left by killed processes of this host.

    Runs under the folder lock, and a file is removed only if its writer (host, pid in its
    name) is this host's and no longer alive, so a worker still writing is never disturbed.
    """
    if not shard_dir.is_dir():
        return
    host = host_tag()
    for path in shard_dir.glob(".*"):
        parts = path.name.split(".")  # "", task, host, pid, [uuid,] tmp|running
        if parts[-1] not in ("tmp", "running") or len(parts) < 5:
            continue
        if parts[2] == host and parts[3].isdigit() and _pid_alive(int(parts[3])):
            continue
        if parts[2] != host:
            continue  # another machine's writer: leave it
        path.unlink(missing_ok=True)


def _shard_meta(path: Path) -> dict:
    """The task description stored in shard ``path``; raises ValueError saying what is wrong."""
    import pyarrow.parquet as pq

    if path.stat().st_size == 0:
        raise ValueError("empty file")
    try:
        info = pq.read_metadata(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ... for damaged files
        raise ValueError(f"not a readable Parquet file, truncated or damaged ({exc})") from None
    raw = (info.metadata or {}).get(META_KEY)
    if raw is None:
        raise ValueError("not an adoptsim shard (no adoptsim.task metadata)")
    try:
        meta = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ValueError("its adoptsim.task metadata is not JSON") from None
    missing = [k for k in META_FIELDS if not isinstance(meta, dict) or k not in meta]
    if missing:
        raise ValueError(f"its adoptsim.task metadata lacks {', '.join(missing)}")
    if meta["task_id"] != path.stem:
        raise ValueError(f"it holds task {meta['task_id']}, not the one in its name")
    if info.num_rows == 0:
        raise ValueError("it holds no rows")
    return meta


def scan_shards(shard_dir: Path) -> tuple[dict[Path, dict], dict[Path, str]]:
    """Every shard of a folder: (path → task description) for good ones, (path → reason) else."""
    good: dict[Path, dict] = {}
    broken: dict[Path, str] = {}
    if not shard_dir.is_dir():
        return good, broken
    for path in sorted(shard_dir.glob("*.parquet")):
        try:
            good[path] = _shard_meta(path)
        except (ValueError, OSError) as exc:
            broken[path] = str(exc)
    return good, broken


def run_identity(meta: Mapping) -> tuple[str, str, int]:
    """What one shard is a run of: scenario name, normalised point, replication."""
    return (meta["scenario"], point_key(meta["overrides"]), int(meta["replication"]))


def set_aside(broken: dict[Path, str], manifest: Manifest) -> list[str]:
    """Rename broken shards to ``*.broken`` (kept for inspection, ignored by readers)."""
    names = []
    for path, reason in broken.items():
        target = path.with_name(path.name + ".broken")
        os.replace(path, target)
        manifest.append(
            {"task_id": path.stem, "status": "broken", "error": reason, "finished": now()}
        )
        names.append(path.name)
    return names


def _uniform(values: pd.Series) -> pd.Series:
    """Leave a column as is if its non-missing values share one kind, else make it JSON text."""
    kinds = set()
    for v in values:
        if v is None or (isinstance(v, float) and v != v):
            continue
        if isinstance(v, bool):
            kinds.add("bool")
        elif isinstance(v, int | float):
            kinds.add("number")
        elif isinstance(v, str):
            kinds.add("str")
        else:
            kinds.add("other")
    if len(kinds) <= 1 and "other" not in kinds:
        return values
    return values.map(lambda v: None if v is None else canonical(v))


def load_results(out: str | Path) -> pd.DataFrame:
    """All finished runs of sweep folder ``out`` as one tidy table, without duplicates.

    Columns: ``scenario``, one column per override key (sorted; missing where a task did not set
    it; lists and tables as JSON text; whole floats as ints, so ``10`` and ``10.0`` are one
    point), ``seed``, ``n_firms``, then the columns of ``adoption.csv`` (``replication, date,
    segment_type, segment, adopters_share, at_scale_share``). Rows are sorted by scenario,
    override values, seed, firm count, replication, date, segment type and segment, so two runs
    of the same spec give equal tables however many workers ran them and in whatever order.

    Raises:
        AdoptsimError: one line naming the file, for a shard that is truncated, empty or not an
            adoptsim shard (rerunning the sweep on the folder repairs it), or for a folder that
            holds two different runs of one scenario, point and replication.
    """
    import pyarrow.parquet as pq

    out = Path(out)
    if not out.is_dir():
        raise AdoptsimError(f"out = {str(out)!r} — no such folder")
    good, broken = scan_shards(out / SHARD_DIR)
    for path, reason in broken.items():
        raise AdoptsimError(
            f"{path}: {reason}; rerun the sweep on {str(out)!r} to redo it, or remove the file"
        )
    frames, metas, seen = [], [], {}
    for path, meta in good.items():
        key = run_identity(meta)
        made = (meta["seed"], meta["n_firms"], meta.get("scenario_hash"), meta.get("adoptsim"))
        if key in seen:
            if seen[key][1] == made:
                continue  # the same run stored twice (e.g. under an older task id): keep one
            raise AdoptsimError(
                f"out = {str(out)!r} — holds two different runs of scenario {key[0]} replication "
                f"{key[2]} {key[1]} ({seen[key][0]}, {meta['task_id']}: another seed, firm count "
                "or scenario content); keep each sweep in its own folder"
            )
        seen[key] = (meta["task_id"], made)
        try:
            df = pq.read_table(path).to_pandas()
        except Exception as exc:  # damage past the footer: pyarrow's many error types
            raise AdoptsimError(
                f"{path}: cannot be read ({type(exc).__name__}); rerun the sweep on "
                f"{str(out)!r} to redo it, or remove the file"
            ) from None
        df["_task"] = len(frames)
        frames.append(df)
        metas.append({**meta, "overrides": normalise(meta["overrides"])})
    keys = sorted({k for m in metas for k in m["overrides"]})
    lead_columns = ["scenario", *keys, "seed", "n_firms"]
    if not frames:
        return pd.DataFrame(columns=[*lead_columns, *ADOPTION_COLUMNS])
    meta_df = pd.DataFrame(
        [
            {
                "scenario": m["scenario"],
                **{k: m["overrides"].get(k) for k in keys},
                "seed": m["seed"],
                "n_firms": m["n_firms"],
            }
            for m in metas
        ],
        columns=lead_columns,
    )
    for k in keys:
        meta_df[k] = _uniform(meta_df[k])
    data = pd.concat(frames, ignore_index=True)
    lead = meta_df.iloc[data.pop("_task").to_numpy()].reset_index(drop=True)
    columns = [c for c in ADOPTION_COLUMNS if c in data.columns]
    result = pd.concat([lead, data[columns]], axis=1)
    order = ["scenario", *keys, "seed", "n_firms", *SORT_TAIL]
    return result.sort_values(order).reset_index(drop=True)
