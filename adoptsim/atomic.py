"""One writer for every output file: a temporary file in the same folder, then ``os.replace``.

A result file is either the old one or the whole new one, never a half-written mix: the bytes go
to a temporary file beside the destination, are flushed and fsynced, and the temporary file is
renamed over the destination. ``os.replace`` replaces a symbolic link planted at the destination
(it never writes through it), so ``ln -s ~/victim out/run.json`` cannot redirect a write.

A folder of results that belong together (a run: ``adoption.csv``, ``scenario.toml``,
``adoption.png``, ``run.json``) is committed as a whole by
[`FolderCommit`][adoptsim.atomic.FolderCommit]: every file is first written as a temporary
file (a full disk or a missing permission fails here, before anything is replaced), then the
files are swapped in with the commit record (``run.json``) last. The record names the SHA-256
of each sibling, so a reader (`load_run`) can tell a folder interrupted between two renames
from a complete one.

Errors end in one line naming the path (an [`OutputError`][adoptsim.atomic.OutputError]), and the
previous file is left as it was.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from adoptsim.errors import AdoptsimError

_UMASK = os.umask(0)
os.umask(_UMASK)
#: Mode of a written file: what ``open(path, "w")`` would give under the current umask.
FILE_MODE = 0o666 & ~_UMASK


class OutputError(AdoptsimError, OSError):
    """An output file cannot be written (disk full, no permission, a folder in the way)."""


def output_error(path: str | Path, exc: BaseException) -> OutputError:
    """One line naming ``path`` and the reason, saying the earlier file is unchanged."""
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return OutputError(f"{path}: cannot write ({reason}); an earlier file there is unchanged")


def check_destination(path: str | Path) -> None:
    """Refuse a destination that is a folder (or another non-file); a symlink is fine.

    A symbolic link at ``path`` is itself replaced, not followed, so only what the link *is*
    matters, never what it points to.
    """
    path = Path(path)
    try:
        st = path.lstat()
    except FileNotFoundError:
        return
    except OSError as exc:
        raise output_error(path, exc) from None
    if stat.S_ISDIR(st.st_mode):
        raise OutputError(f"{path}: is a folder; remove it or choose another --out")
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)):
        raise OutputError(f"{path}: is not a regular file; remove it or choose another --out")


def _fsync_folder(folder: Path) -> None:
    """Make the renames in ``folder`` durable (best effort: not every file system allows it)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _temporary(path: Path) -> tuple[int, str]:
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:40]}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise output_error(path, exc) from None
    os.fchmod(fd, FILE_MODE)
    return fd, tmp


