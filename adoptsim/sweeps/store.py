"""The sweep folder: shards that say what they are, a log, a lock, and reading results back.

A sweep folder holds one Parquet shard per finished task (``shards/<task_id>.parquet``), whose
metadata (key ``adoptsim.task``) names the task: scenario, content hash, point, seed,
replication, firm count, adoptsim version. The shards, not the log, are the record of what is
done; ``manifest.jsonl`` is the log (errors, hosts, timings) and ``.lock`` keeps a second sweep
out. This module is the only one that knows a shard's path and format.
[`load_results`][adoptsim.sweeps.store.load_results] reads the shards back as one table without
duplicates. Running sweeps is [`adoptsim.sweeps.dispatch`][adoptsim.sweeps.dispatch]'s job.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import stat
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from adoptsim.errors import AdoptsimError
from adoptsim.segments import ADOPTION_COLUMNS

SHARD_DIR = "shards"
MANIFEST = "manifest.jsonl"
META_KEY = b"adoptsim.task"
META_FIELDS = ("task_id", "scenario", "overrides", "seed", "replication", "n_firms")
LOCK = ".lock"
SORT_TAIL = ["replication", "date", "segment_type", "segment"]
#: Metadata key of a shard's content hash (`content_hash` of its table).
HASH_FIELD = "content_sha256"
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9-]+")


def shard_dir(out: str | Path) -> Path:
    """The folder of a sweep folder ``out`` that holds its shards."""
    return Path(out) / SHARD_DIR


def shard_path(out: str | Path, task_id: str) -> Path:
    """Where task ``task_id``'s shard is (or will be) in sweep folder ``out``."""
    return shard_dir(out) / f"{task_id}.parquet"


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


