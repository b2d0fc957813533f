"""Write a labelled dataset: sample scenarios, run them in tasks, write parts, then the manifest.

Layout of a dataset location (local path or fsspec URL)::

    manifest.json                  written last and atomically; marks the dataset complete
    scenarios.parquet              one row per scenario, sorted by scenario_id
    readings/part-NNNNN.parquet    READINGS_SCHEMA rows of the scenarios of task NNNNN
    frames/part-NNNNN.parquet      FRAMES_SCHEMA rows (stored Lepton frames) of task NNNNN

While a run is under way the location also holds ``_run.json`` (the arguments of the run) and
``_parts/part-NNNNN.json`` (the scenario rows, counts and file hashes of each finished task).
Both are removed once the manifest is written. A rerun with the same arguments into an unfinished
location skips the finished tasks; the result is byte-identical to an uninterrupted run.

Content depends only on the arguments recorded in the manifest (scenarios, seed, frames policy,
classes, scenarios per task) and on the generator version, never on the engine or worker count,
and the manifest holds no wall-clock time.
"""

from __future__ import annotations

import errno
import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any, Literal, Protocol, cast

import pyarrow as pa
from fsspec import AbstractFileSystem

import embercast
from embercast.dataset.manifest import (
    DATASET_FORMAT,
    FEATURES_DIR,
    FRAMES_DIR,
    MANIFEST,
    READINGS_DIR,
    RUN_FILE,
    SCENARIOS_FILE,
    SCHEMA_VERSIONS,
    STAGING_DIR,
    content_hash,
    dumps,
    part_name,
    schema_fingerprint,
)
from embercast.dataset.schema import (
    FRAMES_SCHEMA,
    READINGS_SCHEMA,
    SCENARIO_KEY_COLUMNS,
    FramePolicy,
)
from embercast.engine.executor import TaskExecutor
from embercast.errors import InputError
from embercast.store.fs import (
    OutputLocationError,
    atomic_write_bytes,
    check_writable,
    is_local,
    is_temporary_name,
    join,
    list_names,
    remove_temporaries,
    removed_if_left_empty,
    resolve,
    sha256,
    write_table_atomic,
)
from embercast.store.integrity import IntegrityError, open_artifact
from embercast.store.lineage import record_dataset, record_features
from embercast.synth.result import InlineFeatures, ScenarioResult
from embercast.synth.scenarios import SplitPolicy

if TYPE_CHECKING:
    from embercast.synth.scenarios import ScenarioSpec

logger = logging.getLogger(__name__)

__all__ = [
    "GENERATOR_VERSION",
    "DatasetExistsError",
    "run_started",
    "GenerateSummary",
    "generate_dataset",
    "scenarios_table",
]

GENERATOR_VERSION = "10"
"""Version of the generated content: bump it when the same arguments give different data."""
DATASET_ENTRIES = frozenset(
    {MANIFEST, RUN_FILE, SCENARIOS_FILE, READINGS_DIR, FRAMES_DIR, STAGING_DIR, FEATURES_DIR}
)
"""Names a dataset location may hold (besides temporary files)."""

_READINGS_OPTIONS: dict[str, Any] = {"compression": "zstd"}
_FRAMES_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 3,
    "use_dictionary": [name for name in FRAMES_SCHEMA.names if name != "frame"],
    "write_statistics": [name for name in FRAMES_SCHEMA.names if name != "frame"],
    "row_group_size": 256,
    # byte k of every frame of a row group is stored together: the high bytes of a pixel
    # change slowly from frame to frame and compress well (about 20 % smaller than plain)
    "column_encoding": {"frame": "BYTE_STREAM_SPLIT"},
}
_SCENARIOS_OPTIONS: dict[str, Any] = {"compression": "zstd"}
_SCENARIO_KEY_TYPES: dict[str, pa.DataType] = {
    "scenario_id": pa.string(),
    "scenario_class": pa.string(),
    "is_fire": pa.bool_(),
    "ignition_s": pa.float64(),
    "duration_s": pa.float64(),
    "seed": pa.int64(),
    "fire_in_view": pa.bool_(),
}
_LOCATION_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS, errno.EFBIG}
)


