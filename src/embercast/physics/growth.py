"""Heat-release-rate curves: t-squared growth, peak, decay, smouldering.

References
----------
.. [1] NFPA 72, National Fire Alarm and Signaling Code, Annex B (t-squared fires), 2022.
.. [2] Hurley, M. J. (ed.), SFPE Handbook of Fire Protection Engineering, 5th ed., Springer,
   2016, ch. 26 (heat release rates). :doi:`10.1007/978-1-4939-2565-0`
.. [3] Rein, G., Smouldering combustion phenomena in science and technology, International
   Review of Chemical Engineering 1 (2009) 3-18 (spread around 1 mm/min, fronts at 450-700 °C).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from embercast.errors import InputError

T_SQUARED_ALPHA: dict[str, float] = {
    "slow": 0.002931,
    "medium": 0.01172,
    "fast": 0.04689,
    "ultra_fast": 0.1876,
}
"""Growth coefficient alpha [kW/s^2] of the NFPA 72 growth classes (1055 kW reached in 600, 300,
150 and 75 s) [1]_."""


def growth_alpha(growth_class: str) -> float:
    """Return alpha [kW/s^2] of a named t-squared growth class.

    >>> round(growth_alpha("fast"), 4)
    0.0469
    """
    try:
        return T_SQUARED_ALPHA[growth_class]
    except KeyError:
        raise InputError(
            f"invalid growth class {growth_class!r} for T_SQUARED_ALPHA; "
            f"choose one of {sorted(T_SQUARED_ALPHA)}"
        ) from None


def hrr_t_squared(t: ArrayLike, alpha: float, t_ignition: float = 0.0) -> NDArray[np.float64]:
    """Heat release rate of a t-squared fire.

    Parameters
    ----------
    t : time [s]
    alpha : growth coefficient [kW/s^2]
    t_ignition : time of (effective) ignition [s]

    Returns
    -------
    q : heat release rate [kW], zero before ignition.

    Notes
    -----
    :math:`Q = \\alpha (t - t_0)^2` for :math:`t \\ge t_0` [1]_.

    >>> float(hrr_t_squared(300.0, 0.01172))
    1054.8
    """
    dt = np.asarray(t, dtype=np.float64) - t_ignition
    return np.where(np.isnan(dt), np.nan, np.where(dt > 0.0, alpha * dt**2, 0.0))


def hrr_curve(
    t: ArrayLike,
    alpha: float,
    q_peak: float,
    t_ignition: float,
    fuel_energy: float,
    decay_time: float,
) -> NDArray[np.float64]:
    """Heat release rate of a fire that grows as t-squared, holds its peak, then decays linearly.

    Parameters
    ----------
    t : time [s]
    alpha : growth coefficient [kW/s^2]
    q_peak : peak (fuel- or ventilation-limited) heat release rate [kW]
    t_ignition : ignition time [s]
    fuel_energy : total energy of the fuel package [kJ]
    decay_time : duration of the linear decay from peak to zero [s]

    Returns
    -------
    q : heat release rate [kW]

    Notes
    -----
    Growth lasts :math:`t_g = \\sqrt{Q_p/\\alpha}` and releases :math:`\\alpha t_g^3/3`; the decay
    releases :math:`Q_p t_d / 2`; the steady phase burns what is left of ``fuel_energy``. When the
    fuel is too small to reach the peak, the fire decays from the largest rate it can reach [2]_.

    >>> q = hrr_curve([0, 100, 200], alpha=0.01, q_peak=50.0, t_ignition=0.0,
    ...               fuel_energy=1e5, decay_time=300.0)
    >>> [round(float(v), 1) for v in q]
    [0.0, 50.0, 50.0]
    """
    t = np.asarray(t, dtype=np.float64)
    t_grow = np.sqrt(q_peak / alpha)
    e_grow = alpha * t_grow**3 / 3.0
    e_decay = q_peak * decay_time / 2.0
    if e_grow + e_decay > fuel_energy:
        # fuel runs out before the peak: scale growth time so that growth + decay = fuel energy
        scale = (fuel_energy / (e_grow + e_decay)) ** (1.0 / 3.0)
        t_grow *= scale
        q_peak = alpha * t_grow**2
        decay_time *= scale
        t_steady = 0.0
    else:
        t_steady = (fuel_energy - e_grow - e_decay) / q_peak
    dt = t - t_ignition
    t_end_steady = t_grow + t_steady
    decay = q_peak * (1.0 - (dt - t_end_steady) / max(decay_time, 1e-9))
    q = np.where(
        dt < t_grow, alpha * np.maximum(dt, 0.0) ** 2, np.where(dt < t_end_steady, q_peak, decay)
    )
    return np.where(np.isnan(dt), np.nan, np.clip(np.where(dt > 0.0, q, 0.0), 0.0, None))


def hrr_smouldering(
    t: ArrayLike, q_smoulder: float, t_start: float, ramp_time: float
) -> NDArray[np.float64]:
    """Heat release rate of a smouldering fire that approaches a slow steady rate.

    Parameters
    ----------
    t : time [s]
    q_smoulder : asymptotic smouldering heat release rate [kW] (typically 0.05 - 2 kW)
    t_start : onset of smouldering [s]
    ramp_time : time constant of the approach [s]

    Returns
    -------
    q : heat release rate [kW]

    Notes
    -----
    :math:`Q = Q_s (1 - e^{-(t - t_0)/\\tau})`; smouldering releases heat a hundred times more
    slowly than flaming and with a low CO2/CO ratio [2]_.

    >>> round(float(hrr_smouldering(600.0, 1.0, 0.0, 600.0)), 3)
    0.632
    """
    dt = np.asarray(t, dtype=np.float64) - t_start
    q = np.where(dt > 0.0, q_smoulder * (1.0 - np.exp(-np.maximum(dt, 0.0) / ramp_time)), 0.0)
    return np.where(np.isnan(dt), np.nan, q)


def smoulder_front_radius(
    t: ArrayLike, r0: float, spread_rate: float, t_start: float, r_max: float
) -> NDArray[np.float64]:
    """Radius of a smouldering front spreading outward over the item it burns.

    Parameters
    ----------
    t : time [s]
    r0 : radius of the smouldering spot at onset [m]
    spread_rate : radial spread rate of the front [m/s] (around 1 mm/min = 1.7e-5 m/s [3]_)
    t_start : onset of smouldering [s]
    r_max : radius at which the front runs out of fuel [m]

    Returns
    -------
    r : front radius [m]; ``r0`` before onset, then :math:`r_0 + v (t - t_0)` up to ``r_max``

    Smouldering spreads two orders of magnitude more slowly than flame over the same fuel [3]_;
    the burning area, and with it the heat release rate, grows with :math:`r^2`.

    >>> round(float(smoulder_front_radius(1800.0, 0.05, 1e-3 / 60, 0.0, 0.3)), 3)
    0.08
    """
    dt = np.asarray(t, dtype=np.float64) - t_start
    r = np.minimum(r0 + spread_rate * np.maximum(dt, 0.0), max(r_max, r0))
    return np.where(np.isnan(dt), np.nan, r)
