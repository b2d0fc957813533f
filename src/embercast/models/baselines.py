"""Baseline detectors, with the same interface as the models (DESIGN 4.4).

- :class:`RateOfRiseHeat`: a heat detector on the SCD41 temperature, 8.3 °C/min rate of rise or
  57 °C fixed (the classic rate-of-rise/fixed-temperature detector, NFPA 72).
- :class:`CO2Threshold`: CO2 above a level or rising faster than a rate.
- :class:`HotspotThreshold`: the hottest pixel above a temperature.
- :class:`ReferenceRF`: the reference design's model, a random forest on standard18 with a 0.5
  probability cut-off (no calibration, no debounce beyond the shared alarm decision).

Threshold baselines learn nothing unless their threshold is ``"auto"``: then ``fit`` sets it to
the 99.5th percentile of the non-fire training rows (at most 0.5 % of non-fire rows above it).
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.ensemble import RandomForestClassifier
from sklearn.utils._param_validation import Interval, StrOptions

from embercast.dataset.feature_table import STANDARD18
from embercast.models.base import FireDetector

AUTO_QUANTILE = 0.995
"""Share of non-fire training rows an ``"auto"`` threshold stays above."""


def _auto(value: float | str, column: pd.Series, y: NDArray[np.int_], floor: float) -> float:
    if value != "auto":
        return float(value)
    quiet = column[(y == 0) & column.notna()]
    return max(float(np.quantile(quiet, AUTO_QUANTILE)) if len(quiet) else floor, floor)


class RateOfRiseHeat(FireDetector):
    """Rate-of-rise heat detector: fire when the SCD41 temperature rises faster than
    ``rate_c_per_min`` [°C/min] (60-s slope) or exceeds ``fixed_c`` [°C]."""

    features: ClassVar[tuple[str, ...]] = ("scd_temp_val", "scd_temp_vel")
    baseline: ClassVar[bool] = True
    learns_from_fires: ClassVar[bool] = False
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "rate_c_per_min": [Interval(Real, 0, None, closed="neither")],
        "fixed_c": [Interval(Real, None, None, closed="neither")],
    }

    def __init__(self, rate_c_per_min: float = 8.3, fixed_c: float = 57.0) -> None:
        self.rate_c_per_min = rate_c_per_min
        self.fixed_c = fixed_c

    def _fit(self, X: pd.DataFrame, y: NDArray[np.int_], groups: Any) -> None:
        return None

    def _proba(self, X: pd.DataFrame) -> NDArray[np.float64]:
        rate = X["scd_temp_vel"].to_numpy() * 60.0 >= self.rate_c_per_min
        fixed = X["scd_temp_val"].to_numpy() >= self.fixed_c
        return (rate | fixed).astype(float)


class CO2Threshold(FireDetector):
    """CO2 detector: fire when CO2 exceeds ``level_ppm`` or its 60-s slope exceeds
    ``rate_ppm_s`` [ppm/s]; ``"auto"`` learns either from the non-fire training rows."""

    features: ClassVar[tuple[str, ...]] = ("gas_val", "gas_vel")
    baseline: ClassVar[bool] = True
    learns_from_fires: ClassVar[bool] = False
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "level_ppm": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "rate_ppm_s": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
    }

    def __init__(self, level_ppm: float | str = "auto", rate_ppm_s: float | str = "auto") -> None:
        self.level_ppm = level_ppm
        self.rate_ppm_s = rate_ppm_s

    def _fit(self, X: pd.DataFrame, y: NDArray[np.int_], groups: Any) -> None:
        self.level_ppm_ = _auto(self.level_ppm, X["gas_val"], y, 1000.0)
        self.rate_ppm_s_ = _auto(self.rate_ppm_s, X["gas_vel"], y, 0.5)

    def _proba(self, X: pd.DataFrame) -> NDArray[np.float64]:
        level = X["gas_val"].to_numpy() >= self.level_ppm_
        rate = X["gas_vel"].to_numpy() >= self.rate_ppm_s_
        return (level | rate).astype(float)


class HotspotThreshold(FireDetector):
    """Thermal hotspot detector: fire when the hottest pixel exceeds ``max_c`` [°C] (``"auto"``
    learns it from the non-fire training rows, at least 60 °C)."""

    features: ClassVar[tuple[str, ...]] = ("t_max",)
    baseline: ClassVar[bool] = True
    learns_from_fires: ClassVar[bool] = False
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "max_c": [Interval(Real, None, None, closed="neither"), StrOptions({"auto"})],
    }

    def __init__(self, max_c: float | str = "auto") -> None:
        self.max_c = max_c

    def _fit(self, X: pd.DataFrame, y: NDArray[np.int_], groups: Any) -> None:
        self.max_c_ = _auto(self.max_c, X["t_max"], y, 60.0)

    def _proba(self, X: pd.DataFrame) -> NDArray[np.float64]:
        return (X["t_max"].to_numpy() >= self.max_c_).astype(float)


class ReferenceRF(FireDetector):
    """The reference design's detector: a 100-tree random forest on standard18, cut-off 0.5."""

    features: ClassVar[tuple[str, ...]] = STANDARD18
    baseline: ClassVar[bool] = True
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(self, n_estimators: int = 100, random_state: int | None = 0) -> None:
        self.n_estimators = n_estimators
        self.random_state = random_state

    def _fit(self, X: pd.DataFrame, y: NDArray[np.int_], groups: Any) -> None:
        self.forest_ = RandomForestClassifier(
            n_estimators=self.n_estimators, random_state=self.random_state, n_jobs=1
        ).fit(X.to_numpy(), y)

    def _proba(self, X: pd.DataFrame) -> NDArray[np.float64]:
        return np.asarray(self.forest_.predict_proba(X.to_numpy())[:, 1], dtype=float)
