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


def held_out_rows(
    y: NDArray[np.int_], groups: NDArray[Any] | None, fraction: float, seed: int | None
) -> NDArray[np.bool_]:
    """:func:`calibration_split`, or no rows when either side would lack one of the classes
    (too few scenarios to hold some out: the caller then skips calibration).

    >>> held_out_rows(np.array([0, 1, 0, 1]), np.array(["a", "a", "b", "b"]), 0.5, 0).sum()
    np.int64(2)
    >>> held_out_rows(np.array([0, 0, 0, 1]), np.array(["a", "a", "b", "b"]), 0.5, 0).sum()
    np.int64(0)
    """
    hold = calibration_split(len(y), groups, fraction, seed)
    if y[hold].min() == y[hold].max() or y[~hold].min() == y[~hold].max():
        return np.zeros(len(y), bool)
    return hold


def calibrated(
    raw: NDArray[np.float64], calibrator: IsotonicRegression | None
) -> NDArray[np.float64]:
    """Raw scores through the calibrator (unchanged without one)."""
    if calibrator is None:
        return raw
    return np.asarray(calibrator.predict(raw), dtype=float)


def fit_isotonic(scores: NDArray[np.float64], y: NDArray[np.int_]) -> IsotonicRegression:
    """A monotone map from raw scores to calibrated probabilities."""
    return IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(scores, y)
