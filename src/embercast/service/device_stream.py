"""One device's live path, reading by reading: features -> SCD41 supervision -> fire
probability -> heat evidence -> alarm decision.

The objects are those of training and evaluation: :class:`~embercast.features.stream.DeviceFeatures`
(the offline table is folded through it), :class:`~embercast.alarm.scd41_health.Scd41Health`
(a sensor in FAULT gives no evidence: its features are scored as missing, as
:func:`~embercast.evaluation.sensor_supervision.apply_sensor_supervision` does offline),
:class:`~embercast.alarm.heat.HeatWatch` and :class:`~embercast.alarm.decision.AlarmDecision`
at the model's operating point (as :func:`~embercast.evaluation.metrics.outcomes` runs them).
So a stream scored here gives the probabilities and alarm times the evaluation reports.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from embercast.alarm.decision import AlarmDecision
from embercast.alarm.device_quality import DeviceQuality, QualityParams
from embercast.alarm.heat import HeatWatch
from embercast.alarm.risk import risk_level
from embercast.alarm.scd41_health import Scd41Health
from embercast.errors import InputError
from embercast.evaluation.metrics import CO2_PATH_COLUMNS, HEAT_COLUMN, co2_path_input
from embercast.evaluation.sensor_supervision import HEALTH_COLUMNS
from embercast.features.base import Reading
from embercast.features.edge import EdgeRow
from embercast.features.stream import DeviceFeatures
from embercast.models.augment import sensor_columns
from embercast.service.live_model import LiveModel


@dataclass(frozen=True)
class Prediction:
    """The outcome of one reading: time [s], fire probability, risk level, whether the device's
    alarm decision is on and whether this reading raised it, the heat evidence, whether its
    SCD41 is in FAULT, and the camera's status for the row."""

    t_s: float
    p_fire: float
    risk: str
    alarm: bool
    onset: bool
    heat: str | None
    sensor_fault: bool
    thermal_status: str
    inputs: tuple[float, ...] = field(default=(), repr=False, compare=False)
    """The model's input row (its features, in its order; NaN where missing)."""
    troubles: tuple[str, ...] = ()
    """The device's data-quality trouble at this reading (:mod:`embercast.alarm.device_quality`)."""
    co2_ppm: float = field(default=math.nan, compare=False)
    """The CO2 the alarm decision's CO2 path read [ppm] (NaN: none, its camera in use, or its
    SCD41 in FAULT), an echo of the input like ``inputs``."""
    co2_rate_ppm_s: float = field(default=math.nan, compare=False)
    """Its 60-s rate of rise [ppm/s] (NaN: none)."""

    def as_dict(self) -> dict[str, object]:
        return {
            "t_s": self.t_s,
            "p_fire": None if math.isnan(self.p_fire) else self.p_fire,
            "risk": self.risk,
            "alarm": self.alarm,
            "onset": self.onset,
            "heat": self.heat,
            "sensor_fault": self.sensor_fault,
            "thermal_status": self.thermal_status,
            "troubles": list(self.troubles),
            "co2_ppm": None if math.isnan(self.co2_ppm) else self.co2_ppm,
            "co2_rate_ppm_s": None if math.isnan(self.co2_rate_ppm_s) else self.co2_rate_ppm_s,
        }


@dataclass(frozen=True)
class ModelInput:
    """One reading folded into a device's stream, waiting for its score: time [s], the model's
    row, the temperature the heat watch reads [°C] (NaN when none), whether the SCD41 was in
    FAULT, the camera's status and the device's data-quality trouble, and the CO2 [ppm] and
    60-s CO2 rate [ppm/s] the CO2 path reads (NaN when none), as they were at that reading."""

    t_s: float
    x: NDArray[np.float64]
    temperature_c: float
    sensor_fault: bool
    thermal_status: str
    troubles: tuple[str, ...] = ()
    co2_ppm: float = math.nan
    co2_rate_ppm_s: float = math.nan


