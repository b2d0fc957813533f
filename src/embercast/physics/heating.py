"""Heating of objects and surfaces: lumped thermal mass with convective loss, radiant flux.

References
----------
.. [1] Incropera, F. P., DeWitt, D. P., Fundamentals of Heat and Mass Transfer, 6th ed., Wiley,
   2007, sec. 5.2 (lumped capacitance).
.. [2] Drysdale, D., An Introduction to Fire Dynamics, 3rd ed., Wiley, 2011, sec. 2.4 (point-source
   radiation). :doi:`10.1002/9781119975465`
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from embercast.physics.compartment import as_series, relax


def lumped_temperature(
    dt: float,
    power: ArrayLike,
    conductance: float,
    heat_capacity: float,
    temp_env: ArrayLike,
    temp0: float,
) -> NDArray[np.float64]:
    """Temperature of a lumped body heated by ``power`` and cooled to its environment [°C].

    Parameters
    ----------
    dt : time step [s]
    power : heating power at each step [W]
    conductance : heat-loss conductance hA (convection + linearised radiation) [W/K]
    heat_capacity : thermal mass m c [J/K]
    temp_env : temperature of the environment [°C]
    temp0 : initial temperature [°C]

    Notes
    -----
    :math:`C dT/dt = P - hA (T - T_e)` [1]_, exact for piecewise-constant inputs. A pan of oil
    on a burner, an overheating connector, a surface under a ceiling jet.

    >>> t = lumped_temperature(1.0, np.full(4000, 1500.0), 5.0, 2000.0, 20.0, 20.0)
    >>> round(float(t[-1]))
    320
    """
    power = as_series(power, "power")
    env = np.broadcast_to(np.asarray(temp_env, dtype=np.float64), power.shape)
    target = env + power / conductance
    rate = np.full(power.shape, conductance / heat_capacity)
    return relax(dt, target, rate, temp0)


def surface_response(
    dt: float, temp_gas: ArrayLike, tau: float, temp0: float | None = None
) -> NDArray[np.float64]:
    """Temperature of a thin surface that follows the gas next to it with time constant ``tau``
    [s] (lumped, :math:`\\tau = \\rho c \\delta / h` [1]_); ``temp_gas`` [°C], result [°C].

    >>> [round(float(v), 2) for v in surface_response(60.0, [20.0, 80.0, 80.0], 60.0)]
    [20.0, 57.93, 71.88]
    """
    gas = as_series(temp_gas, "temp_gas")
    start = float(gas[0]) if temp0 is None else temp0
    return relax(dt, gas, np.full(gas.shape, 1.0 / tau), start)


def point_source_flux(q: ArrayLike, chi_rad: float, distance: ArrayLike) -> NDArray[np.float64]:
    """Radiant heat flux [kW/m^2] at ``distance`` [m] from a fire of ``q`` [kW] radiating a
    share ``chi_rad`` [-]: :math:`q'' = \\chi_r Q / (4 \\pi R^2)` [2]_.

    >>> round(float(point_source_flux(100.0, 0.3, 1.0)), 3)
    2.387
    """
    r = np.maximum(np.asarray(distance, dtype=np.float64), 0.05)
    return chi_rad * np.maximum(np.asarray(q, dtype=np.float64), 0.0) / (4.0 * np.pi * r**2)
