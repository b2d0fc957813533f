"""The feature stream of one device: frames and readings in, one feature row per reading out.

The same object serves the live service (events as they arrive) and the offline table (events
folded from a recorded dataset), so both give the same numbers.

F is the latest accepted frame at or before the reading's time t, usable if it is at most
``MAX_FRAME_AGE`` old and not an FFC repeat; P is the latest accepted frame at or before t - 1 s,
usable under the same rules (:mod:`embercast.features.frames`). Without a usable F every thermal
feature is NaN and the row says why (``thermal_status``); without a usable P the P-based features
(difference, flow, flicker) are NaN. Bad input never stops the stream: it is rejected, with its
reason counted in ``rejected``.

A row is the thermal part (:class:`~embercast.features.edge.EdgeThermal`, run on the frames
received) and the SCD41 part (the extractors that read the reading alone). A device that
computes the thermal part itself sends an :class:`~embercast.features.edge.EdgeRow` instead of
frames, and ``update_reading(reading, edge=row)`` takes its values: the same row as from the
frames.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from embercast.features.base import Extractor, Reading, RowContext
from embercast.features.edge import EdgeRow, EdgeThermal, reading_problem
from embercast.features.frames import FRAME_SHAPE, MAX_FRAME_AGE, PAIR_GAP, VALID_C, frame_problem
from embercast.features.sets import get_feature_set, is_scd41

__all__ = [
    "FRAME_SHAPE",
    "MAX_FRAME_AGE",
    "PAIR_GAP",
    "VALID_C",
    "DeviceFeatures",
    "frame_problem",
]

_EPS = 1e-6


class DeviceFeatures:
    """Streaming feature rows of one device for feature set ``feature_set`` (or for a custom list
    of ``extractors``).

    >>> from embercast.features.base import Reading
    >>> dev = DeviceFeatures("standard18")
    >>> row = dev.update_reading(Reading(5.0, 420.0, 21.0, 40.0))
    >>> dev.status, round(row[dev.names.index("gas_val")], 1), bool(np.isnan(row[0]))
    ('no_frame', 420.0, True)

    The thermal part of a row can come from the device (an :class:`EdgeRow` of the same feature
    set at the reading's time) instead of from frames:

    >>> from embercast.features.edge import EdgeThermal
    >>> edge = EdgeThermal("standard18")
    >>> img = np.full((120, 160), 21.0, np.float32)
    >>> edge.update_frame(10.0, img)
    True
    >>> reading = Reading(10.0, 425.0, 21.0, 40.0)
    >>> row = dev.update_reading(reading, edge=edge.update(reading))
    >>> dev.status, row[dev.names.index("t_mean")], row[dev.names.index("gas_delta")]
    ('ok', 21.0, 5.0)
    """

    def __init__(
        self, feature_set: str = "standard18", extractors: list[Extractor] | None = None
    ) -> None:
        self.feature_set = feature_set
        extractors = get_feature_set(feature_set)() if extractors is None else extractors
        self.names: tuple[str, ...] = tuple(n for e in extractors for n in e.names)
        scd41 = [is_scd41(e) for e in extractors]
        thermal = [e for e, s in zip(extractors, scd41, strict=True) if not s]
        self.thermal = EdgeThermal(feature_set, thermal)
        """The thermal part of the rows, from the frames received."""
        self._scd41 = [e for e, s in zip(extractors, scd41, strict=True) if s]
        flags = [s for e, s in zip(extractors, scd41, strict=True) for _ in e.names]
        self._thermal_at = [i for i, s in enumerate(flags) if not s]
        self._scd41_at = [i for i, s in enumerate(flags) if s]
        self._last_reading_t = -math.inf
        self.rejected = self.thermal.rejected
        """Rejected inputs by reason (``frame_shape``, ``frame_dtype``, ``frame_nan``,
        ``frame_range``, ``frame_order``, ``reading_order``, ``reading_time``, and
        ``edge_feature_set`` for edge values of another feature set or time)."""
        self.status = "no_frame"
        self._row: tuple[float, ...] = (math.nan,) * len(self.names)

    def update_frame(self, t_s: float, frame: NDArray[np.generic], ffc: bool = False) -> bool:
        """Accept a frame at ``t_s`` [s]: °C as float, or raw uint16 centikelvin. Returns whether
        it was accepted (else its reason is counted in ``rejected``)."""
        return self.thermal.update_frame(t_s, frame, ffc)

    def update_reading(
        self, reading: Reading, edge: EdgeRow | None = None
    ) -> tuple[float, ...] | None:
        """Make the feature row at the reading's time; None if the reading is rejected (out of
        order, duplicated or without a finite time), with its reason counted. With ``edge``, the
        thermal values computed on the device at the reading's time, those make the row's
        thermal part (edge values of another feature set, version or time are counted as
        ``edge_feature_set`` and the frames received make it)."""
        t = reading.t_s
        problem = reading_problem(t, self._last_reading_t)
        if problem is not None:
            self.rejected[problem] += 1
            return None
        self._last_reading_t = t
        if edge is not None and not self._fits(edge, t):
            self.rejected["edge_feature_set"] += 1
            edge = None
        thermal = self.thermal.update(reading) if edge is None else edge
        assert thermal is not None  # the time was checked above
        ctx = RowContext(t, reading, None, None, thermal.status)
        values = [math.nan] * len(self.names)
        for i, v in zip(self._thermal_at, thermal.values, strict=True):
            values[i] = v
        scd41: list[float] = []
        for extractor in self._scd41:
            extractor.update(ctx)
            scd41.extend(extractor.get())
        for i, v in zip(self._scd41_at, scd41, strict=True):
            values[i] = v
        self.status = thermal.status
        self._row = tuple(values)
        return self._row

    def _fits(self, edge: EdgeRow, t: float) -> bool:
        """Whether ``edge`` is the thermal part of this stream's row at ``t``."""
        same_set = (edge.feature_set, edge.version) == (self.thermal.feature_set,
                                                        self.thermal.version)  # fmt: skip
        return same_set and edge.names == self.thermal.names and abs(edge.t_s - t) <= _EPS

    def get(self) -> tuple[float, ...]:
        """The last feature row (NaN before the first reading)."""
        return self._row
