"""Manifests: the file written last into a dataset or feature-set location, which marks it
complete and names every file with its SHA-256.

One place for the format names, the file layout and the content hash that identify a dataset
(``docs/DATASET.md``) and a feature set (``docs/FEATURES.md``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

import pyarrow as pa

__all__ = [
    "DATASET_FORMAT",
    "FEATURES_FORMAT",
    "FEATURES_DIR",
    "FRAMES_DIR",
    "MANIFEST",
    "READINGS_DIR",
    "RUN_FILE",
    "STAGING_DIR",
    "SCENARIOS_FILE",
    "SCHEMA_VERSIONS",
    "content_hash",
    "dumps",
    "part_name",
    "schema_fingerprint",
]

DATASET_FORMAT = "embercast-dataset/1"
"""``format`` of a dataset's manifest: name and version of its layout."""
FEATURES_FORMAT = "embercast-features/1"
"""``format`` of a feature set's manifest."""
SCHEMA_VERSIONS: dict[str, int] = {"readings": 1, "frames": 1, "scenarios": 1}
"""Version of each dataset table's schema; bump one when its contract in ``dataset/schema.py``
changes."""

MANIFEST = "manifest.json"
"""The manifest's file name, in a dataset and in a feature set."""
SCENARIOS_FILE = "scenarios.parquet"
"""A dataset's one row per scenario."""
READINGS_DIR = "readings"
"""A dataset's folder of readings parts."""
FRAMES_DIR = "frames"
"""A dataset's folder of frames parts."""
FEATURES_DIR = "features"
"""A feature set's folder of parts; also the folder of the feature set a dataset computed while
it was generated."""
RUN_FILE = "_run.json"
"""The arguments of a run under way; removed once the manifest is written."""
STAGING_DIR = "_parts"
"""Records of the finished tasks of a run under way (``part-NNNNN.json``), from which a rerun
resumes; removed once the manifest is written."""


def part_name(index: int) -> str:
    """File name of the part written by task ``index``: ``part-NNNNN.parquet``.

    >>> part_name(7)
    'part-00007.parquet'
    """
    return f"part-{index:05d}.parquet"


def content_hash(files: Mapping[str, str]) -> str:
    """One SHA-256 over ``{relative path: sha256}`` (the lines of a ``sha256sum`` listing).

    >>> content_hash({"b": "2" * 64, "a": "1" * 64}) == content_hash({"a": "1" * 64, "b": "2" * 64})
    True
    """
    listing = "".join(f"{files[path]}  {path}\n" for path in sorted(files))
    return hashlib.sha256(listing.encode()).hexdigest()


def schema_fingerprint(schema: pa.Schema) -> str:
    """Short hash of a schema's field names, types and nullability."""
    text = ";".join(f"{f.name}:{f.type}:{'null' if f.nullable else 'required'}" for f in schema)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def dumps(obj: object) -> bytes:
    """A manifest or run record as bytes: indented JSON with sorted keys and a final newline,
    so the same content always gives the same file."""
    return (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode()
