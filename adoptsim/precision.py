"""Monte-Carlo precision: a stratified design over the replications, and the MC error of medians.

A run's headline — the median over replications of, say, 2028-12 adoption — is a Monte-Carlo
estimate of the median of the posterior-predictive distribution, whose inputs are a posterior
draw, the prior-only parameters (`adoptsim.priors`) and the model's own randomness. Drawn
independently, ten replications pin that median to about ±10 pp only. So `simulate` draws its
inputs from a **stratified design** (`run_design`):

1. ``CANDIDATES × R`` candidate inputs are drawn independently (a posterior draw, uniformly
   among the shipped joint draws, and one uniform per prior) from the run's own stream
   ``(RUN_DESIGN, R, 0)`` (`adoptsim.streams`);
2. each candidate gets a *surrogate* outcome: its draw's proxy (the 2028-12 all-firm use of the
   baseline at 2,000 agents, one fixed seed, no prior draws) plus the priors' linear effects on
   it (fitted once on a pilot of 160 such runs). Both are shipped in
   ``calibration/joint/draw_proxy.json`` (``python -m adoptsim.precision`` rewrites it; it
   carries the hashes of ``posterior.csv`` and of the resolved baseline, and is recomputed, with
   a warning, when either is stale);
3. the candidates sorted by surrogate are cut into R equal strata, and replication r runs a
   candidate chosen uniformly within stratum r.

Every candidate has the same chance R/(CANDIDATES·R) of being run, so the replications are an
equal-probability sample of independent draws of the inputs (the median stays consistent), but
they span the distribution from its low to its high end: the surrogate correlates about 0.99
with the 20,000-agent value. The design depends on (seed, R) only, never on the worker count;
two scenarios run with one seed and R share it (common random numbers).

**MC standard error of a median** (`median_mc_error`): a parametric bootstrap of the design.
The R values are regressed on their surrogate (linear and squared); the residual spread stands
for everything the surrogate does not explain (the model's randomness, interactions, another
scenario's or another date's own response). The same design is drawn 200 times from an
independent stream, the values predicted plus normal residuals, and the standard deviation of
the 200 medians is the MC error. A quantity the surrogate does not explain keeps its whole
spread in the residuals, and the error falls back to that of a simple random sample
(≈ 1.25 σ/√R).
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Sequence
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

from adoptsim.posterior import POSTERIOR_NAME, calibration_dir, joint_table
from adoptsim.priors import PRIORS
from adoptsim.streams import MC_BOOTSTRAP, RUN_DESIGN, SURROGATE_PILOT, replication_seed, stream

CANDIDATES = 8_192  # at least this many candidate inputs per design
CANDIDATES_PER_REPLICATION = 16
PROXY = {
    "scenario": "baseline",
    "n_firms": 2_000,
    "seed": 0,
    "date": "2028-12",
    "pilot": 160,
    "pilot_stream": "SURROGATE_PILOT",
}
BOOTSTRAP_DESIGNS = 200
WARN_ABOVE = 0.01  # MC standard errors above 1 pp are flagged where they are printed


def _proxy_path(name: str = POSTERIOR_NAME) -> Path:
    return calibration_dir() / name / "draw_proxy.json"


def _scenario_sha() -> str:
    """Hash of the proxy scenario as resolved: a change to it (or its defaults) stales the file."""
    from adoptsim.scenario import load_scenario

    text = json.dumps(load_scenario(PROXY["scenario"]).resolved(), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _posterior_sha(name: str = POSTERIOR_NAME) -> str:
    return hashlib.sha256((calibration_dir() / name / "posterior.csv").read_bytes()).hexdigest()


def _final_use(sc, layer: dict, seed: int) -> float:
    from adoptsim.model import AdoptionModel
    from adoptsim.segments import segment_table

    model = AdoptionModel(
        sc.with_draw(layer),
        n_firms=PROXY["n_firms"],
        seed=replication_seed(PROXY["seed"], seed),
    )
    table = segment_table(model.run())
    row = table[(table.segment_type == "all") & (table.date == PROXY["date"])]
    return float(row.adopters_share.iloc[0])


def compute_surrogate(name: str = POSTERIOR_NAME) -> tuple[np.ndarray, np.ndarray]:
    """(proxy per joint draw, linear effect per prior) of the surrogate outcome (module doc).

    Deterministic (fixed seeds). About 0.1 s per run: one per draw plus the pilot.
    """
    from adoptsim.posterior import posterior_draw, split_overrides
    from adoptsim.priors import prior_draw
    from adoptsim.scenario import load_scenario

    sc = load_scenario(PROXY["scenario"])
    country = sc.data["calibration"]["posterior"]
    priors = sc.data["calibration"].get("priors", "none")
    draws = [
        split_overrides(posterior_draw(country, j)[1])[0] for j in range(len(joint_table(name)))
    ]
    proxy = np.array([_final_use(sc, layer, j) for j, layer in enumerate(draws)])
    order = np.argsort(proxy, kind="stable")
    n = PROXY["pilot"]
    rng = stream(PROXY["seed"], SURROGATE_PILOT, 0, 0)
    # Latin hypercube over the priors, draws spread over the proxy's range
    u = (np.argsort(rng.random((n, len(PRIORS))), axis=0) + rng.random((n, len(PRIORS)))) / n
    y = np.empty(n)
    for r in range(n):
        j = int(order[int((r + 0.5) * len(proxy) / n)])
        drawn = prior_draw(PROXY["seed"], r, priors, uniforms=u[r]) if priors != "none" else {}
        y[r] = _final_use(sc, {**drawn, **draws[j]}, len(proxy) + r) - proxy[j]
    X = np.column_stack([np.ones(n), u - 0.5])
    effects = np.linalg.lstsq(X, y, rcond=None)[0][1:]
    return proxy, effects


def write_surrogate(name: str = POSTERIOR_NAME) -> Path:
    """Compute the surrogate and write ``calibration/<name>/draw_proxy.json`` (with the hash)."""
    proxy, effects = compute_surrogate(name)
    path = _proxy_path(name)
    doc = {
        **PROXY,
        "posterior_sha256": _posterior_sha(name),
        "scenario_sha256": _scenario_sha(),
        "proxy": [round(float(v), 8) for v in proxy],
        "prior_effects": {
            p.parameter.name: round(float(c), 8) for p, c in zip(PRIORS, effects, strict=True)
        },
    }
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


@cache
def surrogate(name: str = POSTERIOR_NAME) -> tuple[np.ndarray, np.ndarray]:
    """The shipped (proxy per draw, effect per prior); recomputed with a warning if stale."""
    path = _proxy_path(name)
    if path.is_file():
        doc = json.loads(path.read_text(encoding="utf-8"))
        names = [p.parameter.name for p in PRIORS]
        if (
            doc.get("posterior_sha256") == _posterior_sha(name)
            and doc.get("scenario_sha256") == _scenario_sha()
            and all(doc.get(k) == v for k, v in PROXY.items())
            and list(doc.get("prior_effects", {})) == names
        ):
            return np.array(doc["proxy"], dtype=float), np.array(
                [doc["prior_effects"][n] for n in names], dtype=float
            )
    warnings.warn(
        f"{path} is missing or older than posterior.csv, the baseline or the priors: "
        "recomputing the design's surrogate (about 40 s; `python -m adoptsim.precision` "
        "writes it)",
        stacklevel=2,
    )
    return compute_surrogate(name)


def _designs(
    rng: np.random.Generator, n: int, n_designs: int, effects_only: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n_designs`` stratified designs of ``n`` replications: (draws, prior uniforms, surrogate).

    Shapes (n_designs, n), (n_designs, n, priors), (n_designs, n); row r of a design is stratum
    r (module doc). ``effects_only`` draws only the priors with a visible effect on the
    surrogate (what the MC-error bootstrap needs: it looks at the surrogate alone).
    """
    proxy, effects = surrogate()
    if effects_only:
        effects = effects[np.abs(effects) >= 0.02 * np.abs(effects).sum()]
    k = len(proxy)
    per = max(-(-CANDIDATES // k), -(-CANDIDATES_PER_REPLICATION * n // k))
    m = per * k  # every draw the same number of times among the candidates
    draws = np.argsort(rng.random((n_designs, m)), axis=1) % k
    u = rng.random((n_designs, m, len(effects)))
    value = proxy[draws] + (u - 0.5) @ effects
    order = np.argsort(value, axis=1, kind="stable")
    # stratum r: candidates [r·m/n, (r+1)·m/n) in surrogate order; one chosen uniformly
    pick = ((np.arange(n) + rng.random((n_designs, n))) * m / n).astype(int)
    chosen = np.take_along_axis(order, pick, axis=1)
    rows = np.arange(n_designs)[:, None]
    return draws[rows, chosen], u[rows, chosen], value[rows, chosen]


@lru_cache(maxsize=8)
def _bootstrap_surrogates(seed: int, n: int) -> np.ndarray:
    """Surrogate values of `BOOTSTRAP_DESIGNS` fresh designs like the run's, shape (B, n)."""
    rng = stream(seed, MC_BOOTSTRAP, n, 0)
    out = _designs(rng, n, BOOTSTRAP_DESIGNS, effects_only=True)[2]
    out.setflags(write=False)
    return out


@lru_cache(maxsize=32)
def run_design(seed: int, replications: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The run's design: per replication, (joint-draw index, prior uniforms, surrogate value).

    Depends on (``seed``, ``replications``) only (module doc). Read-only arrays.
    """
    rng = stream(int(seed), RUN_DESIGN, int(replications), 0)
    out = tuple(a[0] for a in _designs(rng, int(replications), 1))
    for a in out:
        a.setflags(write=False)
    return out  # type: ignore[return-value]


def median_mc_error(values: Sequence[float], *, seed: int, stratified: bool = True) -> float:
    """Monte-Carlo standard error of the median of ``values`` (one per replication, in order).

    Args:
        values: the quantity per replication r = 0, 1, … of a run (a share, or a paired
            difference of shares); its design is ``run_design(seed, len(values))``.
        seed: the run's seed.
        stratified: whether the run used the design (False: independent draws, or none).

    Returns:
        The standard error in the unit of ``values`` (NaN with fewer than 3 replications). See
        the module doc for the method.
    """
    y = np.asarray(values, dtype=float)
    n = len(y)
    if n < 3 or not np.all(np.isfinite(y)):
        return float("nan")
    if stratified:
        s = run_design(seed, n)[2]
        mu, scale = float(s.mean()), float(s.std()) or 1.0
        z = (s - mu) / scale
        X = np.column_stack([np.ones(n), z, z**2][: max(1, min(3, n - 2))])
    else:
        X = np.ones((n, 1))
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ beta
    sigma = float(np.sqrt(resid @ resid / max(n - X.shape[1], 1)))
    fit = np.full((BOOTSTRAP_DESIGNS, n), beta[0])
    if stratified and X.shape[1] > 1:
        zs = (_bootstrap_surrogates(int(seed), n) - mu) / scale
        fit = fit + sum(beta[k] * zs**k for k in range(1, X.shape[1]))
    # residual noise from its own stream (the designs above are shared by every quantity)
    noise = stream(int(seed), MC_BOOTSTRAP, n, 1)
    sims = fit + sigma * noise.standard_normal((BOOTSTRAP_DESIGNS, n))
    return float(np.std(np.median(sims, axis=1), ddof=1))


def table_mc_error(table: pd.DataFrame, *, seed: int, column: str = "adopters_share") -> float:
    """MC standard error of the median over replications of one month × segment of a run.

    Args:
        table: rows of one date and segment, one per replication, with columns ``replication``,
            ``draw`` (−1 throughout: no posterior) and ``column`` — a slice of an ``adoption``
            table, or of paired differences.
        seed: the run's seed.
        column: the value column.

    Returns:
        The standard error of the median, in the column's unit (`median_mc_error`).
    """
    rows = table.sort_values("replication")
    return median_mc_error(rows[column].to_numpy(), seed=seed)


def headline_mc_error(adoption: pd.DataFrame, seed: int, column: str = "adopters_share") -> float:
    """MC standard error of the last month's all-firm median of a run's ``adoption`` table."""
    last = adoption[(adoption.segment_type == "all") & (adoption.date == adoption.date.max())]
    return table_mc_error(last, seed=seed, column=column)


def run_summary(adoption: pd.DataFrame, seed: int, name: str) -> list[str]:
    """Lines for the console: last-month medians with their MC errors, then any warnings."""
    last = adoption[(adoption.segment_type == "all") & (adoption.date == adoption.date.max())]
    when, n = last.date.iloc[0], last.replication.nunique()
    se = {
        c: table_mc_error(last, seed=seed, column=c) for c in ("adopters_share", "at_scale_share")
    }
    lines = [
        f"{name}: {when} uses AI {last.adopters_share.median():.1%} "
        f"({precision_note(se['adopters_share'])}), at scale {last.at_scale_share.median():.1%} "
        f"({precision_note(se['at_scale_share'])}; not identified by any survey): medians of "
        f"{n} replications (a stratified design over posterior and prior draws; "
        "MC s.e. = Monte-Carlo standard error, docs/uncertainty.md)"
    ]
    for column, what in (("adopters_share", "median"), ("at_scale_share", "at-scale median")):
        warning = precision_warning(se[column], f"the {when} {what}")
        if warning:
            lines.append(f"{name}: {warning}")
    return lines


def precision_note(se: float) -> str:
    """'± x.x pp MC s.e.' for a standard error given as a share (n/a below 3 replications)."""
    if not np.isfinite(se):
        return "MC s.e. n/a"
    return f"± {100 * se:.1f} pp MC s.e."


def precision_warning(se: float, what: str) -> str | None:
    """A warning line when the MC standard error of ``what`` is above `WARN_ABOVE`, else None."""
    if not np.isfinite(se):
        return (
            f"warning: the Monte-Carlo error of {what} cannot be estimated from fewer than 3 "
            "replications: run more"
        )
    if se <= WARN_ABOVE:
        return None
    return (
        f"warning: the Monte-Carlo standard error of {what} is {100 * se:.1f} pp, above 1 pp: "
        "run more replications"
    )


if __name__ == "__main__":
    print(f"wrote {write_surrogate()}")
