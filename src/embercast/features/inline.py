"""A feature set computed while a dataset is generated (``generate --features``).

The generator renders every reading's frames and calls these methods
(:class:`embercast.synth.result.InlineFeatures`); the folding, the parts and the manifest are
those of ``embercast features`` (:mod:`embercast.features.build`), so both give the same table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from fsspec import AbstractFileSystem

from embercast.features.build import feature_record, finish_feature_set, write_part
from embercast.features.fold import fold
from embercast.features.sets import get_feature_set


@dataclass(frozen=True)
class InlineFeatureSet:
    """Feature set ``feature_set`` (``standard18``, ``extended``) folded while generating.

    >>> InlineFeatureSet("standard18").name
    'standard18'
    """

    feature_set: str

    def __post_init__(self) -> None:
        get_feature_set(self.feature_set)  # an unknown name fails here, before any work

    @property
    def name(self) -> str:
        """The feature set's name."""
        return self.feature_set

    def fold(self, readings: pa.Table, frames: pa.Table, split_group: str) -> pa.Table:
        """The feature table of one scenario's device streams (``readings`` hold one scenario)."""
        ids = set(readings["scenario_id"].to_pylist())
        return fold(readings, frames, self.feature_set, dict.fromkeys(ids, split_group))

    def write_part(
        self, fs: AbstractFileSystem, root: str, part: str, table: pa.Table
    ) -> dict[str, Any]:
        """Write one task's part atomically; return its record for the manifest."""
        return write_part(fs, root, part, table, {})

    def finish(
        self,
        fs: AbstractFileSystem,
        root: str,
        location: str,
        parent: tuple[str, str],
        parts: list[dict[str, Any]],
    ) -> dict[str, Any]:
        """Write the manifest (not registered: the generator registers it with its dataset)."""
        record = feature_record(self.feature_set, *parent)
        return finish_feature_set(fs, root, location, record, parts, register=False)
