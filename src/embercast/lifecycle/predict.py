"""Batch inference: score feature tables, or raw datasets (features computed on the way), on
this machine or on Dask, one task per Parquet part. LightGBM detectors score through their trees
compiled to native code (:class:`~embercast.models.compiled.CompiledScorer`: the same
probabilities, several times the rows per second) when they are compiled on this machine
already or the input is large enough for compiling to pay (settings' ``compile_min_rows``),
unless asked either way."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from embercast.alarm.risk import risk_level
from embercast.config import get_settings
from embercast.dataset.feature_table import KEY_COLUMNS
from embercast.dataset.manifest import (
    FEATURES_DIR,
    MANIFEST,
    READINGS_DIR,
)
from embercast.dataset.schema import FRAMES_SCHEMA
from embercast.engine.executor import map_tasks
from embercast.errors import InputError
from embercast.features.fold import fold
from embercast.models.base import FireDetector, is_fitted
from embercast.models.compiled import CompiledScorer, is_compiled
from embercast.models.trees import GBMDetector
from embercast.store.fs import (
    join,
    read_row_count,
    read_table,
    resolve,
    write_table_atomic,
)
from embercast.store.integrity import open_artifact

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Part:
    kind: str  # "features" | "dataset" | "table"
    location: str
    part: str
    detector: FireDetector | CompiledScorer
    feature_set: str


def _score(task: _Part) -> pa.Table:
    fs, root = resolve(task.location)
    if task.kind == "features":
        table = read_table(fs, join(root, "features", task.part))
    elif task.kind == "table":
        table = read_table(fs, root)
    else:
        readings = read_table(fs, join(root, "readings", task.part))
        frames_path = join(root, "frames", task.part)
        frames = (
            read_table(fs, frames_path) if fs.exists(frames_path) else FRAMES_SCHEMA.empty_table()
        )
        scen = read_table(fs, join(root, "scenarios.parquet"), ["scenario_id", "split_group"])
        groups = dict(
            zip(scen["scenario_id"].to_pylist(), scen["split_group"].to_pylist(), strict=True)
        )
        table = fold(readings, frames, task.feature_set, groups)
    frame = table.to_pandas()
    if isinstance(task.detector, CompiledScorer):
        p = task.detector.score(frame)
    else:
        p = task.detector.predict_proba(frame)[:, 1]
    keys = [c for c in KEY_COLUMNS if c in frame.columns]
    out = {c: table[c] for c in keys}
    out["p_fire"] = pa.array(p, pa.float64())
    out["risk"] = pa.array([risk_level(float(v)) for v in p], pa.string())
    for label in ("fire", "scenario_class"):
        if label in frame.columns:
            out[label] = table[label]
    return pa.table(out)


def _detect(location: str) -> tuple[str, list[str], int]:
    """What ``location`` holds (``table``, ``features`` or ``dataset``), its Parquet parts and
    its rows (from the manifest or the file's footer)."""
    fs, root = resolve(location)
    if fs.isfile(root):
        return "table", [""], read_row_count(fs, root)
    if not fs.exists(join(root, MANIFEST)):
        raise InputError(
            f"{location!r} is neither a Parquet file nor a complete dataset or feature set"
        )
    artifact = open_artifact(location)
    manifest = artifact.manifest
    folder = FEATURES_DIR if artifact.kind == "features" else READINGS_DIR
    parts = artifact.parts(folder)
    rows = int(manifest.get("counts", {}).get("rows", 0))
    return artifact.kind, parts, rows


def predict(
    detector: FireDetector,
    location: str,
    out: str,
    *,
    engine: str = "local",
    workers: int = 1,
    scheduler: str | None = None,
    compiled: bool | None = None,
) -> dict[str, Any]:
    """Score every row of ``location`` and write ``out`` (Parquet: keys, p_fire, risk and the
    labels when present). A LightGBM detector scores through its compiled trees with
    ``compiled`` True (compiled first if need be), through ``predict_proba`` with False, and
    with None through its compiled trees when it is compiled on this machine already or the
    input has at least settings' ``compile_min_rows`` rows. Returns a summary (rows, seconds,
    rows_per_s, out, scoring: ``compiled`` or ``predict_proba``)."""
    started = time.perf_counter()
    if not is_fitted(detector):
        raise InputError(
            f"{type(detector).__name__} is not fitted: predict scores with a trained model "
            "(a registry reference such as fire@champion, or a model file)"
        )
    kind, parts, rows = _detect(location)
    feature_set = str(detector.get_params().get("feature_set", "extended"))
    if compiled is None:
        compiled = is_compiled(detector) or rows >= get_settings().compile_min_rows
    scorer: FireDetector | CompiledScorer = detector
    if compiled and isinstance(detector, GBMDetector):
        scorer = CompiledScorer(detector)
    logger.info(
        "scoring %d rows of %s %s through %s", rows, kind, location,
        "compiled trees" if scorer is not detector else "predict_proba",
    )  # fmt: skip
    tasks = [_Part(kind, location, p, scorer, feature_set) for p in parts]
    tables = list(map_tasks(_score, tasks, engine=engine, workers=workers, scheduler=scheduler))
    table = pa.concat_tables(tables) if tables else pa.table({"p_fire": pa.array([], pa.float64())})
    if "scenario_id" in table.column_names:
        table = table.sort_by([(c, "ascending") for c in KEY_COLUMNS if c in table.column_names])
    ofs, opath = resolve(out)
    write_table_atomic(ofs, opath, table, compression="zstd")
    seconds = time.perf_counter() - started
    p = table["p_fire"].to_numpy()
    mean_p = float(np.nanmean(p)) if len(p) else None
    scoring = "compiled" if isinstance(scorer, CompiledScorer) else "predict_proba"
    return {"rows": table.num_rows, "seconds": seconds, "rows_per_s": table.num_rows / seconds,
            "out": out, "input": kind, "mean_p_fire": mean_p, "scoring": scoring}  # fmt: skip
