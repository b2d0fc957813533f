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


@pytest.mark.timeout(900)
def test_run_is_the_whole_system_and_reuses_what_it_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, features: Path
) -> None:
    """On the shared dataset (``--dataset``; the quickstart's own generation is
    tests/synth/test_quickstart.py's)."""
    monkeypatch.setenv("EMBERCAST_MLFLOW_URI", str(tmp_path / "mlflow.db"))
    monkeypatch.setenv("EMBERCAST_SERVICE_FLUSH_S", "0.01")  # devices keep up at 40x
    out = tmp_path / "qs"
    args = ["run", "--out", str(out), "--port", "0", "--speed", "40", "--json"]
    args += ["--dataset", str(features.parent)]
    first = runner.invoke(app, [*args, "--for", "30"])
    assert first.exit_code == 0, first.output
    lines = first.stdout.splitlines()
    assert any(line.startswith("dashboard: http://127.0.0.1:") for line in lines)
    assert any(line.startswith("API key:   emb_") for line in lines)
    got = json.loads(lines[-1])
    plots = sorted((out / "plots").glob("*.png"))
    assert {p.name.split("_", 1)[1] for p in plots} == {"cooking_gas_stove.png", "flaming_fire.png"}
    assert (got["model"], got["version"], got["reused"]) == ("quickstart@champion", 1, False)
    assert set(got["devices"].values()) == {"living-room", "kitchen", "bedroom", "office"}
    sim = got["simulation"]
    assert sim["acknowledged"] > 100 and sim["failed"] == 0 and sim["rejected"] == {}
    # the living room catches fire, and the service raised its alarm
    assert [a["zone"] for a in got["alarms"]] == ["living-room"]
    again = runner.invoke(app, [*args, "--for", "2"])
    assert again.exit_code == 0, again.output
    later = json.loads(again.stdout.splitlines()[-1])
    assert (later["version"], later["reused"]) == (1, True)


def test_run_names_a_dataset_it_cannot_use(tmp_path: Path, three_classes: Path) -> None:
    args = ["run", "--out", str(tmp_path / "qs"), "--port", "0", "--for", "0"]
    empty = tmp_path / "empty"
    empty.mkdir()
    result = runner.invoke(app, [*args, "--dataset", str(empty)])
    assert result.exit_code == 2
    assert f"{empty} holds no manifest.json: not a complete dataset" in result.output
    # a dataset generated without its features
    result = runner.invoke(app, [*args, "--dataset", str(three_classes)])
    assert result.exit_code == 2
    assert "has no features computed while it was generated" in result.output
