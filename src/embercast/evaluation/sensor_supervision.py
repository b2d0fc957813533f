"""Sensor supervision in scoring: rows whose SCD41 is in FAULT
(:mod:`embercast.alarm.scd41_health`) are scored without that sensor's features, as the live
service scores them. Evaluation and the choice of a model's alarm operating point both score
through :func:`apply_sensor_supervision`, so the operating point is chosen on what the alarm
will see."""

from __future__ import annotations

import numpy as np
import pandas as pd

from embercast.alarm.scd41_health import HealthParams, Scd41Health
from embercast.errors import InputError
from embercast.models.augment import sensor_columns

HEALTH_COLUMNS: tuple[str, str, str] = ("gas_val", "scd_temp_val", "scd_rh_val")
"""Feature columns that carry a row's SCD41 readings: CO2 [ppm], temperature [°C] and relative
humidity [%] (``extended``; ``standard18`` has CO2 alone)."""


def sensor_faults(rows: pd.DataFrame, params: HealthParams | None = None) -> np.ndarray:
    """Whether each row's SCD41 is in FAULT (:class:`~embercast.alarm.scd41_health.Scd41Health`
    run per scenario over its devices' readings in time order), as a boolean array in the order
    of ``rows`` (scenario_id, device_id, t_s and ``gas_val``; ``scd_temp_val`` and
    ``scd_rh_val`` when present)."""
    if HEALTH_COLUMNS[0] not in rows.columns:
        raise InputError(
            f"sensor health needs the CO2 reading column {HEALTH_COLUMNS[0]!r}; the rows have none"
        )
    nan = np.full(len(rows), np.nan)
    frame = pd.DataFrame(
        {
            "scenario_id": rows["scenario_id"].to_numpy(),
            "device_id": rows["device_id"].astype(str).to_numpy(),
            "t_s": rows["t_s"].to_numpy(dtype=float),
            **{
                c: rows[c].to_numpy(dtype=float) if c in rows.columns else nan
                for c in HEALTH_COLUMNS
            },
            "at": np.arange(len(rows)),
        }
    )
    faulted = np.zeros(len(rows), dtype=bool)
    for _, group in frame.groupby("scenario_id", sort=False):
        health = Scd41Health(params)
        group = group.sort_values(["t_s", "device_id"], kind="stable")
        for at, dev, t, co2, temp, rh in zip(
            group["at"], group["device_id"], group["t_s"],
            *(group[c] for c in HEALTH_COLUMNS), strict=True,
        ):  # fmt: skip
            health.update(float(t), dev, float(co2), float(temp), float(rh))
            faulted[at] = health.faulted(dev)
    return faulted


def without_faulted_sensors(rows: pd.DataFrame, faulted: np.ndarray) -> pd.DataFrame:
    """``rows`` with the SCD41 features of the ``faulted`` rows missing (NaN), as in a dropout:
    a sensor in FAULT gives no evidence (the models learn that a missing sensor is none, see
    :mod:`embercast.models.augment`); the same rows when none is faulted."""
    if not faulted.any():
        return rows
    gas, _ = sensor_columns(list(rows.columns))
    masked = rows.copy()
    masked.loc[faulted, gas] = np.nan
    return masked


def apply_sensor_supervision(
    rows: pd.DataFrame, params: HealthParams | None = None
) -> tuple[pd.DataFrame, np.ndarray]:
    """``rows`` as the fire model sees them under sensor supervision, and which rows have their
    SCD41 in FAULT (:func:`sensor_faults`, :func:`without_faulted_sensors`). Rows without the
    CO2 reading column (a table of thermal features alone) are returned as they are."""
    if HEALTH_COLUMNS[0] not in rows.columns:
        return rows, np.zeros(len(rows), dtype=bool)
    faulted = sensor_faults(rows, params)
    return without_faulted_sensors(rows, faulted), faulted
