"""Scenario files (TOML): schema, loading, ``extends`` and dotted overrides, all validated.

A scenario is one TOML file with the tables ``[scenario] [population] [barriers] [network] [rule]
[levers.*] [regulation] [shocks.*] [exit]``; every table and key is optional and takes the
documented default (population ``flanders``, rule ``logit``, network ``sector_region``).
``extends = "name"`` starts from another scenario and overrides single values. Built-in
scenarios live in the repository's ``scenarios/`` folder, shipped inside the wheel.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adoptsim import arguments
from adoptsim import schema as S
from adoptsim.errors import ScenarioError
from adoptsim.months import format_month, parse_month
from adoptsim.network import NETWORK_KINDS
from adoptsim.policy import EXIT_SPEC, LEVER_SPEC, REGULATION_SPEC, SHOCK_SPEC
from adoptsim.population import ALLOCATIONS
from adoptsim.posterior import PARAMETERS
from adoptsim.priors import PRIORS
from adoptsim.rules import rule_class
from adoptsim.schedule import Schedule, parse_schedule
from adoptsim.taxonomy import BARRIERS, POPULATIONS
from adoptsim.toml_files import ScenarioFileError, check_depth, not_a_file, read_toml  # noqa: F401

# Keys a replication's posterior or prior draw may set (see Scenario.resolved and with_draw).
_DRAWN_KEYS = {k for ps in PARAMETERS.values() for p in ps for k in p.keys} | {
    k for prior in PRIORS for k in prior.parameter.keys
}

# Initial barrier prevalence: the seed's shares among non-users (claimed AI-barometer 2022,
# status U — unverified); attracting_staff only has a users' figure.
SEED_BARRIER_SHARES = {
    "knowledge_skills": 0.676,
    "hard_to_assess": 0.634,
    "cost_benefit": 0.574,
    "financing": 0.325,
    "incompatibility": 0.439,
    "data_quality": 0.424,
    "knowledge_partner": 0.480,
    "legal_ethical": 0.185,
    "attracting_staff": 0.536,
}

SPEC: dict = {
    "scenario": {
        "name": S.text("unnamed", "short name used in result tables"),
        "description": S.text("", "one line"),
        "rationale": S.text("", "why this scenario, with sources"),
        "start": S.month("2019-01", "first simulated month (state recorded at its start)"),
        "end": S.month("2028-12", "last simulated month"),
    },
    "population": {
        "name": S.choice("flanders", tuple(POPULATIONS), "which firms are simulated"),
        "include_micro": S.flag(True, "include firms with 1–9 employees"),
        "allocation": S.choice(
            "sqrt",
            ALLOCATIONS,
            "agents per size class ∝ √firms (more agents for the few large firms) or ∝ firms; "
            "shares are firm-weighted either way",
        ),
        "n_firms": S.integer(20000, 100, 50_000_000, "default number of agents", "agents"),
        "initial_adopters": S.share(0.0, "share of firms using AI at the start month"),
        "initial_at_scale": S.share(0.0, "share of *users* at scale at the start month"),
        "maturity_size_loading": S.number(
            0.3, -0.99, 0.99, "correlation of maturity with log employees (E)"
        ),
    },
    "barriers": {
        "prevalence": {
            b: S.share(
                SEED_BARRIER_SHARES[b], "initial share of firms", source="seed document, status U"
            )
            for b in BARRIERS
        },
        "maturity_loading": S.number(0.5, -5, 5, "logit effect of −1 sd maturity on barriers (E)"),
    },
    "network": {
        "kind": S.choice("sector_region", NETWORK_KINDS, "peer network"),
        "mean_degree": S.number(10.0, 0, 1000, "mean number of peers", "peers"),
        "within_share": S.share(0.7, "share of ties inside the sector × region block (E)"),
        "size_exponent": S.number(0.3, 0, 3, "degree ∝ employees^x: larger firms more connected"),
    },
    "levers": LEVER_SPEC,
    "calibration": {
        "posterior": S.choice(
            "none",
            ("none", "flanders", "netherlands"),
            "shipped posterior whose parameter draws replications use",
        ),
        "priors": S.choice(
            "none",
            ("none", "policy", "all"),
            "prior-only parameters each replication draws from its seed (adoptsim/priors.py): "
            "the policy-effect group, all (with behaviour), or none",
        ),
        "keep": S.choices(
            [],
            sorted(_DRAWN_KEYS),
            "drawn keys (posterior or prior) this scenario sets on purpose: draws leave them "
            "alone (written by `adoptsim run` into a saved scenario.toml)",
        ),
    },
    "regulation": REGULATION_SPEC,
    "shocks": SHOCK_SPEC,
    "exit": EXIT_SPEC,
}
TOP_KEYS = (*SPEC, "rule", "extends")


def scenario_dirs() -> list[Path]:
    """Where built-in scenarios are looked for: inside the wheel, then the source checkout."""
    here = Path(__file__).resolve().parent
    return [p for p in (here / "scenarios", here.parent / "scenarios") if p.is_dir()]


def builtin_scenarios() -> list[str]:
    """Names of the built-in scenarios."""
    names = {p.stem for d in scenario_dirs() for p in d.glob("*.toml")}
    return sorted(names)


#: Most files an ``extends`` chain may stack (the shipped ones use 2); deeper is a mistake.
MAX_EXTENDS = 64


def _resolve(name_or_path: str | Path, field: str = "scenario") -> Path:
    path = Path(name_or_path)
    # a folder named like a built-in scenario (a results folder, say) does not hide it
    builtin = path.suffix != ".toml" and not path.is_file()
    if builtin:
        for d in scenario_dirs():
            if (d / f"{name_or_path}.toml").is_file():
                return d / f"{name_or_path}.toml"
    if path.suffix == ".toml" or path.exists() or path.is_symlink():
        why = not_a_file(path)
        if why is not None:
            raise ScenarioError(field, str(name_or_path), why)
        return path
    raise ScenarioError(
        field,
        str(name_or_path),
        f"unknown scenario; built-in: {', '.join(builtin_scenarios())}",
    )


def _same_rule(a: object, b: object) -> bool:
    """Whether two ``rule.kind`` values name the same rule class (a registered name or a path)."""
    if a == b:
        return True
    try:
        return rule_class(a or "logit") is rule_class(b or "logit")
    except ScenarioError:
        return False


def deep_merge(base: dict, override: dict) -> dict:
    """``base`` with ``override`` laid over it, table by table (override wins)."""
    out = copy.deepcopy(base)
    _merge_into(out, override)
    return out


def _merge_into(out: dict, override: dict, owned: bool = False) -> None:
    """Lay ``override`` over ``out`` in place; ``out`` owns its tables.

    ``override``'s values are copied unless ``owned`` (nobody else holds them). Copying each
    table once, not again at every nesting level, keeps scenario building (once per
    replication with parameter draws) cheap.
    """
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key != "rule":
            _merge_into(out[key], value, owned)
        elif key == "rule" and isinstance(value, dict) and isinstance(out.get(key), dict):
            same_kind = _same_rule(value.get("kind", out[key].get("kind")), out[key].get("kind"))
            if same_kind:
                _merge_into(out[key], value, owned)
            else:
                out[key] = value if owned else copy.deepcopy(value)
        else:
            out[key] = value if owned else copy.deepcopy(value)


def _parent_chain(
    parent: object, folder: Path | None, seen: tuple[Path, ...]
) -> list[tuple[Path, dict]]:
    """(file, raw table) layers of the scenario(s) named by ``extends``, root first.

    ``extends`` is one name/path or a list of them. With several parents their chains are laid in
    order and a file already laid (typically the shared root, ``baseline``) is not laid again, so
    ``extends = ["a", "b"]`` means baseline, then a's own values, then b's own values.
    """
    names = parent if isinstance(parent, list) else [parent]
    if not names or not all(isinstance(n, str) for n in names):
        raise ScenarioError("extends", parent, "must be a scenario name or path, or a list of them")
    chain: list[tuple[Path, dict]] = []
    for name in names:
        rel = folder / name if (folder is not None and name.endswith(".toml")) else name
        path = _resolve(rel, "extends").resolve()
        if path in seen:
            raise ScenarioError("extends", name, "scenarios extend each other in a cycle")
        for key, layer in _keyed_layers(path, seen):
            if key not in {k for k, _ in chain}:
                chain.append((key, layer))
    return chain


def _keyed_layers(path: Path, seen: tuple[Path, ...] = ()) -> list[tuple[Path, dict]]:
    if len(seen) >= MAX_EXTENDS:
        raise ScenarioError(
            "extends", path.name, f"chain of more than {MAX_EXTENDS} files (or a runaway chain)"
        )
    raw = read_toml(path)
    parent = raw.pop("extends", None)
    here = path.resolve()
    if parent is None:
        return [(here, raw)]
    return [*_parent_chain(parent, path.parent, (*seen, here)), (here, raw)]


def _layers_of(path: Path) -> list[dict]:
    """The raw tables of a scenario file and of the files it extends, root first."""
    return [raw for _, raw in _keyed_layers(path)]


REPLACE = "replace"
_FIRST_MONTH = "1900-01"  # a constant parent value holds from the earliest month a file can name


def _schedule_keys() -> list[tuple[str, str]]:
    """(lever table, key) of every dated-schedule field in the scenario schema."""
    return [
        (table, key)
        for table, fields in SPEC["levers"].items()
        for key, spec in fields.items()
        if getattr(spec, "kind", None) == "schedule"
    ]


def _as_ramp_points(sched: Schedule) -> dict[int, float]:
    """Month index → value points of a ramp equal to ``sched`` at every whole month."""
    if not sched.months:
        return {parse_month(_FIRST_MONTH): sched.values[0]}
    if sched.ramp:
        return dict(zip(sched.months, sched.values, strict=True))
    points = {sched.months[0] - 1: 0.0}
    for j, (m, v) in enumerate(zip(sched.months, sched.values, strict=True)):
        points[m] = v
        if j + 1 < len(sched.months):
            points[sched.months[j + 1] - 1] = v
    return points


def overlay_schedule(below: Schedule, child: dict, field: str) -> dict:
    """A child scenario's dated table laid over the schedule it extends.

    The child's values hold from its first month on, the values below before it. Steps over
    steps stay steps; any mix with a ramp becomes a ramp that equals both pieces at every whole
    month.

    Args:
        below: the schedule of the parent scenario.
        child: the child's table in file form (``{month: value}`` or ``{"ramp": {...}}``).
        field: dotted name of the field, for error messages.

    Returns:
        The merged table in file form.
    """
    points = child.get("ramp", child) if isinstance(child, dict) else child
    ramp = "ramp" in child
    mine = parse_schedule(child, field, None, None)
    first = mine.months[0]
    if not ramp and not below.ramp:
        kept = (
            {parse_month(_FIRST_MONTH): below.values[0]}
            if not below.months
            else {m: v for m, v in zip(below.months, below.values, strict=True) if m < first}
        )
        return {**{format_month(m): v for m, v in kept.items()}, **points}
    kept = {m: v for m, v in _as_ramp_points(below).items() if m < first - 1}
    kept[first - 1] = below.at(first - 1)
    mine_points = _as_ramp_points(mine)
    if not ramp:  # drop the step's leading zero: the value below holds until its first month
        mine_points.pop(first - 1, None)
    merged = {**kept, **mine_points}
    return {"ramp": {format_month(m): merged[m] for m in sorted(merged)}}


def _lay_schedules(below_raw: dict, layer: dict, is_root: bool) -> dict:
    """``layer`` with each dated table turned into its overlay on the values below it.

    A dated table in a file that extends another, or in an override, changes the schedule from
    its first month on and keeps the earlier values (of the parent, or of the default). With
    ``replace = true`` in the table, or in a root file, the table is the whole schedule (0 before
    its first month). A plain number always replaces the whole schedule.
    """
    levers = layer.get("levers")
    if not isinstance(levers, dict):
        return layer
    below: dict | None = None
    layer = copy.deepcopy(layer)
    for table, key in _schedule_keys():
        node = layer["levers"].get(table)
        value = node.get(key) if isinstance(node, dict) else None
        if not isinstance(value, dict):
            continue
        field = f"levers.{table}.{key}"
        marker = value.pop(REPLACE, False)
        if not isinstance(marker, bool):
            raise ScenarioError(f"{field}.{REPLACE}", marker, "must be true or false")
        if marker or is_root or not value:
            continue
        if below is None:
            below = S.validate_table(below_raw.get("levers", {}), LEVER_SPEC, "levers")
        node[key] = overlay_schedule(below[table][key], value, field)
    return layer


def merge_layers(layers: Iterable[dict]) -> dict:
    """Lay raw tables over each other in order (later wins, table by table).

    Dated lever tables in every layer after the first override the schedule below them from
    their first month on (see `overlay_schedule`); ``replace = true`` replaces it whole.
    """
    out: dict = {}
    for i, layer in enumerate(layers):
        laid = _lay_schedules(out, layer, is_root=i == 0)
        if laid is layer:
            laid = copy.deepcopy(layer)
        # `laid` is a copy nobody else holds: its tables become out's
        _merge_into(out, laid, owned=True)
        for table, key in _schedule_keys():  # a schedule is one value: never merged key by key
            lev = laid.get("levers")
            tab = lev.get(table) if isinstance(lev, dict) else None
            value = tab.get(key) if isinstance(tab, dict) else None
            if isinstance(value, dict):
                out["levers"][table][key] = value
    return out


def nest(dotted: dict[str, Any]) -> dict:
    """``{"rule.q": 0.1}`` → ``{"rule": {"q": 0.1}}`` (schedules written back in file form)."""
    out: dict = {}
    for key, value in dotted.items():
        parts = key.split(".")
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ScenarioError(key, value, "its parent is not a table")
        if isinstance(value, Schedule):
            node[parts[-1]] = _whole(value.to_toml())
        else:
            node[parts[-1]] = value
    return out


def flatten(table: Mapping, prefix: str = "") -> dict[str, Any]:
    """``{"rule": {"q": 0.1}}`` → ``{"rule.q": 0.1}``: nested tables to dotted keys.

    The inverse of [`nest`][adoptsim.scenario.nest] for leaf values. Overrides, sweep grids and
    scenario layers all name a field by its dotted key, whether a file wrote it as a nested table
    or with TOML's dotted keys.

    Args:
        table: nested tables, e.g. a scenario file or a sweep's ``[grid]``.
        prefix: dotted path of ``table`` itself ("" at the top; used by the recursion).
    """
    out: dict[str, Any] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def _plain(value: Any) -> Any:
    """Validated data as TOML-writable values: schedules in file form, unset months dropped."""
    if isinstance(value, Schedule):
        return value.to_toml()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _whole(value: float | dict) -> float | dict:
    """A schedule in file form marked to replace the schedule below it whole."""
    return {**value, REPLACE: True} if isinstance(value, dict) else value


def derived_name(base: str, overrides: dict[str, Any]) -> str:
    """``base`` plus the last part of each changed key (and its value when it is a number)."""
    parts = []
    for key, value in overrides.items():
        short = key.rsplit(".", 1)[-1]
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        parts.append(f"{short}={value:g}" if is_number else short)
    return f"{base}+{'+'.join(parts)}"


def validate(raw: dict) -> dict:
    """Validate a whole raw scenario dict; returns the filled-in, typed form."""
    if not isinstance(raw, dict):
        raise ScenarioError("scenario file", raw, "must be a table of tables")
    unknown = [k for k in raw if k not in TOP_KEYS]
    if unknown:
        raise ScenarioError(
            unknown[0], raw[unknown[0]], f"unknown table; allowed: {', '.join(TOP_KEYS)}"
        )
    data = S.validate_table({k: v for k, v in raw.items() if k in SPEC}, SPEC, "")
    rule = raw.get("rule", {})
    if not isinstance(rule, dict):
        raise ScenarioError("rule", rule, "must be a table")
    kind = rule.get("kind", "logit")
    params = S.validate_table(
        {k: v for k, v in rule.items() if k != "kind"}, rule_class(kind).PARAMS, "rule"
    )
    data["rule"] = {"kind": kind, **params}
    start = parse_month(data["scenario"]["start"], "scenario.start")
    end = parse_month(data["scenario"]["end"], "scenario.end")
    if end <= start:
        raise ScenarioError(
            "scenario.end",
            data["scenario"]["end"],
            f"must be after scenario.start ({data['scenario']['start']})",
        )
    return data


@dataclass(frozen=True)
class Scenario:
    """A validated scenario.

    ``layers`` are the raw tables as written — the root file first, then each file that extends
    it, then every [`with_overrides`][adoptsim.scenario.Scenario.with_overrides] — and ``data`` is
    their validated, typed merge with defaults. Keeping layers lets a posterior draw slot in *above
    the root file but below everything else* ([`with_draw`][adoptsim.scenario.Scenario.with_draw]),
    so a scenario's own deliberate values always win.
    """

    layers: tuple[dict, ...]
    data: dict
    origin: str = "<dict>"

    @classmethod
    def from_layers(cls, layers: Iterable[dict], origin: str = "<dict>") -> Scenario:
        """Validate a stack of raw tables."""
        return cls._from_own_layers(copy.deepcopy(list(layers)), origin)

    @classmethod
    def _from_own_layers(cls, layers: list[dict], origin: str) -> Scenario:
        """`from_layers` for tables nobody else holds (a scenario never changes its layers)."""
        layers = tuple(layers)
        for layer in layers:
            S.tables_are_tables(layer, SPEC, "")
        return cls(layers, validate(merge_layers(layers)), origin)

    @classmethod
    def from_dict(cls, raw: dict, origin: str = "<dict>") -> Scenario:
        """Validate a raw scenario dict (as read from TOML; ``extends`` is honoured)."""
        raw = copy.deepcopy(arguments.table(raw, "scenario"))
        check_depth(raw, "scenario")
        parent = raw.pop("extends", None)
        if parent is None:
            return cls.from_layers([raw], origin)
        layers = [layer for _, layer in _parent_chain(parent, None, ())]
        return cls.from_layers([*layers, raw], origin)

    @property
    def raw(self) -> dict:
        """The merged raw tables (what the files and overrides say, without defaults)."""
        return merge_layers(self.layers)

    @property
    def name(self) -> str:
        """The scenario's short name."""
        return self.data["scenario"]["name"]

    @property
    def start(self) -> int:
        """First month (month index)."""
        return parse_month(self.data["scenario"]["start"])

    @property
    def end(self) -> int:
        """Last month (month index)."""
        return parse_month(self.data["scenario"]["end"])

    def n_agents(self, n_firms: int | None = None) -> int:
        """Agents per run: ``n_firms`` if given, else the scenario's ``population.n_firms``.

        The one place this default is worked out (runs, sweeps, calibration, memory checks).
        """
        return n_firms or self.data["population"]["n_firms"]

    def get(self, dotted: str) -> Any:
        """The validated value at a dotted key such as ``rule.q``."""
        if not isinstance(dotted, str):
            raise ScenarioError("key", dotted, "must be a dotted key (text), e.g. rule.q")
        node: Any = self.data
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                raise ScenarioError(dotted, None, "no such key in the scenario")
            node = node[part]
        return node

    def with_overrides(self, overrides: dict[str, Any], name: str | None = None) -> Scenario:
        """A new scenario with dotted keys (``"levers.kmo_portefeuille.ai_share"``) replaced.

        A dated table overrides a schedule from its first month on, as in a file that extends
        another; a `Schedule` object replaces the whole schedule.

        Args:
            overrides: dotted key → value, as in a scenario file.
            name: the new scenario's name. Without it (and without ``"scenario.name"`` in
                ``overrides``) the name is this one's plus the keys changed, e.g.
                ``baseline+ai_share=0.1``, so results of the changed scenario never land in the
                original's folder or column.
        """
        return Scenario._from_own_layers([*self.layers, self._top(overrides, name)], self.origin)

    def _top(self, overrides: dict[str, Any], name: str | None = None) -> dict:
        """The layer `with_overrides` lays on top (named as its docstring says)."""
        layer = nest(arguments.table(overrides, "overrides"))
        if name is not None and not isinstance(name, str):
            raise ScenarioError("name", name, "must be text")
        if name is None and "scenario.name" not in overrides and overrides:
            name = derived_name(self.name, overrides)
        if name is not None:
            layer = deep_merge(layer, {"scenario": {"name": name}})
        return copy.deepcopy(layer)

    def with_draw(self, draw: dict[str, Any], overrides: dict[str, Any] | None = None) -> Scenario:
        """The scenario with a parameter draw laid just above its root file (see class doc).

        Keys listed in ``[calibration] keep`` are left out of the draw. With ``overrides`` (which
        must not touch ``calibration.*``), the result is ``with_overrides(overrides)`` with the
        draw laid in, validated once instead of twice.
        """
        keep = set(self.data["calibration"]["keep"])
        draw = {k: v for k, v in draw.items() if k not in keep}
        top = [self._top(overrides)] if overrides else []
        layers = [self.layers[0], copy.deepcopy(nest(draw)), *self.layers[1:], *top]
        return Scenario._from_own_layers(layers, self.origin)

    def resolved(self) -> dict:
        """Every value of this scenario in one table, as a root file would say it.

        No ``extends``, defaults written out, schedules whole.

        Loading it back gives the same scenario, posterior draws included: calibrated keys that a
        file above the root (or an override) set on purpose are listed in ``[calibration] keep``,
        so a draw laid over the single resolved layer leaves them as they were.
        """
        drawn = _DRAWN_KEYS
        above = flatten(merge_layers(self.layers[1:])) if len(self.layers) > 1 else {}
        keep = sorted(set(self.data["calibration"]["keep"]) | (drawn & set(above)))
        out = _plain(self.data)
        out["calibration"]["keep"] = keep
        return out


def load_scenario(name_or_path: str | Path | dict) -> Scenario:
    """Load a built-in scenario by name (e.g. ``"baseline"``) or a TOML file by path.

    A raw scenario table (a dict, as read from TOML) is validated as
    [`Scenario.from_dict`][adoptsim.scenario.Scenario.from_dict] does.

    Raises:
        ScenarioError: unknown name or an invalid value (the message names the field).
        ScenarioFileError: the file is not valid TOML.
    """
    if isinstance(name_or_path, Scenario):
        return name_or_path
    if isinstance(name_or_path, dict):
        return Scenario.from_dict(name_or_path)
    path = _resolve(arguments.path_or_name(name_or_path, "scenario"))
    layers = _layers_of(path)
    own = layers[-1].get("scenario")
    if not (isinstance(own, dict) and "name" in own):
        # named after its own file, never after the scenario it extends
        layers.append({"scenario": {"name": path.stem}})
    return Scenario.from_layers(layers, str(path))
