"""A device's recent thermal frames, and which of them a feature row uses.

F is the latest accepted frame at or before the reading's time t, usable if it is at most
``MAX_FRAME_AGE`` old and not an FFC repeat; P is the latest accepted frame at or before t - 1 s,
usable under the same rules. Without a usable F the row's thermal status says why (``no_frame``,
``stale``, ``ffc``) and P is not used either.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np
from numpy.typing import NDArray

from embercast.dataset.schema import FRAME_HEIGHT, FRAME_WIDTH
from embercast.features.base import Frame

FRAME_SHAPE = (FRAME_HEIGHT, FRAME_WIDTH)
"""Shape of a frame (rows, columns): the Lepton 3.5's, as stored in a dataset."""
MAX_FRAME_AGE = 0.5
"""A frame older than this at the time it is used is stale [s] (about 4 frames at 8.7 Hz)."""
PAIR_GAP = 1.0
"""P is taken at or before t - PAIR_GAP [s]."""
VALID_C = (-60.0, 700.0)
"""Pixel temperatures outside this range are not physical for the camera [°C]."""
THERMAL_STATUSES = ("ok", "no_frame", "stale", "ffc")
"""What a row's thermal status may be: F usable, or why not."""
_EPS = 1e-6


def frame_problem(frame: NDArray[np.generic]) -> str | None:
    """Why a frame cannot be used, whatever its time (``frame_shape``, ``frame_dtype``,
    ``frame_nan``, ``frame_range``), or None: the checks the stream applies to every frame,
    also run where frames arrive (the service's ingest).

    >>> frame_problem(np.zeros((120, 160), np.uint16))
    'frame_range'
    >>> frame_problem(np.full((120, 160), 29_315, np.uint16)) is None
    True
    """
    if not isinstance(frame, np.ndarray) or frame.shape != FRAME_SHAPE:
        return "frame_shape"
    if frame.dtype != np.uint16 and not np.issubdtype(frame.dtype, np.floating):
        return "frame_dtype"
    if frame.dtype != np.uint16:
        if not np.isfinite(frame).all():
            return "frame_nan"
        lo, hi = float(frame.min()), float(frame.max())
    else:
        lo = float(frame.min()) / 100.0 - 273.15
        hi = float(frame.max()) / 100.0 - 273.15
    if lo < VALID_C[0] or hi > VALID_C[1]:
        return "frame_range"
    return None


class FrameBuffer:
    """The frames of the last couple of seconds of one device: ``update`` with each frame,
    ``get(t)`` for the F, P and thermal status of a row at t.

    >>> buf = FrameBuffer()
    >>> img = np.full((120, 160), 21.0, np.float32)
    >>> buf.update(4.0, img), buf.update(5.0, img, ffc=True), buf.update(4.5, img)
    (None, None, 'frame_order')
    >>> f, p, status = buf.get(5.0); status, f is None
    ('ffc', True)
    >>> buf.update(6.0, img); f, p, status = buf.get(6.2); status, f.t_s, p is None
    ('ok', 6.0, True)
    """

    def __init__(self) -> None:
        self._frames: deque[Frame] = deque()
        self._last_t = -math.inf

    def update(self, t_s: float, frame: NDArray[np.generic], ffc: bool = False) -> str | None:
        """Take a frame at ``t_s`` [s]: °C as float, or raw uint16 centikelvin. None when it is
        accepted, else why not (``frame_order`` or a :func:`frame_problem`)."""
        reason = self._check(t_s, frame)
        if reason is not None:
            return reason
        if frame.dtype == np.uint16:
            celsius = frame.astype(np.float32) / np.float32(100.0) - np.float32(273.15)
        else:
            celsius = frame.astype(np.float32, copy=False)
        self._frames.append(Frame(float(t_s), celsius, bool(ffc)))
        self._last_t = float(t_s)
        while self._frames and self._frames[0].t_s < t_s - PAIR_GAP - 2 * MAX_FRAME_AGE:
            self._frames.popleft()
        return None

    def _check(self, t_s: float, frame: NDArray[np.generic]) -> str | None:
        if not math.isfinite(t_s) or t_s <= self._last_t:
            problem = frame_problem(frame)
            return problem if problem in ("frame_shape", "frame_dtype") else "frame_order"
        return frame_problem(frame)

    def _latest(self, t: float) -> Frame | None:
        for frame in reversed(self._frames):
            if frame.t_s <= t + _EPS:
                return frame
        return None

    def get(self, t: float) -> tuple[Frame | None, Frame | None, str]:
        """F and P of a row at ``t`` [s] (None when not usable) and its thermal status (one of
        :data:`THERMAL_STATUSES`)."""
        f = self._latest(t)
        if f is None:
            status = "no_frame"
        elif t - f.t_s > MAX_FRAME_AGE + _EPS:
            status = "stale"
        elif f.ffc:
            status = "ffc"
        else:
            status = "ok"
        p = self._latest(t - PAIR_GAP) if status == "ok" else None
        if p is not None and (t - PAIR_GAP - p.t_s > MAX_FRAME_AGE + _EPS or p.ffc):
            p = None
        return (f if status == "ok" else None), p, status