class Sampler(Protocol):
    """Signature of :func:`embercast.synth.scenarios.sample_scenarios`."""

    def __call__(
        self,
        n: int,
        seed: int,
        *,
        classes: Sequence[str] | None = None,
        policy: SplitPolicy | None = None,
    ) -> Sequence[ScenarioSpec]: ...


Runner = Callable[["ScenarioSpec", FramePolicy], ScenarioResult]
"""Signature of :func:`embercast.synth.runner.run_scenario`."""
Progress = Callable[[int, int], object]
"""Called with (scenarios done, scenarios in total) at the start and after each task."""


class DatasetExistsError(InputError):
    """The output location already holds something this run must not mix with.

    ``replaceable`` is true when it is a dataset that ``overwrite=True`` may replace.
    """

    def __init__(self, message: str, *, replaceable: bool) -> None:
        super().__init__(message)
        self.replaceable = replaceable


@dataclass(frozen=True, kw_only=True)
class GenerateSummary:
    """What :func:`generate_dataset` did."""

    scenarios: int
    rows: int
    frames: int
    """Frames stored."""
    frames_rendered: int
    seconds: float
    """Wall-clock time of this call [s] (never written to the dataset)."""
    out: str
    content_hash: str
    status: Literal["generated", "resumed", "complete", "repaired"] = "generated"
    """``complete``: the location already held this dataset and nothing was done."""
    tasks_run: int = 0
    tasks_skipped: int = 0
    features: str | None = None
    """Location of the feature set computed inline (``generate --features``), else None."""
    warnings: tuple[str, ...] = ()
    """What the user should know about the result (e.g. a holdout that matched no scenario)."""

    def to_dict(self) -> dict[str, object]:
        """The summary as JSON-ready primitives."""
        return asdict(self)


def _generator_record() -> dict[str, str]:
    return {"embercast_version": embercast.__version__, "generator_version": GENERATOR_VERSION}


def _read_json(fs: AbstractFileSystem, path: str) -> dict[str, Any] | None:
    try:
        with fs.open(path, "rb") as handle:
            data = json.loads(handle.read())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


# --------------------------------------------------------------------------- one task


@dataclass(frozen=True)
class _Task:
    index: int
    specs: tuple[Any, ...]
    frames: FramePolicy
    fs: AbstractFileSystem
    root: str
    runner: Runner
    features: InlineFeatures | None = None


