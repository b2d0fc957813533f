"""Single-row scoring without library-call overhead, for the live service's one-reading-at-a-time
path: each member's LightGBM booster called on a plain array, its isotonic calibration as an
interpolation table, and the members' mean. Gives the same probabilities as ``predict_proba``
(tested)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from embercast.models.base import FireDetector
from embercast.models.trees import GBMDetector


class RowScorer:
    """Fire probability of one feature row (values in ``features`` order)."""

    def __init__(self, detector: FireDetector) -> None:
        if not isinstance(detector, GBMDetector):
            raise ValueError(
                f"fast single-row scoring supports LightGBM detectors (gbm, gas), "
                f"not {type(detector).__name__}"
            )
        self.features: tuple[str, ...] = tuple(detector.feature_names_in_)
        self._members: list[tuple[Any, NDArray[np.float64] | None, NDArray[np.float64] | None]]
        self._members = []
        for model, calibrator in detector.members_:
            if calibrator is None:
                self._members.append((model.booster_, None, None))
            else:
                x = np.asarray(calibrator.X_thresholds_, dtype=float)
                y = np.asarray(calibrator.y_thresholds_, dtype=float)
                self._members.append((model.booster_, x, y))

    def score(self, row: NDArray[np.float64]) -> float:
        """Fire probability of one row (NaN allowed for missing features)."""
        x = np.asarray(row, dtype=np.float64).reshape(1, -1)
        if x.shape[1] != len(self.features):
            raise ValueError(
                f"row has {x.shape[1]} features, but the scorer is expecting {len(self.features)}"
            )
        total = 0.0
        for booster, cx, cy in self._members:
            raw = float(booster.predict(x, num_threads=1)[0])
            total += raw if cx is None or cy is None else float(np.interp(raw, cx, cy))
        return total / len(self._members)