def _unlink(name: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(name)


@contextlib.contextmanager
def open_atomic(path: str | Path, mode: str = "w", encoding: str = "utf-8") -> Iterator[IO[Any]]:
    """Open ``path`` for writing; on a clean exit the new content replaces the old at once.

    Args:
        path: the destination file (its folder must exist).
        mode: ``"w"`` (text) or ``"wb"`` (bytes).
        encoding: for text mode.

    Raises:
        OutputError: the file cannot be written; the earlier file at ``path`` is unchanged and no
            temporary file is left behind.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', not {mode!r}")
    path = Path(path)
    check_destination(path)
    fd, tmp = _temporary(path)
    done = False
    try:
        kwargs = {"encoding": encoding, "newline": ""} if mode == "w" else {}
        with os.fdopen(fd, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        done = True
    except OSError as exc:
        if isinstance(exc, OutputError):
            raise
        raise output_error(path, exc) from None
    finally:
        if not done:
            _unlink(tmp)
    _fsync_folder(path.parent)


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see module doc); returns the path."""
    with open_atomic(path, "wb") as fh:
        fh.write(data)
    return Path(path)


def write_text(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically (see module doc); returns the path."""
    return write_bytes(path, text.encode(encoding))


def csv_bytes(frame: Any, **to_csv: Any) -> bytes:
    """A data frame as CSV bytes (``to_csv`` keywords passed on; no index by default)."""
    to_csv.setdefault("index", False)
    to_csv.setdefault("lineterminator", "\n")
    buf = io.StringIO()
    frame.to_csv(buf, **to_csv)
    return buf.getvalue().encode("utf-8")


def write_csv(path: str | Path, frame: Any, **to_csv: Any) -> Path:
    """Write a data frame as CSV to ``path`` atomically (``to_csv`` keywords passed on)."""
    return write_bytes(path, csv_bytes(frame, **to_csv))


def figure_bytes(fig: Any, path: str | Path, dpi: int) -> bytes:
    """A matplotlib figure rendered in the format of ``path``'s suffix (PNG by default)."""
    buf = io.BytesIO()
    fmt = Path(path).suffix.lstrip(".").lower() or "png"
    fig.savefig(buf, format=fmt, dpi=dpi)
    return buf.getvalue()


#: Largest side of a saved figure, in pixels: a figure sized by its data (a line per target)
#: is scaled down to it rather than drawn 300,000 pixels tall.
MAX_PIXELS = 8000


def save_figure(fig: Any, path: str | Path | IO[bytes], dpi: int) -> None:
    """Save a figure to ``path`` atomically (a file object is written to directly)."""
    width, height = fig.get_size_inches()
    if max(width, height) * dpi > MAX_PIXELS:
        scale = MAX_PIXELS / (max(width, height) * dpi)
        fig.set_size_inches(width * scale, height * scale)
    if hasattr(path, "write"):
        fig.savefig(path, format="png", dpi=dpi)
        return
    write_bytes(path, figure_bytes(fig, path, dpi))


def sha256(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes, read in blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class FolderCommit:
    """The files of one result folder, swapped in together with the commit record last.

    Usage::

        with FolderCommit(out) as commit:
            commit.add("adoption.csv", csv_bytes(table))
            commit.add("adoption.png", figure_bytes(fig, "adoption.png", 150))
            commit.commit("run.json", lambda sums: json.dumps({**info, "files": sums}))

    Each ``add`` writes a temporary file in ``folder`` at once, so a full disk or a missing
    permission fails before any earlier file is touched. ``commit`` renames them over their
    destinations and the record last; leaving the block without committing (an error, Ctrl-C)
    removes the temporary files and leaves the folder as it was.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self._pending: list[tuple[str, str, str]] = []  # (name, temporary file, sha256)

    def __enter__(self) -> FolderCommit:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise output_error(self.folder, exc) from None
        return self

    def __exit__(self, *exc: object) -> None:
        self.abandon()

    def abandon(self) -> None:
        """Remove the temporary files not yet committed."""
        for _, tmp, _ in self._pending:
            _unlink(tmp)
        self._pending = []

    def _stage(self, name: str, data: bytes) -> str:
        path = self.folder / name
        check_destination(path)
        fd, tmp = _temporary(path)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            _unlink(tmp)
            raise output_error(path, exc) from None
        return tmp

    def add(self, name: str, data: bytes) -> None:
        """Stage the file ``name`` (a bare file name inside the folder) with ``data``."""
        if Path(name).name != name:
            raise ValueError(f"{name!r} must be a file name, not a path")
        tmp = self._stage(name, data)
        self._pending.append((name, tmp, sha256(data)))

    def commit(
        self,
        record: str | None = None,
        make_record: Callable[[dict[str, str]], bytes | str] | None = None,
    ) -> Path:
        """Swap the staged files in, then write ``record`` (given their SHA-256 by name) last.

        Without a record the staged files are swapped in in the order they were added. Returns
        the record's path (the folder without one).
        """
        if record is not None and make_record is not None:
            sums = {name: digest for name, _, digest in self._pending}
            data = make_record(sums)
            data = data.encode("utf-8") if isinstance(data, str) else data
            rec_tmp = self._stage(record, data)
            self._pending.append((record, rec_tmp, sha256(data)))
        try:
            for name, tmp, _ in self._pending:
                os.replace(tmp, self.folder / name)
        except OSError as exc:
            raise output_error(self.folder / name, exc) from None
        self._pending = []
        _fsync_folder(self.folder)
        return self.folder / record if record is not None else self.folder
