"""The main job (`embercast run`) and the split policy through the CLI, on the real generator."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
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
