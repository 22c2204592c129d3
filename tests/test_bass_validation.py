"""Analytic validation: mean path of the Bass rule on a complete network = Bass recurrence."""

import numpy as np

from adoptsim import simulate


def bass_recurrence(p: float, q: float, steps: int) -> np.ndarray:
    """Discrete Bass: F(t+1) = F(t) + (p + q F(t)) (1 − F(t)), F(0) = 0."""
    f = [0.0]
    for _ in range(steps):
        f.append(f[-1] + (p + q * f[-1]) * (1 - f[-1]))
    return np.array(f)


def test_mean_path_within_0005_of_bass_recurrence():
    result = simulate("bass_validation", n_firms=200_000, seed=11, replications=3)
    overall = result.adoption[result.adoption.segment_type == "all"]
    mean_path = overall.groupby("date").adopters_share.mean().to_numpy()
    expected = bass_recurrence(0.004, 0.06, 84)
    assert mean_path.shape == expected.shape == (85,)
    gap = np.abs(mean_path - expected)
    assert gap.max() < 0.005, f"max gap {gap.max():.4f} at month {gap.argmax()}"
    # And the curve actually diffuses (the check above is not satisfied by a flat line).
    assert expected[-1] > 0.9 and mean_path[-1] > 0.9


def test_bass_with_wrong_q_is_detected():
    """The validation has power: q off by 20 % leaves the 0.005 band."""
    result = simulate("bass_validation", n_firms=50_000, seed=1, replications=1)
    overall = result.adoption[result.adoption.segment_type == "all"]
    wrong = bass_recurrence(0.004, 0.072, 84)
    assert np.abs(overall.adopters_share.to_numpy() - wrong).max() > 0.02
