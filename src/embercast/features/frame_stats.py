"""Whole-frame temperature statistics of F."""

from __future__ import annotations

import numpy as np

from embercast.features.base import NAN, RowContext


class FrameStats:
    """``t_mean``, ``t_std`` (population), ``t_max``, ``t_p95`` (linear interpolation) of F [°C].

    >>> from embercast.features.base import Frame, Reading
    >>> img = np.full((120, 160), 20.0, np.float32); img[0, 0] = 100.0
    >>> fs = FrameStats()
    >>> fs.update(RowContext(5.0, Reading(5.0, 420.0, 21.0, 40.0), Frame(5.0, img), None, "ok"))
    >>> [round(v, 3) for v in fs.get()]
    [20.004, 0.577, 100.0, 20.0]
    """

    names: tuple[str, ...] = ("t_mean", "t_std", "t_max", "t_p95")

    def __init__(self) -> None:
        self._values: tuple[float, ...] = (NAN,) * 4

    def update(self, ctx: RowContext) -> None:
        if ctx.frame is None:
            self._values = (NAN,) * 4
            return
        f = ctx.frame.celsius.astype(np.float64, copy=False)
        mean = float(f.mean())
        std = float(np.sqrt(np.mean((f - mean) ** 2)))
        self._values = (mean, std, float(f.max()), float(np.percentile(f, 95.0)))

    def get(self) -> tuple[float, ...]:
        return self._values
