"""Ventilation flows: mechanical air changes, buoyancy-driven flow through an open window or door.

References
----------
.. [1] CIBSE AM10, Natural ventilation in non-domestic buildings, 2005, eq. 4.5 (single-sided
   ventilation through one opening).
.. [2] ASHRAE Handbook - Fundamentals, ch. 16 (Ventilation and Infiltration), 2021.
.. [3] Prahl, J., Emmons, H. W., "Fire induced flow through an opening", Combustion and Flame 25
   (1975) 369-385. :doi:`10.1016/0010-2180(75)90109-1`
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

G = 9.81
"""Gravitational acceleration [m/s^2]."""


def air_change_flow(ach: ArrayLike, volume: float) -> NDArray[np.float64]:
    """Volumetric flow [m^3/s] of ``ach`` air changes per hour [1/h] in a room of ``volume``
    [m^3] [2]_.

    >>> round(float(air_change_flow(2.0, 54.0)), 4)
    0.03
    """
    return np.asarray(ach, dtype=np.float64) * volume / 3600.0


def window_flow(
    area: float, height: float, temp_in: ArrayLike, temp_out: ArrayLike, cd: float = 0.6
) -> NDArray[np.float64]:
    """Stack-driven exchange flow through one open window [m^3/s].

    Parameters
    ----------
    area : free area of the opening [m^2]
    height : height of the opening [m]
    temp_in, temp_out : indoor and outdoor air temperature [°C]
    cd : discharge coefficient [-]

    Notes
    -----
    :math:`\\dot V = \\frac{C_d A}{3} \\sqrt{g H |\\Delta T| / \\bar T}` [1]_, with a floor of
    0.05 m/s through the opening for wind-driven exchange when the temperatures are equal.

    >>> round(float(window_flow(0.5, 1.0, 22.0, 5.0)), 4)
    0.0763
    """
    t_in = np.asarray(temp_in, dtype=np.float64)
    t_out = np.asarray(temp_out, dtype=np.float64)
    t_mean = (t_in + t_out) / 2.0 + 273.15
    stack = cd * area / 3.0 * np.sqrt(G * height * np.abs(t_in - t_out) / t_mean)
    return np.maximum(stack, 0.05 * area)


def door_flow(
    width: float,
    height: float,
    excess_temp: ArrayLike,
    temp_amb: ArrayLike,
    cd: float = 0.7,
) -> NDArray[np.float64]:
    """Buoyant exchange of a hot room with the space beyond an open door [m^3/s of ambient air].

    Parameters
    ----------
    width, height : of the opening [m]
    excess_temp : temperature of the room's gas above the air beyond [K]; none when <= 0
    temp_amb : temperature of the air beyond the door [°C]
    cd : discharge coefficient [-]

    Notes
    -----
    Hot gas leaves through the part of the opening above the neutral plane, taken at half its
    height, and as much cool air enters below it (Prahl-Emmons [3]_):
    :math:`\\dot m = \\frac{2}{3} C_d W \\rho_g \\sqrt{2 g \\Delta T / T_a} (H/2)^{3/2}` with
    :math:`\\rho_g = \\rho_a T_a / T_g`; returned as the volume of the ambient air that enters,
    :math:`\\dot m / \\rho_a`. A 0.9 x 2.0 m door passes about 0.56 kg/s at 20 K.

    >>> round(float(door_flow(0.9, 2.0, 20.0, 20.0)) * 1.2, 2)
    0.55
    """
    dt = np.maximum(np.asarray(excess_temp, dtype=np.float64), 0.0)
    t_a = np.asarray(temp_amb, dtype=np.float64) + 273.15
    ratio = t_a / (t_a + dt)
    return np.asarray(
        2.0 / 3.0 * cd * width * ratio * np.sqrt(2.0 * G * dt / t_a) * (height / 2.0) ** 1.5,
        dtype=np.float64,
    )
