"""Tests of dataset validation: each check catches its fault, and a sound dataset passes."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from embercast.dataset.manifest import content_hash
from embercast.dataset.schema import FRAMES_SCHEMA, FramePolicy
from embercast.dataset.validate import Problem, validate_dataset
from helpers import generate_fake

READINGS = "readings/part-00000.parquet"
FRAMES = "frames/part-00000.parquet"


@pytest.fixture(scope="module")
def clean_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("clean") / "ds"
    generate_fake(out, scenarios=6, scenarios_per_task=3)
    return out


@pytest.fixture
def dataset(clean_dataset: Path, tmp_path: Path) -> Path:
    """A fresh copy of a sound dataset, to break."""
    return Path(shutil.copytree(clean_dataset, tmp_path / "ds"))


def codes(problems: list[Problem]) -> set[str]:
    return {p.code for p in problems}


def rehash(ds: Path) -> None:
    """Make the manifest agree with the files again (so only the data checks speak)."""
    manifest = json.loads((ds / "manifest.json").read_text())
    for rel, entry in manifest["files"].items():
        path = ds / rel
        if path.exists():
            entry["sha256"] = _sha(path)
            entry["bytes"] = path.stat().st_size
    manifest["content_hash"] = content_hash(
        {rel: entry["sha256"] for rel, entry in manifest["files"].items()}
    )
    (ds / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))


def _sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def rewrite(
    ds: Path,
    rel: str,
    change: Callable[[pa.Table], pa.Table],
    *,
    consistent: bool = True,
    compression: str = "zstd",
) -> None:
    table = pq.read_table(ds / rel)
    pq.write_table(change(table), ds / rel, compression=compression)
    if consistent:
        rehash(ds)


def set_value(table: pa.Table, column: str, row: int, value: object) -> pa.Table:
    values = table[column].to_pylist()
    values[row] = value
    index = table.schema.get_field_index(column)
    array = pa.array(values, type=table.schema.field(column).type)
    return table.set_column(index, table.schema.field(column), array)


def first_row(table: pa.Table, **equal: object) -> int:
    mask = np.ones(table.num_rows, dtype=bool)
    for column, value in equal.items():
        mask &= np.asarray(pc.equal(table[column], value).to_numpy(zero_copy_only=False))
    return int(np.argmax(mask))


def test_sound_dataset_has_no_problems(clean_dataset: Path) -> None:
    assert validate_dataset(str(clean_dataset)) == []


def test_missing_manifest_means_incomplete(dataset: Path) -> None:
    (dataset / "manifest.json").unlink()
    problems = validate_dataset(str(dataset))
    assert codes(problems) == {"incomplete"}
    assert "incomplete" in problems[0].message
    assert problems[0].location == f"{dataset}/manifest.json"


def test_missing_location(tmp_path: Path) -> None:
    problems = validate_dataset(str(tmp_path / "nothing"))
    assert codes(problems) == {"incomplete"}


def test_tampered_file_fails_its_hash(dataset: Path) -> None:
    # same rows, different bytes
    rewrite(dataset, READINGS, lambda t: t, consistent=False, compression="snappy")
    problems = validate_dataset(str(dataset))
    assert codes(problems) == {"hash-mismatch"}
    assert problems[0].location == f"{dataset}/{READINGS}"
    assert validate_dataset(str(dataset), check_hashes=False) == []


def test_tampered_manifest_hash(dataset: Path) -> None:
    manifest = json.loads((dataset / "manifest.json").read_text())
    manifest["content_hash"] = "0" * 64
    (dataset / "manifest.json").write_text(json.dumps(manifest))
    assert codes(validate_dataset(str(dataset))) == {"manifest-invalid"}


def test_missing_and_unlisted_files(dataset: Path) -> None:
    (dataset / FRAMES).rename(dataset / "frames" / "part-00009.parquet")
    found = codes(validate_dataset(str(dataset)))
    assert {"missing-file", "unlisted-file"} <= found


def test_flipped_fire_label(dataset: Path) -> None:
    table = pq.read_table(dataset / READINGS)
    row = first_row(table, fire=1)
    rewrite(dataset, READINGS, lambda t: set_value(t, "fire", row, 0))
    problems = validate_dataset(str(dataset))
    assert codes(problems) == {"label"}
    assert any("fire not 1 exactly from ignition_s on" in p.message for p in problems)


def test_fire_in_a_non_fire_scenario(dataset: Path) -> None:
    scenarios = pq.read_table(dataset / "scenarios.parquet")
    quiet = scenarios.filter(pc.invert(scenarios["is_fire"]))["scenario_id"][0].as_py()
    table = pq.read_table(dataset / READINGS)
    row = first_row(table, scenario_id=quiet)
    rewrite(
        dataset, READINGS, lambda t: set_value(set_value(t, "fire", row, 1), "phase", row, "growth")
    )
    problems = validate_dataset(str(dataset))
    assert codes(problems) == {"label"}
    assert {"fire != 0 in a non-fire scenario", "phase not 'normal' in a non-fire scenario"} <= {
        p.message.split(" in ")[0] + " in a non-fire scenario" for p in problems
    }


def test_camera_coverage_is_known_for_fires_only(dataset: Path) -> None:
    scenarios = pq.read_table(dataset / "scenarios.parquet")
    fire = np.asarray(scenarios["is_fire"].to_numpy(zero_copy_only=False), dtype=bool)
    assert fire.any() and not fire.all()
    sound = pa.array([True if f else None for f in fire], type=pa.bool_())
    rewrite(dataset, "scenarios.parquet", lambda t: t.append_column("fire_in_view", sound))
    assert validate_dataset(str(dataset)) == []
    wrong = [None if f else False for f in fire]  # unknown for fires, known for the others
    rewrite(
        dataset,
        "scenarios.parquet",
        lambda t: t.set_column(
            t.schema.get_field_index("fire_in_view"), "fire_in_view", pa.array(wrong, pa.bool_())
        ),
    )
    problems = validate_dataset(str(dataset))
    assert codes(problems) == {"label"}
    assert {p.message.split(" in ")[0] for p in problems} == {
        "non-fire scenarios with a fire_in_view",
        "fire scenarios without a fire_in_view",
    }


def test_unknown_phase(dataset: Path) -> None:
    rewrite(dataset, READINGS, lambda t: set_value(t, "phase", 3, "smoking"))
    problems = validate_dataset(str(dataset))
    assert "label" in codes(problems)
    assert any("phase not one of" in p.message for p in problems)


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("co2_ppm", 52_000.0),
        ("co2_ppm", -3.0),
        ("temperature_c", 130.0),
        ("humidity_pct", 101.0),
        ("true_hrr_kw", -1.0),
        ("true_co2_ppm", float("inf")),
        ("true_gas_temp_c", float("nan")),
        ("occupancy", -1),
    ],
)
def test_out_of_range_values(dataset: Path, column: str, value: object) -> None:
    rewrite(dataset, READINGS, lambda t: set_value(t, column, 4, value))
    problems = validate_dataset(str(dataset))
    assert codes(problems) == {"range"}
    assert column in problems[0].message and "1 row " in problems[0].message


def test_missing_readings_are_allowed(dataset: Path) -> None:
    def blank(table: pa.Table) -> pa.Table:
        for column in ("co2_ppm", "temperature_c", "humidity_pct"):
            table = set_value(table, column, 5, float("nan"))
        return table

    rewrite(dataset, READINGS, blank)
    assert validate_dataset(str(dataset)) == []


def test_wrong_schema(dataset: Path) -> None:
    def narrow(table: pa.Table) -> pa.Table:
        index = table.schema.get_field_index("co2_ppm")
        return table.set_column(index, "co2_ppm", table["co2_ppm"].cast(pa.float32()))

    rewrite(dataset, READINGS, narrow)
    problems = validate_dataset(str(dataset))
    assert "schema" in codes(problems)
    assert any("'co2_ppm' is float, expected double" in p.message for p in problems)


def test_gap_in_readings_breaks_the_period(dataset: Path) -> None:
    rewrite(dataset, READINGS, lambda t: t.filter(pa.array(np.arange(t.num_rows) != 5)))
    problems = validate_dataset(str(dataset))
    assert codes(problems) == {"invariant"}
    messages = " | ".join(p.message for p in problems)
    assert "reading interval not one of" in messages
    assert "the manifest counts" in messages


def test_repeated_time_is_not_increasing(dataset: Path) -> None:
    table = pq.read_table(dataset / READINGS)
    t5 = table["t_s"][5].as_py()
    rewrite(dataset, READINGS, lambda t: set_value(t, "t_s", 6, t5))
    messages = [p.message for p in validate_dataset(str(dataset))]
    assert any("t_s not strictly increasing" in m for m in messages)


def test_changing_period_within_a_device(dataset: Path) -> None:
    table = pq.read_table(dataset / READINGS)
    device = table["device_id"][0].as_py()
    scenario = table["scenario_id"][0].as_py()
    rows = np.flatnonzero(
        np.asarray(pc.equal(table["scenario_id"], scenario).to_numpy(zero_copy_only=False))
        & np.asarray(pc.equal(table["device_id"], device).to_numpy(zero_copy_only=False))
    )
    period = table["t_s"][int(rows[1])].as_py() - table["t_s"][int(rows[0])].as_py()
    other = 30.0 if period == 5.0 else 5.0

    def stretch(t: pa.Table) -> pa.Table:
        times = t["t_s"].to_numpy().copy()
        last = rows[-1]
        times[last] = times[last - 1] + other
        return t.set_column(t.schema.get_field_index("t_s"), t.schema.field("t_s"), pa.array(times))

    rewrite(dataset, READINGS, stretch)
    messages = [p.message for p in validate_dataset(str(dataset))]
    assert any("reading period changes within a device" in m for m in messages)


def test_unknown_scenario_and_wrong_class(dataset: Path) -> None:
    table = pq.read_table(dataset / READINGS)
    last = table.num_rows - 1
    rewrite(dataset, READINGS, lambda t: set_value(t, "scenario_class", 0, "dragon"))
    messages = [p.message for p in validate_dataset(str(dataset))]
    assert any("scenario_class differs from scenarios.parquet" in m for m in messages)
    rewrite(dataset, READINGS, lambda t: set_value(t, "scenario_id", last, "s999999"))
    messages = [p.message for p in validate_dataset(str(dataset))]
    assert any("scenario_id not in scenarios.parquet" in m for m in messages)


def test_bad_frames(dataset: Path) -> None:
    scenarios = pq.read_table(dataset / "scenarios.parquet")
    longest = float(pc.max(scenarios["duration_s"]).as_py())
    rewrite(
        dataset,
        FRAMES,
        lambda t: set_value(set_value(t, "gain", 0, "medium"), "t_s", 1, longest + 100),
    )
    messages = [p.message for p in validate_dataset(str(dataset))]
    assert any("gain not 'high' or 'low'" in m for m in messages)
    assert any("frame time outside 0..duration_s" in m for m in messages)


def test_frames_of_the_wrong_size(dataset: Path) -> None:
    def variable(table: pa.Table) -> pa.Table:
        frames = [bytes(f) for f in table["frame"].to_pylist()]
        frames[0] = frames[0][:-2]
        index = FRAMES_SCHEMA.get_field_index("frame")
        return table.set_column(index, "frame", pa.array(frames, type=pa.binary()))

    rewrite(dataset, FRAMES, variable)
    problems = validate_dataset(str(dataset))
    assert "schema" in codes(problems)
    assert any("frames not exactly 38400 bytes in 1 row" in p.message for p in problems)


def test_large_dataset_validates_in_seconds(tmp_path: Path) -> None:
    out = tmp_path / "large"
    summary = generate_fake(
        out,
        scenarios=40,
        classes=["long_quiet"],
        frames=FramePolicy.parse("none"),
        scenarios_per_task=10,
    )
    assert summary.rows >= 100_000
    started = time.perf_counter()
    assert validate_dataset(str(out)) == []
    assert time.perf_counter() - started < 10
