"""Replicas of real fire tests: the FAA cargo-compartment tests, as data the generator's physics
can run.

Geometry, ventilation, fire position, fuel and heat-release ramp, gas-probe and thermocouple
positions come from the tests' FDS validation inputs (firemodels/fds,
``Validation/FAA_Cargo_Compartments/FDS_Input_Files``; the measurements are in
``shared/data/real_fires/faa_cargo_compartments``). FDS's x runs across a compartment from its
centre line and y along it; here x runs along (the room's length) and y across from a side wall.
The replica classes of the catalogue (``faa_b707_replica``, ``faa_dc10_replica``) take their
fixed parameters from here and :mod:`embercast.synth.builders.replicas` builds them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from embercast.scene.geometry import CameraPose
from embercast.synth.fuels import FUELS
from embercast.synth.plan import Device, FloatArray

FAA_IGNITION_S = 60.0
"""Ignition time of a replica [s]: a minute of quiet air before the tests' time zero."""
FAA_FUEL = "faa_resin"
"""The tests' fuel in :data:`~embercast.synth.fuels.FUELS`."""
FAA_PAN_Z = 0.02
"""Height of the pan's burning surface above the floor [m]."""
FAA_PAN_AREA = 0.01
"""Burning area of the tests' 0.1 x 0.1 m pan [m^2]."""
FAA_MLRPUA = 0.016
"""Mass-loss rate per area at ramp fraction 1 [kg/(s m^2)]."""
FAA_RAMP: tuple[tuple[float, float], ...] = (
    (0, 0.0), (5, 0.0234), (10, 0.1058), (15, 0.1102), (20, 0.1475), (25, 0.2131), (30, 0.2708),
    (35, 0.3445), (40, 0.4336), (45, 0.5489), (50, 0.6788), (56, 0.8926), (60, 1.0838),
    (65, 1.1962), (71, 1.3334), (75, 1.3903), (80, 1.4502), (86, 1.4436), (90, 1.4035),
    (95, 1.3334), (100, 1.2516), (105, 1.1852), (110, 1.1225), (115, 1.0444), (120, 0.9882),
    (125, 0.9050), (130, 0.8626), (135, 0.8218), (140, 0.7984), (145, 0.7714), (150, 0.7466),
    (155, 0.7488), (160, 0.7284), (165, 0.7196), (170, 0.7160), (175, 0.7211), (180, 0.6904),
    (350, 0.0),
)  # fmt: skip
"""The tests' mass-loss ramp from the measured data: (time after ignition [s], fraction of
``FAA_MLRPUA``); about 4.9 kW at its 80-s peak with the fuel's 21 MJ/kg."""


@dataclass(frozen=True, kw_only=True)
class Probe:
    """A gas probe of a test (CO2 column ``column`` of the data) and the thermocouple nearest to
    it (``thermocouple``), in room coordinates [m]."""

    column: str
    xyz: tuple[float, float, float]
    thermocouple: str
    tc_xyz: tuple[float, float, float]


@dataclass(frozen=True, kw_only=True)
class Compartment:
    """A test compartment as a box: ``length`` x ``width`` x ``height`` [m] of its ceiling's
    extent and height, ``volume`` [m^3] of the real compartment (its lower sides slope), and the
    ventilation ``ach`` [1/h]."""

    name: str
    length: float
    width: float
    height: float
    volume: float
    ach: float

    @property
    def box_volume(self) -> float:
        """Volume of the box [m^3]."""
        return self.length * self.width * self.height


@dataclass(frozen=True, kw_only=True)
class FaaTest:
    """One FAA test: its compartment, the fire's position in plan [m] and the probes."""

    case: str
    compartment: Compartment
    fire_xy: tuple[float, float]
    probes: tuple[Probe, ...]


def _at(c: Compartment, fds_x: float, fds_y: float, z: float) -> tuple[float, float, float]:
    """Room coordinates [m] of an FDS point of compartment ``c``."""
    return (fds_y, fds_x + c.width / 2, z)


