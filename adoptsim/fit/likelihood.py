"""The joint likelihood of the calibration targets, and the per-country data it is built from."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from adoptsim.fit.discrepancy import correlation, series_lags
from adoptsim.fit.emulator import Emulator
from adoptsim.fit.evaluations import LatentModel
from adoptsim.fit.targets import (
    ADOPTION_SEGMENTS,
    NOT_FITTED_STATUS,
    OBS_NAMES,
    SIM_INDEX,
    calibration_scenario,
    select_targets,
    survey_covariance,
    target_weights,
)
from adoptsim.months import format_month, parse_month
from adoptsim.observe import (
    Observation,
    target_cells,
)
from adoptsim.posterior import (
    EFFECTIVE,
    JointParameter,
    effective_values,
    joint_parameters,
)
from adoptsim.simulation import run_replication


# --- step 4: likelihood ------------------------------------------------------------
@dataclass
class CountryData:
    """One country's targets, their covariance and how they read the latent outputs."""

    country: str
    rows: pd.DataFrame
    model: LatentModel
    y: np.ndarray
    cov: np.ndarray
    se_eff: np.ndarray
    adoption: np.ndarray
    latent_row: np.ndarray  # latent j belongs to row latent_row[j]
    latent_kind: np.ndarray  # 0 users, 1 at scale
    detect_weight: np.ndarray  # per row: weight of ict_detect_gen in d(t) (0..1)
    survey: np.ndarray
    lags: np.ndarray  # years between waves of one series (NaN across series)


