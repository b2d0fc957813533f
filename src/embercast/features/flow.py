"""Dense optical flow from P to F (Farneback).

References
----------
.. [1] Farnebäck, G., "Two-Frame Motion Estimation Based on Polynomial Expansion", SCIA 2003,
   LNCS 2749, 363-370. :doi:`10.1007/3-540-45103-X_50`
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from embercast.features.base import NAN, RowContext

cv2.setNumThreads(1)  # one core per worker process; rates are per core

FLOW_RANGE_C = (-10.0, 140.0)
"""Temperatures mapped linearly to 0..255 (clipped) before the flow [°C] (DESIGN 4.2)."""
PYR_SCALE, LEVELS, WINSIZE, ITERATIONS, POLY_N, POLY_SIGMA = 0.5, 3, 15, 3, 5, 1.2
"""Farneback parameters of feature set standard18 v1 (DESIGN 4.2)."""


def to_uint8(celsius: NDArray[np.float32]) -> NDArray[np.uint8]:
    """Map -10..140 °C linearly onto 0..255, clipped and rounded.

    >>> to_uint8(np.array([-20.0, -10.0, 65.0, 140.0, 300.0], np.float32)).tolist()
    [0, 0, 128, 255, 255]
    """
    lo, hi = FLOW_RANGE_C
    scaled = (celsius.astype(np.float32) - lo) * np.float32(255.0 / (hi - lo))
    return np.asarray(np.rint(np.clip(scaled, 0.0, 255.0)), dtype=np.uint8)


def flow_magnitude(
    previous: NDArray[np.float32], frame: NDArray[np.float32]
) -> NDArray[np.float32]:
    """Per-pixel magnitude of the Farneback flow from ``previous`` to ``frame`` [px/frame]."""
    no_initial_flow: Any = None
    flow = np.asarray(
        cv2.calcOpticalFlowFarneback(
            to_uint8(previous), to_uint8(frame), no_initial_flow,
            PYR_SCALE, LEVELS, WINSIZE, ITERATIONS, POLY_N, POLY_SIGMA, 0,
        )
    )  # fmt: skip
    return np.asarray(np.hypot(flow[..., 0], flow[..., 1]), dtype=np.float32)


class OpticalFlow:
    """``flow_mag_mean`` and ``flow_mag_std`` of the dense optical flow P -> F [px/frame] [1]_;
    NaN without F or P.
    """

    names: tuple[str, ...] = ("flow_mag_mean", "flow_mag_std")

    def __init__(self) -> None:
        self._values: tuple[float, ...] = (NAN, NAN)

    def update(self, ctx: RowContext) -> None:
        if ctx.frame is None or ctx.previous is None:
            self._values = (NAN, NAN)
            return
        mag = flow_magnitude(ctx.previous.celsius, ctx.frame.celsius).astype(np.float64)
        self._values = (float(mag.mean()), float(mag.std()))

    def get(self) -> tuple[float, ...]:
        return self._values
