"""A small declarative schema for scenario tables: fields with types, bounds, defaults and docs.

Why not pydantic: errors here must read ``rule.q = 1.4 — must be within [0, 1]`` and list the
allowed keys or choices, and the same field specs generate the scenario-file reference in
``docs/``; a forty-line validator does both without translating another library's messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from adoptsim.bounds import check_number, whole_number
from adoptsim.errors import ScenarioError
from adoptsim.months import parse_month
from adoptsim.schedule import parse_schedule


@dataclass(frozen=True)
class Field:
    """One scenario value: its kind, default, bounds, allowed choices and documentation."""

    kind: str  # number | integer | flag | text | choice | month | schedule | map | choices
    default: Any
    lo: float | None = None
    hi: float | None = None
    choices: tuple[str, ...] = ()
    doc: str = ""
    unit: str = ""
    source: str = ""
    keys: tuple[str, ...] = field(default=())


def number(default, lo=None, hi=None, doc="", unit="", source="") -> Field:
    """A real number within [lo, hi]."""
    return Field("number", default, lo, hi, doc=doc, unit=unit, source=source)


def share(default, doc="", unit="share 0..1", source="") -> Field:
    """A number within [0, 1]."""
    return Field("number", default, 0.0, 1.0, doc=doc, unit=unit, source=source)


def integer(default, lo=None, hi=None, doc="", unit="") -> Field:
    """A whole number within [lo, hi]."""
    return Field("integer", default, lo, hi, doc=doc, unit=unit)


def flag(default: bool, doc="") -> Field:
    """True or false."""
    return Field("flag", default, doc=doc)


def text(default: str, doc="") -> Field:
    """Free text."""
    return Field("text", default, doc=doc)


def choice(default: str, choices, doc="") -> Field:
    """One of a fixed set of names."""
    return Field("choice", default, choices=tuple(choices), doc=doc)


def choices(default, allowed, doc="") -> Field:
    """A list of names from a fixed set."""
    return Field("choices", list(default), choices=tuple(allowed), doc=doc)


def month(default: str | None, doc="") -> Field:
    """A calendar month "YYYY-MM"."""
    return Field("month", default, doc=doc)


def schedule(default, lo=None, hi=None, doc="", unit="", source="") -> Field:
    """A dated lever value (see [`adoptsim.schedule`][adoptsim.schedule])."""
    return Field("schedule", default, lo, hi, doc=doc, unit=unit, source=source)


def mapping(keys, default: float, lo=None, hi=None, doc="", unit="") -> Field:
    """A table from fixed keys (e.g. sector letters) to numbers; missing keys take ``default``."""
    return Field("map", default, lo, hi, doc=doc, unit=unit, keys=tuple(keys))


def convert(value: object, spec: Field, name: str) -> Any:
    """Check one raw scenario value against its field spec and return its validated form."""
    k = spec.kind
    if k == "number":
        return check_number(value, name, spec.lo, spec.hi)
    if k == "integer":
        return whole_number(value, name, spec.lo, spec.hi, integral_floats=True)
    if k == "flag":
        if not isinstance(value, bool):
            raise ScenarioError(name, value, "must be true or false")
        return value
    if k == "text":
        if not isinstance(value, str):
            raise ScenarioError(name, value, "must be text")
        return value
    if k == "choice":
        if value not in spec.choices:
            raise ScenarioError(name, value, f"must be one of {', '.join(spec.choices)}")
        return value
    if k == "choices":
        if not isinstance(value, list | tuple):
            raise ScenarioError(name, value, f"must be a list of {', '.join(spec.choices)}")
        for item in value:
            if item not in spec.choices:
                raise ScenarioError(name, item, f"must be one of {', '.join(spec.choices)}")
        return list(value)
    if k == "month":
        parse_month(value, name)
        return value
    if k == "schedule":
        return parse_schedule(value, name, spec.lo, spec.hi)
    if k == "map":
        if not isinstance(value, dict):
            raise ScenarioError(
                name, value, f"must be a table with keys from {', '.join(spec.keys)}"
            )
        out = {key: spec.default for key in spec.keys}
        for key, v in value.items():
            if key not in spec.keys:
                raise ScenarioError(
                    f"{name}.{key}", v, f"unknown key; allowed: {', '.join(spec.keys)}"
                )
            out[key] = check_number(v, f"{name}.{key}", spec.lo, spec.hi)
        return out
    raise AssertionError(f"unknown field kind {k}")  # a bug in a spec, not user input


def default_of(spec: Field, name: str) -> Any:
    """The validated default value of a field."""
    if spec.kind == "map":
        return {key: spec.default for key in spec.keys}
    if spec.default is None:
        return None
    return convert(spec.default, spec, name)


def validate_table(raw: object, spec: dict, path: str) -> dict:
    """Validate a (nested) table against ``spec``; unknown keys are errors; defaults fill gaps."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ScenarioError(path, raw, "must be a table")
    unknown = [k for k in raw if k not in spec]
    if unknown:
        key = unknown[0]
        raise ScenarioError(
            f"{path}.{key}" if path else key, raw[key], f"unknown key; allowed: {', '.join(spec)}"
        )
    out: dict = {}
    for key, sub in spec.items():
        name = f"{path}.{key}" if path else key
        if isinstance(sub, dict):
            out[key] = validate_table(raw.get(key), sub, name)
        elif key in raw:
            out[key] = convert(raw[key], sub, name)
        else:
            out[key] = default_of(sub, name)
    return out


def tables_are_tables(layer: object, spec: dict, path: str) -> None:
    """Refuse a value where the schema has a table (``scenario = "hello"``) in any one layer.

    Merged alone, a later layer's table would replace such a value and hide the mistake.
    """
    if not isinstance(layer, dict):
        return
    for key, value in layer.items():
        sub = spec.get(key)
        if isinstance(sub, dict) and sub:
            name = f"{path}.{key}" if path else key
            if not isinstance(value, dict):
                raise ScenarioError(name, value, "must be a table")
            tables_are_tables(value, sub, name)
