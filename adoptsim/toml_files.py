"""Reading TOML files (scenarios, sweep specs): every way it can fail is one line naming the file.

Not a regular file (a folder, a device, a pipe), not UTF-8, not valid TOML, or nested deeper than
any scenario needs (``tomllib`` itself recurses, and a 2,000-deep array would end in a
``RecursionError``): each is a [`ScenarioFileError`][adoptsim.toml_files.ScenarioFileError].
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from adoptsim.errors import AdoptsimError, ScenarioError


class ScenarioFileError(AdoptsimError):
    """A scenario file cannot be read or is not valid TOML."""


#: Deepest nesting of tables and arrays in a scenario (the schema needs 4).
MAX_DEPTH = 32


def not_a_file(path: Path) -> str | None:
    """Why ``path`` cannot be read as a scenario file, or None if it is a regular file."""
    if path.is_file():
        return None
    if path.is_dir():
        return "is a folder, not a scenario file"
    if path.exists():
        return "is not a regular file (a device or pipe); give a TOML file"
    return "no such file"


def check_depth(raw: object, field: str) -> None:
    """Refuse tables or arrays nested deeper than `MAX_DEPTH` (no recursion of ours overflows)."""
    stack = [(raw, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ScenarioError(field, "…", f"nested deeper than {MAX_DEPTH} tables or arrays")
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list | tuple):
            stack.extend((v, depth + 1) for v in node)


def read_toml(path: Path) -> dict:
    """Parse a TOML file, turning syntax errors into one readable line."""
    why = not_a_file(path)
    if why is not None:
        raise ScenarioFileError(f"{path}: {why}")
    try:
        with path.open("rb") as fh:
            raw = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioFileError(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:
        raise ScenarioFileError(
            f"{path}: tables or arrays nested too deep to read (a scenario needs 4 levels)"
        ) from None
    except UnicodeDecodeError as exc:
        raise ScenarioFileError(
            f"{path}: not a TOML text file (not UTF-8 at byte {exc.start}); "
            "a scenario or sweep spec is UTF-8 text"
        ) from None
    except OSError as exc:
        raise ScenarioFileError(f"{path}: cannot be read: {exc.strerror}") from None
    _depth_ok(raw, path)
    return raw


def _depth_ok(raw: dict, path: Path) -> None:
    try:
        check_depth(raw, str(path))
    except ScenarioError:
        raise ScenarioFileError(
            f"{path}: tables or arrays nested deeper than {MAX_DEPTH} levels"
        ) from None
