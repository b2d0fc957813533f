"""Spatial gradient of F: edges of hot objects."""

from __future__ import annotations

import numpy as np

from embercast.features.base import NAN, RowContext


class Gradient:
    """``t_grad_mean`` and ``t_grad_std`` of the per-pixel gradient magnitude of F [°C/px],
    central differences inside the frame, one-sided at its border (``numpy.gradient``).

    >>> from embercast.features.base import Frame, Reading
    >>> img = np.tile(np.arange(160, dtype=np.float32), (120, 1))  # 1 °C per column
    >>> g = Gradient()
    >>> g.update(RowContext(5.0, Reading(5.0, 420.0, 21.0, 40.0), Frame(5.0, img), None, "ok"))
    >>> g.get()
    (1.0, 0.0)
    """

    names: tuple[str, ...] = ("t_grad_mean", "t_grad_std")

    def __init__(self) -> None:
        self._values: tuple[float, ...] = (NAN, NAN)

    def update(self, ctx: RowContext) -> None:
        if ctx.frame is None:
            self._values = (NAN, NAN)
            return
        gy, gx = np.gradient(ctx.frame.celsius.astype(np.float64, copy=False))
        mag = np.hypot(gx, gy)
        self._values = (float(mag.mean()), float(mag.std()))

    def get(self) -> tuple[float, ...]:
        return self._values
