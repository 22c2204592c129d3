"""The scenario-file reference, generated from the schema so the docs cannot drift from the code.

``python -m adoptsim.reference > docs/scenario_reference.md``; a test checks the file is current.
"""

from __future__ import annotations

from adoptsim import schema as S
from adoptsim.rules import RULES
from adoptsim.scenario import SPEC
from adoptsim.schedule import Schedule


def _value(spec: S.Field) -> str:
    if spec.kind == "map":
        return f"{spec.default:g} for each of {', '.join(spec.keys)}"
    if spec.kind == "schedule":
        d = S.default_of(spec, "x")
        v = d.to_toml() if isinstance(d, Schedule) else d
        return f"`{v}`".replace("|", "\\|")
    if spec.kind in ("choice",):
        return f"`{spec.default}` (one of {', '.join(spec.choices)})"
    if spec.kind == "choices":
        return f"`{spec.default}` (from {', '.join(spec.choices)})"
    return f"`{spec.default}`"


def _bounds(spec: S.Field) -> str:
    if spec.lo is None and spec.hi is None:
        return ""
    lo = "" if spec.lo is None else f"{spec.lo:g}"
    hi = "" if spec.hi is None else f"{spec.hi:g}"
    return f"[{lo}, {hi}]"


def _rows(table: dict, path: str) -> list[str]:
    out = []
    for key, spec in table.items():
        name = f"{path}.{key}" if path else key
        if isinstance(spec, dict):
            out.extend(_rows(spec, name))
            continue
        doc = spec.doc + (f" — source: {spec.source}" if spec.source else "")
        out.append(
            f"| `{name}` | {spec.kind} | {_value(spec)} | {_bounds(spec)} | {spec.unit} | "
            f"{doc.replace('|', '/')} |"
        )
    return out


def _cap_paragraph() -> str:
    """What the KMO-portefeuille cap does to the rates, with the default numbers."""
    k = S.validate_table({}, SPEC["levers"], "levers")["kmo_portefeuille"]
    cost = k["project_cost_eur"]
    cap = k["cap_small_eur"].values[-1]
    rate = k["rate_small"].values[-1]
    return (
        "**The KMO-portefeuille cap next to its rates.** A subsidised project gets "
        "min(rate × `project_cost_eur`, cap) / `project_cost_eur` of its cost covered "
        f"(`kmo_portefeuille` keys above). With the defaults — cost €{cost:,.0f}, cap "
        f"€{cap:,.0f}, small-firm rate {rate:.0%} — the subsidy is €{rate * cost:,.0f}, under "
        f"the cap; any rate above {cap / cost:.1%} adds nothing unless the cap rises too. "
        "`adoptsim run` and `adoptsim compare` print a note when a scenario raises a rate into "
        "the cap."
    )


def reference_markdown() -> str:
    """Markdown tables of every scenario key: kind, default, bounds, unit, meaning and source."""
    head = [
        "| key | kind | default | bounds | unit | meaning (source) |",
        "|---|---|---|---|---|---|",
    ]
    parts = [
        "# Scenario file reference",
        "",
        "Generated from the schema by `python -m adoptsim.reference`; do not edit by hand.",
        "Every table and key is optional; a missing one takes the default shown. Schedules are a",
        'number, a table `{ "YYYY-MM" = value, ... }` (steps) or `{ ramp = { ... } }` (linear).',
        "`extends` names a scenario (or a list of them) whose values this file overrides.",
        "",
        "**Dated tables in a file that extends another override from their first month on.**",
        "`rate_small = { \"2027-01\" = 0.60 }` in a child keeps the parent's (or the default's)",
        "values before 2027-01 and is 0.60 from then on. To replace the whole schedule instead",
        "(0 before the first month), mark the table: `rate_small = { replace = true,",
        '"2027-01" = 0.60 }`. A plain number always replaces the whole schedule. In a file that',
        "extends nothing, a dated table is the whole schedule. A scenario without",
        "`[scenario] name` is named after its file. `adoptsim run` saves the fully resolved",
        "scenario (every value, no `extends`) as `scenario.toml` in the run folder.",
        "",
    ]
    for section, spec in SPEC.items():
        parts += [f"## [{section}]", "", *head, *_rows(spec, section), ""]
        if section == "levers":
            parts += [_cap_paragraph(), ""]
    builtin = {k: c for k, c in RULES.items() if c.__module__ == "adoptsim.rules"}
    for kind, cls in builtin.items():
        parts += [
            f'## [rule] kind = "{kind}"',
            "",
            (cls.__doc__ or "").strip().splitlines()[0],
            "",
            *head,
            *_rows(cls.PARAMS, "rule"),
            "",
        ]
    parts += [
        "## Not modelled",
        "",
        "Only Flemish instruments are modelled: firms in Brussels (`BE-BRU`) and Wallonia",
        "(`BE-WAL`) of the `belgium` population get no subsidised project and no coaching, and",
        "their own schemes (e.g. Wallonia's chèques-entreprises) are left out, which understates",
        "support there; training is a generic lever for all regions unless",
        "`levers.training.flanders_only = true`. No Dutch",
        "instrument is modelled either. See `docs/evidence.md`.",
        "",
    ]
    return "\n".join(parts)


if __name__ == "__main__":
    print(reference_markdown())
