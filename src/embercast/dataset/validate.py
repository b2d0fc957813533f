"""Check a dataset against its manifest, the schema contract, physical ranges and its labels.

:func:`validate_dataset` returns a list of :class:`Problem` (empty when the dataset is sound).
Each problem has a ``code`` (what kind), a ``message`` (what is wrong, with a count and a first
example) and a ``location`` (the file, or the dataset itself). Checks:

* ``incomplete`` / ``manifest-invalid`` / ``missing-file`` / ``unlisted-file`` / ``hash-mismatch``:
  the manifest exists and is complete, every listed file exists with the listed SHA-256;
* ``schema`` / ``schema-version``: tables have the contract schemas of ``dataset/schema.py``;
* ``range``: co2_ppm 0..40000 [ppm], temperature_c -40..125 [°C], humidity_pct 0..100 [%RH]
  (NaN allowed for these: a missing reading), true_* finite, true_hrr_kw >= 0 [kW],
  t_s >= 0 [s], occupancy >= 0;
* ``invariant``: per (scenario_id, device_id) the rows are contiguous and t_s increases strictly
  with one constant period of 5 s or 30 s; scenario ids are unique and known; classes agree;
  frames have FRAME_BYTES bytes, gain high or low and a time within the scenario; counts agree
  with the manifest;
* ``label``: non-fire scenarios have fire == 0, phase normal and no ignition_s; fire scenarios
  have fire == 1 exactly from ignition_s on and phase normal exactly where fire == 0; every
  phase is one of PHASES; where scenarios.parquet has ``fire_in_view`` (generator 7 on), it is
  known for every fire scenario and for no other.

Everything is vectorised over Arrow/numpy columns, one part file at a time.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from fsspec import AbstractFileSystem

from embercast.dataset.manifest import (
    DATASET_FORMAT,
    FEATURES_FORMAT,
    FRAMES_DIR,
    MANIFEST,
    READINGS_DIR,
    RUN_FILE,
    SCENARIOS_FILE,
    content_hash,
    schema_fingerprint,
)
from embercast.dataset.schema import (
    FRAME_BYTES,
    FRAMES_SCHEMA,
    PHASES,
    READINGS_SCHEMA,
    SCENARIO_KEY_COLUMNS,
)
from embercast.store.fs import (
    OutputLocationError,
    join,
    list_names,
    read_schema,
    read_table,
    resolve,
    sha256,
)

__all__ = ["PERIODS_S", "Problem", "listed_file_problems", "validate_dataset"]

PERIODS_S: tuple[float, ...] = (5.0, 30.0)
"""SCD41 reading periods: periodic and low-power mode [s]."""
_TOLERANCE_S = 1e-6
_RANGES: tuple[tuple[str, float, float, bool], ...] = (
    # column, low, high, NaN allowed (a missing reading)
    ("co2_ppm", 0.0, 40_000.0, True),
    ("temperature_c", -40.0, 125.0, True),
    ("humidity_pct", 0.0, 100.0, True),
    ("t_s", 0.0, np.inf, False),
    ("true_hrr_kw", 0.0, np.inf, False),
    ("true_co2_ppm", -np.inf, np.inf, False),
    ("true_gas_temp_c", -np.inf, np.inf, False),
    ("true_rh_pct", -np.inf, np.inf, False),
)
_SCENARIO_TYPES: dict[str, pa.DataType] = {
    "scenario_id": pa.string(),
    "scenario_class": pa.string(),
    "is_fire": pa.bool_(),
    "ignition_s": pa.float64(),
    "duration_s": pa.float64(),
}

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a dataset."""

    code: str
    message: str
    location: str

    def to_dict(self) -> dict[str, str]:
        """The problem as a JSON-ready dict."""
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.location}: [{self.code}] {self.message}"


@dataclass(frozen=True)
class _Scenarios:
    """Columns of scenarios.parquet, for lookups by row index."""

    ids: pa.Array
    classes: pa.Array
    is_fire: BoolArray
    ignition_s: FloatArray
    duration_s: FloatArray


