"""Sensor-dropout augmentation: teach a model that a missing sensor is no evidence of fire.

In the training data a device stops reporting mostly when a fire has heated it past its 60 °C
operating range, so a model learns "SCD41 readings missing -> fire" and then alarms on every plain
SCD41 or camera dropout. Adding copies of some rows (of both classes) with one sensor's features
set missing removes that shortcut: the model has to judge from the sensor that is left.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from embercast.features.sets import SCD41_FEATURES, SCD41_STEPS

THERMAL_FLAG = "thermal_ok"
"""The camera-availability feature (1 when the frame is usable)."""


def sensor_columns(columns: list[str]) -> tuple[list[str], list[str]]:
    """(SCD41 features, camera features) among ``columns``; ``thermal_ok`` is in neither.

    >>> sensor_columns(["t_max", "gas_val", "scd_rh_vel", "thermal_ok", "newhot_blobs"])
    (['gas_val', 'scd_rh_vel'], ['t_max', 'newhot_blobs'])
    """
    gas = [c for c in columns if c in SCD41_FEATURES]
    thermal = [c for c in columns if c not in gas and c != THERMAL_FLAG]
    return gas, thermal


def evidence_columns(columns: list[str]) -> tuple[list[str], list[str]]:
    """(SCD41 features a judgement from the SCD41 alone reads, camera features) among
    ``columns``: :func:`sensor_columns` but the SCD41's one-reading changes
    (:data:`~embercast.features.sets.SCD41_STEPS`).

    >>> evidence_columns(["t_max", "gas_val", "gas_delta", "thermal_ok"])
    (['gas_val'], ['t_max'])
    """
    gas, thermal = sensor_columns(columns)
    return [c for c in gas if c not in SCD41_STEPS], thermal


def no_sensor_left(X: pd.DataFrame) -> NDArray[np.bool_]:
    """Rows of ``X`` with no sensor's features: every one of :func:`evidence_columns` missing
    (a device without a camera, or with it down, whose SCD41 is in FAULT). In generated fires the
    SCD41 stops mostly when the fire overheats it, so trees and their calibration learn to read
    "nothing left" as a fire; such a row is no evidence of fire, and the detectors score it 0
    (a device that falls silent in a fire is the heat path's, :mod:`embercast.alarm.heat`; a
    sensor in FAULT supervision's). None without SCD41 features among the columns.

    >>> X = pd.DataFrame({"t_max": [np.nan, 30.0], "gas_val": [np.nan, np.nan]})
    >>> no_sensor_left(X).tolist()
    [True, False]
    """
    gas, thermal = evidence_columns(list(X.columns))
    if not gas:
        return np.zeros(len(X), dtype=bool)
    return np.asarray(X[gas + thermal].isna().all(axis=1).to_numpy(), dtype=bool)


def without_camera(X: pd.DataFrame, features: list[str]) -> pd.DataFrame:
    """``X`` as a device without a camera would give it: the camera's features among
    ``features`` missing (NaN) and ``thermal_ok`` 0; other columns as they are.

    >>> X = pd.DataFrame({"t_max": [300.0], "gas_val": [900.0], "thermal_ok": [1.0], "t_s": [5.0]})
    >>> without_camera(X, ["t_max", "gas_val", "thermal_ok"]).to_numpy().tolist()
    [[nan, 900.0, 0.0, 5.0]]
    """
    _, thermal = sensor_columns([c for c in features if c in X.columns])
    out = X.copy()
    out[thermal] = np.nan
    if THERMAL_FLAG in out.columns:
        out[THERMAL_FLAG] = 0.0
    return out


def sensor_dropout(
    X: pd.DataFrame,
    y: NDArray[np.int_],
    fraction: float,
    seed: int | None,
) -> tuple[pd.DataFrame, NDArray[np.int_]]:
    """``X`` and ``y`` followed by two sets of copies of about ``fraction`` of the rows each
    (drawn at random, seeded): one with the SCD41 features missing (NaN), one with the camera
    features missing and ``thermal_ok`` 0. Labels are kept. ``fraction`` 0 returns the input.

    >>> X = pd.DataFrame({"t_max": [20.0, 300.0], "gas_val": [420.0, 900.0], "thermal_ok": [1, 1]})
    >>> Xa, ya = sensor_dropout(X, np.array([0, 1]), 1.0, 0)
    >>> Xa.to_numpy().tolist(), ya.tolist()  # doctest: +NORMALIZE_WHITESPACE
    ([[20.0, 420.0, 1.0], [300.0, 900.0, 1.0], [20.0, nan, 1.0], [300.0, nan, 1.0],
      [nan, 420.0, 0.0], [nan, 900.0, 0.0]], [0, 1, 0, 1, 0, 1])
    """
    if fraction <= 0.0 or len(X) == 0:
        return X, y
    gas, thermal = sensor_columns(list(X.columns))
    rng = np.random.default_rng(seed)
    n = min(len(X), max(1, round(fraction * len(X))))
    parts: list[pd.DataFrame] = [X]
    labels: list[NDArray[np.int_]] = [y]
    for columns in (gas, thermal):
        if not columns:
            continue
        pick = np.sort(rng.choice(len(X), size=n, replace=False))
        copy = X.iloc[pick].copy()
        if columns is gas:
            copy[columns] = np.nan
        else:
            copy = without_camera(copy, list(X.columns))
        parts.append(copy)
        labels.append(y[pick])
    return pd.concat(parts, ignore_index=True).astype(float), np.concatenate(labels)
