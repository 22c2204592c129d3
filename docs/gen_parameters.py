"""Generate docs/parameters.md: every parameter the baseline scenario uses, with its value.

    python docs/gen_parameters.py > docs/parameters.md

Values come from ``adoptsim.load_scenario("baseline")`` and the schema (unit, source, meaning);
calibrated parameters (``adoptsim.posterior.PARAMETERS["flanders"]``) show the median and 90 %
interval of Flanders' effective values of the shipped joint draws
(``calibration/joint/posterior.csv``), or "calibration pending" while that file does not exist.
``tests/test_docs.py`` checks the page is current.
"""

from __future__ import annotations

import dataclasses
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's adoptsim

import pandas as pd

from adoptsim.months import format_month
from adoptsim.observe import Observation
from adoptsim.policy import high_risk_dates
from adoptsim.posterior import PARAMETERS, calibration_dir, held_parameters, posterior_table
from adoptsim.rules import rule_class
from adoptsim.scenario import SPEC, load_scenario, merge_layers
from adoptsim.schedule import Schedule

POPULATION = "flanders"
SKIP = {"scenario.name", "scenario.description", "scenario.rationale"}
OBSERVATION_DOCS = {
    "barometer_min_employees": (
        "AI-barometer: smallest firm (employees) in its sample frame (frame unpublished; E)",
        "employees",
    ),
    "ict_detect_pre": (
        "ICT survey: chance that a light (not at-scale) user reports AI, before generative tools",
        "probability",
    ),
    "ict_detect_gen": (
        "ICT survey: chance that a light user reports AI once generative tools are widespread",
        "probability",
    ),
    "detect_ramp_start": (
        "ICT survey: month the light-user detection starts moving from pre to gen (ChatGPT; E)",
        "month",
    ),
    "detect_ramp_months": (
        "ICT survey: months over which light-user detection moves from pre to gen (E)",
        "months",
    ),
    "ict_old_detection": (
        "CBS 2019 (older technology list): chance that a light user reports; Dutch targets only",
        "probability",
    ),
    "ict_break_2025": (
        "ICT survey from 2025 (8th technology, generative items): multiplier of light-user "
        "detection; prior uniform 1.0–1.4, never fitted (no post-2024 wave is used)",
        "factor",
    ),
}
HIGH_RISK = {"regulation.high_risk_annex_iii": 0, "regulation.high_risk_annex_i": 1}
SECTIONS = {
    "scenario": "Run",
    "population": "Population",
    "barriers": "Barriers",
    "network": "Peer network",
    "levers": "Policy levers",
    "calibration": "Calibration",
    "regulation": "Regulation (EU AI Act)",
    "shocks": "Technology shocks",
}


def _num(v: float) -> str:
    if isinstance(v, float) and abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _value(v: object) -> str:
    if isinstance(v, Schedule):
        v = v.to_toml()
    if isinstance(v, dict) and "ramp" in v:
        return "linear ramp " + "; ".join(f"{k}: {_num(x)}" for k, x in v["ramp"].items())
    if isinstance(v, dict):
        return "; ".join(f"from {k}: {_num(x)}" for k, x in v.items())
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return ", ".join(map(str, v)) or "none"
    if v is None:
        return "—"
    return _num(v)


def _status(doc: str, source: str, explicit: bool, default: str) -> str:
    text = f"{doc} {source}"
    if "status U" in text:
        return "U"
    if re.search(r"\(E[);]|\bE\)|estimate", text):
        return "E"
    if source:
        return source
    return "set in baseline.toml" if explicit else default


def _posterior() -> pd.DataFrame | None:
    path = calibration_dir() / "joint" / "posterior.csv"
    return posterior_table(POPULATION) if path.is_file() else None


def _has(raw: dict, dotted: str) -> bool:
    node: object = raw
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def _fields(spec: dict, path: str):
    """(dotted key, Field, map key or None) for every leaf of a schema table."""
    for key, sub in spec.items():
        name = f"{path}.{key}" if path else key
        if isinstance(sub, dict):
            yield from _fields(sub, name)
        elif name in SKIP:
            continue
        elif sub.kind == "map":
            for k in sub.keys:
                yield f"{name}.{k}", sub, k
        else:
            yield name, sub, None


def _cell(text: str) -> str:
    return text.replace("|", "/").replace("\n", " ")


