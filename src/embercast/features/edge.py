"""Edge-computed thermal features: the frame-derived part of a device's feature rows, computed
on the device, where the frames are, and sent as numbers instead of frames (DESIGN 4.6).

A feature set's extractors are of two kinds (:func:`~embercast.features.sets.is_scd41`): those
that read the SCD41 reading alone (the service computes them from the readings it receives),
and the thermal ones, which read F and P and may keep state over rows (slopes over up to 30 min,
the "new hot object" background). No extractor of ``standard18`` or ``extended`` mixes the two
(an SCD41 channel reads the reading only), so the split is exact. :class:`EdgeThermal` runs the
thermal extractors: frames and readings in, one :class:`EdgeRow` per reading out, which
:meth:`EdgeRow.payload` turns into the ``thermal`` message that carries it.

The service's :class:`~embercast.features.stream.DeviceFeatures` runs an EdgeThermal itself on
the frames it receives, and takes a row's thermal values from the device instead when they come
(``update_reading(reading, edge=row)``). Device and service run the same code, so a device that
sends edge rows gets the feature rows, probabilities and alarms it would get by sending its
frames, bit for bit, as long as the service receives every reading the device made a row for
(the device's windows count the rows it made).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from embercast.errors import InputError
from embercast.features.base import NAN, Extractor, Reading, RowContext
from embercast.features.frames import THERMAL_STATUSES, FrameBuffer
from embercast.features.sets import FEATURE_SETS, FEATURE_VERSIONS, get_feature_set, is_scd41

EDGE_FORMAT = 1
"""Version of the edge payload (its ``edge`` field); bump it when the payload's layout changes."""
MAY_BE_NULL_WITH_F: frozenset[str] = frozenset(
    {"t_diff_mean", "t_diff_std", "flow_mag_mean", "flow_mag_std", "hot_flicker", "tproxy_delta"}
)
"""Thermal features that may be missing (null) even with a usable F: those of P (difference,
flow, flicker) and the hot spot's change since the previous row (missing after a row without
F). Every other thermal feature is a number when the status is ``ok``."""


