"""What running one scenario produces, and what a feature set computed while generating offers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import pyarrow as pa
from fsspec import AbstractFileSystem

from embercast.dataset.schema import FRAMES_SCHEMA


@dataclass
class ScenarioResult:
    """What running one scenario produces (one task of the generator)."""

    scenario: dict[str, Any]
    """One row of scenarios.parquet: SCENARIO_KEY_COLUMNS then the sampled parameters."""
    readings: pa.Table
    """READINGS_SCHEMA rows of every device of the scenario, sorted by device_id, t_s."""
    frames: pa.Table = field(default_factory=FRAMES_SCHEMA.empty_table)
    """FRAMES_SCHEMA rows of the stored frames (empty under FramePolicy ``none``)."""
    rendered_frames: int = 0
    """Frames rendered (stored or not), for throughput reports."""
    features: pa.Table | None = None
    """The scenario's feature table when features were computed inline (else None)."""


class InlineFeatures(Protocol):
    """A feature set computed while generating (``generate --features``).

    The generator renders every reading's frames and hands each scenario's streams to
    :meth:`fold`; each task's table is written with :meth:`write_part` under the dataset's
    ``features`` folder, and :meth:`finish` writes the feature set's manifest just before the
    dataset's own. The features floor supplies it
    (:class:`embercast.features.inline.InlineFeatureSet`); the generator never imports features.
    """

    @property
    def name(self) -> str:
        """The feature set's name (recorded in the dataset's manifest)."""
        ...

    def fold(self, readings: pa.Table, frames: pa.Table, split_group: str) -> pa.Table:
        """The feature table of one scenario's device streams."""
        ...

    def write_part(
        self, fs: AbstractFileSystem, root: str, part: str, table: pa.Table
    ) -> dict[str, Any]:
        """Write one task's feature part under the feature set at ``root``; return its record."""
        ...

    def finish(
        self,
        fs: AbstractFileSystem,
        root: str,
        location: str,
        parent: tuple[str, str],
        parts: list[dict[str, Any]],
    ) -> dict[str, Any]:
        """Write the feature set's manifest from its parts' records (``parent``: the dataset's
        location and content hash) and return it."""
        ...