def content_hash(df: pd.DataFrame) -> str:
    """SHA-256 of a shard's table: column names, then each column's values, in order.

    Numbers are hashed as little-endian 8-byte values and text as UTF-8 separated by NUL, so
    the table written and the table read back hash alike; a flipped byte anywhere in the data
    changes it, where Parquet's own checks cover only the footer and metadata.
    """
    import numpy as np

    h = hashlib.sha256()
    for name in df.columns:
        h.update(f"\x00{name}\x00".encode())
        values = df[name].to_numpy()
        if values.dtype.kind in "iub":
            h.update(np.ascontiguousarray(values, dtype="<i8").tobytes())
        elif values.dtype.kind == "f":
            h.update(np.ascontiguousarray(values, dtype="<f8").tobytes())
        else:
            h.update("\x00".join(map(str, values)).encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def check_folder(out: Path) -> None:
    """Refuse, in one line, a sweep folder whose fixed names are the wrong kind of thing.

    ``shards`` must be a folder, ``manifest.jsonl`` and ``.lock`` plain files (not folders,
    devices or symlinks: a symlinked log would be appended to wherever it points).

    Raises:
        AdoptsimError: naming the path and what it must be.
    """
    if out.exists() and not out.is_dir():
        raise AdoptsimError(f"out = {str(out)!r} — is an existing file; give a folder")
    for name, want in ((SHARD_DIR, "folder"), (MANIFEST, "file"), (LOCK, "file")):
        path = out / name
        try:
            st = path.lstat()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise AdoptsimError(f"{path}: cannot be used ({exc.strerror})") from None
        ok = stat.S_ISDIR(st.st_mode) if want == "folder" else stat.S_ISREG(st.st_mode)
        if not ok:
            kind = (
                "a symlink"
                if stat.S_ISLNK(st.st_mode)
                else ("a folder" if stat.S_ISDIR(st.st_mode) else "not a plain file")
            )
            raise AdoptsimError(
                f"{path}: is {kind}; a sweep folder's {name} must be a {want} — remove it or "
                "use another --out"
            )


def _open_nofollow(path: Path, flags: int) -> int:
    """``os.open`` that refuses a symlink at ``path`` (one line naming it)."""
    try:
        return os.open(path, flags | getattr(os, "O_NOFOLLOW", 0), 0o666)
    except OSError as exc:
        from adoptsim.atomic import output_error

        raise output_error(path, exc) from None


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
        fd = _open_nofollow(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        try:
            os.write(fd, text.encode("utf-8"))
        except OSError as exc:  # a full disk: one line, and the shards stay the record
            from adoptsim.atomic import output_error

            raise output_error(self.path, exc) from None
        finally:
            os.close(fd)


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

    def __init__(self, out: Path, what: str = "sweep") -> None:
        self.out = out
        self.what = what
        self.fh: Any = None

    def __enter__(self) -> FolderLock:
        try:
            self.out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise AdoptsimError(
                f"out = {str(self.out)!r} — cannot be created ({exc.strerror})"
            ) from None
        check_folder(self.out)
        fd = _open_nofollow(self.out / LOCK, os.O_RDWR | os.O_APPEND | os.O_CREAT)
        self.fh = os.fdopen(fd, "a+", encoding="utf-8")
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
                f"out = {str(self.out)!r} — another {self.what} is running in this folder "
                f"({holder}); "
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


def _shard_meta(path: Path, verify: bool = True) -> dict:
    """The task description stored in shard ``path``; raises ValueError saying what is wrong.

    With ``verify`` the data are read too and checked against the shard's content hash.
    """
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
    if verify:
        verified_table(path, meta)
    return meta


def verified_table(path: Path, meta: Mapping) -> pd.DataFrame:
    """The table of shard ``path``, its content hash checked; raises ValueError if damaged.

    Parquet page checksums are verified where the shard has them; the content hash written in
    its metadata (`HASH_FIELD`) catches any changed value, whatever part of the file it is in.
    """
    import pyarrow.parquet as pq

    try:
        df = pq.read_table(path, page_checksum_verification=True).to_pandas()
    except Exception as exc:  # damage past the footer: pyarrow's many error types
        raise ValueError(f"its data cannot be read, damaged ({type(exc).__name__})") from None
    want = meta.get(HASH_FIELD)
    if want is not None and content_hash(df) != want:
        raise ValueError("its data differ from the content hash written with it (damaged)")
    return df


def scan_shards(shard_dir: Path, verify: bool = True) -> tuple[dict[Path, dict], dict[Path, str]]:
    """Every shard of a folder: (path → task description) for good ones, (path → reason) else.

    With ``verify`` (the default) each shard's data are read and checked against its content
    hash, so a shard damaged anywhere is found before it is counted as done.
    """
    good: dict[Path, dict] = {}
    broken: dict[Path, str] = {}
    if not shard_dir.is_dir():
        return good, broken
    for path in sorted(shard_dir.glob("*.parquet")):
        try:
            good[path] = _shard_meta(path, verify)
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


def _same_seed_and_firms(out: Path, shards: Mapping[Path, Mapping]) -> None:
    """Refuse shards of several seeds, or of several firm counts for one scenario and point."""
    seeds = sorted({int(m["seed"]) for m in shards.values()})
    if len(seeds) > 1:
        raise AdoptsimError(
            f"out = {str(out)!r} — holds runs of seeds {', '.join(map(str, seeds))}; a sweep "
            "folder holds one seed: read one with load_results(out, seed=...)"
        )
    firms: dict[tuple[str, str], set[int]] = {}
    for meta in shards.values():
        key = (meta["scenario"], point_key(meta["overrides"]))
        firms.setdefault(key, set()).add(int(meta["n_firms"]))
    for key, counts in firms.items():
        if len(counts) > 1:  # named in increasing order, whatever order the shards are read in
            raise AdoptsimError(
                f"out = {str(out)!r} — holds runs of scenario {key[0]} {key[1]} with "
                f"{' and '.join(map(str, sorted(counts)))} firms; keep each sweep in its own "
                "folder"
            )


def write_shard(df: pd.DataFrame, task_id: str, meta: Mapping, out: Path) -> Path:
    """Write ``df`` to ``out/shards/<task_id>.parquet`` atomically (temp file, then replace).

    ``meta`` (the task's identity) is stored in the file's metadata under `META_KEY`.

    The temporary file is named after its host and process, so a sweep cleaning up after a
    killed one removes only temporary files whose writer is gone. The file is not fsync'ed: a
    killed process loses nothing (the data are in the operating system's cache), and after an
    operating-system crash a shard whose data had not reached the disk is empty or truncated,
    which the resume check finds and reruns. An fsync per shard cost more wall time than
    writing it (12 of 19 ms), per run, on every sweep.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = shard_dir(out)
    folder.mkdir(parents=True, exist_ok=True)
    # One thread: pyarrow would otherwise start a thread pool for each small shard.
    table = pa.Table.from_pandas(df, preserve_index=False, nthreads=1)
    task_meta, meta = meta, dict(table.schema.metadata or {})
    # the content hash lets a reader tell a shard damaged anywhere (not just its footer)
    meta[META_KEY] = json.dumps({**task_meta, HASH_FIELD: content_hash(df)}).encode()
    table = table.replace_schema_metadata(meta)
    final = shard_path(out, task_id)
    tmp = folder / f".{task_id}.{host_tag()}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        with tmp.open("wb") as fh:
            pq.write_table(table, fh, write_page_checksum=True)
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return final


def marker_path(out: Path, task_id: str) -> Path:
    """The file that exists while this process runs task ``task_id``.

    If the process dies, the file stays and names the task that killed it.
    """
    return shard_dir(out) / f".{task_id}.{host_tag()}.{os.getpid()}.running"


def running_markers(out: Path, task_id: str = "*") -> list[Path]:
    """Run markers left in ``out`` for ``task_id`` (default: for any task)."""
    return list(shard_dir(out).glob(f".{task_id}.*.running"))


def read_shard(out: str | Path, task_id: str) -> pd.DataFrame:
    """One finished task's table; raises FileNotFoundError (naming the path) if it is missing."""
    path = shard_path(out, task_id)
    if not path.is_file():
        raise FileNotFoundError(path)
    return pd.read_parquet(path)


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


def load_results(out: str | Path, *, seed: int | None = None) -> pd.DataFrame:
    """All finished runs of sweep folder ``out`` as one tidy table, without duplicates.

    Columns: ``scenario``, one column per override key (sorted; missing where a task did not set
    it; lists and tables as JSON text; whole floats as ints, so ``10`` and ``10.0`` are one
    point), ``seed``, ``n_firms``, then the columns of ``adoption.csv`` (``replication, date,
    segment_type, segment, adopters_share, at_scale_share``). Rows are sorted by scenario,
    override values, seed, firm count, replication, date, segment type and segment, so two runs
    of the same spec give equal tables however many workers ran them and in whatever order.

    The same identity rules as the sweep apply: a folder holds one seed, and one firm count per
    scenario and point. Every shard's data are checked against the content hash written with it.

    Args:
        out: the sweep folder.
        seed: read only the shards of this seed (a folder holding runs of several seeds is
            otherwise refused).

    Raises:
        AdoptsimError: one line naming the file, for a shard that is truncated, empty, damaged
            or not an adoptsim shard (rerunning the sweep on the folder repairs it), or for a
            folder that mixes seeds or firm counts, or holds two different runs of one scenario,
            point and replication.
    """
    from adoptsim.arguments import path_or_name
    from adoptsim.arguments import seed as check_seed

    out = Path(path_or_name(out, "out"))
    if seed is not None:
        seed = check_seed(seed)
    if not out.is_dir():
        raise AdoptsimError(f"out = {str(out)!r} — no such folder")
    if shard_dir(out).exists() and not shard_dir(out).is_dir():
        raise AdoptsimError(f"{shard_dir(out)}: is not a folder (a sweep keeps its shards there)")
    good, broken = scan_shards(shard_dir(out), verify=False)  # data checked as they are read
    for path, reason in broken.items():
        raise AdoptsimError(
            f"{path}: {reason}; rerun the sweep on {str(out)!r} to redo it, or remove the file"
        )
    if seed is not None:
        good = {p: m for p, m in good.items() if m["seed"] == seed}
    _same_seed_and_firms(out, good)
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
            df = verified_table(path, meta)
        except ValueError as exc:
            raise AdoptsimError(
                f"{path}: {exc}; rerun the sweep on {str(out)!r} to redo it, or remove the file"
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