@dataclass
class Likelihood:
    """log p(targets | joint parameters) through the emulators and observation models."""

    params: tuple[JointParameter, ...]
    fixed: dict[str, float]
    data: dict[str, CountryData]
    emulators: dict[str, Emulator] = field(default_factory=dict)
    inputs: dict[str, np.ndarray] = field(default_factory=dict)  # emulator input columns
    # Per country, the covariance of the latent outputs of one simulation between seeds (and
    # draws of the marginalised prior-only parameters): how far the world, one such draw, can sit
    # from the emulated mean (`adoptsim.fit.design.simulation_noise`).
    sim_var: dict[str, np.ndarray] = field(default_factory=dict)

    def full(self, theta: np.ndarray) -> tuple[tuple[JointParameter, ...], np.ndarray]:
        """Joint parameters including fixed ones, and the matching values (m × all)."""
        extra = [p for p in joint_parameters(tuple(self.data)) if p.name in self.fixed]
        if not extra:
            return self.params, theta
        cols = [theta] + [np.full((theta.shape[0], 1), self.fixed[p.name]) for p in extra]
        return (*self.params, *extra), np.hstack(cols)

    def observation_matrix(self, data: CountryData, eff: np.ndarray) -> np.ndarray:
        """(m × rows × latents) matrices: observed = A · latent, per parameter draw."""
        obs = {n: eff[:, [p.name for p in EFFECTIVE].index(n)] for n in OBS_NAMES}
        default = Observation()
        for n, v in obs.items():
            obs[n] = np.where(np.isnan(v), getattr(default, n), v)
        m = eff.shape[0]
        k, nl = len(data.y), len(data.latent_row)
        a = np.zeros((m, k, nl))
        d = np.ones((m, k))
        ict = data.survey == "ict_survey"
        w = data.detect_weight[ict]
        d[:, ict] = obs["ict_detect_pre"][:, None] * (1 - w) + obs["ict_detect_gen"][:, None] * w
        old = data.survey == "ict_survey_old"
        d[:, old] = obs["ict_old_detection"][:, None]
        rows, kind = data.latent_row, data.latent_kind
        single = np.bincount(rows, minlength=k)[rows] == 1
        coef = np.where(single, 1.0, np.where(kind == 0, d[:, rows], 1.0 - d[:, rows]))
        a[:, rows, np.arange(nl)] = coef
        return a

    def moments(self, country: str, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Predicted observed means (m × rows) and covariance (m × rows × rows) of a country.

        The covariance here is the emulator's only (no survey noise or discrepancy).
        """
        params, full = self.full(theta)
        eff = effective_values(params, full, country)
        x = eff[:, list(self.inputs[country])]
        z, cz = self.emulators[country].predict(x)
        # The emulator works on logit shares (logistic responses are closer to linear there);
        # back to shares with the delta method.
        mu = 1.0 / (1.0 + np.exp(-z))
        jac = mu * (1.0 - mu)
        c = cz * jac[:, :, None] * jac[:, None, :]
        if country in self.sim_var:
            c = c + self.sim_var[country]
        a = self.observation_matrix(self.data[country], eff)
        mean = (a @ mu[:, :, None])[:, :, 0]
        cov = a @ c @ a.transpose(0, 2, 1)
        return mean, cov

    def _column(self, theta: np.ndarray, name: str) -> np.ndarray:
        """Parameter `name` of each draw, fixed ones included (0 if not a parameter)."""
        params, full = self.full(theta)
        names = [p.name for p in params]
        return full[:, names.index(name)] if name in names else np.zeros(len(full))

    def discrepancy(self, theta: np.ndarray) -> np.ndarray:
        """The discrepancy scale φ of each draw (0 if not a parameter)."""
        return self._column(theta, "discrepancy")

    def discrepancy_corr(self, theta: np.ndarray) -> np.ndarray:
        """The discrepancy's correlation ρ between waves a year apart (0 if not a parameter)."""
        return self._column(theta, "discrepancy_corr")

    def __call__(self, theta: np.ndarray) -> np.ndarray:
        """Log likelihood + log prior for draws `theta` (m × free parameters)."""
        theta = np.atleast_2d(theta)
        lp = np.zeros(theta.shape[0])
        for j, p in enumerate(self.params):
            lp += p.log_prior(theta[:, j])
        ok = np.isfinite(lp)
        if not ok.any():
            return lp
        th = theta[ok]
        phi = self.discrepancy(th)
        rho = self.discrepancy_corr(th)
        ll = np.zeros(th.shape[0])
        for country, data in self.data.items():
            mean, cov = self.moments(country, th)
            p = np.clip(mean, 1e-4, 1 - 1e-4)
            # discrepancy sd per row, correlated over time within a series (fit.discrepancy)
            s = phi[:, None] * np.sqrt(p * (1 - p) * data.adoption)
            corr = correlation(data.lags, rho)
            total = cov + data.cov + s[:, :, None] * s[:, None, :] * corr
            chol = np.linalg.cholesky(total)
            resid = data.y - mean
            z = np.linalg.solve(chol, resid[:, :, None])[:, :, 0]
            ll += -0.5 * np.sum(z**2, axis=1) - np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(
                axis=1
            )
        lp[ok] += ll
        return lp


def prepare(
    countries: tuple[str, ...],
    targets: pd.DataFrame,
    origin: str | None,
    n_firms: int | None,
    seed: int,
    replications: int,
    cutoff: str | None = None,
) -> tuple[dict[str, CountryData], pd.DataFrame]:
    """Step 1: targets per country, their covariance, latent layout; rows left out.

    The calibration scenario runs to the last target used (past its own end when a later
    cutoff admits later waves).
    """
    data, left = {}, []
    for country in countries:
        rows, left_out = select_targets(targets, country, origin, cutoff)
        soft = rows.status.isin(list(NOT_FITTED_STATUS)).to_numpy()
        left_out = pd.concat(
            [left_out, rows[soft].assign(reason=rows.status[soft].map(NOT_FITTED_STATUS))],
            ignore_index=True,
        )
        rows = rows[~soft].reset_index(drop=True)
        left.append(left_out)
        base = calibration_scenario(country)
        last = int(rows.date.map(parse_month).max())
        base = base.with_overrides({"scenario.end": format_month(max(last, base.start + 1))})
        records = rows[["id", "survey", "geography", "segment_type", "segment", "date"]].to_dict(
            "records"
        )
        model = LatentModel(
            country,
            base.raw,
            records,
            base.n_agents(n_firms),
            seed,
            replications,
        )
        # One run at the scenario's own values gives the cells' firm weights (the population is
        # drawn from the same seed whatever the parameters).
        record = run_replication(
            base, n_firms=model.n_firms, seed=seed, replication=0, use_posterior=False
        )
        obs = Observation()
        masks = [
            target_cells(r, record, obs)
            if r.segment_type in ADOPTION_SEGMENTS
            else np.zeros(len(record.firms), bool)
            for _, r in rows.iterrows()
        ]
        lay = model.layout()
        start = parse_month(obs.detect_ramp_start)
        months = rows.date.map(parse_month).to_numpy()
        data[country] = CountryData(
            country,
            rows,
            model,
            rows.value.to_numpy(float),
            survey_covariance(rows, masks, record.firms),
            rows.se.to_numpy() / np.sqrt(target_weights(rows)),
            rows.segment_type.isin(ADOPTION_SEGMENTS).to_numpy(float),
            np.array([i for i, _ in lay]),
            np.array([0 if k == "users" else 1 for _, k in lay]),
            np.clip((months - start) / obs.detect_ramp_months, 0.0, 1.0),
            rows.survey.to_numpy(),
            series_lags(rows),
        )
    return data, pd.concat(left, ignore_index=True)


# --- step 3: emulator ------------------------------------------------------------
def fit_emulators(
    lik: Likelihood, design: dict[str, tuple[np.ndarray, np.ndarray]], seed: int
) -> dict[str, dict]:
    """Step 3: an emulator per country on the design; returns held-out checks per country.

    One tenth of the design points (every tenth) are held out first: the emulator fitted on the
    rest predicts them (with the simulation noise of one evaluation in the interval), then the
    final emulator is refitted on all points.
    """
    checks = {}
    for country, (x_all, y_all) in design.items():
        varying = np.flatnonzero(x_all.max(axis=0) > x_all.min(axis=0))
        x = x_all[:, varying]
        lo, hi = x.min(axis=0), x.max(axis=0)
        data = lik.data[country]
        # A denominator with no agents (a small segment in a small population) reads NaN.
        y_all = np.where(np.isfinite(y_all), y_all, np.nanmean(y_all, axis=0))
        y_all = np.nan_to_num(y_all, nan=0.5)
        p = np.clip(y_all, 1e-4, 1 - 1e-4)
        z_all = np.log(p / (1 - p))
        pm = p.mean(axis=0)
        scale = data.se_eff[data.latent_row] / (pm * (1 - pm))  # se on the logit scale
        hold = np.zeros(len(x), bool)
        hold[::10] = True
        check: dict = {"design_points": len(x)}
        if hold.sum() >= 3 and (~hold).sum() > 2 * len(varying):
            emu = Emulator.fit(x[~hold], z_all[~hold], lo, hi, scale, seed=seed)
            zm, cov = emu.predict(x[hold], include_noise=True)
            mean = 1 / (1 + np.exp(-zm))
            sd = np.sqrt(np.diagonal(cov, axis1=1, axis2=2)) * mean * (1 - mean)
            scale = data.se_eff[data.latent_row]
            z = (y_all[hold] - mean) / sd
            total = ((y_all[hold] - y_all[hold].mean(axis=0)) ** 2).sum(axis=0)
            r2 = 1 - ((y_all[hold] - mean) ** 2).sum(axis=0) / np.where(total > 0, total, 1)
            check |= {
                "held_out": int(hold.sum()),
                "held_out_r2_median": float(np.median(r2)),
                "held_out_r2_min": float(r2.min()),
                "held_out_rmse_in_se": float(np.sqrt(np.mean(((y_all[hold] - mean) / scale) ** 2))),
                "held_out_within_90": float(np.mean(np.abs(z) <= 1.645)),
            }
        logit_scale = data.se_eff[data.latent_row] / (pm * (1 - pm))
        emu = Emulator.fit(x, z_all, lo, hi, logit_scale, seed=seed)
        check["components"] = emu.components
        lik.emulators[country] = emu
        lik.inputs[country] = np.array(SIM_INDEX)[varying]
        checks[country] = check
    return checks
