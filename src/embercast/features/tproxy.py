"""The hottest spot of F, followed over rows."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from embercast.features.base import NAN, RowContext, Window


def hotspot_mean(img: NDArray[np.float32]) -> float:
    """Mean of the 3x3 neighbourhood of the hottest pixel (first in row-major order on ties),
    clipped at the frame's edges [°C].

    >>> img = np.zeros((120, 160), np.float32); img[0, 0] = 90.0
    >>> hotspot_mean(img)  # corner: 2 x 2 pixels remain
    22.5
    """
    r, c = np.unravel_index(int(np.argmax(img)), img.shape)
    patch = img[max(r - 1, 0) : r + 2, max(c - 1, 0) : c + 2]
    return float(patch.astype(np.float64).mean())


class TProxy:
    """``tproxy_val`` (:func:`hotspot_mean` of F) [°C], ``tproxy_delta`` (change from the
    previous row; 0 on a device's first row; NaN when either is missing) [°C] and
    ``tproxy_vel`` (least-squares slope over the rows in (t - 30 s, t], 0 with fewer than 2) [°C/s].
    """

    names: tuple[str, ...] = ("tproxy_val", "tproxy_delta", "tproxy_vel")

    def __init__(self, window_s: float = 30.0) -> None:
        self._window = Window(window_s)
        self._previous: float | None = None
        self._values: tuple[float, ...] = (NAN, NAN, NAN)

    def update(self, ctx: RowContext) -> None:
        value = NAN if ctx.frame is None else hotspot_mean(ctx.frame.celsius)
        delta = 0.0 if self._previous is None else value - self._previous
        self._previous = value
        self._window.push(ctx.t_s, value)
        vel = NAN if np.isnan(value) else self._window.slope()
        self._values = (value, NAN if np.isnan(value) else delta, vel)

    def get(self) -> tuple[float, ...]:
        return self._values