B707 = Compartment(name="B707", length=6.73, width=3.18, height=1.37, volume=25.0, ach=0.0)
"""Tests 1-3: the B707 lower cargo compartment (no forced ventilation; two small floor-level
leaks, below the smoke layer)."""
DC10 = Compartment(
    name="DC-10", length=14.0, width=4.36, height=1.68, volume=97.7, ach=0.188 * 3600 / 97.7
)
"""Test 4: the DC-10 compartment, ventilated through two ceiling vents of 0.094 m^3/s each."""


def _b707_probes() -> tuple[Probe, ...]:
    c = B707
    return (
        Probe(
            column="Mid Pan CO2",
            xyz=_at(c, 0.0, 3.23, 1.37),
            thermocouple="TC18",
            tc_xyz=_at(c, 0.0, 2.91, 1.33),
        ),
        Probe(
            column="Aft Pan CO2",
            xyz=_at(c, 0.0, 4.75, 1.37),
            thermocouple="TC28",
            tc_xyz=_at(c, 0.0, 4.74, 1.33),
        ),
        Probe(
            column="TC36 CO2",
            xyz=_at(c, -1.32, 6.57, 1.33),
            thermocouple="TC36",
            tc_xyz=_at(c, -1.37, 6.57, 1.33),
        ),
    )


def _dc10_probes() -> tuple[Probe, ...]:
    c = DC10
    return (
        Probe(
            column="Fwd Pan CO2",
            xyz=_at(c, 0.0508, 2.67, 1.67),
            thermocouple="TC18",
            tc_xyz=_at(c, -0.0254, 2.9498, 1.65),
        ),
        Probe(
            column="Aft Pan CO2",
            xyz=_at(c, 0.0508, 6.43, 1.67),
            thermocouple="TC43",
            tc_xyz=_at(c, -0.0254, 6.6328, 1.65),
        ),
        Probe(
            column="TC5 CO2",
            xyz=_at(c, 1.4478, 0.74, 1.65),
            thermocouple="TC5",
            tc_xyz=_at(c, 1.4478, 0.74, 1.65),
        ),
    )


FAA_TESTS: dict[str, FaaTest] = {
    "1": FaaTest(case="1", compartment=B707, fire_xy=_at(B707, 0.08, 3.73, 0)[:2],
                 probes=_b707_probes()),
    "2": FaaTest(case="2", compartment=B707, fire_xy=_at(B707, 0.43, 0.28, 0)[:2],
                 probes=_b707_probes()),
    "3": FaaTest(case="3", compartment=B707, fire_xy=_at(B707, 0.43, 1.80, 0)[:2],
                 probes=_b707_probes()),
    "4": FaaTest(case="4", compartment=DC10, fire_xy=_at(DC10, -0.0762, 3.402, 0)[:2],
                 probes=_dc10_probes()),
}  # fmt: skip
"""The four tests: 1 with the fire in the middle, 2 in a corner, 3 against a side wall (B707),
4 in the DC-10."""


def faa_hrr(t: FloatArray, ignition: float = FAA_IGNITION_S) -> FloatArray:
    """Heat release rate of the tests' fire on the time grid ``t`` [s] for an ``ignition`` at
    [s]: the ramp times the pan's mass-loss rate and the fuel's heat of combustion [kW]."""
    times, fractions = zip(*FAA_RAMP, strict=True)
    mlr = np.interp(t - ignition, times, fractions, left=0.0, right=0.0) * FAA_MLRPUA
    return np.asarray(mlr * FAA_PAN_AREA * FUELS[FAA_FUEL].heat_of_combustion, dtype=np.float64)


def probe_device(
    device_id: str, xyz: tuple[float, float, float], fire: tuple[float, float]
) -> Device:
    """A device at a probe's place under the ceiling, its camera turned to the fire."""
    yaw = float(np.degrees(np.arctan2(fire[1] - xyz[1], fire[0] - xyz[0])))
    return Device(device_id=device_id, pose=CameraPose(position=xyz, yaw=yaw, pitch=45.0))
