"""Evidence for the generative-AI shock across the EU-27: a prior for the agent model's shock.

`shock_prior` fits the panel benchmark's hierarchical hazard model
([`adoptsim.fit.hazard`][adoptsim.fit.hazard]) on the waves up to an origin (at least the 2024
wave: the jump year is 2023-03 to 2024-03) and summarises, across the 27 countries, the ratio of
the annual hazard among non-users in the jump year (2023→24) to the hazard before it (2021→23):
the common ratio ``exp(J)``, its cross-country spread ``σⱼ`` and the predictive ratio for one
country drawn from the pool, ``exp(J + jₛ)``. Raw two-wave ratios are shown beside the pooled
ones: for several countries the 2021→23 share fell, so a raw ratio is undefined there, which is
why the ratio is estimated with partial pooling and wave noise rather than read off.

The panel has one wave after the jump year's start, so it says how big the step was, not where
the hazard goes after 2024-03: the shock prior says the hazard stepped up once; a path that keeps
accelerating after the data needs evidence the panel does not have.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from adoptsim import streams
from adoptsim.errors import ScenarioError
from adoptsim.months import parse_month


@dataclass
class ShockPrior:
    """The jump in the non-user hazard across countries, as a log-normal prior.

    Attributes:
        origin: last month of the waves fitted.
        log_ratio_mean: mean of ``log(λ₂/λ₁)`` for one country drawn from the pool (the prior
            for a country's shock multiplier, e.g. Belgium's in the agent model).
        log_ratio_sd: its sd: uncertainty of the common jump plus the cross-country spread.
        ratio_median, ratio_p05, ratio_p95: the same prior on the ratio scale.
        common_median, common_p05, common_p95: the common ratio ``exp(J)``.
        spread_median: median of the cross-country sd ``σⱼ`` of the log ratio.
        hazard_before, hazard_after: median annual hazards (``1 − e^(−λ)``) of the pooled
            country (2021→23, 2023→24).
        countries: one row per country: pooled ratio median and 90 % interval, raw two-wave
            ratio (NaN where the 2021→23 share fell), raw hazards.
    """

    origin: str
    log_ratio_mean: float
    log_ratio_sd: float
    ratio_median: float
    ratio_p05: float
    ratio_p95: float
    common_median: float
    common_p05: float
    common_p95: float
    spread_median: float
    hazard_before: float
    hazard_after: float
    countries: pd.DataFrame

    def text(self) -> str:
        """The prior in two sentences, numbers included."""
        return (
            f"Across {len(self.countries)} EU countries (waves up to {self.origin}), the annual "
            f"hazard of starting AI use among non-users rose in 2023→24 by a common factor "
            f"{self.common_median:.1f} [{self.common_p05:.1f}, {self.common_p95:.1f}] over "
            f"2021→23 (pooled country: {100 * self.hazard_before:.1f} %/yr → "
            f"{100 * self.hazard_after:.1f} %/yr), with a cross-country sd of the log ratio of "
            f"{self.spread_median:.2f}. Prior for one country's multiplier: log-normal, "
            f"log mean {self.log_ratio_mean:.2f}, log sd {self.log_ratio_sd:.2f} (median "
            f"{self.ratio_median:.1f}, 90 % {self.ratio_p05:.1f}–{self.ratio_p95:.1f})."
        )


def shock_prior(
    panel: pd.DataFrame | str | Path | None = None,
    origin: str = "2024-12",
    *,
    draws: int = 4000,
    seed: int = 0,
) -> ShockPrior:
    """Summarise the 2023→24 jump of the non-user hazard across the 27 countries.

    Args:
        panel: panel table or CSV path (default: the shipped EU-27 panel).
        origin: last month of the waves used; at least 2024-03 (the jump year must be observed:
            a backtest from an earlier origin must not use this prior).
        draws: posterior draws.
        seed: seed of the fit.

    Returns:
        The jump's size as a log-normal prior for one country, the common ratio and spread, and
        a per-country table.
    """
    from adoptsim.fit.benchmark import benchmark_forecast
    from adoptsim.fit.hazard import JUMP_END

    if parse_month(str(origin), "origin") < parse_month(JUMP_END):
        raise ScenarioError(
            "origin", origin, f"must be {JUMP_END} or later: the jump year must be observed"
        )
    fit = benchmark_forecast(origin, "2025-03", panel, draws=draws, seed=seed)
    keys = fit.series
    pool = keys.pool.to_numpy()
    log_ratio = (fit.eta2 - fit.eta1)[:, pool]
    jump = fit.hyper.jump.to_numpy()
    spread = fit.hyper.sigma_jump.to_numpy()
    rng = streams.stream(seed, streams.SHOCK_ONE_COUNTRY)
    one = jump + rng.standard_normal(len(jump)) * spread  # a new country drawn from the pool
    mu = fit.hyper.mu.to_numpy()
    raw = _raw_ratios(fit.history)
    countries = pd.DataFrame(
        {
            "geography": keys.geography[pool].to_numpy(),
            "ratio_median": np.exp(np.median(log_ratio, axis=0)),
            "ratio_p05": np.exp(np.quantile(log_ratio, 0.05, axis=0)),
            "ratio_p95": np.exp(np.quantile(log_ratio, 0.95, axis=0)),
        }
    ).merge(raw, on="geography", how="left")
    return ShockPrior(
        origin=fit.origin,
        log_ratio_mean=float(one.mean()),
        log_ratio_sd=float(one.std()),
        ratio_median=float(np.exp(np.median(one))),
        ratio_p05=float(np.exp(np.quantile(one, 0.05))),
        ratio_p95=float(np.exp(np.quantile(one, 0.95))),
        common_median=float(np.exp(np.median(jump))),
        common_p05=float(np.exp(np.quantile(jump, 0.05))),
        common_p95=float(np.exp(np.quantile(jump, 0.95))),
        spread_median=float(np.median(spread)),
        hazard_before=float(1 - np.exp(-np.exp(np.median(mu)))),
        hazard_after=float(1 - np.exp(-np.exp(np.median(mu + jump)))),
        countries=countries,
    )


def _raw_ratios(history: pd.DataFrame) -> pd.DataFrame:
    """Two-wave hazards 2021→23 and 2023→24 of each country's all-firm series, and their ratio."""
    rows = history[(history.segment_type == "all") & (history.geography.str.len() == 2)]
    wide = rows.pivot_table(index="geography", columns="date", values="value")
    need = {"2021-03", "2023-03", "2024-03"}
    if not need <= set(wide.columns):
        return pd.DataFrame(columns=["geography", "raw_before", "raw_after", "raw_ratio"])
    before = 1 - ((1 - wide["2023-03"]) / (1 - wide["2021-03"])) ** 0.5
    after = 1 - (1 - wide["2024-03"]) / (1 - wide["2023-03"])
    ratio = (after / before).where(before > 0)
    return pd.DataFrame(
        {"raw_before": before, "raw_after": after, "raw_ratio": ratio}
    ).reset_index()
