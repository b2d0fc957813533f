"""Spatial gradient of F: edges of hot objects."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from embercast.features.base import NAN, RowContext


def gradient_magnitude(img: NDArray[np.float32]) -> NDArray[np.float32]:
    """Per-pixel gradient magnitude [°C/px]: central differences inside, one-sided at the border,
    as ``numpy.gradient`` (computed in float32 slices, about 5x faster).

    >>> img = np.zeros((3, 3), np.float32); img[1, 1] = 2.0
    >>> gradient_magnitude(img).tolist()
    [[0.0, 2.0, 0.0], [2.0, 0.0, 2.0], [0.0, 2.0, 0.0]]
    """
    f = img.astype(np.float32, copy=False)
    gx = np.empty_like(f)
    gy = np.empty_like(f)
    gx[:, 1:-1] = (f[:, 2:] - f[:, :-2]) * np.float32(0.5)
    gx[:, 0] = f[:, 1] - f[:, 0]
    gx[:, -1] = f[:, -1] - f[:, -2]
    gy[1:-1] = (f[2:] - f[:-2]) * np.float32(0.5)
    gy[0] = f[1] - f[0]
    gy[-1] = f[-1] - f[-2]
    return np.sqrt(gx * gx + gy * gy)


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
        mag = gradient_magnitude(ctx.frame.celsius)
        mean = float(mag.mean(dtype=np.float64))
        self._values = (mean, float(np.sqrt(np.mean(np.square(mag - mean), dtype=np.float64))))

    def get(self) -> tuple[float, ...]:
        return self._values
