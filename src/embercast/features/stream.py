"""The feature stream of one device: frames and readings in, one feature row per reading out.

The same object serves the live service (events as they arrive) and the offline table (events
folded from a recorded dataset), so both give the same numbers.

F is the latest accepted frame at or before the reading's time t, usable if it is at most
``MAX_FRAME_AGE`` old and not an FFC repeat; P is the latest accepted frame at or before t - 1 s,
usable under the same rules. Without a usable F every thermal feature is NaN and the row says why
(``thermal_status``); without a usable P the P-based features (difference, flow, flicker) are NaN.
Bad input never stops the stream: it is rejected, with its reason counted in ``rejected``.
"""

from __future__ import annotations

import math
from collections import Counter, deque

import numpy as np
from numpy.typing import NDArray

from embercast.dataset.schema import FRAME_HEIGHT, FRAME_WIDTH
from embercast.features.base import Extractor, Frame, Reading, RowContext
from embercast.features.sets import get_feature_set

FRAME_SHAPE = (FRAME_HEIGHT, FRAME_WIDTH)
"""Shape of a frame (rows, columns): the Lepton 3.5's, as stored in a dataset."""
MAX_FRAME_AGE = 0.5
"""A frame older than this at the time it is used is stale [s] (about 4 frames at 8.7 Hz)."""
PAIR_GAP = 1.0
"""P is taken at or before t - PAIR_GAP [s]."""
VALID_C = (-60.0, 700.0)
"""Pixel temperatures outside this range are not physical for the camera [°C]."""
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


class DeviceFeatures:
    """Streaming feature rows of one device for feature set ``feature_set`` (or for a custom list
    of ``extractors``).

    >>> from embercast.features.base import Reading
    >>> dev = DeviceFeatures("standard18")
    >>> row = dev.update_reading(Reading(5.0, 420.0, 21.0, 40.0))
    >>> dev.status, round(row[dev.names.index("gas_val")], 1), bool(np.isnan(row[0]))
    ('no_frame', 420.0, True)
    """

    def __init__(
        self, feature_set: str = "standard18", extractors: list[Extractor] | None = None
    ) -> None:
        self.feature_set = feature_set
        self._extractors = get_feature_set(feature_set)() if extractors is None else extractors
        self.names: tuple[str, ...] = tuple(n for e in self._extractors for n in e.names)
        self._frames: deque[Frame] = deque()
        self._last_frame_t = -math.inf
        self._last_reading_t = -math.inf
        self.rejected: Counter[str] = Counter()
        """Rejected inputs by reason (``frame_shape``, ``frame_dtype``, ``frame_nan``,
        ``frame_range``, ``frame_order``, ``reading_order``, ``reading_time``)."""
        self.status = "no_frame"
        self._row: tuple[float, ...] = (math.nan,) * len(self.names)

    def update_frame(self, t_s: float, frame: NDArray[np.generic], ffc: bool = False) -> bool:
        """Accept a frame at ``t_s`` [s]: °C as float, or raw uint16 centikelvin. Returns whether
        it was accepted (else its reason is counted in ``rejected``)."""
        reason = self._check_frame(t_s, frame)
        if reason is not None:
            self.rejected[reason] += 1
            return False
        if frame.dtype == np.uint16:
            celsius = frame.astype(np.float32) / np.float32(100.0) - np.float32(273.15)
        else:
            celsius = frame.astype(np.float32, copy=False)
        self._frames.append(Frame(float(t_s), celsius, bool(ffc)))
        self._last_frame_t = float(t_s)
        while self._frames and self._frames[0].t_s < t_s - PAIR_GAP - 2 * MAX_FRAME_AGE:
            self._frames.popleft()
        return True

    def _check_frame(self, t_s: float, frame: NDArray[np.generic]) -> str | None:
        if not math.isfinite(t_s) or t_s <= self._last_frame_t:
            problem = frame_problem(frame)
            return problem if problem in ("frame_shape", "frame_dtype") else "frame_order"
        return frame_problem(frame)

    def _latest(self, t: float) -> Frame | None:
        for frame in reversed(self._frames):
            if frame.t_s <= t + _EPS:
                return frame
        return None

    def update_reading(self, reading: Reading) -> tuple[float, ...] | None:
        """Make the feature row at the reading's time; None if the reading is rejected (out of
        order, duplicated or without a finite time), with its reason counted."""
        t = reading.t_s
        if not math.isfinite(t):
            self.rejected["reading_time"] += 1
            return None
        if t <= self._last_reading_t:
            self.rejected["reading_order"] += 1
            return None
        self._last_reading_t = t
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
        ctx = RowContext(t, reading, f if status == "ok" else None, p, status)
        values: list[float] = []
        for extractor in self._extractors:
            extractor.update(ctx)
            values.extend(extractor.get())
        self.status = status
        self._row = tuple(values)
        return self._row

    def get(self) -> tuple[float, ...]:
        """The last feature row (NaN before the first reading)."""
        return self._row
