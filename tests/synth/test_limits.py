"""Limits are checked before any work: the output location and the scenario count before the
plan is made, workers capped by the tasks there are, and a failed start leaves no folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import embercast.synth.writer as writer
from embercast.engine.executor import TaskExecutor
from embercast.errors import InputError
from embercast.store.fs import OutputLocationError
from embercast.synth.writer import MAX_SCENARIOS, generate_dataset
from helpers import assert_usage_error, free_port, invoke


def never_planned(*_: Any, **__: Any) -> list[Any]:
    raise AssertionError("the scenarios were planned")


def test_too_many_scenarios_are_refused_before_planning(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    with pytest.raises(InputError, match=f"at most {MAX_SCENARIOS:,}"):
        generate_dataset(str(out), scenarios=10**11, seed=0, sampler=never_planned)
    assert not out.exists()
    result = invoke("generate", "-n", str(10**11), "--out", str(out))
    assert_usage_error(result, "scenarios must be at most")
    assert not out.exists()


def test_the_output_is_checked_before_planning(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputLocationError):
        generate_dataset(str(tmp_path / "file" / "ds"), scenarios=5, seed=0, sampler=never_planned)


def test_a_negative_seed_names_the_option(tmp_path: Path) -> None:
    assert_usage_error(invoke("generate", "-n", "1", "--seed", "-1", "-o", str(tmp_path)), "--seed")
    with pytest.raises(InputError, match="seed must be an integer >= 0"):
        generate_dataset(str(tmp_path / "ds"), scenarios=1, seed=-1)


def test_an_unreachable_scheduler_leaves_no_folder(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    address = f"tcp://127.0.0.1:{free_port()}"
    args = ["generate", "-n", "1", "--frames", "none", "--engine", "dask", "--scheduler", address]
    assert_usage_error(invoke(*args, "--out", str(out)), f"Dask scheduler at {address}")
    assert not out.exists()


def test_workers_are_capped_by_tasks() -> None:
    assert TaskExecutor(engine="local", workers=8, tasks=3).workers == 3
    assert TaskExecutor(engine="local", workers=2, tasks=0).workers == 1
    assert TaskExecutor(engine="local", workers=2).workers == 2
    with TaskExecutor(engine="dask", workers=3, tasks=1) as executor:
        assert len(executor._client.scheduler_info()["workers"]) == 1


def test_an_interruption_says_whether_a_rerun_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(out: str, **_: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(writer, "generate_dataset", interrupted)
    result = invoke("generate", "-n", "1", "--out", str(tmp_path / "ds"))
    assert result.exit_code == 130
    assert "interrupted before anything was written" in result.stderr
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "_run.json").write_text("{}")
    result = invoke("generate", "-n", "1", "--out", str(tmp_path / "ds"))
    assert "rerun the same command to resume" in result.stderr


def test_features_with_an_unreachable_scheduler_leave_no_folder(
    three_classes: Path, tmp_path: Path
) -> None:
    out = tmp_path / "f"
    address = f"tcp://127.0.0.1:{free_port()}"
    args = ["features", str(three_classes), "--engine", "dask", "--scheduler", address]
    assert_usage_error(invoke(*args, "--out", str(out)), f"Dask scheduler at {address}")
    assert not out.exists()
