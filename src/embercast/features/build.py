"""``embercast features``: the offline feature table of a dataset, written as a feature set.

One task per readings part of the dataset folds that part's device streams
(:func:`~embercast.features.fold.fold`) and writes ``features/part-NNNNN.parquet`` atomically;
``manifest.json`` is written last. The content depends only on the dataset's content and the
feature set, never on the engine or worker count, so rebuilding gives the same content hash.
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from fsspec import AbstractFileSystem

from embercast import __version__
from embercast.dataset.manifest import (
    FEATURES_DIR,
    FEATURES_FORMAT,
    FRAMES_DIR,
    MANIFEST,
    READINGS_DIR,
    SCENARIOS_FILE,
    content_hash,
    dumps,
)
from embercast.dataset.schema import FRAMES_SCHEMA
from embercast.engine.executor import map_tasks
from embercast.errors import InputError
from embercast.features.fold import features_schema, fold
from embercast.features.sets import FEATURE_VERSIONS, feature_names, get_feature_set
from embercast.store.fs import (
    atomic_write_bytes,
    check_writable,
    join,
    read_json,
    read_table,
    remove_temporaries,
    removed_if_left_empty,
    resolve,
    sha256,
    write_table_atomic,
)
from embercast.store.integrity import IntegrityError, open_artifact
from embercast.store.lineage import record_features

logger = logging.getLogger(__name__)

_PARQUET = {"compression": "zstd"}


class FeaturesError(InputError):
    """A feature set cannot be built (incomplete dataset, a different feature set in the way)."""


@dataclass(frozen=True)
class FeaturesSummary:
    """What ``embercast features`` did."""

    rows: int
    columns: int
    seconds: float
    out: str
    feature_set: str
    content_hash: str
    thermal_missing: int
    rejected: dict[str, int] = field(default_factory=dict)
    status: str = "built"
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class _Task:
    dataset_fs: AbstractFileSystem
    dataset_root: str
    out_fs: AbstractFileSystem
    out_root: str
    part: str
    feature_set: str
    split_groups: Mapping[str, str]


def _run_task(task: _Task) -> dict[str, Any]:
    readings = read_table(task.dataset_fs, join(task.dataset_root, READINGS_DIR, task.part))
    frames_path = join(task.dataset_root, FRAMES_DIR, task.part)
    frames = (
        read_table(task.dataset_fs, frames_path)
        if task.dataset_fs.exists(frames_path)
        else FRAMES_SCHEMA.empty_table()  # no frames stored: the thermal features are missing
    )
    rejected: Counter[str] = Counter()
    table = fold(readings, frames, task.feature_set, task.split_groups, rejected)
    return write_part(task.out_fs, task.out_root, task.part, table, rejected)


def write_part(
    fs: AbstractFileSystem, root: str, part: str, table: Any, rejected: Mapping[str, int]
) -> dict[str, Any]:
    """Write one feature part atomically under the feature set at ``root``; return its record
    (rows, thermal_missing, rejected counts, sha256, bytes) for the manifest."""
    path = join(root, FEATURES_DIR, part)
    write_table_atomic(fs, path, table, **_PARQUET)
    return {
        "part": part,
        "rows": table.num_rows,
        "thermal_missing": int(sum(table["thermal_missing"].to_pylist())),
        "rejected": dict(rejected),
        "sha256": sha256(fs, path),
        "bytes": fs.size(path),
    }


def feature_record(feature_set: str, parent_location: str, parent_hash: str) -> dict[str, Any]:
    """The identity of a feature set: what it is and what it was made from (a local parent is
    recorded as an absolute path, so the record holds from any working directory)."""
    if "://" not in parent_location:
        parent_location = os.path.abspath(parent_location)
    return {
        "format": FEATURES_FORMAT,
        "kind": "features",
        "feature_set": feature_set,
        "feature_version": FEATURE_VERSIONS[feature_set],
        "embercast_version": __version__,
        "parent": {"location": parent_location, "content_hash": parent_hash},
        "arguments": {"feature_set": feature_set},
    }


def finish_feature_set(
    fs: AbstractFileSystem,
    root: str,
    location: str,
    record: Mapping[str, Any],
    results: list[dict[str, Any]],
    *,
    register: bool = True,
) -> dict[str, Any]:
    """Write a feature set's manifest.json (last) from its parts' records, register it in the
    catalog of the settings (unless ``register`` is false), and return the manifest."""
    feature_set = str(record["feature_set"])
    results = sorted(results, key=lambda r: str(r["part"]))
    files = {
        f"{FEATURES_DIR}/{r['part']}": {"sha256": r["sha256"], "bytes": r["bytes"]} for r in results
    }
    rejected: Counter[str] = Counter()
    for r in results:
        rejected.update(r["rejected"])
    manifest = {
        **record,
        "columns": features_schema(feature_set).names,
        "features": list(feature_names(feature_set)),
        "counts": {
            "rows": sum(int(r["rows"]) for r in results),
            "thermal_missing": sum(int(r["thermal_missing"]) for r in results),
            "rejected": dict(sorted(rejected.items())),
            "parts": len(results),
        },
        "files": files,
        "content_hash": content_hash({k: str(v["sha256"]) for k, v in files.items()}),
    }
    atomic_write_bytes(fs, join(root, MANIFEST), dumps(manifest))
    if register:
        record_features(location)
    return manifest


def build_features(
    dataset: str,
    out: str,
    *,
    feature_set: str = "standard18",
    engine: str = "local",
    workers: int = 1,
    scheduler: str | None = None,
    overwrite: bool = False,
    progress: Callable[[int, int], object] | None = None,
) -> FeaturesSummary:
    """Build feature set ``feature_set`` of ``dataset`` into ``out`` (paths or fsspec URLs).

    Raises FeaturesError for an incomplete dataset or a different feature set at ``out`` (unless
    ``overwrite``); OutputLocationError for an unwritable ``out``.
    """
    started = time.perf_counter()
    get_feature_set(feature_set)
    try:
        source = open_artifact(dataset, "dataset")  # every file as its manifest lists it
    except IntegrityError as exc:
        raise FeaturesError(str(exc)) from exc
    dfs, droot, parent = source.fs, source.root, source.manifest
    record = feature_record(feature_set, dataset, source.content_hash)
    ofs, oroot = resolve(out)
    with removed_if_left_empty(ofs, oroot):  # a failed start leaves no empty folder
        check_writable(ofs, oroot, out)
        existing = read_json(ofs, join(oroot, MANIFEST))
        if existing is not None:
            same = existing.get("parent", {}).get("content_hash") == parent["content_hash"] and (
                existing.get("feature_set"),
                existing.get("feature_version"),
            ) == (feature_set, FEATURE_VERSIONS[feature_set])
            if same and _intact(out):
                logger.info(
                    "%s already holds %s of this dataset; nothing to build", out, feature_set
                )
                record_features(out)
                return _summary(existing, out, started, "complete")
            if not same and not overwrite:
                raise FeaturesError(
                    f"{out!r} holds feature set {existing.get('feature_set')!r} of dataset "
                    f"{existing.get('parent', {}).get('content_hash', '?')[:12]}; pass --overwrite"
                )
            ofs.rm(join(oroot, MANIFEST))
        if ofs.exists(join(oroot, FEATURES_DIR)):
            ofs.rm(join(oroot, FEATURES_DIR), recursive=True)
        remove_temporaries(ofs, [oroot])
        scenarios = read_table(dfs, join(droot, SCENARIOS_FILE), ["scenario_id", "split_group"])
        split_groups = dict(
            zip(
                scenarios["scenario_id"].to_pylist(),
                scenarios["split_group"].to_pylist(),
                strict=True,
            )
        )
        parts = source.parts(READINGS_DIR)
        tasks = [_Task(dfs, droot, ofs, oroot, p, feature_set, split_groups) for p in parts]
        logger.info("building %s of %s into %s: %d parts", feature_set, dataset, out, len(tasks))
        # progress shows from the first finished part, so an unusable scheduler prints only
        # its error line
        results: list[dict[str, Any]] = []
        for result in map_tasks(
            _run_task, tasks, engine=engine, workers=workers, scheduler=scheduler
        ):
            results.append(result)
            if progress:
                progress(len(results), len(tasks))
        manifest = finish_feature_set(ofs, oroot, out, record, results)
        stored = str(parent.get("arguments", {}).get("frames", "all"))
        if stored != "all":
            return replace(
                _summary(manifest, out, started, "built"),
                warnings=[
                    f"the dataset stores frames '{stored}', so rows without stored frames have no "
                    "thermal features; generate with --frames all, or with --features to compute "
                    "them while generating"
                ],
            )
        return _summary(manifest, out, started, "built")


def _intact(out: str) -> bool:
    """Whether the feature set at ``out`` still matches its manifest (else it is rebuilt)."""
    try:
        open_artifact(out, "features")
    except IntegrityError as exc:
        logger.warning("rebuilding the damaged feature set: %s", exc)
        return False
    return True


def _summary(manifest: Mapping[str, Any], out: str, started: float, status: str) -> FeaturesSummary:
    counts = manifest["counts"]
    return FeaturesSummary(
        rows=int(counts["rows"]),
        columns=len(manifest["columns"]),
        seconds=time.perf_counter() - started,
        out=out,
        feature_set=str(manifest["feature_set"]),
        content_hash=str(manifest["content_hash"]),
        thermal_missing=int(counts["thermal_missing"]),
        rejected=dict(counts.get("rejected", {})),
        status=status,
    )
