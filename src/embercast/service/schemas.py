"""Request and response bodies of the REST API (DESIGN 4.6-4.7), validated by pydantic: a bad
body gets 422 with the field and the reason."""

from __future__ import annotations

import base64
import binascii
import math
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    field_validator,
    model_validator,
)

from embercast.dataset.schema import FRAME_HEIGHT, FRAME_WIDTH
from embercast.features.edge import EDGE_FORMAT, EdgeProblem, EdgeRow, edge_row

FRAME_BYTES = FRAME_HEIGHT * FRAME_WIDTH * 2
"""Bytes of one raw Lepton 3.5 frame: 120 x 160 uint16, little-endian."""
MAX_ROWS = 10_000
"""Most feature rows, readings or frames in one request."""


class ReadingIn(BaseModel):
    """One SCD41 reading (the ``scd41`` topic's payload): time [s], CO2 [ppm], temperature
    [°C], relative humidity [%]; a missing value is null."""

    model_config = ConfigDict(extra="forbid")

    ts: float = Field(allow_inf_nan=False, description="Time of the reading [s].")
    device_id: str | None = Field(default=None, description="When given, the topic's device.")
    co2_ppm: float | None = Field(default=None, allow_inf_nan=False)
    temperature_c: float | None = Field(default=None, allow_inf_nan=False)
    humidity_pct: float | None = Field(default=None, allow_inf_nan=False)


class FrameIn(BaseModel):
    """One raw Lepton frame (the ``thermal`` topic's payload): its time [s], FFC flag, gain and
    the pixels as base64 of 120 x 160 uint16 centikelvin, little-endian."""

    model_config = ConfigDict(extra="forbid")

    ts: float = Field(allow_inf_nan=False, description="Time the frame was taken [s].")
    device_id: str | None = Field(default=None, description="When given, the topic's device.")
    ffc: bool = Field(default=False, description="A flat-field correction repeat frame.")
    gain: Literal["high", "low"] = "high"
    data: str = Field(description="base64 of 38,400 bytes: 120 x 160 uint16 LE centikelvin.")

    @field_validator("data")
    @classmethod
    def _frame_size(cls, value: str) -> str:
        try:  # strict: only the alphabet, padding at the end (in C, unlike validate=True)
            raw = binascii.a2b_base64(value.encode("ascii"), strict_mode=True)
        except (binascii.Error, ValueError):
            raise ValueError("data is not base64") from None
        if len(raw) != FRAME_BYTES:
            raise ValueError(f"a frame is {FRAME_BYTES} bytes (120 x 160 uint16), got {len(raw)}")
        return value

    def pixels(self) -> NDArray[np.uint16]:
        """The frame as a 120 x 160 array of centikelvin."""
        raw = base64.b64decode(self.data)
        return np.frombuffer(raw, dtype="<u2").reshape(FRAME_HEIGHT, FRAME_WIDTH).astype(np.uint16)


class EdgeIn(BaseModel):
    """Thermal features computed on the device (the ``thermal`` topic's other payload, told
    apart by its ``edge`` field, the payload's format version): the frame-derived values of the
    row at reading time ``ts`` [s] for feature set ``feature_set`` version ``feature_version``,
    the row's thermal status, and ``features`` (name -> value in the feature's unit, null when
    missing), as :class:`~embercast.features.edge.EdgeThermal` makes them."""

    model_config = ConfigDict(extra="forbid")

    ts: float = Field(allow_inf_nan=False, description="Time of the reading the row is for [s].")
    device_id: str | None = Field(default=None, description="When given, the topic's device.")
    edge: int = Field(description="Format version of the edge payload (1).")
    feature_set: str = Field(max_length=64, description="Feature set, e.g. 'extended'.")
    feature_version: int = Field(description="Version of the feature set the device computes.")
    status: str = Field(max_length=16, description="Thermal status: ok, no_frame, stale, ffc.")
    features: dict[str, StrictFloat | None] = Field(
        max_length=256,
        description="Every thermal feature of the set: name -> number (never a string or a "
        "boolean) or null.",
    )

    def row(self) -> EdgeRow:
        """The checked :class:`~embercast.features.edge.EdgeRow`; EdgeProblem (an InputError
        with a ``reason``) when the values cannot be used."""
        if self.edge != EDGE_FORMAT:
            raise EdgeProblem(
                "edge_version",
                f"edge payload format {self.edge}; this service reads format {EDGE_FORMAT}",
            )
        return edge_row(self.ts, self.feature_set, self.feature_version, self.status,
                        self.features)  # fmt: skip


class DeviceData(BaseModel):
    """A device's readings and frames (or edge rows: thermal features computed on the device),
    scored in time order from a fresh stream."""

    model_config = ConfigDict(extra="forbid")

    device_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")
    readings: list[ReadingIn] = Field(min_length=1, max_length=MAX_ROWS)
    frames: list[FrameIn] = Field(default_factory=list, max_length=MAX_ROWS)
    edge: list[EdgeIn] = Field(default_factory=list, max_length=MAX_ROWS)


class PredictRequest(BaseModel):
    """Either feature ``rows`` of the model's own feature set (each may carry ``t_s`` [s]: then
    the rows are a time series and the alarm decision runs over them), or a ``device``'s raw
    readings and frames. ``model`` names another registry reference (admin scope)."""

    model_config = ConfigDict(extra="forbid")

    rows: list[dict[str, float | None]] | None = Field(
        default=None, min_length=1, max_length=MAX_ROWS
    )
    device: DeviceData | None = None
    model: str | None = Field(default=None, max_length=256)

    @model_validator(mode="after")
    def _one_kind(self) -> PredictRequest:
        if (self.rows is None) == (self.device is None):
            raise ValueError("give either rows (feature rows) or device (readings and frames)")
        for i, row in enumerate(self.rows or []):
            bad = [k for k, v in row.items() if v is not None and math.isinf(v)]
            if bad:
                raise ValueError(f"row {i}: {', '.join(bad)} infinite")
        return self


class PredictionOut(BaseModel):
    """The outcome of one row or reading. ``alarm`` and ``onset`` are null for rows without
    times (no decision over time); ``above_threshold`` says whether p reaches the operating
    point's threshold."""

    t_s: float | None
    p_fire: float | None
    risk: str
    above_threshold: bool
    alarm: bool | None
    onset: bool | None
    heat: str | None = None
    sensor_fault: bool | None = None
    thermal_status: str | None = None
    troubles: list[str] | None = Field(
        default=None,
        description="The device's data-quality trouble at this reading (scd41_dropout, "
        "ffc_storm, dead_pixels, clock_skew).",
    )


class PredictResponse(BaseModel):
    model: dict[str, Any]
    predictions: list[PredictionOut]
    rejected: dict[str, int] = Field(
        default_factory=dict, description="Readings or frames the stream rejected, by reason."
    )
