"""Tests of the dataset writer: layout, determinism, resume, overwrite, engines, S3.

The unit tests inject a fast fake sampler and runner (defined in ``helpers``, importable by
worker processes); the end-to-end tests at the bottom use the real scenario catalogue and runner.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from embercast.dataset.schema import (
    FRAMES_SCHEMA,
    READINGS_SCHEMA,
    SCENARIO_KEY_COLUMNS,
    FramePolicy,
)
from embercast.dataset.validate import validate_dataset
from embercast.store.fs import OutputLocationError
from embercast.synth import writer
from embercast.synth.result import ScenarioResult
from embercast.synth.writer import (
    DatasetExistsError,
    GenerateSummary,
    content_hash,
    generate_dataset,
)
from helpers import FakeSpec, fake_runner, free_port, generate_fake

TESTS_DIR = Path(__file__).resolve().parents[1]
"""The folder of ``helpers``, which Dask workers import the fakes from."""
VENV_BIN = Path(sys.executable).parent

# --------------------------------------------------------------------------- a crash, files


class SimulatedCrash(RuntimeError):
    """Stands for a killed process or a lost machine in the middle of a run."""


class InterruptingRunner:
    """Runs like :func:`fake_runner` but crashes on one scenario."""

    def __init__(self, fail_on: str) -> None:
        self.fail_on = fail_on

    def __call__(self, spec: FakeSpec, frames: FramePolicy) -> ScenarioResult:
        if spec.scenario_id == self.fail_on:
            raise SimulatedCrash(f"crashed at {spec.scenario_id}")
        return fake_runner(spec, frames)


def dataset_files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _all_keys(obj: object) -> Iterator[str]:
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield str(key)
            yield from _all_keys(value)
    elif isinstance(obj, list):
        for value in obj:
            yield from _all_keys(value)


# --------------------------------------------------------------------------- layout


def test_generate_layout_counts_and_manifest(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    seen: list[tuple[int, int]] = []
    summary = generate_fake(out, progress=lambda done, total: seen.append((done, total)))

    assert summary.status == "generated"
    assert summary.scenarios == 6
    assert (summary.tasks_run, summary.tasks_skipped) == (3, 0)
    assert seen[0] == (0, 6) and seen[-1] == (6, 6)
    names = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert names == [
        "frames/part-00000.parquet",
        "frames/part-00001.parquet",
        "frames/part-00002.parquet",
        "manifest.json",
        "readings/part-00000.parquet",
        "readings/part-00001.parquet",
        "readings/part-00002.parquet",
        "scenarios.parquet",
    ]
    manifest = json.loads((out / "manifest.json").read_text())
    readings = pq.read_table(out / "readings")
    frames = pq.read_table(out / "frames")
    assert summary.rows == readings.num_rows == manifest["counts"]["rows"]
    assert summary.frames == frames.num_rows == manifest["counts"]["frames_stored"]
    assert summary.frames_rendered == manifest["counts"]["frames_rendered"] > summary.frames
    assert manifest["counts"]["scenarios_per_class"] == {
        "cooking_gas_stove": 2,
        "flaming_fire": 2,
        "normal_day": 1,
        "smouldering_fire": 1,
    }
    assert manifest["arguments"] == {
        "scenarios": 6,
        "seed": 7,
        "frames": "sample:12",
        "classes": None,
        "holdout": None,
        "features": None,
        "scenarios_per_task": 2,
    }
    assert manifest["generator"]["generator_version"] == writer.GENERATOR_VERSION
    assert set(manifest["schemas"]) == {"readings", "frames", "scenarios"}
    for rel, entry in manifest["files"].items():
        assert entry["bytes"] == (out / rel).stat().st_size
    hashes = {rel: entry["sha256"] for rel, entry in manifest["files"].items()}
    assert manifest["content_hash"] == content_hash(hashes) == summary.content_hash
    keys = set(_all_keys(manifest))
    for word in ("seconds", "time", "date", "created", "elapsed", "workers", "engine", "out"):
        assert not [k for k in keys if word in k.lower().split("_")], f"manifest has {word!r}"
    assert validate_dataset(str(out)) == []


def test_tables_follow_the_contract(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    generate_fake(out, scenarios=5, scenarios_per_task=3)

    readings = pq.read_table(out / "readings" / "part-00000.parquet")
    assert readings.schema.equals(READINGS_SCHEMA)
    frames_file = pq.ParquetFile(out / "frames" / "part-00000.parquet")
    assert frames_file.schema_arrow.equals(FRAMES_SCHEMA)
    frame_col = FRAMES_SCHEMA.get_field_index("frame")
    chunk = frames_file.metadata.row_group(0).column(frame_col)
    assert chunk.compression == "ZSTD"
    assert not any("DICTIONARY" in encoding for encoding in chunk.encodings)
    reading_chunk = pq.ParquetFile(out / "readings" / "part-00000.parquet").metadata
    assert reading_chunk.row_group(0).column(0).compression == "ZSTD"

    scenarios = pq.read_table(out / "scenarios.parquet")
    assert tuple(scenarios.column_names[: len(SCENARIO_KEY_COLUMNS)]) == SCENARIO_KEY_COLUMNS
    ids = scenarios["scenario_id"].to_pylist()
    assert ids == sorted(ids) and len(ids) == 5
    rows = {row["scenario_id"]: row for row in scenarios.to_pylist()}
    fire_row = next(r for r in rows.values() if r["is_fire"])
    other_row = next(r for r in rows.values() if not r["is_fire"])
    # parameters of one class are null for the other
    assert fire_row["fuel"] is not None and fire_row["occupants"] is None
    assert other_row["occupants"] is not None and other_row["fuel"] is None
    assert other_row["ignition_s"] is None and fire_row["ignition_s"] > 0
    assert scenarios.schema.field("is_fire").type == pa.bool_()


def test_same_arguments_give_byte_identical_datasets(tmp_path: Path) -> None:
    a = generate_fake(tmp_path / "a")
    b = generate_fake(tmp_path / "b")
    other = generate_fake(tmp_path / "c", seed=8)
    assert a.content_hash == b.content_hash != other.content_hash
    assert dataset_files(tmp_path / "a") == dataset_files(tmp_path / "b")


def test_frames_none_stores_no_frames(tmp_path: Path) -> None:
    summary = generate_fake(tmp_path / "ds", frames=FramePolicy.parse("none"))
    assert summary.frames == 0 and summary.frames_rendered > 0
    assert pq.read_table(tmp_path / "ds" / "frames").num_rows == 0
    assert validate_dataset(str(tmp_path / "ds")) == []


def test_workers_and_engines_give_identical_content(tmp_path: Path) -> None:
    one = generate_fake(tmp_path / "one", workers=1)
    two = generate_fake(tmp_path / "two", workers=2)
    dask = generate_fake(tmp_path / "dask", engine="dask", workers=2)
    assert one.content_hash == two.content_hash == dask.content_hash
    assert dataset_files(tmp_path / "one") == dataset_files(tmp_path / "two")
    assert dataset_files(tmp_path / "one") == dataset_files(tmp_path / "dask")


# --------------------------------------------------------------------------- resume


def test_interrupted_run_resumes_to_the_same_content(tmp_path: Path) -> None:
    reference = generate_fake(tmp_path / "reference", scenarios=8)
    out = tmp_path / "ds"
    with pytest.raises(SimulatedCrash):
        generate_fake(out, scenarios=8, runner=InterruptingRunner(fail_on="s000005"))
    assert not (out / "manifest.json").exists()
    assert (out / "_run.json").exists()
    assert sorted(p.name for p in (out / "readings").iterdir()) == [
        "part-00000.parquet",
        "part-00001.parquet",
    ]
    problems = validate_dataset(str(out))
    assert [p.code for p in problems if p.code == "incomplete"] == ["incomplete"]
    # a crash in the middle of an atomic write leaves a hidden temporary file
    leftover = out / "readings" / ".part-00002.parquet.tmp-0123456789ab"
    leftover.write_bytes(b"partial")
    done_before = (out / "readings" / "part-00000.parquet").stat().st_mtime_ns

    seen: list[tuple[int, int]] = []
    resumed = generate_fake(
        out, scenarios=8, progress=lambda done, total: seen.append((done, total))
    )

    assert resumed.status == "resumed"
    assert (resumed.tasks_run, resumed.tasks_skipped) == (2, 2)
    assert seen[0] == (4, 8)
    assert resumed.content_hash == reference.content_hash
    assert not leftover.exists()
    assert (out / "readings" / "part-00000.parquet").stat().st_mtime_ns == done_before
    assert dataset_files(out) == dataset_files(tmp_path / "reference")
    assert validate_dataset(str(out)) == []


def test_complete_dataset_is_left_alone(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    first = generate_fake(out)
    stamp = (out / "manifest.json").stat().st_mtime_ns
    again = generate_fake(out, workers=2)  # engine and workers do not change the content
    assert again.status == "complete"
    assert again.content_hash == first.content_hash
    assert (again.rows, again.frames, again.tasks_run) == (first.rows, first.frames, 0)
    assert (out / "manifest.json").stat().st_mtime_ns == stamp


def test_different_arguments_need_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    generate_fake(out, seed=1)
    with pytest.raises(DatasetExistsError, match=r"different arguments.*seed 1 there, 2 now") as e:
        generate_fake(out, seed=2)
    assert e.value.replaceable
    replaced = generate_fake(out, seed=2, overwrite=True)
    assert replaced.content_hash == generate_fake(tmp_path / "fresh", seed=2).content_hash
    assert dataset_files(out) == dataset_files(tmp_path / "fresh")


def test_different_arguments_into_unfinished_dataset(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    with pytest.raises(SimulatedCrash):
        generate_fake(out, runner=InterruptingRunner(fail_on="s000003"))
    with pytest.raises(DatasetExistsError, match="unfinished dataset"):
        generate_fake(out, scenarios=5)
    finished = generate_fake(out, scenarios=5, overwrite=True)
    assert finished.status == "generated"
    assert finished.content_hash == generate_fake(tmp_path / "fresh", scenarios=5).content_hash


def test_foreign_directory_is_never_replaced(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    for overwrite in (False, True):
        with pytest.raises(DatasetExistsError, match="not an embercast dataset") as e:
            generate_fake(out, overwrite=overwrite)
        assert not e.value.replaceable
    assert (out / "notes.txt").read_text() == "keep me"


def test_bad_arguments_are_rejected_before_writing(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    with pytest.raises(ValueError, match="scenarios must be an integer >= 1"):
        generate_fake(out, scenarios=0)
    with pytest.raises(ValueError, match="scenarios_per_task"):
        generate_fake(out, scenarios_per_task=0)
    with pytest.raises(ValueError, match="unknown scenario class 'dragon'"):
        generate_fake(out, classes=["flaming_fire", "dragon"])
    with pytest.raises(ValueError, match="invalid frames policy"):
        generate_fake(out, frames="sometimes")
    assert not out.exists()


def test_classes_are_recorded(tmp_path: Path) -> None:
    summary = generate_fake(tmp_path / "ds", classes=["normal_day"], scenarios=3)
    manifest = json.loads((tmp_path / "ds" / "manifest.json").read_text())
    assert manifest["arguments"]["classes"] == ["normal_day"]
    assert manifest["counts"]["scenarios_per_class"] == {"normal_day": 3}
    assert manifest["counts"]["fire_scenarios"] == 0
    assert summary.scenarios == 3


def test_full_disk_during_a_task_is_a_location_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(writer, "write_table_atomic", full)
    with pytest.raises(OutputLocationError, match=r"ds'.*No space left on device \(ENOSPC\)"):
        generate_fake(tmp_path / "ds")


def test_read_only_location_is_a_location_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import embercast.store.fs as fs_module

    real_open = open

    def refusing_open(path: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if "w" in mode and str(path).startswith(str(tmp_path)):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(fs_module, "open", refusing_open, raising=False)
    with pytest.raises(OutputLocationError, match=r"Permission denied \(EACCES\)"):
        generate_fake(tmp_path / "ds")


# --------------------------------------------------------------------------- real Dask cluster


@pytest.fixture(scope="module")
def dask_scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Dask scheduler and two workers on loopback, as separate processes."""
    from distributed import Client

    workdir = tmp_path_factory.mktemp("dask")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(TESTS_DIR)}
    log = (workdir / "dask.log").open("wb")
    dask = str(VENV_BIN / "dask")
    scheduler = [dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"]
    worker = [dask, "worker", address, *"--no-nanny --nthreads 1 --no-dashboard".split()]
    worker += ["--local-directory", str(workdir)]
    options: dict[str, Any] = {
        "cwd": workdir,
        "env": env,
        "stdout": log,
        "stderr": subprocess.STDOUT,
    }
    procs = [subprocess.Popen(scheduler, **options)]
    try:
        procs += [subprocess.Popen(worker, **options) for _ in range(2)]
        with Client(address, timeout=30, set_as_default=False) as client:  # type: ignore[no-untyped-call]
            client.wait_for_workers(2, timeout=60)
        yield address
    finally:
        # workers first (they would wait to reconnect to a lost scheduler), then the scheduler
        for group in (procs[1:], procs[:1]):
            for proc in group:
                proc.terminate()
            for proc in group:
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        log.close()


@pytest.mark.integration
def test_dask_cluster_gives_the_local_content(tmp_path: Path, dask_scheduler: str) -> None:
    local = generate_fake(tmp_path / "local")
    remote = generate_fake(tmp_path / "remote", engine="dask", scheduler=dask_scheduler)
    assert remote.content_hash == local.content_hash
    assert dataset_files(tmp_path / "remote") == dataset_files(tmp_path / "local")


# --------------------------------------------------------------------------- S3 (moto server)


@pytest.mark.integration
def test_s3_dataset_matches_local(tmp_path: Path, s3_bucket: str) -> None:
    local = generate_fake(tmp_path / "local")
    url = f"s3://{s3_bucket}/ds"
    remote = generate_fake(url, workers=2)
    assert remote.content_hash == local.content_hash
    assert validate_dataset(url) == []
    again = generate_fake(url)
    assert again.status == "complete"


@pytest.mark.integration
def test_s3_missing_bucket_is_a_location_error(s3_bucket: str) -> None:
    with pytest.raises(OutputLocationError, match="s3://no-such-bucket/ds"):
        generate_fake("s3://no-such-bucket/ds")


# --------------------------------------------------------------------------- end to end (real core)


def generate_real(out: str | Path, **kwargs: Any) -> GenerateSummary:
    """generate_dataset with the real catalogue and runner, kept small: seed 240's first four
    scenarios (a flaming fire, a toaster, occupancy, a cooking-oil fire: 1.3 h in all) or two."""
    options: dict[str, Any] = {
        "scenarios": 4,
        "seed": 240,
        "frames": FramePolicy.parse("sample:24"),
        "scenarios_per_task": 2,
    }
    options.update(kwargs)
    return generate_dataset(str(out), **options)


def test_real_generator_end_to_end(tmp_path: Path) -> None:
    started = time.perf_counter()
    one = generate_real(tmp_path / "one")
    assert time.perf_counter() - started < 60
    assert one.scenarios == 4 and one.rows > 0
    assert validate_dataset(str(tmp_path / "one")) == []
    two = generate_real(tmp_path / "two", workers=2)
    assert two.content_hash == one.content_hash
    assert dataset_files(tmp_path / "one") == dataset_files(tmp_path / "two")


@pytest.mark.integration
def test_real_generator_on_dask_cluster(tmp_path: Path, dask_scheduler: str) -> None:
    local = generate_real(tmp_path / "local", scenarios=2)
    remote = generate_real(
        tmp_path / "remote", scenarios=2, engine="dask", scheduler=dask_scheduler
    )
    assert remote.content_hash == local.content_hash


@pytest.mark.integration
def test_real_generator_to_s3(tmp_path: Path, s3_bucket: str) -> None:
    local = generate_real(tmp_path / "local", scenarios=2)
    url = f"s3://{s3_bucket}/real"
    remote = generate_real(url, scenarios=2)
    assert remote.content_hash == local.content_hash
    assert validate_dataset(url) == []