def _plain(key: str, value: object) -> object:
    """A scenario-row value as a JSON primitive (numpy scalars become Python scalars)."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    item = getattr(value, "item", None)
    if callable(item):
        plain = item()
        if plain is None or isinstance(plain, str | bool | int | float):
            return plain
    raise TypeError(f"scenario row value {key!r} has unsupported type {type(value).__name__}")


def _conform(table: pa.Table, schema: pa.Schema, what: str) -> pa.Table:
    missing = [name for name in schema.names if name not in table.column_names]
    if missing:
        raise InputError(f"the scenario runner's {what} table lacks columns {missing}")
    table = table.select(schema.names)
    for field in schema:
        if not field.nullable and table.column(field.name).null_count:
            raise InputError(f"the scenario runner's {what} table has nulls in {field.name!r}")
    return table.cast(schema).replace_schema_metadata(None)


def _run_task(task: _Task) -> int:
    """Run the scenarios of one task and write its parts; return the task index.

    Order of writes: frames part, readings part, then ``_parts/part-NNNNN.json`` which records
    the scenario rows, counts and the hashes of both parts. All three are atomic writes.
    """
    if task.features is None:
        results = [task.runner(spec, task.frames) for spec in task.specs]
    else:
        inline = cast(Callable[..., ScenarioResult], task.runner)
        results = [inline(spec, task.frames, features=task.features) for spec in task.specs]
    readings = pa.concat_tables(
        [_conform(r.readings, READINGS_SCHEMA, "readings") for r in results]
    ).combine_chunks()
    frames = pa.concat_tables([_conform(r.frames, FRAMES_SCHEMA, "frames") for r in results])
    name = part_name(task.index)
    files: dict[str, dict[str, object]] = {}
    for folder, table, options in (
        (FRAMES_DIR, frames, _FRAMES_OPTIONS),
        (READINGS_DIR, readings, _READINGS_OPTIONS),
    ):
        path = join(task.root, folder, name)
        write_table_atomic(task.fs, path, table, **options)
        files[f"{folder}/{name}"] = {"sha256": sha256(task.fs, path), "bytes": task.fs.size(path)}
    staged: dict[str, Any] = {
        "index": task.index,
        "scenarios": [{k: _plain(k, v) for k, v in r.scenario.items()} for r in results],
        "rows": readings.num_rows,
        "frames": frames.num_rows,
        "frames_rendered": sum(int(r.rendered_frames) for r in results),
        "files": files,
    }
    if task.features is not None:
        tables = [r.features for r in results if r.features is not None]
        staged["features"] = task.features.write_part(
            task.fs, join(task.root, FEATURES_DIR), name, pa.concat_tables(tables)
        )
    staging_path = join(task.root, STAGING_DIR, name.replace(".parquet", ".json"))
    atomic_write_bytes(task.fs, staging_path, dumps(staged))
    return task.index


# --------------------------------------------------------------------------- the location


def _describe_difference(existing: Mapping[str, Any], wanted: Mapping[str, Any]) -> str:
    changes = []
    for section in ("arguments", "generator"):
        old, new = existing.get(section) or {}, wanted.get(section) or {}
        for key in sorted(set(old) | set(new)):
            if old.get(key) != new.get(key):
                changes.append(f"{key} {old.get(key)!r} there, {new.get(key)!r} now")
    return "; ".join(changes) or "unknown arguments"


def _inspect(
    fs: AbstractFileSystem, root: str, out: str, record: Mapping[str, Any], overwrite: bool
) -> Literal["fresh", "resume", "complete", "replace"]:
    """Decide what to do with the location, without changing it."""
    names = list_names(fs, root)
    manifest = _read_json(fs, join(root, MANIFEST)) if MANIFEST in names else None
    same = manifest is not None and all(manifest.get(k) == v for k, v in record.items())
    if same and not overwrite:
        return "complete"
    visible = [name for name in names if not is_temporary_name(name)]
    if not visible:
        return "fresh"
    foreign = [name for name in visible if name not in DATASET_ENTRIES]
    if foreign:
        shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
        raise DatasetExistsError(
            f"{out} is not empty and is not an embercast dataset (it holds {shown}); "
            "choose a new or empty location",
            replaceable=False,
        )
    if overwrite:
        return "replace"
    run = _read_json(fs, join(root, RUN_FILE)) if RUN_FILE in names else None
    if manifest is None and run == dict(record):
        return "resume"
    existing = manifest if manifest is not None else run
    state = "a complete" if manifest is not None else "an unfinished"
    detail = _describe_difference(existing, record) if existing else "arguments unknown"
    raise DatasetExistsError(
        f"{out} already holds {state} dataset made with different arguments ({detail})",
        replaceable=True,
    )


def _damage(out: str, features: bool) -> str | None:
    """What is wrong with the complete dataset at ``out`` (and its inline feature set when
    ``features``), or None when its files match the manifests."""
    try:
        open_artifact(out, "dataset")
        if features:
            open_artifact(join(out, FEATURES_DIR), "features")
    except IntegrityError as exc:
        return str(exc)
    return None


def _remove_dataset(fs: AbstractFileSystem, root: str) -> None:
    """Delete a dataset's entries, the manifest first so it never looks complete."""
    names = list_names(fs, root)
    for name in sorted(names, key=lambda n: (n != MANIFEST, n)):
        if name in DATASET_ENTRIES or is_temporary_name(name):
            fs.rm(join(root, name), recursive=True)
    fs.invalidate_cache()