class DeviceStream:
    """The live path of device ``device_id`` scored by ``model``.

    ``update_frame(t, frame, ffc)`` takes a frame (raw uint16 centikelvin or °C),
    ``update(reading, edge)`` a reading (with the device's edge row at its time, when the device
    computes its thermal features) and gives its :class:`Prediction` (None when the reading is
    rejected: its reason is counted in ``features.rejected``); ``get()`` the last prediction.
    """

    def __init__(
        self, model: LiveModel, device_id: str, quality: QualityParams | None = None
    ) -> None:
        self.device_id = device_id
        self.quality = DeviceQuality(quality)
        self._start(model)

    def _start(self, model: LiveModel) -> None:
        """A fresh stream for ``model``: no window, no health history, no alarm."""
        self.features = DeviceFeatures(model.feature_set)
        self.health = Scd41Health()
        self.heat = HeatWatch()
        self.decision = AlarmDecision(model.params)
        self._last: Prediction | None = None
        self._bind(model)

    def _bind(self, model: LiveModel) -> None:
        missing = [n for n in model.features if n not in self.features.names]
        if missing:
            raise InputError(
                f"the model {model.describe()} needs features its feature set "
                f"{model.feature_set!r} does not make: {', '.join(missing)}"
            )
        self.model = model
        self._take = np.array([self.features.names.index(n) for n in model.features])
        gas, _ = sensor_columns(list(model.features))
        self._gas = np.array([model.features.index(n) for n in gas], dtype=int)
        self._health_at = [
            self.features.names.index(c) if c in self.features.names else None
            for c in HEALTH_COLUMNS
        ]
        heat = HEAT_COLUMN in self.features.names
        self._heat_at = self.features.names.index(HEAT_COLUMN) if heat else None
        names = self.features.names
        self._co2_at = [names.index(c) if c in names else None for c in CO2_PATH_COLUMNS]

    def use(self, model: LiveModel) -> None:
        """Score with ``model`` from the next reading on. With the same feature set the stream
        keeps its windows and the alarm decision its state (at the new operating point); with
        another the stream starts afresh."""
        if model.feature_set != self.features.feature_set:
            self._start(model)
            return
        self._bind(model)
        self.decision.params = model.params

    def update_frame(self, t_s: float, frame: NDArray[np.generic], ffc: bool = False) -> bool:
        """Take a frame at ``t_s`` [s]; whether it was accepted."""
        if not self.features.update_frame(t_s, frame, ffc):
            return False
        self.quality.update_frame(t_s, frame, ffc)
        return True

    def row(self, reading: Reading, edge: EdgeRow | None = None) -> ModelInput | None:
        """The model's input for ``reading`` (the stream advances; ``edge`` the thermal values
        the device computed at its time), SCD41 features missing when the sensor is in FAULT;
        None when the reading is rejected."""
        if edge is None:  # rows from the frames received
            values = self.features.update_reading(reading)
        else:
            values = self.features.update_reading(reading, edge=edge)
        if values is None:
            return None
        full = np.asarray(values, dtype=np.float64)
        co2, temp, rh = (math.nan if i is None else float(full[i]) for i in self._health_at)
        self.health.update(reading.t_s, self.device_id, co2, temp, rh)
        self.quality.update_reading(reading.t_s, reading.co2_ppm)
        x: NDArray[np.float64] = full[self._take]
        faulted = self.health.faulted(self.device_id)
        if faulted and len(self._gas):
            x[self._gas] = np.nan
        # the heat watch reads the temperature the model sees: none from a sensor in FAULT
        heat_at = self._heat_at
        temperature = math.nan if heat_at is None or faulted else float(full[heat_at])
        level, rate, seen = (math.nan if i is None else float(full[i]) for i in self._co2_at)
        co2, rate = co2_path_input(level, rate, seen) if not faulted else (math.nan, math.nan)
        return ModelInput(
            reading.t_s, x, temperature, faulted, self.features.status, self.quality.get(),
            co2, rate,
        )  # fmt: skip

    def decide(self, row: ModelInput, p_fire: float) -> Prediction:
        """Run the heat watch and the alarm decision on ``row`` scored ``p_fire`` (rows are
        decided in the order they were made)."""
        heat = self.heat.update(row.t_s, row.temperature_c)
        active = self.decision.update(row.t_s, p_fire, heat, row.co2_ppm, row.co2_rate_ppm_s)
        self._last = Prediction(
            row.t_s, p_fire, risk_level(p_fire), active, self.decision.onset, self.heat.get(),
            row.sensor_fault, row.thermal_status, tuple(row.x.tolist()), row.troubles,
            row.co2_ppm, row.co2_rate_ppm_s,
        )  # fmt: skip
        return self._last

    def update(self, reading: Reading, edge: EdgeRow | None = None) -> Prediction | None:
        """The prediction of one reading, with the device's ``edge`` row at its time when it
        sends edge features (None when the reading is rejected)."""
        row = self.row(reading, edge)
        if row is None:
            return None
        return self.decide(row, float(self.model.score(row.x.reshape(1, -1))[0]))

    def get(self) -> Prediction | None:
        """The last prediction (None before the first accepted reading)."""
        return self._last