class EdgeProblem(InputError):
    """Edge values that cannot be used: ``reason`` (short, counted) and the message."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def reading_problem(t_s: float, last_t: float) -> str | None:
    """Why a row at ``t_s`` [s] cannot follow one at ``last_t`` [s] (``reading_time`` when
    ``t_s`` is not finite, ``reading_order`` when it is not later), or None.

    >>> reading_problem(5.0, 5.0), reading_problem(float("nan"), 0.0), reading_problem(6.0, 5.0)
    ('reading_order', 'reading_time', None)
    """
    if not math.isfinite(t_s):
        return "reading_time"
    return "reading_order" if t_s <= last_t else None


@dataclass(frozen=True)
class EdgeRow:
    """The thermal part of one feature row: the reading's time ``t_s`` [s], the thermal status
    (``ok``, ``no_frame``, ``stale``, ``ffc``), the thermal features' ``names`` and ``values``
    in row order (NaN where missing; each in its feature's unit, docs/FEATURES.md), of feature
    set ``feature_set`` version ``version``."""

    t_s: float
    status: str
    names: tuple[str, ...] = field(repr=False)
    values: tuple[float, ...] = field(repr=False)
    feature_set: str
    version: int

    def payload(self) -> dict[str, Any]:
        """The ``thermal`` message that carries this row (JSON-ready: a missing value is None,
        every number as computed, so it goes through JSON unchanged).

        >>> row = EdgeRow(5.0, "ok", ("t_mean", "t_diff_mean"), (21.25, NAN), "custom", 0)
        >>> row.payload()  # doctest: +NORMALIZE_WHITESPACE
        {'ts': 5.0, 'edge': 1, 'feature_set': 'custom', 'feature_version': 0, 'status': 'ok',
         'features': {'t_mean': 21.25, 't_diff_mean': None}}
        """
        values = (None if math.isnan(v) else v for v in self.values)
        return {
            "ts": self.t_s,
            "edge": EDGE_FORMAT,
            "feature_set": self.feature_set,
            "feature_version": self.version,
            "status": self.status,
            "features": dict(zip(self.names, values, strict=True)),
        }


@cache
def edge_names(feature_set: str) -> tuple[str, ...]:
    """The thermal features of ``feature_set``, in row order: what an edge row carries.

    >>> edge_names("standard18")[-3:]
    ('tproxy_val', 'tproxy_delta', 'tproxy_vel')
    """
    return tuple(n for e in get_feature_set(feature_set)() if not is_scd41(e) for n in e.names)


@cache
def _blank(feature_set: str) -> tuple[float, ...]:
    """The thermal values of a row without a usable F (the same whatever came before)."""
    extractors = [e for e in get_feature_set(feature_set)() if not is_scd41(e)]
    ctx = RowContext(0.0, Reading(0.0, NAN, NAN, NAN), None, None, "no_frame")
    for e in extractors:
        e.update(ctx)
    return tuple(v for e in extractors for v in e.get())


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def edge_row(
    ts: float,
    feature_set: str,
    feature_version: int,
    status: str,
    features: Mapping[str, float | None],
) -> EdgeRow:
    """Check edge values received from a device and make their :class:`EdgeRow`; EdgeProblem
    naming what is wrong: ``edge_feature_set`` (unknown set, or another version than this
    code's), ``edge_unknown`` (names that are not thermal features of the set), ``edge_missing``,
    ``edge_value`` (a value not finite, or null where a usable F gives a number),
    ``edge_status`` (an unknown status, or values a row without F cannot have).

    >>> edge_row(5.0, "standard18", 1, "ok", {"t_mean": 21.0})
    Traceback (most recent call last):
    ...
    embercast.features.edge.EdgeProblem: 'standard18' edge values lack t_std, t_max, t_p95, \
t_hot_area_pct, t_hot_largest_blob_pct, t_grad_mean, t_grad_std, t_diff_mean, t_diff_std, \
flow_mag_mean, flow_mag_std, tproxy_val, tproxy_delta, tproxy_vel
    >>> edge_row(5.0, "standard18", 1, "stale", dict.fromkeys(edge_names("standard18"))).status
    'stale'
    """
    if feature_set not in FEATURE_SETS:
        raise EdgeProblem(
            "edge_feature_set",
            f"unknown feature set {feature_set!r}: one of {', '.join(sorted(FEATURE_SETS))}",
        )
    version = FEATURE_VERSIONS[feature_set]
    if feature_version != version:
        raise EdgeProblem(
            "edge_feature_set",
            f"edge values of {feature_set!r} version {feature_version}, but this service "
            f"computes version {version}",
        )
    if status not in THERMAL_STATUSES:
        known = ", ".join(THERMAL_STATUSES)
        raise EdgeProblem("edge_status", f"unknown thermal status {status!r}: one of {known}")
    names = edge_names(feature_set)
    unknown = sorted(set(features) - set(names))
    if unknown:
        raise EdgeProblem(
            "edge_unknown",
            f"{', '.join(unknown)}: not frame-derived features of {feature_set!r} (the service "
            "computes the SCD41 features from the readings)",
        )
    missing = [n for n in names if n not in features]
    if missing:
        raise EdgeProblem("edge_missing", f"{feature_set!r} edge values lack {', '.join(missing)}")
    raw = [features[n] for n in names]
    bad = [n for n, v in zip(names, raw, strict=True) if v is not None and not math.isfinite(v)]
    if bad:
        raise EdgeProblem(
            "edge_value", f"{', '.join(bad)} not finite (a missing value is null, never NaN)"
        )
    values = tuple(NAN if v is None else float(v) for v in raw)
    if status == "ok":
        absent = [n for n, v in zip(names, values, strict=True)
                  if math.isnan(v) and n not in MAY_BE_NULL_WITH_F]  # fmt: skip
        if absent:
            raise EdgeProblem(
                "edge_value",
                f"{', '.join(absent)} null with status 'ok': a usable frame gives them a value",
            )
    else:
        blank = _blank(feature_set)
        off = [
            f"{n} must be {'null' if math.isnan(b) else b}"
            for n, v, b in zip(names, values, blank, strict=True)
            if not _same(v, b)
        ]
        if off:
            raise EdgeProblem(
                "edge_status", f"status {status!r} means no usable frame, but {', '.join(off)}"
            )
    return EdgeRow(float(ts), status, names, values, feature_set, version)


class EdgeThermal:
    """The thermal part of one device's feature rows for feature set ``feature_set`` (or for a
    custom list of thermal ``extractors``): frames in (``update_frame``), one :class:`EdgeRow`
    per SCD41 reading out (``update``). This is what a device with a camera runs to send edge
    rows instead of frames, and what the service runs on the frames it receives.

    >>> from embercast.features.base import Reading
    >>> edge = EdgeThermal("standard18")
    >>> img = np.full((120, 160), 21.0, np.float32); img[60, 80] = 90.0
    >>> edge.update_frame(4.0, img), edge.update_frame(5.0, img)
    (True, True)
    >>> row = edge.update(Reading(5.0, 420.0, 21.0, 40.0))
    >>> row.status, len(row.values), row.values[edge.names.index("t_max")]
    ('ok', 15, 90.0)
    >>> message = row.payload()
    >>> message["edge"], message["feature_version"], message["features"]["t_diff_mean"]
    (1, 1, 0.0)
    >>> edge.update(Reading(10.0, 420.0, 21.0, 40.0)).status  # the newest frame is 5 s old
    'stale'
    """

    def __init__(
        self, feature_set: str = "standard18", extractors: list[Extractor] | None = None
    ) -> None:
        self.feature_set = feature_set
        self.version = FEATURE_VERSIONS.get(feature_set, 0)
        if extractors is None:
            extractors = [e for e in get_feature_set(feature_set)() if not is_scd41(e)]
        self._extractors = extractors
        self.names: tuple[str, ...] = tuple(n for e in extractors for n in e.names)
        self._frames = FrameBuffer()
        self._last_t = -math.inf
        self.rejected: Counter[str] = Counter()
        """Rejected inputs by reason (``frame_shape``, ``frame_dtype``, ``frame_nan``,
        ``frame_range``, ``frame_order``, ``reading_order``, ``reading_time``)."""
        blank = (NAN,) * len(self.names)
        self._row = EdgeRow(NAN, "no_frame", self.names, blank, feature_set, self.version)

    def update_frame(self, t_s: float, frame: NDArray[np.generic], ffc: bool = False) -> bool:
        """Accept a frame at ``t_s`` [s]: °C as float, or raw uint16 centikelvin. Returns whether
        it was accepted (else its reason is counted in ``rejected``)."""
        reason = self._frames.update(t_s, frame, ffc)
        if reason is not None:
            self.rejected[reason] += 1
        return reason is None

    def update(self, reading: Reading) -> EdgeRow | None:
        """Make the thermal part of the row at the reading's time; None if the reading is
        rejected (out of order, duplicated or without a finite time), with its reason counted."""
        t = reading.t_s
        problem = reading_problem(t, self._last_t)
        if problem is not None:
            self.rejected[problem] += 1
            return None
        self._last_t = t
        f, p, status = self._frames.get(t)
        ctx = RowContext(t, reading, f, p, status)
        values: list[float] = []
        for extractor in self._extractors:
            extractor.update(ctx)
            values.extend(extractor.get())
        self._row = EdgeRow(t, status, self.names, tuple(values), self.feature_set, self.version)
        return self._row

    def get(self) -> EdgeRow:
        """The last row (NaN values before the first reading)."""
        return self._row
