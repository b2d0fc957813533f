"""Ceiling jet under an unconfined ceiling: temperature and velocity (Alpert).

References
----------
.. [1] Alpert, R. L., "Calculation of response time of ceiling-mounted fire detectors", Fire
   Technology 8 (1972) 181-195. :doi:`10.1007/BF02590543`
.. [2] Alpert, R. L., "Ceiling Jet Flows", SFPE Handbook of Fire Protection Engineering, 5th ed.,
   ch. 14, 2016. :doi:`10.1007/978-1-4939-2565-0_14`
.. [3] Heskestad, G., "Fire Plumes, Flame Height, and Air Entrainment", SFPE Handbook of Fire
   Protection Engineering, 5th ed., ch. 13, 2016 (plume buoyancy from the convective heat release).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from embercast.errors import InputError

ALPERT_CONVECTIVE_SHARE = 0.7
"""Convective share of the heat release of the fires behind Alpert's correlations [-]: they take
a fire's total heat release, and the fires they were fitted to radiated about 30 % of it."""


def jet_equivalent_hrr(q: ArrayLike, chi_rad: float) -> NDArray[np.float64]:
    """Heat release [kW] to give Alpert's correlations for a fire radiating ``chi_rad`` of ``q``.

    Parameters
    ----------
    q : total heat release rate [kW]
    chi_rad : radiative share of the fire's heat release [-]

    Notes
    -----
    A plume and the jet it drives carry the convective heat release, not the radiated part
    [3]_, so a fire is given to the correlations as the fire of their data with its convective
    heat release: :math:`Q (1 - \\chi_r) / 0.7` (:data:`ALPERT_CONVECTIVE_SHARE`). A fire that
    radiates 30 % keeps its Q; a sooty one that radiates 55 % drives the jet of 0.64 Q.

    >>> jet_equivalent_hrr([10.0, 100.0], 0.3).round(6).tolist()
    [10.0, 100.0]
    >>> round(float(jet_equivalent_hrr(100.0, 0.55)), 1)
    64.3
    """
    if not 0.0 <= chi_rad < 1.0:
        raise InputError(f"chi_rad must be a share in [0, 1), got {chi_rad}")
    q = np.asarray(q, dtype=np.float64)
    return np.asarray(q * (1.0 - chi_rad) / ALPERT_CONVECTIVE_SHARE, dtype=np.float64)


def alpert_radial_factor(h: float, r: ArrayLike) -> NDArray[np.float64]:
    """Geometric factor G [K kW^-2/3] such that the ceiling-jet excess temperature is Q^(2/3) G.

    Parameters
    ----------
    h : ceiling height above the fuel [m]
    r : radial distance from the plume axis [m]

    Notes
    -----
    From Alpert's correlation [1]_: :math:`G = 16.9 / H^{5/3}` for :math:`r/H \\le 0.18`,
    else :math:`G = 5.38 r^{-2/3} / H`. Separating Q from r lets a whole ceiling image be updated
    with one multiplication per frame.

    >>> round(float(alpert_radial_factor(2.5, 0.2)), 3)
    3.67
    """
    h = max(float(h), 0.1)
    r = np.asarray(r, dtype=np.float64)
    near = 16.9 / h ** (5.0 / 3.0)
    far = 5.38 * np.maximum(r, 1e-6) ** (-2.0 / 3.0) / h
    return np.asarray(np.where(r / h <= 0.18, near, np.minimum(far, near)), dtype=np.float64)


def alpert_excess_temperature(q: ArrayLike, h: float, r: ArrayLike) -> NDArray[np.float64]:
    """Maximum excess temperature of the ceiling jet [K].

    Parameters
    ----------
    q : total heat release rate of a fire that radiates 30 % of it [kW]
        (:func:`jet_equivalent_hrr` for others)
    h : ceiling height above the fuel [m]
    r : radial distance from the plume axis [m]

    Notes
    -----
    :math:`\\Delta T = 16.9 Q^{2/3} / H^{5/3}` (r/H <= 0.18), else
    :math:`5.38 (Q/r)^{2/3} / H` [1]_, [2]_. Steady, unconfined ceiling; in a room the jet rides
    on the hot layer (added by the caller).

    >>> round(float(alpert_excess_temperature(100.0, 2.5, 2.0)), 2)
    29.21
    """
    q = np.maximum(np.asarray(q, dtype=np.float64), 0.0)
    return q ** (2.0 / 3.0) * alpert_radial_factor(h, r)


def alpert_velocity(q: ArrayLike, h: float, r: ArrayLike) -> NDArray[np.float64]:
    """Maximum velocity of the ceiling jet [m/s].

    :math:`U = 0.96 (Q/H)^{1/3}` (r/H <= 0.15), else :math:`U = 0.195 Q^{1/3} H^{1/2} / r^{5/6}`
    [1]_; ``q`` [kW], ``h`` [m], ``r`` [m].

    >>> round(float(alpert_velocity(100.0, 2.5, 2.0)), 3)
    0.803
    """
    h = max(float(h), 0.1)
    q = np.maximum(np.asarray(q, dtype=np.float64), 0.0)
    r = np.asarray(r, dtype=np.float64)
    near = 0.96 * (q / h) ** (1.0 / 3.0)
    far = 0.195 * q ** (1.0 / 3.0) * h**0.5 / np.maximum(r, 1e-6) ** (5.0 / 6.0)
    return np.where(r / h <= 0.15, near, np.minimum(far, near))