def parameters_markdown() -> str:
    """The whole page as markdown."""
    sc = load_scenario("baseline")
    raw = merge_layers(sc.layers)
    draws = _posterior()
    held = held_parameters()
    uses = sc.data["calibration"]["posterior"]
    calibrated = {key: p for p in PARAMETERS[POPULATION] for key in p.keys}
    transferred = {
        key: p
        for other, params in PARAMETERS.items()
        if other != POPULATION
        for p in params
        for key in p.keys
        if key not in calibrated
    }
    if draws is None:
        note = (
            "**Calibration pending**: `calibration/joint/posterior.csv` is not shipped "
            "yet, so calibrated parameters show the baseline file's (provisional, hand-set) value."
        )
    else:
        note = (
            f"Calibrated parameters show the median and 90 % interval (5–95 %) of the "
            f"{len(draws)} shipped joint draws in `calibration/joint/posterior.csv` (Flanders' "
            "effective values: shared value, or mean − deviation for pooled parameters)."
        )
    if uses == POPULATION:
        note += (
            f' The baseline names this posterior (`calibration.posterior = "{uses}"`): '
            "`simulate` runs replication r with the draw of stratum r of its stratified design "
            "(`adoptsim.precision`), laid above the baseline file."
        )
    else:
        note += (
            f' The baseline sets `calibration.posterior = "{uses}"`, so a plain `adoptsim run '
            "baseline` uses the value marked *file* or *default* until it names the posterior."
        )

    def row(
        name: str,
        value: object,
        unit: str,
        doc: str,
        source: str,
        explicit: bool,
        default: str = "schema default",
    ) -> str:
        where = "file" if explicit else "default"
        if name in calibrated:
            p = calibrated[name]
            tied = f" (parameter `{p.name}`, bounds [{p.lo:g}, {p.hi:g}])"
            if draws is None:
                shown, status = f"{_value(value)} ({where})", "calibration pending"
            elif p.name in held:
                # A constant column of the posterior is not a fitted value: say it is held, so
                # nobody reads a degenerate interval as a precise estimate.
                shown = f"**{held[p.name]:.4g}** (held)"
                status = "held, not fitted: its uncertainty is not in the bands (calibration page)"
            else:
                col = draws[p.name]
                q05, q50, q95 = col.quantile([0.05, 0.5, 0.95])
                shown = f"**{q50:.3g}** [{q05:.3g}, {q95:.3g}]"
                if uses != POPULATION:
                    shown += f"; {where} {_value(value)}"
                status = f"calibrated ({POPULATION} posterior)"
            doc = doc + tied
        else:
            shown = _value(value)
            status = _status(doc, source, explicit, default)
            if name in transferred and explicit:
                status = f"netherlands posterior mean (`{transferred[name].name}`), transferred"
        meaning = doc + (f" — source: {source}" if source and status != source else "")
        return f"| `{name}` | {_cell(shown)} | {unit} | {_cell(status)} | {_cell(meaning)} |"

    head = ["| parameter | value | unit | status | meaning |", "|---|---|---|---|---|"]
    out = [
        "# Parameters of the baseline",
        "",
        "Generated by `python docs/gen_parameters.py > docs/parameters.md` from the `baseline`",
        "scenario, the scenario schema and the shipped calibration; do not edit by hand",
        "(`tests/test_docs.py` checks the page is current).",
        "",
        note,
        "",
        "**Status**: *calibrated* — fitted to the targets (see the calibration page); *held* — a",
        "calibration parameter the shipped fit holds at a documented value (the calibration page",
        "says why and where each value comes from; its range is the parameter's bounds);",
        "**E** — our estimate or judgement; **U** — unverified figure of the seed document;",
        "otherwise the source of the value (a data table row or reference), `set in baseline.toml`",
        "(chosen by hand for the baseline) or `schema default`. Schedules read *from month:",
        "value*. Bounds and defaults of every key are in the",
        "[scenario file reference](scenario_reference.md);",
        "the population tables behind the firms are described in [Population](population.md).",
        "",
    ]
    for section, spec in SPEC.items():
        out += [f"## {SECTIONS.get(section, section)}", "", *head]
        for name, f, _ in _fields(spec, section):
            value = sc.get(name)
            if name in HIGH_RISK and value is None:
                date = format_month(high_risk_dates(sc.data["regulation"])[HIGH_RISK[name]])
                value = f"— ({date} from the {sc.get('regulation.timeline')} timeline)"
            out.append(row(name, value, f.unit, f.doc, f.source, _has(raw, name)))
        out.append("")
    kind = sc.data["rule"]["kind"]
    cls = rule_class(kind)
    first = (cls.__doc__ or "").strip().splitlines()[0]
    out += [f'## Adoption rule (`kind = "{kind}"`)', "", first, "", *head]
    for name, f, _ in _fields(cls.PARAMS, "rule"):
        out.append(row(name, sc.get(name), f.unit, f.doc, f.source, _has(raw, name)))
    out += [
        "",
        "## Observation models",
        "",
        "Settings of the survey observation models (`adoptsim.observe.Observation`); they are not",
        "scenario keys and do not change the simulation, only what a survey would read of it.",
        "",
        *head,
    ]
    obs = Observation()
    for fld in dataclasses.fields(Observation):
        doc, unit = OBSERVATION_DOCS.get(fld.name, ("see `adoptsim.observe`", ""))
        name = f"observe.{fld.name}"
        out.append(row(name, getattr(obs, fld.name), unit, doc, "", False, "default"))
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":
    print(parameters_markdown(), end="")