def _remove_run_files(fs: AbstractFileSystem, root: str) -> None:
    names = list_names(fs, root)
    if STAGING_DIR in names:
        fs.rm(join(root, STAGING_DIR), recursive=True)
    if RUN_FILE in names:
        fs.rm(join(root, RUN_FILE))
    remove_temporaries(
        fs,
        [root, join(root, READINGS_DIR), join(root, FRAMES_DIR), join(root, FEATURES_DIR),
         join(root, FEATURES_DIR, "features")],
    )  # fmt: skip
    fs.invalidate_cache()


def _finished_tasks(fs: AbstractFileSystem, root: str) -> set[int]:
    staged = set(list_names(fs, join(root, STAGING_DIR)))
    readings = set(list_names(fs, join(root, READINGS_DIR)))
    frames = set(list_names(fs, join(root, FRAMES_DIR)))
    done = set()
    for name in readings & frames:
        if name.startswith("part-") and name.endswith(".parquet"):
            if name.replace(".parquet", ".json") in staged:
                done.add(int(name[5:-8]))
    return done


# --------------------------------------------------------------------------- assembly


def _scenario_column(name: str, values: list[object]) -> pa.Array:
    dtype = _SCENARIO_KEY_TYPES.get(name)
    if dtype is not None:
        return pa.array(values, type=dtype)
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if v is None else str(v) for v in values], type=pa.string())


def scenarios_table(rows: Sequence[Mapping[str, object]]) -> pa.Table:
    """scenarios.parquet: rows sorted by scenario_id, key columns first, then the parameters.

    Parameters differ by class; their columns are the union over all rows in name order, null
    where a scenario has no such parameter.
    """
    for row in rows:
        missing = [key for key in SCENARIO_KEY_COLUMNS if key not in row]
        if missing:
            raise InputError(f"scenario row {row.get('scenario_id')!r} lacks {missing}")
    ordered = sorted(rows, key=lambda row: str(row["scenario_id"]))
    params = sorted({key for row in ordered for key in row} - set(SCENARIO_KEY_COLUMNS))
    names = [*SCENARIO_KEY_COLUMNS, *params]
    arrays = [_scenario_column(name, [row.get(name) for row in ordered]) for name in names]
    return pa.Table.from_arrays(arrays, names=names)


def _assemble(
    fs: AbstractFileSystem,
    root: str,
    n_tasks: int,
    record: Mapping[str, Any],
    before_manifest: Callable[[Mapping[str, Any], list[dict[str, Any]]], object] | None = None,
) -> dict[str, Any]:
    """Write scenarios.parquet and then the manifest; return the manifest.

    ``before_manifest(manifest, staged)`` runs just before the manifest is written (the inline
    feature set is finished there, so a complete dataset always has its complete features).
    """
    staged = []
    for index in range(n_tasks):
        path = join(root, STAGING_DIR, part_name(index).replace(".parquet", ".json"))
        entry = _read_json(fs, path)
        if entry is None:
            raise RuntimeError(f"task {index} finished without its record {path}")
        staged.append(entry)
    rows = [row for entry in staged for row in entry["scenarios"]]
    table = scenarios_table(rows)
    scenarios_path = join(root, SCENARIOS_FILE)
    write_table_atomic(fs, scenarios_path, table, **_SCENARIOS_OPTIONS)
    files: dict[str, dict[str, object]] = {
        SCENARIOS_FILE: {"sha256": sha256(fs, scenarios_path), "bytes": fs.size(scenarios_path)}
    }
    for entry in staged:
        files.update(entry["files"])
    per_class = Counter(str(row["scenario_class"]) for row in rows)
    manifest: dict[str, Any] = {
        "format": DATASET_FORMAT,
        **record,
        "counts": {
            "scenarios": len(rows),
            "scenarios_per_class": dict(sorted(per_class.items())),
            "fire_scenarios": sum(1 for row in rows if row["is_fire"]),
            "rows": sum(int(entry["rows"]) for entry in staged),
            "frames_stored": sum(int(entry["frames"]) for entry in staged),
            "frames_rendered": sum(int(entry["frames_rendered"]) for entry in staged),
            "parts": n_tasks,
        },
        "schemas": {
            "readings": {
                "version": SCHEMA_VERSIONS["readings"],
                "fingerprint": schema_fingerprint(READINGS_SCHEMA),
            },
            "frames": {
                "version": SCHEMA_VERSIONS["frames"],
                "fingerprint": schema_fingerprint(FRAMES_SCHEMA),
            },
            "scenarios": {
                "version": SCHEMA_VERSIONS["scenarios"],
                "key_columns": list(SCENARIO_KEY_COLUMNS),
            },
        },
        "files": dict(sorted(files.items())),
        "content_hash": content_hash({p: str(f["sha256"]) for p, f in files.items()}),
    }
    if before_manifest is not None:
        before_manifest(manifest, staged)
    atomic_write_bytes(fs, join(root, MANIFEST), dumps(manifest))
    return manifest


