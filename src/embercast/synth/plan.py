"""The plan of one scenario: every source and condition as time series on a 1-s grid.

Scenario builders (:mod:`embercast.synth.builders`) fill a plan from a scenario's parameters; the
runner (:mod:`embercast.synth.runner`) turns it into sensor readings and frames. The plan holds
no sensor effects.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from embercast.errors import InputError
from embercast.scene.geometry import CameraPose, Room
from embercast.scene.render import StaticObject
from embercast.synth.fuels import Fuel

FloatArray = NDArray[np.float64]


@dataclass(kw_only=True)
class FirePlan:
    """A fire: fuel-surface position [m], heat release rate per second [kW], fuel, and whether
    it has a flame at each second (smouldering and pyrolysis have none)."""

    xy: tuple[float, float]
    z: float
    hrr: FloatArray
    fuel: Fuel
    flaming: NDArray[np.bool_]


@dataclass(kw_only=True)
class SmallFlame:
    """A small open flame (candle, gas burner, cigarette glow): base position [m], flame height
    [m] and width [m], brightness temperature of the flame body [°C], and when it burns."""

    xyz: tuple[float, float, float]
    height: float
    width: float
    temp: float
    emissivity: float
    on: NDArray[np.bool_]


@dataclass(kw_only=True)
class WarmPlume:
    """A visible warm gas or vapour column (steam above a pot or kettle): base [m], height [m],
    radius [m], temperature per second [°C] and emissivity [-]."""

    xyz: tuple[float, float, float]
    height: float
    radius: float
    temp: FloatArray
    emissivity: float


@dataclass(kw_only=True)
class Fault:
    """A sensor fault: ``kind`` in scd41_dropout, scd41_stuck, scd41_drift, camera_dropout,
    ffc_storm; active from ``start`` to ``end`` [s]; ``magnitude`` (drift rate [ppm/s]). It is
    a fault of one device's sensor, ``device`` (its index in :attr:`ScenarioPlan.devices`): the
    other devices in the room go on measuring."""

    kind: str
    start: float
    end: float
    magnitude: float = 0.0
    device: int = 0


@dataclass(kw_only=True)
class Device:
    """One multi-sensor device: camera pose (the SCD41 sits beside the camera)."""

    device_id: str
    pose: CameraPose


@dataclass(kw_only=True)
class ScenarioPlan:
    """Every source and condition of a scenario on the 1-s grid ``t`` [s]."""

    t: FloatArray
    room: Room
    devices: list[Device]
    room_temp: FloatArray  # air temperature the room's HVAC/envelope holds without sources [°C]
    supply_temp: FloatArray  # temperature of the air brought in by ventilation [°C]
    outdoor_temp: FloatArray  # [°C]
    outdoor_rh: FloatArray  # [%]
    room_rh: float  # initial relative humidity [%]
    outdoor_co2: float  # [ppm]
    initial_co2: float  # [ppm]
    flow: FloatArray  # air exchanged with outside or supply [m^3/s]
    mix_fraction: float  # share of the room volume the sensor zone mixes into [-]
    door: tuple[float, float] | None = None  # width, height of a door open to the building [m]
    ceiling: str = "gypsum_board"  # ceiling material, a key of ground_truth.CEILINGS
    layer_depth: float  # depth of the hot layer under the ceiling [m]
    heat: FloatArray  # convective heat from non-fire sources [kW]
    co2_source: FloatArray  # CO2 from non-fire sources [m^3/s]
    h2o_source: FloatArray  # water vapour from non-fire sources [m^3/s]
    occupancy: NDArray[np.int16]
    hvac_on: NDArray[np.bool_]
    window_open: NDArray[np.bool_]
    fires: list[FirePlan] = field(default_factory=list)
    objects: list[StaticObject] = field(default_factory=list)
    object_temps: FloatArray = field(default_factory=lambda: np.empty((0, 0)))
    people_xy: FloatArray = field(default_factory=lambda: np.empty((0, 0, 2)))  # (n_t, n, 2) [m]
    people_present: NDArray[np.bool_] = field(default_factory=lambda: np.empty((0, 0), bool))
    small_flames: list[SmallFlame] = field(default_factory=list)
    plumes: list[WarmPlume] = field(default_factory=list)
    sun: FloatArray | None = None  # (n_t, 4): x, y, half-size [m], excess [K]
    ignition_s: float | None = None
    phase: NDArray[np.int8] = field(default_factory=lambda: np.zeros(0, np.int8))  # PHASES index
    faults: list[Fault] = field(default_factory=list)

    @property
    def n(self) -> int:
        """Number of 1-s steps."""
        return int(self.t.size)

    def device_faults(self, device: Device) -> list[Fault]:
        """The faults of ``device``'s own sensors (a device of :attr:`devices`)."""
        k = next((i for i, d in enumerate(self.devices) if d is device), None)
        if k is None:
            raise InputError(f"device {device.device_id!r} is not one of this plan's devices")
        return [fault for fault in self.faults if fault.device == k]

    def add_object(self, obj: StaticObject, temps: FloatArray) -> None:
        """Add a static object with its temperature per second [°C]."""
        self.objects.append(obj)
        row = np.asarray(temps, dtype=np.float64)[None, :]
        self.object_temps = (
            row if self.object_temps.size == 0 else np.vstack([self.object_temps, row])
        )
