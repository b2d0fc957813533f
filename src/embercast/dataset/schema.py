"""The dataset contract: table schemas, the frame-storage policy and the label vocabulary.

A dataset directory holds (see ``docs/DATASET.md``)::

    manifest.json          written last; its presence marks the dataset complete
    scenarios.parquet      one row per scenario (SCENARIO_KEY_COLUMNS + every sampled parameter)
    readings/part-NNNNN.parquet   READINGS_SCHEMA, one row per device per SCD41 reading
    frames/part-NNNNN.parquet     FRAMES_SCHEMA, the stored Lepton frames (zstd-compressed Parquet)

Columns whose name starts with ``true_`` are ground truth from the physics, for validation and
plots; they are not sensor outputs and models must not use them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pyarrow as pa

from embercast.errors import InputError
from embercast.sensors.datasheets import LEPTON35

FRAME_HEIGHT = LEPTON35.height_px
"""Rows of a stored frame: the Lepton 3.5's [px]."""
FRAME_WIDTH = LEPTON35.width_px
"""Columns of a stored frame: the Lepton 3.5's [px]."""
FRAME_BYTES = FRAME_HEIGHT * FRAME_WIDTH * 2
"""One raw frame: uint16 centikelvin, little-endian, row-major [bytes]."""

PHASES: tuple[str, ...] = ("normal", "incipient", "growth", "developed", "decay")
"""Label vocabulary of the ``phase`` column (DESIGN 4.3)."""

READINGS_SCHEMA = pa.schema(
    [
        pa.field("scenario_id", pa.string(), nullable=False),
        pa.field("device_id", pa.string(), nullable=False),
        pa.field("t_s", pa.float64(), nullable=False),  # seconds from scenario start
        # SCD41 outputs (NaN when the reading is missing)
        pa.field("co2_ppm", pa.float64()),
        pa.field("temperature_c", pa.float64()),
        pa.field("humidity_pct", pa.float64()),
        # environmental data known to a building system
        pa.field("outdoor_temp_c", pa.float64()),
        pa.field("outdoor_rh_pct", pa.float64()),
        pa.field("hvac_on", pa.bool_()),
        pa.field("window_open", pa.bool_()),
        pa.field("occupancy", pa.int16()),
        # camera status at t: a frame at or before t exists within the last second
        pa.field("thermal_available", pa.bool_()),
        # ground truth from the physics (not sensor outputs)
        pa.field("true_hrr_kw", pa.float64()),
        pa.field("true_co2_ppm", pa.float64()),
        pa.field("true_gas_temp_c", pa.float64()),
        pa.field("true_rh_pct", pa.float64()),
        # labels
        pa.field("fire", pa.int8(), nullable=False),
        pa.field("phase", pa.string(), nullable=False),
        pa.field("scenario_class", pa.string(), nullable=False),
    ]
)

FRAMES_SCHEMA = pa.schema(
    [
        pa.field("scenario_id", pa.string(), nullable=False),
        pa.field("device_id", pa.string(), nullable=False),
        pa.field("t_s", pa.float64(), nullable=False),  # frame timestamp [s]
        pa.field("frame_index", pa.int64(), nullable=False),  # index at the 8.7 Hz frame clock
        pa.field("gain", pa.string(), nullable=False),  # "high" or "low"
        pa.field("ffc", pa.bool_(), nullable=False),  # output frozen by a flat-field correction
        pa.field("frame", pa.binary(FRAME_BYTES), nullable=False),  # uint16 LE centikelvin
    ]
)

SCENARIO_KEY_COLUMNS: tuple[str, ...] = (
    "scenario_id",
    "scenario_class",
    "is_fire",
    "ignition_s",
    "duration_s",
    "seed",
    "split_group",
)
"""Columns every row of scenarios.parquet has, before the sampled parameters."""
SPLIT_GROUPS: tuple[str, ...] = ("train", "val", "test", "holdout")
"""Split groups a dataset's scenarios are assigned to (by scenario, never by row)."""


@dataclass(frozen=True, kw_only=True)
class FramePolicy:
    """Which rendered frames are stored.

    ``all`` stores every rendered frame (for each reading at t: the frame at or before t and the
    frame at or before t - 1 s), ``none`` stores none, ``sample:F`` stores the frame pairs of every
    F-th reading (F >= 1), so a scenario keeps a thinned film of its whole duration.
    """

    mode: Literal["all", "none", "sample"]
    every: int = 1

    @classmethod
    def parse(cls, text: str) -> FramePolicy:
        """Parse ``all``, ``none`` or ``sample:F``; raise ValueError naming the problem."""
        text = text.strip().lower()
        if text in ("all", "none"):
            return cls(mode=text)  # type: ignore[arg-type]
        if text.startswith("sample:"):
            raw = text.split(":", 1)[1]
            try:
                every = int(raw)
            except ValueError:
                raise InputError(
                    f"invalid frames policy {text!r}: F in 'sample:F' must be an integer >= 1"
                ) from None
            if every < 1:
                raise InputError(f"invalid frames policy {text!r}: F must be >= 1, got {every}")
            return cls(mode="sample", every=every)
        raise InputError(f"invalid frames policy {text!r}: expected 'all', 'none' or 'sample:F'")

    def keeps(self, reading_index: int) -> bool:
        """Whether the frames of the reading with this index (0-based) are stored."""
        if self.mode == "none":
            return False
        if self.mode == "all":
            return True
        return reading_index % self.every == 0

    def __str__(self) -> str:
        return f"sample:{self.every}" if self.mode == "sample" else self.mode
