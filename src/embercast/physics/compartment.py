"""Compartment gas: hot-layer temperature and species in a ventilated, well-mixed zone.

The sensor sits in the upper part of the room, where fire products collect. The zone the sensor
samples is treated as well mixed over ``mix_volume`` (a share of the room volume) and exchanges air
with the outside at the ventilation rate. Equations are integrated exactly over each step for
piecewise-constant coefficients, which is stable for any step.

References
----------
.. [1] Karlsson, B., Quintiere, J. G., Enclosure Fire Dynamics, CRC Press, 2000, ch. 6 (energy
   and mass balance of the hot layer). :doi:`10.1201/9781420050219`
.. [2] Walton, W. D., Thomas, P. H., Okamoto, Y., "Estimating Temperatures in Compartment Fires",
   SFPE Handbook of Fire Protection Engineering, 5th ed., ch. 30, 2016.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from embercast.errors import InputError
from embercast.physics.plume import RHO_AIR, plume_mass_flow
from embercast.physics.ventilation import door_flow

RHO_CP = 1.2
"""Volumetric heat capacity of air [kJ/(m^3 K)]."""


def as_series(x: ArrayLike, name: str) -> NDArray[np.float64]:
    """``x`` as a 1-D float time series; a clear error for a scalar or a table.

    >>> as_series([1, 2], "q").tolist()
    [1.0, 2.0]
    """
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise InputError(
            f"{name} must be a time series (one value per time step), got shape {arr.shape}"
        )
    return arr


def relax(
    dt: float, target: NDArray[np.float64], rate: NDArray[np.float64], y0: float
) -> NDArray[np.float64]:
    """Integrate :math:`dy/dt = k(t) (y_\\infty(t) - y)` exactly for piecewise-constant k.

    Parameters
    ----------
    dt : step [s]
    target : equilibrium value y_inf at each step [unit of y]
    rate : relaxation rate k at each step [1/s]
    y0 : initial value [unit of y]

    Returns
    -------
    y : the trajectory, ``y[0] = y0`` [unit of y]

    >>> relax(1.0, np.full(3, 10.0), np.full(3, 1e9), 0.0).tolist()
    [0.0, 10.0, 10.0]
    """
    gain = 1.0 - np.exp(-rate * dt)
    y = np.empty_like(target)
    y[0] = y0
    acc = y0
    g = gain.tolist()
    tg = target.tolist()
    for k in range(1, len(tg)):
        acc += g[k] * (tg[k] - acc)
        y[k] = acc
    return y


def layer_temperature(
    dt: float,
    q_conv: ArrayLike,
    mix_volume: float,
    wall_area: float,
    flow: ArrayLike,
    temp_amb: ArrayLike,
    h_wall: float = 0.015,
    temp_supply: ArrayLike | None = None,
) -> NDArray[np.float64]:
    """Temperature of the upper (sensor) zone heated by a fire [°C].

    Parameters
    ----------
    dt : time step [s]
    q_conv : convective heat release into the zone at each step [kW]
    mix_volume : volume of the zone [m^3]
    wall_area : area of the bounding surfaces in contact with the zone [m^2]
    flow : ventilation flow through the zone [m^3/s]
    temp_amb : temperature of the bounding surfaces and of the room without sources [°C]
    h_wall : effective heat-loss coefficient to the bounding surfaces [kW/(m^2 K)]
    temp_supply : temperature of the air brought in by ventilation [°C] (default ``temp_amb``)

    Notes
    -----
    :math:`\\rho c_p V dT/dt = \\dot Q_c - h A (T - T_a) - \\rho c_p \\dot V (T - T_s)` [1]_, the
    lumped energy balance of a vented compartment (cf. MQH [2]_), solved with :func:`relax`.

    >>> t = layer_temperature(1.0, np.full(3600, 10.0), 50.0, 80.0, np.full(3600, 0.01), 20.0)
    >>> round(float(t[-1]), 2)
    28.25
    """
    q_conv = as_series(q_conv, "q_conv")
    vent = RHO_CP * np.broadcast_to(np.asarray(flow, dtype=np.float64), q_conv.shape)
    wall = h_wall * wall_area
    loss = wall + vent
    amb = np.broadcast_to(np.asarray(temp_amb, dtype=np.float64), q_conv.shape)
    supply = (
        amb
        if temp_supply is None
        else np.broadcast_to(np.asarray(temp_supply, dtype=np.float64), q_conv.shape)
    )
    target = (q_conv + wall * amb + vent * supply) / loss
    rate = loss / (RHO_CP * mix_volume)
    return relax(dt, target, rate, float(amb[0]))


@dataclass(frozen=True)
class SmokeLayer:
    """A fire's smoke layer under the ceiling: its volume [m^3], its excess temperature over
    the room [K], the excess of each species it carries [ppm], and the flow through an open
    door [m^3/s] (zero without one)."""

    volume: NDArray[np.float64]
    excess_temp: NDArray[np.float64]
    excess: tuple[NDArray[np.float64], ...]
    door_flow: NDArray[np.float64]


def smoke_layer(
    dt: float,
    q_conv: ArrayLike,
    species: tuple[ArrayLike, ...],
    floor_area: float,
    height: float,
    max_volume: float,
    flow: ArrayLike,
    temp_amb: ArrayLike,
    *,
    fuel_z: float = 0.0,
    min_depth: float = 0.12,
    perimeter: float | None = None,
    h_wall: float = 0.015,
    door: tuple[float, float] | None = None,
) -> SmokeLayer:
    """The smoke layer a fire fills under the ceiling (a two-zone filling model).

    Parameters
    ----------
    dt : time step [s]
    q_conv : convective heat release of the fire at each step [kW]
    species : volumetric source of each product carried (CO2, H2O, ...) [m^3/s]
    floor_area : of the room [m^2]
    height : of the ceiling above the floor [m]
    max_volume : the most the layer fills (the room's volume, or the share above a door
        soffit or that mixing leaves) [m^3]
    flow : ventilation that carries layer gas out, without the door [m^3/s]
    temp_amb : temperature of the room's air below the layer and beyond the door [°C]
    fuel_z : height of the fire above the floor [m]
    min_depth : depth of the layer at the start: down to the sensors under the ceiling [m]
    perimeter : of the room [m] (default: a square room's)
    h_wall : heat-loss coefficient to the ceiling and walls in the layer [kW/(m^2 K)]
    door : width and height of a door open to the building [m], or None

    Notes
    -----
    The layer grows by the air the plume entrains below it (:func:`plume_mass_flow` at the
    interface's height above the fire [1]_), so a small fire's early products are held in a
    thin, concentrated layer that deepens as they keep coming, up to ``max_volume``. Its
    energy and species, with zero excess in the entrained air, follow
    :math:`dE/dt = \\dot Q_c - (hA + \\rho c_p \\dot V) E / (\\rho c_p V)` and
    :math:`dM_i/dt = 10^6 \\dot S_i - \\dot V M_i / V`, each step integrated exactly for the
    step's coefficients; the excess is :math:`E/(\\rho c_p V)` and :math:`M_i/V`. ``A`` is
    the ceiling and the walls the layer touches; :math:`\\dot V` the ventilation plus the
    buoyant door exchange of the layer's excess temperature
    (:func:`~embercast.physics.ventilation.door_flow`). Once the layer fills ``max_volume``
    this is the well-mixed zone of :func:`layer_temperature` and :func:`zone_concentration`.

    >>> layer = smoke_layer(1.0, np.full(600, 3.0), (np.full(600, 1e-4),), 20.0, 2.5, 50.0,
    ...                     np.full(600, 0.005), 20.0)
    >>> [round(float(layer.volume[k]), 1) for k in (0, 60, 599)]
    [2.4, 18.3, 45.2]
    >>> [round(float(layer.excess[0][k])) for k in (60, 599)]
    [324, 1275]
    """
    q = as_series(q_conv, "q_conv")
    shape = q.shape
    sources = [np.broadcast_to(np.asarray(x, dtype=np.float64), shape).tolist() for x in species]
    base = np.broadcast_to(np.asarray(flow, dtype=np.float64), shape).tolist()
    amb = np.broadcast_to(np.asarray(temp_amb, dtype=np.float64), shape).tolist()
    qs = q.tolist()
    side = perimeter if perimeter is not None else 4.0 * math.sqrt(floor_area)
    v = min(floor_area * min(min_depth, height), max_volume)
    energy = 0.0
    masses = [0.0] * len(sources)
    volume = np.empty(shape)
    excess_temp = np.empty(shape)
    excess = [np.empty(shape) for _ in sources]
    through = np.zeros(shape)
    for k in range(len(qs)):
        dtemp = energy / (RHO_CP * v)
        if k:
            z_i = height - v / floor_area - fuel_z
            v = min(v + float(plume_mass_flow(qs[k], z_i)) / RHO_AIR * dt, max_volume)
            d = 0.0 if door is None else float(door_flow(door[0], door[1], dtemp, amb[k]))
            through[k] = d
            out = base[k] + d
            area = floor_area + side * v / floor_area
            rate = (h_wall * area + RHO_CP * out) / (RHO_CP * v)
            decay = math.exp(-rate * dt)
            energy = energy * decay + qs[k] / rate * (1.0 - decay)
            vent = out / v
            keep = math.exp(-vent * dt)
            gain = dt if vent == 0.0 else (1.0 - keep) / vent
            for i, src in enumerate(sources):
                masses[i] = masses[i] * keep + 1e6 * src[k] * gain
            dtemp = energy / (RHO_CP * v)
        volume[k] = v
        excess_temp[k] = dtemp
        for i in range(len(sources)):
            excess[i][k] = masses[i] / v
    return SmokeLayer(
        volume=volume, excess_temp=excess_temp, excess=tuple(excess), door_flow=through
    )


def zone_concentration(
    dt: float,
    source: ArrayLike,
    mix_volume: float,
    flow: ArrayLike,
    outdoor: ArrayLike,
    c0: float,
) -> NDArray[np.float64]:
    """Concentration of a gas in a ventilated well-mixed zone [ppm].

    Parameters
    ----------
    dt : time step [s]
    source : volumetric source (negative: sink) of the gas at each step [m^3/s]; the equilibrium
        concentration is floored at zero
    mix_volume : zone volume [m^3]
    flow : ventilation flow [m^3/s] (floored at 1e-6)
    outdoor : concentration of the supply air [ppm]
    c0 : initial concentration [ppm]

    Notes
    -----
    :math:`V dC/dt = 10^6 \\dot S - \\dot V (C - C_{out})` [1]_.

    >>> c = zone_concentration(1.0, np.full(7200, 1e-5), 30.0, np.full(7200, 0.005), 420.0, 420.0)
    >>> round(float(c[-1]))
    1818
    """
    source = as_series(source, "source")
    flow = np.maximum(np.broadcast_to(np.asarray(flow, dtype=np.float64), source.shape), 1e-6)
    outdoor = np.broadcast_to(np.asarray(outdoor, dtype=np.float64), source.shape)
    target = np.maximum(outdoor + 1e6 * source / flow, 0.0)
    return relax(dt, target, flow / mix_volume, c0)
