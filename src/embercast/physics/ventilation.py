"""Ventilation flows: mechanical air changes and buoyancy-driven flow through an open window.

References
----------
.. [1] CIBSE AM10, Natural ventilation in non-domestic buildings, 2005, eq. 4.5 (single-sided
   ventilation through one opening).
.. [2] ASHRAE Handbook - Fundamentals, ch. 16 (Ventilation and Infiltration), 2021.
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
