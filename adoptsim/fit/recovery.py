"""Synthetic-truth recovery: a reference point inside the prior box and targets simulated there."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from adoptsim import streams
from adoptsim.fit.targets import ADOPTION_SEGMENTS, select_targets, target_weights
from adoptsim.posterior import (
    COUNTRIES,
)

# A point inside every calibrated parameter's prior box, where synthetic-truth checks (the tests,
# calibration/recovery.py) simulate their targets or hold the parameters they do not fit.
REFERENCE_POINT: dict[str, float] = {
    "alpha": -6.5,
    "theta_genai": 1.5,
    "genai_jump": 0.5,
    "genai_speed": 0.1,
    "genai_midpoint": 8.0,
    "theta_peer": 2.0,
    "size_small": 0.8,
    "size_medium": 1.5,
    "size_large": 2.5,
    "scale_alpha": -5.5,
    "initial_adopters_be": 0.12,
    "initial_at_scale": 0.2,
    "barrier_penalty": 0.1,
    "sector_J": 2.0,
    "sector_M": 1.5,
    "sector_K": 1.5,
    "sector_FI": -0.5,
    "ict_detect_pre": 0.3,
    "ict_detect_gen": 0.5,
}


def held_at_reference(free: Sequence[str]) -> dict[str, float]:
    """Values for a recovery fit's ``fixed``: every parameter but ``free`` at `REFERENCE_POINT`.

    The model discrepancy is held at 0: synthetic targets come from the model itself.

    Args:
        free: the parameters the fit estimates.
    """
    held = {k: v for k, v in REFERENCE_POINT.items() if k not in free}
    return held | {"discrepancy": 0.0, "discrepancy_corr": 0.0}


def synthetic_targets(
    targets: pd.DataFrame,
    truth: dict[str, float],
    *,
    countries: Sequence[str] = COUNTRIES,
    n_firms: int | None = None,
    seed: int = 1,
    origin: str | None = None,
) -> pd.DataFrame:
    """Targets whose values the model itself produced at known joint parameters `truth`.

    For parameter recovery: each used row's value is replaced by one simulated survey reading at
    `truth` (seed `seed`, so not the calibration's common random numbers) plus survey noise
    N(0, se²) (and model discrepancy if `truth` has a nonzero `discrepancy`).
    """
    from adoptsim.fit.validation import predict_rows

    table = targets.copy()
    draws = pd.DataFrame([truth])
    rng = streams.stream(seed, streams.SYNTHETIC_NOISE)
    for country in countries:
        rows, _ = select_targets(table, country, origin)
        pred = predict_rows(rows, country, draws, 1, n_firms, seed)
        se = rows.se.to_numpy() / np.sqrt(target_weights(rows))
        p = np.clip(pred.model_mean.to_numpy(), 1e-4, 1 - 1e-4)
        disc = truth.get("discrepancy", 0.0) * np.sqrt(p * (1 - p))
        disc = np.where(rows.segment_type.isin(ADOPTION_SEGMENTS), disc, 0.0)
        value = p + disc * rng.standard_normal(len(p)) + se * rng.standard_normal(len(p))
        table.loc[table.id.isin(rows.id), "value"] = (
            pd.Series(np.clip(value, 0.001, 0.999), index=rows.id.to_numpy())
            .reindex(table.id[table.id.isin(rows.id)])
            .to_numpy()
        )
    return table
