"""Fire plume and flame: diameter, flame height, virtual origin, centreline temperature, puffing.

References
----------
.. [1] Heskestad, G., "Fire Plumes, Flame Height, and Air Entrainment", SFPE Handbook of Fire
   Protection Engineering, 5th ed., ch. 13, 2016. :doi:`10.1007/978-1-4939-2565-0_13`
.. [2] Cetegen, B. M., Ahmed, T. A., "Experiments on the periodic instability of buoyant plumes
   and pool fires", Combustion and Flame 93 (1993) 157-184.
   :doi:`10.1016/0010-2180(93)90090-P`
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

G = 9.81
"""Gravitational acceleration [m/s^2]."""
CP_AIR = 1.0
"""Specific heat of air [kJ/(kg K)]."""
RHO_AIR = 1.2
"""Density of ambient air [kg/m^3]."""


def fire_diameter(q: ArrayLike, hrrpua: float) -> NDArray[np.float64]:
    """Effective diameter of a fire of given heat release rate.

    Parameters
    ----------
    q : heat release rate [kW]
    hrrpua : heat release rate per unit area of the fuel [kW/m^2]

    Returns
    -------
    d : diameter of the burning area [m], :math:`D = \\sqrt{4 Q / (\\pi q'')}`.

    >>> round(float(fire_diameter(100.0, 500.0)), 3)
    0.505
    """
    return np.sqrt(4.0 * np.maximum(np.asarray(q, dtype=np.float64), 0.0) / (np.pi * hrrpua))


def flame_height(q: ArrayLike, d: ArrayLike) -> NDArray[np.float64]:
    """Mean flame height (Heskestad correlation).

    Parameters
    ----------
    q : heat release rate [kW]
    d : fire diameter [m]

    Returns
    -------
    l : mean flame height above the fuel [m], :math:`L = 0.235 Q^{2/5} - 1.02 D` [1]_,
        never negative.

    >>> round(float(flame_height(100.0, 0.5)), 3)
    0.973
    """
    q = np.maximum(np.asarray(q, dtype=np.float64), 0.0)
    return np.maximum(0.235 * q**0.4 - 1.02 * np.asarray(d, dtype=np.float64), 0.0)


def virtual_origin(q: ArrayLike, d: ArrayLike) -> NDArray[np.float64]:
    """Height of the plume's virtual origin above the fuel surface [m].

    :math:`z_0 = 0.083 Q^{2/5} - 1.02 D` [1]_ (negative below the fuel), ``q`` [kW], ``d`` [m].

    >>> round(float(virtual_origin(100.0, 0.5)), 3)
    0.014
    """
    q = np.maximum(np.asarray(q, dtype=np.float64), 0.0)
    return 0.083 * q**0.4 - 1.02 * np.asarray(d, dtype=np.float64)


def plume_centreline_excess_temperature(
    q_conv: ArrayLike, z: ArrayLike, z0: ArrayLike, temp_amb: float = 20.0
) -> NDArray[np.float64]:
    """Excess temperature on the plume centreline above the flame (Heskestad).

    Parameters
    ----------
    q_conv : convective heat release rate [kW]
    z : height above the fuel surface [m]
    z0 : virtual origin [m]
    temp_amb : ambient temperature [°C]

    Returns
    -------
    dt : centreline excess temperature [K], capped at 900 K (the mean flame temperature rise).

    Notes
    -----
    :math:`\\Delta T_0 = 9.1 (T_\\infty / (g c_p^2 \\rho_\\infty^2))^{1/3} Q_c^{2/3} (z-z_0)^{-5/3}`
    [1]_, valid above the mean flame tip.

    >>> round(float(plume_centreline_excess_temperature(70.0, 2.5, 0.0)), 1)
    92.2
    """
    t_amb_k = temp_amb + 273.15
    coeff = 9.1 * (t_amb_k / (G * CP_AIR**2 * RHO_AIR**2)) ** (1.0 / 3.0)
    q_conv = np.maximum(np.asarray(q_conv, dtype=np.float64), 0.0)
    height = np.maximum(np.asarray(z, dtype=np.float64) - np.asarray(z0, dtype=np.float64), 0.05)
    excess = coeff * q_conv ** (2.0 / 3.0) * height ** (-5.0 / 3.0)
    return np.asarray(np.minimum(excess, 900.0), dtype=np.float64)


def puffing_frequency(d: ArrayLike) -> NDArray[np.float64]:
    """Flame puffing (flicker) frequency [Hz] of a buoyant fire of diameter ``d`` [m].

    :math:`f = 1.5 / \\sqrt{D}` [2]_ (D floored at 1 cm).

    >>> round(float(puffing_frequency(0.25)), 2)
    3.0
    """
    return 1.5 / np.sqrt(np.maximum(np.asarray(d, dtype=np.float64), 0.01))


def plume_mass_flow(q_conv: ArrayLike, z: ArrayLike) -> NDArray[np.float64]:
    """Mass flow of a fire plume at height ``z`` above its virtual origin [kg/s]: the fire gases
    and the air entrained below z.

    :math:`\\dot m = 0.071 Q_c^{1/3} z^{5/3} (1 + 0.026 Q_c^{2/3} z^{-5/3})` [1]_ above the
    flame, ``q_conv`` the convective heat release rate [kW], ``z`` [m] (floored at 0.05 m).

    >>> round(float(plume_mass_flow(70.0, 2.5)), 3)
    1.477
    """
    q = np.maximum(np.asarray(q_conv, dtype=np.float64), 0.0)
    z = np.maximum(np.asarray(z, dtype=np.float64), 0.05)
    return np.asarray(0.071 * q ** (1.0 / 3.0) * z ** (5.0 / 3.0) + 0.001846 * q, dtype=np.float64)
