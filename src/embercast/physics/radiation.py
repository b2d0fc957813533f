"""Thermal radiation seen by an 8-14 µm microbolometer: band radiance, brightness temperature,
emissivity mixing, flame emissivity.

References
----------
.. [1] Planck's law, e.g. Modest, M. F., Radiative Heat Transfer, 3rd ed., Academic Press, 2013,
   ch. 1. :doi:`10.1016/C2010-0-65874-3`
.. [2] Vollmer, M., Möllmann, K.-P., Infrared Thermal Imaging, 2nd ed., Wiley-VCH, 2017, ch. 1
   and 3 (band radiance, emissivity, reflected apparent temperature).
   :doi:`10.1002/9783527693306`
.. [3] Hottel, H. C., Sarofim, A. F., Radiative Transfer, McGraw-Hill, 1967 (flame emissivity
   1 - exp(-kappa L)).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike, NDArray

H_PLANCK = 6.62607015e-34
"""Planck constant [J s]."""
C_LIGHT = 2.99792458e8
"""Speed of light [m/s]."""
K_BOLTZMANN = 1.380649e-23
"""Boltzmann constant [J/K]."""
LUT_MIN_C = -60.0
"""Lowest temperature of the radiance table [°C]."""
LUT_MAX_C = 1600.0
"""Highest temperature of the radiance table [°C]."""


def band_radiance_exact(
    temp: ArrayLike, lambda_min: float = 8e-6, lambda_max: float = 14e-6
) -> NDArray[np.float64]:
    """Blackbody radiance in a wavelength band [W/(m^2 sr)], by numerical integration of Planck's
    law over ``lambda_min``..``lambda_max`` [m] at ``temp`` [°C] [1]_.

    >>> round(float(band_radiance_exact(25.0)), 2)
    53.4
    """
    t_k = np.asarray(temp, dtype=np.float64)[..., None] + 273.15
    lam = np.linspace(lambda_min, lambda_max, 241)
    spectral = (
        2
        * H_PLANCK
        * C_LIGHT**2
        / lam**5
        / np.expm1(H_PLANCK * C_LIGHT / (lam * K_BOLTZMANN * t_k))
    )
    return np.asarray(np.trapezoid(spectral, lam, axis=-1), dtype=np.float64)


@lru_cache(maxsize=1)
def _table() -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    temps = np.linspace(LUT_MIN_C, LUT_MAX_C, 3321)
    return temps, band_radiance_exact(temps)


def band_radiance(temp: ArrayLike) -> NDArray[np.float64]:
    """8-14 µm band radiance [W/(m^2 sr)] at ``temp`` [°C], from a 0.5 K table of
    :func:`band_radiance_exact` (table range -60..1600 °C, clipped).

    >>> round(float(band_radiance(25.0)), 2)
    53.4
    """
    temps, rad = _table()
    return np.interp(np.asarray(temp, dtype=np.float64), temps, rad)


def brightness_temperature(radiance: ArrayLike) -> NDArray[np.float64]:
    """Temperature [°C] of the blackbody with the given 8-14 µm band radiance [W/(m^2 sr)] (the
    inverse of :func:`band_radiance`), what a radiometric camera reports for emissivity 1 [2]_.

    >>> round(float(brightness_temperature(band_radiance(300.0))), 2)
    300.0
    """
    temps, rad = _table()
    return np.interp(np.asarray(radiance, dtype=np.float64), rad, temps)


def apparent_temperature(
    temp: ArrayLike, emissivity: ArrayLike, temp_reflected: ArrayLike
) -> NDArray[np.float64]:
    """Brightness temperature [°C] of a grey surface at ``temp`` [°C] with ``emissivity`` [-]
    reflecting surroundings at ``temp_reflected`` [°C]:
    :math:`L = \\varepsilon L(T) + (1 - \\varepsilon) L(T_{refl})` [2]_.

    >>> round(float(apparent_temperature(200.0, 0.3, 20.0)), 1)
    93.6
    """
    eps = np.asarray(emissivity, dtype=np.float64)
    return brightness_temperature(
        eps * band_radiance(temp) + (1.0 - eps) * band_radiance(temp_reflected)
    )


def flame_emissivity(path_length: ArrayLike, kappa: float) -> NDArray[np.float64]:
    """Emissivity [-] of a flame of thickness ``path_length`` [m] with absorption coefficient
    ``kappa`` [1/m] (0.5-1 for clean gas flames, 1-5 for sooty ones): :math:`1 - e^{-\\kappa L}`
    [3]_.

    >>> round(float(flame_emissivity(0.5, 2.0)), 3)
    0.632
    """
    return 1.0 - np.exp(-kappa * np.maximum(np.asarray(path_length, dtype=np.float64), 0.0))