def _floats(column: pa.ChunkedArray | pa.Array) -> FloatArray:
    """A numeric column as float64 numpy (nulls become NaN)."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    return np.asarray(array.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)


def _strings(column: pa.ChunkedArray) -> pa.Array:
    return column.combine_chunks()


def _limits(low: float, high: float, nan_ok: bool) -> str:
    if np.isinf(low) and np.isinf(high):
        text = "finite"
    elif np.isinf(high):
        text = f">= {low:g} and finite"
    else:
        text = f"in {low:g}..{high:g}"
    return text + " or NaN" if nan_ok else text


def _count(mask: BoolArray) -> int:
    return int(np.count_nonzero(mask))


def _schema_difference(actual: pa.Schema, expected: pa.Schema) -> str:
    diffs = []
    for field in expected:
        if field.name not in actual.names:
            diffs.append(f"missing column {field.name!r}")
            continue
        got = actual.field(field.name)
        if got.type != field.type:
            diffs.append(f"{field.name!r} is {got.type}, expected {field.type}")
        elif got.nullable != field.nullable:
            diffs.append(f"{field.name!r} nullable={got.nullable}, expected {field.nullable}")
    extra = [name for name in actual.names if name not in expected.names]
    if extra:
        diffs.append(f"unexpected columns {extra}")
    if not diffs and actual.names != expected.names:
        diffs.append(f"column order {actual.names}, expected {expected.names}")
    return "; ".join(diffs)


class _Validator:
    def __init__(self, fs: AbstractFileSystem, root: str, path: str, check_hashes: bool) -> None:
        self.fs = fs
        self.root = root
        self.path = path.rstrip("/") or path
        self.check_hashes = check_hashes
        self.problems: list[Problem] = []
        self.feature_set = False

    # ------------------------------------------------------------------ helpers

    def where(self, rel: str | None = None) -> str:
        return self.path if rel is None else f"{self.path}/{rel}"

    def add(self, code: str, message: str, rel: str | None = None) -> None:
        self.problems.append(Problem(code, message, self.where(rel)))

    def read_table(self, rel: str, columns: list[str] | None = None) -> pa.Table | None:
        try:
            return read_table(self.fs, join(self.root, rel), columns)
        except (OSError, ValueError, pa.ArrowException) as exc:  # UnicodeDecodeError too
            self.add("unreadable", f"cannot read the Parquet file: {exc}", rel)
            return None

    def read_schema(self, rel: str) -> pa.Schema | None:
        try:
            return read_schema(self.fs, join(self.root, rel))
        except (OSError, ValueError, pa.ArrowException) as exc:  # UnicodeDecodeError too
            self.add("unreadable", f"cannot read the Parquet file: {exc}", rel)
            return None

    @staticmethod
    def example(table: pa.Table, mask: BoolArray, column: str | None = None) -> str:
        """``N rows (first: scenario s, device d, t_s=...)`` for the rows where mask is true."""
        i = int(np.argmax(mask))
        row = table.slice(i, 1).to_pylist()[0]
        parts = [f"scenario {row.get('scenario_id')}"]
        if "device_id" in row:
            parts.append(f"device {row['device_id']}")
        if "t_s" in row:
            parts.append(f"t_s={row['t_s']}")
        if column is not None and column in row:
            parts.append(f"{column}={row[column]!r}")
        n = _count(mask)
        return f"{n} row{'s' if n != 1 else ''} (first: {', '.join(parts)})"

    def flag(
        self, code: str, text: str, table: pa.Table, mask: BoolArray, rel: str, column: str | None
    ) -> None:
        if mask.any():
            self.add(code, f"{text} in {self.example(table, mask, column)}", rel)

    # ------------------------------------------------------------------ manifest

    def check_manifest(self, names: list[str]) -> dict[str, Any] | None:
        if MANIFEST not in names:
            hint = "; rerun the same generate command to finish it" if RUN_FILE in names else ""
            self.add(
                "incomplete",
                f"manifest.json is missing: the dataset is incomplete{hint}",
                MANIFEST,
            )
            return None
        try:
            with self.fs.open(join(self.root, MANIFEST), "rb") as handle:
                manifest = json.loads(handle.read())
        except (OSError, ValueError) as exc:
            self.add("manifest-invalid", f"manifest.json cannot be read: {exc}", MANIFEST)
            return None
        if isinstance(manifest, dict) and manifest.get("format") == FEATURES_FORMAT:
            self.add(
                "manifest-invalid",
                "this is a feature set, not a dataset (embercast validate checks it as a "
                "feature set)",
                MANIFEST,
            )
            self.feature_set = True
            return None
        required = ("format", "arguments", "generator", "counts", "schemas", "files")
        missing = [key for key in (*required, "content_hash") if key not in manifest]
        if not isinstance(manifest, dict) or missing:
            self.add(
                "manifest-invalid",
                f"manifest.json is incomplete: it lacks {missing}",
                MANIFEST,
            )
            return None
        if manifest["format"] != DATASET_FORMAT:
            self.add(
                "manifest-invalid",
                f"unknown manifest format {manifest['format']!r}, expected {DATASET_FORMAT!r}",
                MANIFEST,
            )
        for problem in listed_file_problems(
            self.fs, self.root, manifest, check_hashes=self.check_hashes
        ):
            self.add(*problem)
        for kind, schema in (("readings", READINGS_SCHEMA), ("frames", FRAMES_SCHEMA)):
            recorded = manifest["schemas"].get(kind, {}).get("fingerprint")
            if recorded != schema_fingerprint(schema):
                self.add(
                    "schema-version",
                    f"the {kind} schema recorded in the manifest is not this version's contract",
                    MANIFEST,
                )
        return manifest

    def data_files(self, folder: str) -> list[str]:
        names = list_names(self.fs, join(self.root, folder))
        return [f"{folder}/{n}" for n in names if n.startswith("part-") and n.endswith(".parquet")]

    def check_unlisted(self, manifest: Mapping[str, Any], parts: list[str]) -> None:
        for rel in parts:
            if rel not in manifest["files"]:
                self.add("unlisted-file", "a data file is not listed in the manifest", rel)

    # ------------------------------------------------------------------ scenarios

    def check_scenarios(self) -> _Scenarios | None:
        if not self.fs.exists(join(self.root, SCENARIOS_FILE)):
            self.add("missing-file", "scenarios.parquet is missing", SCENARIOS_FILE)
            return None
        table = self.read_table(SCENARIOS_FILE)
        if table is None:
            return None
        rel = SCENARIOS_FILE
        names = table.column_names
        if tuple(names[: len(SCENARIO_KEY_COLUMNS)]) != SCENARIO_KEY_COLUMNS:
            self.add(
                "schema",
                f"the first columns are {names[: len(SCENARIO_KEY_COLUMNS)]}, "
                f"expected {list(SCENARIO_KEY_COLUMNS)}",
                rel,
            )
        for name, dtype in _SCENARIO_TYPES.items():
            if name not in names:
                self.add("schema", f"missing column {name!r}", rel)
                return None
            if table.schema.field(name).type != dtype:
                self.add("schema", f"{name!r} is {table.schema.field(name).type}, not {dtype}", rel)
                return None
        ids = _strings(table["scenario_id"])
        if ids.null_count or len(pc.unique(ids)) != len(ids):
            self.add("invariant", "scenario_id values are not unique and non-null", rel)
        is_fire_col = table["is_fire"]
        if is_fire_col.null_count:
            self.add("invariant", f"is_fire is null in {is_fire_col.null_count} rows", rel)
        is_fire = np.asarray(is_fire_col.fill_null(False).to_numpy(), dtype=np.bool_)
        ignition = _floats(table["ignition_s"])
        duration = _floats(table["duration_s"])
        has_ignition = ~np.isnan(ignition)
        self.flag(
            "label",
            "non-fire scenarios with an ignition_s",
            table,
            ~is_fire & has_ignition,
            rel,
            "ignition_s",
        )
        bad_ignition = is_fire & ~(np.isfinite(ignition) & (ignition >= 0))
        self.flag(
            "label",
            "fire scenarios without a finite ignition_s >= 0",
            table,
            bad_ignition,
            rel,
            "ignition_s",
        )
        self.flag(
            "range",
            "duration_s not finite and > 0",
            table,
            ~(duration > 0) | np.isinf(duration),
            rel,
            "duration_s",
        )
        if "fire_in_view" in names:  # camera coverage, recorded from generator 7
            self.check_coverage(table, is_fire, rel)
        return _Scenarios(
            ids=ids,
            classes=_strings(table["scenario_class"]),
            is_fire=is_fire,
            ignition_s=ignition,
            duration_s=duration,
        )

    def check_coverage(self, table: pa.Table, is_fire: BoolArray, rel: str) -> None:
        """``fire_in_view`` is a bool, known for every fire scenario and for no other."""
        column = table["fire_in_view"]
        if column.type != pa.bool_():
            self.add("schema", f"'fire_in_view' is {column.type}, not {pa.bool_()}", rel)
            return
        known = ~np.asarray(column.is_null().to_numpy(zero_copy_only=False), dtype=np.bool_)
        self.flag(
            "label", "non-fire scenarios with a fire_in_view", table, ~is_fire & known, rel, None
        )
        self.flag(
            "label", "fire scenarios without a fire_in_view", table, is_fire & ~known, rel, None
        )

    def lookup(self, table: pa.Table, scenarios: _Scenarios, rel: str) -> npt.NDArray[np.int64]:
        """Row index into scenarios.parquet for each row (-1 where the id is unknown)."""
        index = pc.index_in(_strings(table["scenario_id"]), value_set=scenarios.ids)
        idx = np.asarray(index.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)
        unknown = idx < 0
        self.flag("invariant", "scenario_id not in scenarios.parquet", table, unknown, rel, None)
        return idx

    # ------------------------------------------------------------------ readings

    def check_readings(self, rel: str, scenarios: _Scenarios | None) -> tuple[int, set[str]]:
        schema = self.read_schema(rel)
        if schema is None:
            return 0, set()
        if not schema.equals(READINGS_SCHEMA):
            self.add("schema", _schema_difference(schema, READINGS_SCHEMA), rel)
            return 0, set()
        table = self.read_table(rel)
        if table is None or table.num_rows == 0:
            return 0, set()
        for column, low, high, nan_ok in _RANGES:
            values = _floats(table[column])
            inside = np.isfinite(values) & (values >= low) & (values <= high)
            bad = ~inside & ~(np.isnan(values) & nan_ok)
            self.flag(
                "range", f"{column} not {_limits(low, high, nan_ok)}", table, bad, rel, column
            )
        occupancy = _floats(table["occupancy"])
        self.flag("range", "occupancy < 0", table, occupancy < 0, rel, "occupancy")
        self.check_periods(table, rel)
        if scenarios is not None:
            self.check_labels(table, rel, scenarios)
        ids = {str(s) for s in pc.unique(_strings(table["scenario_id"])).to_pylist()}
        return table.num_rows, ids

    def check_periods(self, table: pa.Table, rel: str) -> None:
        n = table.num_rows
        sid = _strings(table["scenario_id"]).dictionary_encode().indices
        dev = _strings(table["device_id"]).dictionary_encode()
        sid_codes = np.asarray(sid.to_numpy(zero_copy_only=False), dtype=np.int64)
        dev_codes = np.asarray(dev.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
        key = sid_codes * (len(dev.dictionary) + 1) + dev_codes
        starts = np.ones(n, dtype=np.bool_)
        starts[1:] = key[1:] != key[:-1]
        run_keys = key[starts]
        if len(np.unique(run_keys)) != len(run_keys):
            self.add(
                "invariant",
                "the rows of a (scenario_id, device_id) are not contiguous",
                rel,
            )
        t = _floats(table["t_s"])
        step = np.diff(t)
        inner = ~starts[1:]  # step[i] joins rows i and i + 1 of the same device
        bad_order = np.zeros(n, dtype=np.bool_)
        bad_order[1:] = inner & ~(step > 0)
        self.flag(
            "invariant", "t_s not strictly increasing per device", table, bad_order, rel, None
        )
        on_grid = np.zeros(n - 1, dtype=np.bool_)
        for period in PERIODS_S:
            on_grid |= np.abs(step - period) <= _TOLERANCE_S
        bad_period = np.zeros(n, dtype=np.bool_)
        bad_period[1:] = inner & (step > 0) & ~on_grid
        self.flag(
            "invariant",
            f"reading interval not one of {[f'{p:g} s' for p in PERIODS_S]}",
            table,
            bad_period,
            rel,
            None,
        )
        group = np.cumsum(starts) - 1
        inner_rows = np.flatnonzero(inner)
        if inner_rows.size:
            groups = group[inner_rows + 1]
            _, first = np.unique(groups, return_index=True)
            first_step = step[inner_rows[first]]
            reference = first_step[np.searchsorted(np.unique(groups), groups)]
            changed = np.zeros(n, dtype=np.bool_)
            changed[inner_rows + 1] = np.abs(step[inner_rows] - reference) > _TOLERANCE_S
            self.flag(
                "invariant", "reading period changes within a device", table, changed, rel, None
            )

    def check_labels(self, table: pa.Table, rel: str, scenarios: _Scenarios) -> None:
        idx = self.lookup(table, scenarios, rel)
        known = idx >= 0
        safe = np.where(known, idx, 0)
        classes = _strings(table["scenario_class"])
        expected_class = scenarios.classes.take(pa.array(safe))
        mismatch = np.asarray(
            pc.not_equal(classes, expected_class).fill_null(True).to_numpy(zero_copy_only=False),
            dtype=np.bool_,
        )
        self.flag(
            "invariant",
            "scenario_class differs from scenarios.parquet",
            table,
            mismatch & known,
            rel,
            "scenario_class",
        )
        fire = np.asarray(table["fire"].to_numpy(), dtype=np.int64)
        phase = _strings(table["phase"])
        in_vocabulary = np.asarray(
            pc.is_in(phase, value_set=pa.array(PHASES)).to_numpy(zero_copy_only=False),
            dtype=np.bool_,
        )
        normal = np.asarray(
            pc.equal(phase, "normal").to_numpy(zero_copy_only=False), dtype=np.bool_
        )
        self.flag("label", f"phase not one of {list(PHASES)}", table, ~in_vocabulary, rel, "phase")
        self.flag("label", "fire not 0 or 1", table, (fire != 0) & (fire != 1), rel, "fire")
        is_fire = scenarios.is_fire[safe] & known
        not_fire = ~scenarios.is_fire[safe] & known
        self.flag(
            "label", "fire != 0 in a non-fire scenario", table, not_fire & (fire != 0), rel, "fire"
        )
        self.flag(
            "label",
            "phase not 'normal' in a non-fire scenario",
            table,
            not_fire & ~normal,
            rel,
            "phase",
        )
        ignition = scenarios.ignition_s[safe]
        t = _floats(table["t_s"])
        judged = is_fire & np.isfinite(ignition)
        wrong_fire = judged & ((fire == 1) != (t >= ignition))
        self.flag("label", "fire not 1 exactly from ignition_s on", table, wrong_fire, rel, "fire")
        wrong_phase = is_fire & (normal != (fire == 0))
        self.flag(
            "label", "phase 'normal' not exactly where fire == 0", table, wrong_phase, rel, "phase"
        )

    # ------------------------------------------------------------------ frames

    def check_frames(self, rel: str, scenarios: _Scenarios | None) -> int:
        schema = self.read_schema(rel)
        if schema is None:
            return 0
        if not schema.equals(FRAMES_SCHEMA):
            self.add("schema", _schema_difference(schema, FRAMES_SCHEMA), rel)
            if "frame" in schema.names:
                self.check_frame_sizes(rel, schema.field("frame").type)
            return 0
        # the type is fixed_size_binary(FRAME_BYTES): sizes hold, no need to read pixels
        columns = [name for name in FRAMES_SCHEMA.names if name != "frame"]
        table = self.read_table(rel, columns=columns)
        if table is None or table.num_rows == 0:
            return 0
        gain_ok = np.asarray(
            pc.is_in(_strings(table["gain"]), value_set=pa.array(["high", "low"])).to_numpy(
                zero_copy_only=False
            ),
            dtype=np.bool_,
        )
        self.flag("invariant", "gain not 'high' or 'low'", table, ~gain_ok, rel, "gain")
        index = _floats(table["frame_index"])
        self.flag("invariant", "frame_index < 0", table, index < 0, rel, "frame_index")
        t = _floats(table["t_s"])
        if scenarios is not None:
            idx = self.lookup(table, scenarios, rel)
            known = idx >= 0
            duration = scenarios.duration_s[np.where(known, idx, 0)]
            outside = known & ~((t >= 0) & (t <= duration + _TOLERANCE_S))
            self.flag(
                "invariant",
                "frame time outside 0..duration_s of its scenario",
                table,
                outside,
                rel,
                None,
            )
        return int(table.num_rows)

    def check_frame_sizes(self, rel: str, dtype: pa.DataType) -> None:
        if pa.types.is_fixed_size_binary(dtype):
            if dtype.byte_width != FRAME_BYTES:
                self.add(
                    "invariant",
                    f"frames have {dtype.byte_width} bytes, expected {FRAME_BYTES}",
                    rel,
                )
            return
        if not (pa.types.is_binary(dtype) or pa.types.is_large_binary(dtype)):
            return
        table = self.read_table(rel, columns=["scenario_id", "t_s", "frame"])
        if table is None:
            return
        lengths = _floats(pc.binary_length(table["frame"]))
        wrong = lengths != FRAME_BYTES
        self.flag(
            "invariant",
            f"frames not exactly {FRAME_BYTES} bytes",
            table.drop(["frame"]),
            wrong,
            rel,
            None,
        )

    # ------------------------------------------------------------------ all

    def run(self) -> list[Problem]:
        names = list_names(self.fs, self.root)
        if not names:
            self.add("incomplete", "no dataset here: the location is missing or empty")
            return self.problems
        manifest = self.check_manifest(names)
        if self.feature_set:
            return self.problems
        scenarios = self.check_scenarios()
        readings = self.data_files(READINGS_DIR)
        frames = self.data_files(FRAMES_DIR)
        if manifest is not None:
            self.check_unlisted(manifest, readings + frames)
        rows = 0
        seen: dict[str, str] = {}
        for rel in readings:
            count, ids = self.check_readings(rel, scenarios)
            rows += count
            for sid in sorted(ids):
                if sid in seen:
                    self.add("invariant", f"scenario {sid} also has rows in {seen[sid]}", rel)
                seen.setdefault(sid, rel)
        stored = sum(self.check_frames(rel, scenarios) for rel in frames)
        if scenarios is not None:
            without = sorted(set(scenarios.ids.to_pylist()) - set(seen))
            if without:
                shown = ", ".join(without[:5]) + (", ..." if len(without) > 5 else "")
                self.add(
                    "invariant",
                    f"{len(without)} scenarios have no readings ({shown})",
                    SCENARIOS_FILE,
                )
        if manifest is not None and not any(p.code == "schema" for p in self.problems):
            counts = manifest["counts"]
            actual = {
                "rows": rows,
                "frames_stored": stored,
                "scenarios": len(scenarios.ids) if scenarios is not None else None,
            }
            for key, value in actual.items():
                if value is not None and counts.get(key) != value:
                    self.add(
                        "invariant",
                        f"the manifest counts {counts.get(key)} {key}, the files hold {value}",
                        MANIFEST,
                    )
        return self.problems


def listed_file_problems(
    fs: AbstractFileSystem, root: str, manifest: Mapping[str, Any], *, check_hashes: bool = True
) -> list[tuple[str, str, str]]:
    """``(code, message, relative path)`` for the files a dataset's or feature set's manifest
    lists: its content hash against their hashes, each file present and (``check_hashes``) with
    its SHA-256."""
    listed = {rel: str(entry.get("sha256", "")) for rel, entry in manifest["files"].items()}
    problems = []
    if content_hash(listed) != manifest["content_hash"]:
        message = "content_hash does not match the file hashes listed in the manifest"
        problems.append(("manifest-invalid", message, MANIFEST))
    for rel, digest in sorted(listed.items()):
        path = join(root, rel)
        if not fs.exists(path):
            problems.append(("missing-file", "a file listed in the manifest is missing", rel))
        elif check_hashes and sha256(fs, path) != digest:
            message = "SHA-256 differs from the manifest: the file was changed or corrupted"
            problems.append(("hash-mismatch", message, rel))
    return problems


def validate_dataset(path: str, *, check_hashes: bool = True) -> list[Problem]:
    """Return every problem found in the dataset at ``path`` (local path or fsspec URL).

    An empty list means the dataset is complete, matches its manifest and the contract, and its
    values and labels are consistent. ``check_hashes=False`` skips re-hashing file contents.
    """
    try:
        fs, root = resolve(path)
    except OutputLocationError as exc:
        return [Problem("unreadable", str(exc), path)]
    return _Validator(fs, root, path, check_hashes).run()
