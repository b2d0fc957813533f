"""The main job (`embercast run`) and the split policy through the CLI, on the real generator."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from embercast.cli import app

runner = CliRunner()


def test_generate_with_holdout_assigns_split_groups(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    args = ["generate", "-n", "20", "--seed", "2", "--frames", "none", "--out", str(out)]
    result = runner.invoke(app, [*args, "--holdout", "room_size=small", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["scenarios"] == 20 and summary["frames"] == 0
    table = pq.read_table(out / "scenarios.parquet").to_pandas()
    small = table.cond_room_size == "small"
    assert small.any() and (~small).any()
    assert (table.split_group[small] == "holdout").all()
    assert not (table.split_group[~small] == "holdout").any()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["arguments"]["holdout"] == "room_size=small"


def test_generate_rejects_a_bad_holdout(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    result = runner.invoke(
        app, ["generate", "-n", "2", "--out", str(out), "--holdout", "colour=red"]
    )
    assert result.exit_code == 2
    assert "invalid holdout 'colour=red'" in result.output
    assert not out.exists() or not any(out.iterdir())


def test_run_generates_validates_and_plots(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", "--out", str(tmp_path / "qs"), "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "validated: ok" in result.stdout
    plots = sorted((tmp_path / "qs" / "plots").glob("*.png"))
    assert {p.name.split("_", 1)[1] for p in plots} == {"cooking_gas_stove.png", "flaming_fire.png"}
    assert all(p.stat().st_size > 20_000 for p in plots)
    assert (tmp_path / "qs" / "dataset" / "manifest.json").exists()


def test_run_replaces_its_dataset_from_an_older_generator(tmp_path: Path) -> None:
    """After an upgrade the quickstart's own dataset (another generator version) is replaced,
    not an error; the same arguments reuse it; a folder that is not a dataset is left alone."""
    from embercast.synth.quickstart import run_quickstart
    from embercast.synth.writer import GENERATOR_VERSION, DatasetExistsError

    out = tmp_path / "qs"
    first = run_quickstart(str(out), scenarios=2, workers=1)
    assert first.summary.status == "generated"
    again = run_quickstart(str(out), scenarios=2, workers=1)
    assert again.summary.status == "complete"
    manifest_path = out / "dataset" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["generator"]["generator_version"] = "0"
    manifest_path.write_text(json.dumps(manifest))
    said: list[str] = []
    upgraded = run_quickstart(str(out), scenarios=2, workers=1, log=said.append)
    assert upgraded.summary.status == "generated" and any("replacing" in m for m in said)
    assert json.loads(manifest_path.read_text())["generator"]["generator_version"] == (
        GENERATOR_VERSION
    )
    foreign = tmp_path / "other"
    (foreign / "dataset").mkdir(parents=True)
    (foreign / "dataset" / "notes.txt").write_text("mine")
    with pytest.raises(DatasetExistsError, match="not an embercast dataset"):
        run_quickstart(str(foreign), scenarios=2, workers=1)
    assert (foreign / "dataset" / "notes.txt").read_text() == "mine"
