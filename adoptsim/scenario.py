"""Scenario files (TOML): schema, loading, ``extends`` and dotted overrides, all validated.

A scenario is one TOML file with the tables ``[scenario] [population] [barriers] [network] [rule]
[levers.*] [regulation] [shocks.*]``; every table and key is optional and takes the documented
default (population ``flanders``, rule ``logit``, network ``sector_region``). ``extends = "name"``
starts from another scenario and overrides single values. Built-in scenarios live in the
repository's ``scenarios/`` folder, shipped inside the wheel.
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adoptsim import schema as S
from adoptsim.errors import AdoptsimError, ScenarioError
from adoptsim.levers import LEVER_SPEC, REGULATION_SPEC, SHOCK_SPEC
from adoptsim.months import parse_month
from adoptsim.network import NETWORK_KINDS
from adoptsim.population import ALLOCATIONS
from adoptsim.rules import rule_class
from adoptsim.taxonomy import BARRIERS, POPULATIONS

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
    },
    "regulation": REGULATION_SPEC,
    "shocks": SHOCK_SPEC,
}
TOP_KEYS = (*SPEC, "rule", "extends")


class ScenarioFileError(AdoptsimError):
    """A scenario file cannot be read or is not valid TOML."""


def scenario_dirs() -> list[Path]:
    """Where built-in scenarios are looked for: inside the wheel, then the source checkout."""
    here = Path(__file__).resolve().parent
    return [p for p in (here / "scenarios", here.parent / "scenarios") if p.is_dir()]


def builtin_scenarios() -> list[str]:
    """Names of the built-in scenarios."""
    names = {p.stem for d in scenario_dirs() for p in d.glob("*.toml")}
    return sorted(names)


def _resolve(name_or_path: str | Path) -> Path:
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise ScenarioError("scenario", str(name_or_path), "no such file")
        return path
    for d in scenario_dirs():
        if (d / f"{name_or_path}.toml").is_file():
            return d / f"{name_or_path}.toml"
    raise ScenarioError(
        "scenario",
        str(name_or_path),
        f"unknown scenario; built-in: {', '.join(builtin_scenarios())}",
    )


def read_toml(path: Path) -> dict:
    """Parse a TOML file, turning syntax errors into one readable line."""
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioFileError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ScenarioFileError(
            f"{path}: not a TOML text file (not UTF-8 at byte {exc.start}); "
            "a scenario or sweep spec is UTF-8 text"
        ) from None
    except OSError as exc:
        raise ScenarioFileError(f"{path}: cannot be read: {exc.strerror}") from None


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
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key != "rule":
            out[key] = deep_merge(out[key], value)
        elif key == "rule" and isinstance(value, dict) and isinstance(out.get(key), dict):
            same_kind = _same_rule(value.get("kind", out[key].get("kind")), out[key].get("kind"))
            out[key] = deep_merge(out[key], value) if same_kind else copy.deepcopy(value)
        else:
            out[key] = copy.deepcopy(value)
    return out


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
        path = _resolve(rel).resolve()
        if path in seen:
            raise ScenarioError("extends", name, "scenarios extend each other in a cycle")
        for key, layer in _keyed_layers(path, seen):
            if key not in {k for k, _ in chain}:
                chain.append((key, layer))
    return chain


def _keyed_layers(path: Path, seen: tuple[Path, ...] = ()) -> list[tuple[Path, dict]]:
    raw = read_toml(path)
    parent = raw.pop("extends", None)
    here = path.resolve()
    if parent is None:
        return [(here, raw)]
    return [*_parent_chain(parent, path.parent, (*seen, here)), (here, raw)]


def _layers_of(path: Path) -> list[dict]:
    """The raw tables of a scenario file and of the files it extends, root first."""
    return [raw for _, raw in _keyed_layers(path)]


def merge_layers(layers: Iterable[dict]) -> dict:
    """Lay raw tables over each other in order (later wins, table by table)."""
    out: dict = {}
    for layer in layers:
        out = deep_merge(out, layer)
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
        node[parts[-1]] = value.to_toml() if hasattr(value, "to_toml") else value
    return out


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
        layers = tuple(copy.deepcopy(list(layers)))
        return cls(layers, validate(merge_layers(layers)), origin)

    @classmethod
    def from_dict(cls, raw: dict, origin: str = "<dict>") -> Scenario:
        """Validate a raw scenario dict (as read from TOML; ``extends`` is honoured)."""
        raw = copy.deepcopy(raw)
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

    def get(self, dotted: str) -> Any:
        """The validated value at a dotted key such as ``rule.q``."""
        node: Any = self.data
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                raise ScenarioError(dotted, None, "no such key in the scenario")
            node = node[part]
        return node

    def with_overrides(self, overrides: dict[str, Any]) -> Scenario:
        """A new scenario with dotted keys (``"levers.kmo_portefeuille.take_up"``) replaced."""
        return Scenario.from_layers([*self.layers, nest(overrides)], self.origin)

    def with_draw(self, draw: dict[str, Any]) -> Scenario:
        """The scenario with a parameter draw laid just above its root file (see class doc)."""
        return Scenario.from_layers([self.layers[0], nest(draw), *self.layers[1:]], self.origin)


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load a built-in scenario by name (e.g. ``"baseline"``) or a TOML file by path.

    Raises:
        ScenarioError: unknown name or an invalid value (the message names the field).
        ScenarioFileError: the file is not valid TOML.
    """
    if isinstance(name_or_path, Scenario):
        return name_or_path
    path = _resolve(name_or_path)
    layers = _layers_of(path)
    if "name" not in merge_layers(layers).get("scenario", {}):
        layers.append({"scenario": {"name": path.stem}})
    return Scenario.from_layers(layers, str(path))
