"""Transport of fire gases from the fire to a ceiling-mounted sensor.

References
----------
.. [1] Alpert, R. L., "Calculation of response time of ceiling-mounted fire detectors", Fire
   Technology 8 (1972) 181-195. :doi:`10.1007/BF02590543`
.. [2] Heskestad, G., Delichatsios, M. A., "The initial convective flow in fire", Proc.
   Combustion Institute 17 (1979) 1113-1123. :doi:`10.1016/S0082-0784(79)80106-X`
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from embercast.physics.ceiling_jet import alpert_velocity

MAX_DELAY = 600.0
"""Longest transport delay modelled [s]; weaker flows are treated as mixed into the room."""


def transport_delay(q: ArrayLike, h: float, r: float) -> NDArray[np.float64]:
    """Travel time of fire gases up the plume and along the ceiling to a sensor [s].

    Parameters
    ----------
    q : heat release rate [kW] of a fire that radiates 30 % of it (for others
        :func:`~embercast.physics.ceiling_jet.jet_equivalent_hrr`), a value or a series on a
        time grid
    h : ceiling height above the fuel [m]
    r : radial distance of the sensor from the plume axis [m]

    Notes
    -----
    The plume rises at about the ceiling-jet velocity near the axis and the jet slows with r,
    so :math:`t_d \\approx H / U(r{=}0) + r / U(r)` [1]_, [2]_, capped at ``MAX_DELAY``. In a
    series, what is emitted while nothing burns (before ignition, after the fire is out) travels
    with the nearest burning flow: before the first burning step it takes that step's delay,
    after a burning step the delay of the last one, so the jet neither waits ``MAX_DELAY`` to
    arrive nor lingers for it after the fire.

    >>> round(float(transport_delay(100.0, 2.5, 2.0)), 2)
    3.25
    >>> transport_delay([0.0, 100.0, 0.0], 2.5, 2.0).round(2).tolist()
    [3.25, 3.25, 3.25]
    """
    q_in = np.asarray(q, dtype=np.float64)
    q_pos = np.maximum(q_in, 1e-6)
    u_axis = alpert_velocity(q_pos, h, 0.0)
    u_r = alpert_velocity(q_pos, h, max(r, 1e-3))
    d = np.asarray(np.minimum(h / u_axis + r / u_r, MAX_DELAY), dtype=np.float64)
    if d.ndim != 1:
        return d
    burning = np.flatnonzero(q_in > 0.0)
    idle = q_in <= 0.0  # NaN is neither: its delay stays unknown
    if burning.size == 0 or not idle.any():
        return d
    # the burning step whose delay an idle step takes: the last one before it, the first one
    # for the steps before any
    last = np.maximum.accumulate(np.where(q_in > 0.0, np.arange(d.size), -1))
    source = np.where(last < 0, burning[0], last)
    return np.asarray(np.where(idle, d[source], d), dtype=np.float64)


def delayed(t: ArrayLike, x: ArrayLike, delay: ArrayLike) -> NDArray[np.float64]:
    """Signal ``x`` as received after a transport delay that depends on when it was emitted.

    Parameters
    ----------
    t : increasing time grid [s]
    x : emitted signal on that grid [any unit]
    delay : travel time of what is emitted at each time [s]

    Returns
    -------
    y : the received signal on the same grid [unit of x]; before the first arrival, ``x[0]``.

    Notes
    -----
    What is emitted at :math:`\\tau` arrives at :math:`a(\\tau) = \\tau + t_d(\\tau)`; a later,
    faster parcel overtakes a slower one, so the arrivals are made monotonic from the end (a
    reverse running minimum: the gas at the sensor at time t is the latest emission that has
    arrived by then) and inverted by linear interpolation. A NaN delay leaves what arrives from
    that emission on unknown.

    >>> delayed([0, 1, 2, 3], [0, 10, 20, 30], [1, 1, 1, 1]).tolist()
    [0.0, 0.0, 10.0, 20.0]
    >>> delayed([0, 1, 2, 3, 4], [0, 10, 20, 30, 40], [3, 3, 1, 1, 1]).tolist()
    [0.0, 0.0, 0.0, 20.0, 30.0]
    """
    t = np.asarray(t, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    raw = t + np.broadcast_to(np.asarray(delay, dtype=np.float64), t.shape)
    arrival = np.fmin.accumulate(raw[::-1])[::-1]
    unknown = np.flatnonzero(np.isnan(raw))
    if unknown.size:
        arrival[unknown[0] :] = np.nan
    return np.asarray(np.interp(t, arrival, x, left=float(x[0])), dtype=np.float64)
