"""Can the model fit the targets at all? A direct, simulation-based least-squares check.

    python calibration/structure.py [--firms 10000] [--starts 2] [--max-evals 30]

Separates a structural misfit (no parameter vector reproduces the targets) from an inference
miss (the emulator or the sampler does not find the vectors that do). No emulator: every
evaluation simulates both countries (common random numbers: seed 0, one replication of
`--firms` agents) and scipy's trust-region least squares minimises the in-sample adoption
residuals scaled by the acceptance tolerance max(2 se, 0.02) (the CBS 2019 series, not
comparable, at twice that). The same parameters as the shipped calibration are free, the same
are held at `DEFAULT_FIXED`, within the same prior bounds. Starts: the shipped posterior's mean
and draws of it. Writes calibration/structure/structure.json (best share within tolerance per
start) and best.csv (the best start's targets); `calibration/report.py` shows them.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from adoptsim.fit.likelihood import Likelihood, prepare
from adoptsim.fit.targets import SIM_INDEX
from adoptsim.observe import load_targets
from adoptsim.posterior import COUNTRIES, DEFAULT_FIXED, JOINT, effective_values, joint_table
from adoptsim.priors import PRIORS, prior_draw

CHECKED = ("barometer", "ict_survey")


def prior_noise(data, keep, theta, free, held, lik, replications: int = 16) -> tuple[dict, list]:
    """What the prior-only parameters do to the in-sample targets at the optimum ``theta``.

    The fit marginalises them (each design point's simulations draw their own values), so
    their spread enters the likelihood beside the survey's se. Returns that spread over
    ``replications`` draws (sd per target, pooled over the checked rows, in shares, against
    the rows' se) and each prior's one-at-a-time influence: the largest and the mean absolute
    change of a checked target between the ends of its range (the others at mid-range), the
    same seed. Shares, not pp.
    """
    params = (*free, *held)
    full = np.concatenate([theta, [DEFAULT_FIXED[p.name] for p in held]])[None, :]

    def observed(country, d, uniforms=None):
        eff = effective_values(params, full, country)
        sim = eff[0, list(SIM_INDEX)]
        a = lik.observation_matrix(d, eff)[0]
        if uniforms is None:  # marginalised: the replications' own draws
            d.model.marginalise, d.model.replications = "all", replications
            try:
                return d.model(sim) @ a.T
            finally:
                d.model.marginalise, d.model.replications = "none", 1
        scenario = d.model.scenario(sim).with_draw(prior_draw(0, 0, "all", uniforms))
        return a @ d.model.latents(scenario, 0)

    sds, ses = [], []
    for c, d in data.items():
        checked = keep[c] & np.isin(d.survey, CHECKED)
        sds.append(observed(c, d).std(axis=0, ddof=1)[checked])
        ses.append(d.rows.se.to_numpy()[checked])
    sd, se = np.concatenate(sds), np.concatenate(ses)
    spread = {
        "replications": replications,
        "median_sd": float(np.median(sd)),
        "max_sd": float(sd.max()),
        "median_se": float(np.median(se)),
    }
    influence = []
    for i, prior in enumerate(PRIORS):
        change = []
        for c, d in data.items():
            checked = keep[c] & np.isin(d.survey, CHECKED)
            ends = []
            for end in (0.0, 1.0):
                u = np.full(len(PRIORS), 0.5)
                u[i] = end
                ends.append(observed(c, d, u)[checked])
            change.append(np.abs(ends[1] - ends[0]))
        change = np.concatenate(change)
        influence.append(
            {"name": prior.parameter.name, "max": float(change.max()), "mean": float(change.mean())}
        )
    influence.sort(key=lambda r: -r["max"])
    return spread, influence


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--firms", type=int, default=10000)
    ap.add_argument("--starts", type=int, default=2)
    ap.add_argument("--max-evals", type=int, default=30)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "structure"))
    args = ap.parse_args()
    t0 = time.perf_counter()
    data, _ = prepare(COUNTRIES, load_targets(), None, args.firms, 0, 1)
    for d in data.values():
        # a deterministic objective for finite differences: the prior-only parameters at the
        # scenario's values (the question is whether *some* setting reaches the targets)
        d.model.marginalise = "none"
    free = tuple(p for p in JOINT if p.kind != "discrepancy" and p.name not in DEFAULT_FIXED)
    held = tuple(p for p in JOINT if p.name in DEFAULT_FIXED)
    lik = Likelihood(free, dict(DEFAULT_FIXED), data)
    lo = np.array([p.lo for p in free])
    hi = np.array([p.hi for p in free])
    keep = {
        c: d.rows.segment_type.isin(["all", "size", "sector"]).to_numpy() for c, d in data.items()
    }

    def observed(u: np.ndarray) -> dict[str, np.ndarray]:
        theta = lo + np.clip(u, 0, 1) * (hi - lo)
        params = (*free, *held)
        full = np.concatenate([theta, [DEFAULT_FIXED[p.name] for p in held]])[None, :]
        out = {}
        for c, d in data.items():
            eff = effective_values(params, full, c)
            latent = d.model(eff[0, list(SIM_INDEX)]).mean(axis=0)
            out[c] = lik.observation_matrix(d, eff)[0] @ latent
        return out

    def residuals(u: np.ndarray) -> np.ndarray:
        res = []
        for c, o in observed(u).items():
            d = data[c]
            tol = np.maximum(2 * d.rows.se.to_numpy(), 0.02)
            tol = tol * np.where(d.survey == "ict_survey_old", 2.0, 1.0)
            res.append(((o - d.y) / tol)[keep[c]])
        return np.concatenate(res)

    post = joint_table()
    names = [p.name for p in free]
    rng = np.random.default_rng(0)
    starts = [post[names].mean().to_numpy()]
    starts += [post[names].iloc[i].to_numpy() for i in rng.choice(len(post), args.starts - 1)]
    report, best = [], None
    for k, x0 in enumerate(starts):
        u0 = np.clip((x0 - lo) / (hi - lo), 0.01, 0.99)
        r0 = residuals(u0)
        sol = least_squares(residuals, u0, bounds=(0, 1), diff_step=0.03, max_nfev=args.max_evals)
        obs = observed(sol.x)
        rows = []
        for c, d in data.items():
            part = d.rows[["id", "survey", "segment_type", "date", "value", "se"]].copy()
            part["simulated"] = obs[c]
            rows.append(part[keep[c]])
        table = pd.concat(rows, ignore_index=True)
        checked = table[table.survey.isin(CHECKED)]
        ok = (checked.simulated - checked.value).abs() <= (2 * checked.se).clip(lower=0.02)
        item = {
            "start": "posterior mean" if k == 0 else f"posterior draw {k}",
            "cost_start": float(0.5 * np.sum(r0**2)),
            "cost_end": float(sol.cost),
            "within": int(ok.sum()),
            "targets": len(checked),
            "evaluations": int(sol.nfev),
            "theta": dict(zip(names, map(float, lo + sol.x * (hi - lo)), strict=True)),
        }
        report.append(item)
        print(f"start {k}: within {item['within']}/{item['targets']} ({item['cost_end']:.2f})")
        if best is None or sol.cost < best[0]:
            best = (sol.cost, table.assign(within=ok.reindex(table.index)), sol.x)
    spread, influence = prior_noise(data, keep, lo + best[2] * (hi - lo), free, held, lik)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    best[1].to_csv(out / "best.csv", index=False, float_format="%.5g")
    meta = {
        "firms": args.firms,
        "held": DEFAULT_FIXED,
        "free": names,
        "max_evals": args.max_evals,
        "starts": report,
        "prior_spread": spread,
        "prior_influence": influence,
        "runtime_s": time.perf_counter() - t0,
    }
    (out / "structure.json").write_text(json.dumps(meta, indent=2))


if __name__ == "__main__":
    main()