def _summary(
    manifest: Mapping[str, Any], out: str, started: float, status: str, run: int, skipped: int
) -> GenerateSummary:
    counts = manifest["counts"]
    return GenerateSummary(
        scenarios=int(counts["scenarios"]),
        rows=int(counts["rows"]),
        frames=int(counts["frames_stored"]),
        frames_rendered=int(counts["frames_rendered"]),
        seconds=time.perf_counter() - started,
        out=out,
        content_hash=str(manifest["content_hash"]),
        status=status,  # type: ignore[arg-type]
        tasks_run=run,
        tasks_skipped=skipped,
    )


def existing_summary(manifest: Mapping[str, Any], out: str) -> GenerateSummary:
    """The summary of the complete dataset at ``out`` (its ``manifest``), nothing done."""
    return _summary(manifest, out, time.perf_counter(), "complete", 0, 0)


# --------------------------------------------------------------------------- entry point


MAX_SCENARIOS = 1_000_000
"""Most scenarios in one dataset: their plan is held in memory (about 3 kB each)."""


def run_started(out: str) -> bool:
    """Whether a run into ``out`` has written its run record, so a rerun resumes it."""
    try:
        fs, root = resolve(out)
        return bool(fs.exists(join(root, RUN_FILE)))
    except Exception:  # noqa: BLE001 - an unreachable location has no run under way
        return False


