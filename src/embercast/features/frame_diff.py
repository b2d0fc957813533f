"""Change between P and F."""

from __future__ import annotations

import numpy as np

from embercast.features.base import NAN, RowContext


class FrameDiff:
    """``t_diff_mean`` and ``t_diff_std`` (population) of F - P [°C]; NaN without F or P.

    >>> from embercast.features.base import Frame, Reading
    >>> p = np.full((120, 160), 20.0, np.float32)
    >>> fd = FrameDiff()
    >>> r = Reading(5.0, 420.0, 21.0, 40.0)
    >>> ctx = RowContext(5.0, r, Frame(5.0, p + 0.5), Frame(4.0, p), "ok")
    >>> fd.update(ctx)
    >>> fd.get()
    (0.5, 0.0)
    """

    names: tuple[str, ...] = ("t_diff_mean", "t_diff_std")

    def __init__(self) -> None:
        self._values: tuple[float, ...] = (NAN, NAN)

    def update(self, ctx: RowContext) -> None:
        if ctx.frame is None or ctx.previous is None:
            self._values = (NAN, NAN)
            return
        d = ctx.frame.celsius.astype(np.float64) - ctx.previous.celsius.astype(np.float64)
        self._values = (float(d.mean()), float(d.std()))

    def get(self) -> tuple[float, ...]:
        return self._values
