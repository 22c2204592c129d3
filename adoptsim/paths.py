"""Output folders: checked before any work starts, and default names that stay inside results/.

A command that simulates for minutes and then finds it cannot write would waste the work, so
every command checks its ``--out`` first (not a file, not under a file, writable). Default output
folders are built from scenario names, which come from files the user may not have written: a
name like ``../escaped`` or ``/tmp/x`` must not leave ``results/``, so it is turned into a slug.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from adoptsim.errors import ScenarioError

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def slug(name: str, fallback: str = "scenario") -> str:
    """A file-name-safe form of ``name``: letters, digits, ``. _ -``; never ``..`` or a path.

    ``"../escaped"`` → ``"escaped"``, ``"/tmp/x"`` → ``"tmp_x"``, ``"Mijn scenario"`` →
    ``"Mijn_scenario"``.
    """
    parts = [p for p in re.split(r"[/\\]+", str(name)) if p not in ("", ".", "..")]
    text = _UNSAFE.sub("_", "_".join(parts)).strip("._-")
    text = re.sub(r"\.{2,}", ".", text)
    return text[:100] or fallback


def default_out(*parts: str) -> Path:
    """``results/<slug>/<slug>...``: a default output folder that cannot escape ``results/``."""
    return Path("results").joinpath(*(slug(p) for p in parts))


def writable_folder(path: str | Path, field: str = "--out", files: tuple[str, ...] = ()) -> Path:
    """Check that ``path`` is, or can be created as, a writable folder; returns it.

    Nothing is left behind (a probe file is created and removed). Raises ScenarioError naming
    ``field`` when ``path`` is empty, an existing file, a dangling symlink or a symlink loop,
    lies under a file, has a name longer than the file system allows, its nearest existing
    folder is not writable, or one of the ``files`` the command will write there is a folder
    (or another non-file) already.
    """
    if not isinstance(path, str | os.PathLike):
        raise ScenarioError(field, path, "must be a folder path (text)")
    if str(path).strip() == "":
        raise ScenarioError(field, str(path), "is empty; give a folder")
    p = Path(path)
    try:
        return _writable(p, str(path), field, files)
    except OSError as exc:  # e.g. a name too long, a loop of links in a parent
        raise ScenarioError(field, str(path), f"cannot be used ({exc.strerror})") from None


def _writable(p: Path, given: str, field: str, files: tuple[str, ...]) -> Path:
    if p.is_symlink() and not p.exists():
        raise ScenarioError(field, given, "is a symlink to nothing (or a loop of symlinks)")
    if p.exists() and not p.is_dir():
        raise ScenarioError(field, given, "is an existing file; give a folder")
    probe = p
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe != p and not probe.is_dir():
        raise ScenarioError(field, given, f"lies under {str(probe)!r}, which is a file")
    if probe != p:  # the parts still to be created must be names the file system accepts
        limit = os.pathconf(probe, "PC_NAME_MAX") if hasattr(os, "pathconf") else 255
        for part in p.relative_to(probe).parts:
            if len(os.fsencode(part)) > limit:
                raise ScenarioError(field, given, f"a name is too long (more than {limit} bytes)")
    for name in files:
        target = p / name
        if (target.exists() or target.is_symlink()) and not (
            target.is_file() or target.is_symlink()
        ):
            raise ScenarioError(field, given, f"holds {name!r}, which is not a file; remove it")
    try:  # a real write: access() says yes to root even on a read-only file system
        fd, name = tempfile.mkstemp(prefix=".adoptsim-write-test-", dir=probe)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        raise ScenarioError(
            field, given, f"{str(probe)!r} is not writable ({exc.strerror})"
        ) from None
    return p