def _check_count(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{name} must be an integer >= 1, got {value!r}")
    return value


def generate_dataset(
    out: str,
    *,
    scenarios: int,
    seed: int,
    frames: FramePolicy | str = "sample:12",
    engine: str = "local",
    workers: int = 1,
    scheduler: str | None = None,
    scenarios_per_task: int = 8,
    classes: Sequence[str] | None = None,
    holdout: str | None = None,
    features: InlineFeatures | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
    sampler: Sampler | None = None,
    runner: Runner | None = None,
    connect_timeout: float | None = None,
) -> GenerateSummary:
    """Generate a dataset of ``scenarios`` sampled scenarios into ``out``.

    Parameters
    ----------
    out
        Local path or fsspec URL (``s3://bucket/prefix``) of the dataset.
    scenarios, seed, classes
        Passed to the sampler: how many scenarios, the seed, and the classes to draw from
        (default: the whole catalogue).
    holdout
        Conditions whose scenarios go to the ``holdout`` split group, e.g.
        ``room_size=large;fuel=heptane`` (see :class:`~embercast.synth.scenarios.SplitPolicy`).
    frames
        Which rendered frames are stored (:class:`FramePolicy` or its text form).
    features
        A feature set to compute while generating
        (:class:`embercast.features.inline.InlineFeatureSet`): every
        reading's frames are rendered and folded, whatever ``frames`` stores, and the feature
        set is written to ``out/features`` (registered with the dataset as its parent).
    engine, workers, scheduler, connect_timeout
        Where tasks run (see :func:`embercast.engine.executor.map_tasks`); no effect on content.
    scenarios_per_task
        Scenarios per task; each task writes one readings and one frames part.
    overwrite
        Replace a dataset already at ``out`` (made with any arguments) instead of failing.
    progress
        Called with (scenarios done, scenarios in total).
    sampler, runner
        The scenario sampler and runner; default
        :func:`embercast.synth.scenarios.sample_scenarios` and
        :func:`embercast.synth.runner.run_scenario`.

    Raises
    ------
    ValueError
        Bad arguments (count < 1, unknown class, invalid frames policy, ...).
    DatasetExistsError
        ``out`` holds a different dataset (and ``overwrite`` is false) or foreign files.
    OutputLocationError
        ``out`` cannot be written (permission, read-only, full, missing bucket, ...).
    SchedulerUnreachableError
        The Dask scheduler cannot be reached or has no workers.
    CatalogError
        The dataset is complete but the catalog (``get_settings().catalog_path``) cannot be
        opened or written, so it was not registered.
    """
    started = time.perf_counter()
    _check_count("scenarios", scenarios)
    _check_count("scenarios_per_task", scenarios_per_task)
    _check_count("workers", workers)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError(f"seed must be an integer >= 0, got {seed!r}")
    policy = FramePolicy.parse(frames) if isinstance(frames, str) else frames
    if sampler is None:
        from embercast.synth.scenarios import sample_scenarios

        sampler = sample_scenarios
    if runner is None:
        from embercast.synth.runner import run_scenario

        runner = run_scenario
    if scenarios > MAX_SCENARIOS:
        raise InputError(
            f"scenarios must be at most {MAX_SCENARIOS:,} per dataset, got {scenarios:,}: "
            "generate several datasets with different seeds and train on them together"
        )
    wanted = list(classes) if classes is not None else None
    split = SplitPolicy.parse(holdout)
    record: dict[str, Any] = {
        "arguments": {
            "scenarios": scenarios,
            "seed": seed,
            "frames": str(policy),
            "classes": wanted,
            "holdout": holdout or None,
            "features": features.name if features is not None else None,
            "scenarios_per_task": scenarios_per_task,
        },
        "generator": _generator_record(),
    }

    fs, root = resolve(out)  # the location is checked before any planning
    with removed_if_left_empty(fs, root):
        return _generate_into(
            fs, root, out, record, started=started, overwrite=overwrite, features=features,
            plan=lambda: list(sampler(scenarios, seed, classes=wanted, policy=split)),
            split=split, policy=policy, runner=runner, scenarios_per_task=scenarios_per_task,
            engine=engine, workers=workers, scheduler=scheduler, connect_timeout=connect_timeout,
            progress=progress,
        )  # fmt: skip


def _generate_into(
    fs: AbstractFileSystem,
    root: str,
    out: str,
    record: dict[str, Any],
    *,
    started: float,
    overwrite: bool,
    features: InlineFeatures | None,
    plan: Callable[[], list[Any]],
    split: SplitPolicy,
    policy: FramePolicy,
    runner: Any,
    scenarios_per_task: int,
    engine: str,
    workers: int,
    scheduler: str | None,
    connect_timeout: float | None,
    progress: Callable[[int, int], object] | None,
) -> GenerateSummary:
    """The run of :func:`generate_dataset` once its arguments are checked."""
    holdout = record["arguments"]["holdout"]
    check_writable(fs, root, out)
    state = _inspect(fs, root, out, record, overwrite)
    specs = [] if state == "complete" else plan()
    warnings: tuple[str, ...] = ()
    if (
        split.holdout
        and specs
        and not any(getattr(s, "split_group", "") == "holdout" for s in specs)
    ):
        warnings = (
            f"no scenario of these {len(specs)} matches --holdout {holdout!r}: the dataset holds "
            "no condition out (more scenarios, or other buckets)",
        )
        logger.warning(warnings[0])
    damaged = _damage(out, features is not None) if state == "complete" else None
    damaged_hash: object = None
    if damaged is not None:
        logger.info("%s is damaged (%s): generating it again", out, damaged)
        damaged_hash = (_read_json(fs, join(root, MANIFEST)) or {}).get("content_hash")
        warnings += (f"{out} was damaged ({damaged}); it was generated again",)
        specs = plan()
        state = "replace"
    if state == "complete":
        logger.info("%s already holds this dataset; nothing to generate", out)
        _remove_run_files(fs, root)
        manifest = _read_json(fs, join(root, MANIFEST))
        assert manifest is not None
        record_dataset(out)
        if features:
            record_features(join(out, FEATURES_DIR))
        summary = _summary(manifest, out, started, "complete", 0, 0)
        location = join(out, FEATURES_DIR) if features else None
        return replace(summary, features=location, warnings=warnings)

    chunks = [
        tuple(specs[i : i + scenarios_per_task]) for i in range(0, len(specs), scenarios_per_task)
    ]
    try:
        with TaskExecutor(
            engine=engine,
            workers=workers,
            scheduler=scheduler,
            connect_timeout=connect_timeout,
            tasks=len(chunks),
        ) as executor:
            if state == "replace":
                _remove_dataset(fs, root)
            if state in ("fresh", "replace"):
                atomic_write_bytes(fs, join(root, RUN_FILE), dumps(record))
            remove_temporaries(
                fs,
                [root, *(join(root, d) for d in (READINGS_DIR, FRAMES_DIR, STAGING_DIR))],
            )
            if is_local(fs):
                for folder in (READINGS_DIR, FRAMES_DIR, STAGING_DIR):
                    fs.makedirs(join(root, folder), exist_ok=True)
            finished = _finished_tasks(fs, root) if state == "resume" else set()
            tasks = [
                _Task(
                    index=i,
                    specs=chunk,
                    frames=policy,
                    fs=fs,
                    root=root,
                    runner=runner,
                    features=features,
                )  # fmt: skip
                for i, chunk in enumerate(chunks)
                if i not in finished
            ]
            done = sum(len(chunk) for i, chunk in enumerate(chunks) if i in finished)
            logger.info(
                "generating %d scenarios into %s: %d tasks to run, %d done before (%s engine)",
                len(specs), out, len(tasks), len(finished), engine,
            )  # fmt: skip
            if progress is not None:
                progress(done, len(specs))
            for index in executor.map(_run_task, tasks):
                logger.debug("task %d finished: %s", index, part_name(index))
                done += len(chunks[index])
                if progress is not None:
                    progress(done, len(specs))
        fs.invalidate_cache()
        manifest = _assemble(
            fs, root, len(chunks), record, _inline_features(fs, root, out, features)
        )
        _remove_run_files(fs, root)
        logger.info("wrote %s/%s: content hash %s", out, MANIFEST, manifest["content_hash"])
    except OSError as exc:
        if isinstance(exc, OutputLocationError) or exc.errno not in _LOCATION_ERRNOS:
            raise
        raise OutputLocationError(out, exc) from exc
    record_dataset(out)  # in the catalog of the settings (CatalogError if it is unusable)
    if features:
        record_features(join(out, FEATURES_DIR))
    status = "resumed" if state == "resume" else "generated"
    if damaged is not None:
        status = "repaired"
        if manifest["content_hash"] != damaged_hash:
            warnings += (
                "the repaired dataset's content hash differs from the one the damaged copy's "
                f"manifest recorded ({str(damaged_hash)[:16]})",
            )
    summary = _summary(manifest, out, started, status, len(tasks), len(chunks) - len(tasks))
    location = join(out, FEATURES_DIR) if features else None
    return replace(summary, features=location, warnings=warnings)


def _inline_features(
    fs: AbstractFileSystem, root: str, out: str, feature_set: InlineFeatures | None
) -> Callable[[Mapping[str, Any], list[dict[str, Any]]], object] | None:
    """The step that finishes the inline feature set before the dataset's manifest."""
    if feature_set is None:
        return None

    def finish(manifest: Mapping[str, Any], staged: list[dict[str, Any]]) -> object:
        parts = [entry["features"] for entry in staged]
        parent = (out, str(manifest["content_hash"]))
        location = join(out, FEATURES_DIR)
        return feature_set.finish(fs, join(root, FEATURES_DIR), location, parent, parts)

    return finish
