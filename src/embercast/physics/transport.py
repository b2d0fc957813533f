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
    q : heat release rate [kW]
    h : ceiling height above the fuel [m]
    r : radial distance of the sensor from the plume axis [m]

    Notes
    -----
    The plume rises at about the ceiling-jet velocity near the axis and the jet slows with r,
    so :math:`t_d \\approx H / U(r{=}0) + r / U(r)` [1]_, [2]_, capped at ``MAX_DELAY``.

    >>> round(float(transport_delay(100.0, 2.5, 2.0)), 2)
    3.25
    """
    q = np.maximum(np.asarray(q, dtype=np.float64), 1e-6)
    u_axis = alpert_velocity(q, h, 0.0)
    u_r = alpert_velocity(q, h, max(r, 1e-3))
    return np.minimum(h / u_axis + r / u_r, MAX_DELAY)


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
    What is emitted at :math:`\\tau` arrives at :math:`a(\\tau) = \\tau + t_d(\\tau)`; arrivals
    are made monotonic (a faster flow cannot overtake a slower one) and inverted by linear
    interpolation. Mapping on the emission side means a weak flow after a fire ends does not
    bring back gas emitted long before.

    >>> delayed([0, 1, 2, 3], [0, 10, 20, 30], [1, 1, 1, 1]).tolist()
    [0.0, 0.0, 10.0, 20.0]
    """
    t = np.asarray(t, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    arrival = np.maximum.accumulate(
        t + np.broadcast_to(np.asarray(delay, dtype=np.float64), t.shape)
    )
    return np.asarray(np.interp(t, arrival, x, left=float(x[0])), dtype=np.float64)
