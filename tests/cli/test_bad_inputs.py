"""Every command, given a missing, empty, corrupt, foreign or wrong-kind input, answers with one
``error:`` line (``validate`` with its problem list), a non-zero exit, no traceback, and writes
no output."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from helpers import invoke

Inputs = dict[str, Path]


@pytest.fixture
def inputs(tmp_path: Path, three_classes: Path, features: Path) -> Inputs:
    """Bad inputs of every kind, and good inputs of the wrong kind."""
    empty = tmp_path / "empty"
    empty.mkdir()
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("not an embercast artifact\n")
    (foreign / "manifest.json").write_text('{"format": "something-else/3"}')
    garbage = tmp_path / "garbage.parquet"
    garbage.write_bytes(b"\x00\x01not parquet at all" * 50)
    bad_json = tmp_path / "badjson"
    bad_json.mkdir()
    (bad_json / "manifest.json").write_text("{not json")
    damaged = tmp_path / "damaged"
    shutil.copytree(three_classes, damaged)
    (damaged / "readings" / "part-00000.parquet").write_bytes(b"garbage")
    damaged_features = tmp_path / "damaged_features"
    shutil.copytree(features.parent, damaged_features)
    for part in (damaged_features / "features" / "features").glob("part-*.parquet"):
        part.write_bytes(part.read_bytes()[:-7])
    return {
        "missing": tmp_path / "missing",
        "empty": empty,
        "foreign": foreign,
        "garbage": garbage,
        "bad_json": bad_json,
        "damaged_dataset": damaged,
        "damaged_features": damaged_features / "features",
        "dataset": three_classes,  # where a feature set is expected
        "features": features,  # where a dataset is expected
    }


BAD = ["missing", "empty", "foreign", "garbage", "bad_json"]


def _args(
    out: Path, gas_model: Path, good: Path
) -> dict[str, tuple[Callable[[str], list[str]], list[str]]]:
    """command -> (arguments for an input, the kinds of input it must refuse)."""
    dataset_wrong = [*BAD, "damaged_dataset", "features"]
    features_wrong = [*BAD, "damaged_features", "dataset"]
    return {
        "features": (lambda p: ["features", p, "--out", str(out)], dataset_wrong),
        "plot": (
            lambda p: ["plot", p, "--scenario", "s000000", "--out", str(out / "p.png")],
            dataset_wrong,
        ),
        "train": (
            lambda p: ["train", p, "--model", "gas", "--out", str(out / "m.pkl")],
            features_wrong,
        ),
        "evaluate": (
            lambda p: ["evaluate", "--data", p, "--model", "co2_threshold", "--out", str(out)],
            features_wrong,
        ),
        "predict": (
            lambda p: ["predict", "--input", p, "--model", str(gas_model), "-o", str(out / "p.pq")],
            [*BAD[:3], "bad_json", "damaged_features", "damaged_dataset"],
        ),
        "predict-model": (
            lambda p: ["predict", "--input", str(good), "--model", p, "-o", str(out / "p.pq")],
            BAD,
        ),
        "evaluate-model": (
            lambda p: ["evaluate", "--data", str(good), "--model", p, "--out", str(out)],
            BAD,
        ),
        "catalog-add": (lambda p: ["catalog", "add", p], [*BAD, "damaged_dataset"]),
        "catalog-show": (lambda p: ["catalog", "show", p], BAD),
        "catalog-remove": (lambda p: ["catalog", "remove", p], BAD),
        "sql": (lambda p: ["sql", "SELECT count(*) FROM readings", "--dataset", p], BAD),
        "models-show": (lambda p: ["models", "show", p], BAD),
        "models-promote": (lambda p: ["models", "promote", p], BAD),
        "models-rollback": (lambda p: ["models", "rollback", p], BAD),
        "pipeline-status": (
            lambda p: ["pipeline", "status", "--config", p],
            ["missing", "empty", "garbage"],
        ),
        "sim2real": (
            lambda p: ["sim2real", "--model", "co2_threshold", "--real-fires", p],
            ["missing", "empty", "foreign", "garbage"],
        ),
        "pipeline": (lambda p: ["pipeline", "--config", p], ["missing", "empty", "garbage"]),
        "generate-holdout": (
            lambda p: ["generate", "-n", "1", "--holdout", p, "--out", str(out)],
            ["missing"],
        ),
    }


CASES = [
    (command, kind)
    for command, (_, kinds) in _args(Path("out"), Path("m"), Path("f")).items()
    for kind in kinds
]


def assert_one_line_error(result_stderr: str, exit_code: int, stdout: str) -> None:
    assert exit_code == 2, (exit_code, stdout, result_stderr)
    assert "Traceback" not in result_stderr
    lines = result_stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result_stderr
    assert stdout == ""


@pytest.mark.parametrize(("command", "kind"), CASES, ids=[f"{c}-{k}" for c, k in CASES])
def test_bad_input_is_one_error_line(
    command: str, kind: str, inputs: Inputs, tmp_path: Path, gas_model: Path
) -> None:
    out = tmp_path / "out"
    make_args, _ = _args(out, gas_model, inputs["features"])[command]
    args = make_args(str(inputs[kind]))
    before = sorted(p.name for p in tmp_path.iterdir())
    result = invoke(*args)
    assert_one_line_error(result.stderr, result.exit_code, result.stdout)
    after = sorted(p.name for p in tmp_path.iterdir())
    assert after == before, f"{command} wrote {set(after) - set(before)}"


@pytest.mark.parametrize("kind", [*BAD, "damaged_dataset", "damaged_features"])
def test_validate_reports_problems(kind: str, inputs: Inputs) -> None:
    result = invoke("validate", str(inputs[kind]))
    assert "Traceback" not in result.stderr + result.stdout
    assert result.exit_code == 1, result.output
    assert result.stdout.strip().splitlines()[-1].endswith("problem(s)")
