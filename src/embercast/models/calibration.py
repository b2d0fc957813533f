"""Probability calibration on scenarios held out of the base model's training."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.isotonic import IsotonicRegression


def calibration_split(
    n: int, groups: NDArray[Any] | None, fraction: float, seed: int | None
) -> NDArray[np.bool_]:
    """Rows for the calibrator: whole groups (scenarios), about ``fraction`` of them; without
    groups, a contiguous tail of the rows (never a random row split).

    >>> calibration_split(6, np.array(["a", "a", "b", "b", "c", "c"]), 0.34, 0).sum()
    np.int64(2)
    """
    if groups is None:
        mask = np.zeros(n, bool)
        mask[int(n * (1.0 - fraction)) :] = True
        return mask
    names = np.unique(groups)
    rng = np.random.default_rng(seed)
    chosen = rng.choice(names, size=max(1, round(len(names) * fraction)), replace=False)
    return np.isin(groups, chosen)


def fit_isotonic(scores: NDArray[np.float64], y: NDArray[np.int_]) -> IsotonicRegression:
    """A monotone map from raw scores to calibrated probabilities."""
    return IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(scores, y)
