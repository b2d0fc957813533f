"""`embercast features` and `embercast generate --features` (inline) on the real generator."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
from typer.testing import CliRunner

from embercast.cli import app
from embercast.features.sets import feature_names

runner = CliRunner()


def test_inline_features_equal_the_offline_table(inline: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["features", str(inline), "--out", str(tmp_path / "f"), "--set", "extended", "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert {"rows", "columns", "seconds", "out"} <= set(summary)
    offline = pq.read_table(tmp_path / "f" / "features").to_pandas()
    online = pq.read_table(inline / "features" / "features").to_pandas()
    assert summary["rows"] == len(offline) == len(online) > 0
    assert summary["columns"] == len(offline.columns) == 3 + len(feature_names("extended")) + 6
    assert offline.equals(online)  # NaN-aware, same order, same values
    inline_manifest = json.loads((inline / "features" / "manifest.json").read_text())
    offline_manifest = json.loads((tmp_path / "f" / "manifest.json").read_text())
    assert inline_manifest["content_hash"] == offline_manifest["content_hash"]
    assert offline.thermal_missing.mean() < 0.05


def test_inline_features_with_no_frames_stored(relative_standard18: Path) -> None:
    # generate -n 2 --seed 2 --frames none --features standard18, once per session (conftest)
    out = relative_standard18
    assert (
        not any((out / "frames").glob("*.parquet")) or pq.read_table(out / "frames").num_rows == 0
    )
    table = pq.read_table(out / "features" / "features").to_pandas()
    assert table.thermal_missing.mean() < 0.05 and table.t_mean.notna().mean() > 0.95
    shown = runner.invoke(app, ["catalog", "show", str(out / "features"), "--json"])
    assert shown.exit_code == 0, shown.output
    dataset_id = json.loads((out / "manifest.json").read_text())["content_hash"][:16]
    assert dataset_id in shown.stdout  # the dataset is the feature set's parent


def test_features_bad_input(tmp_path: Path, inline: Path) -> None:
    result = runner.invoke(app, ["features", str(tmp_path / "none"), "--out", str(tmp_path / "f")])
    assert result.exit_code == 2 and "not a complete dataset" in result.output
    result = runner.invoke(
        app, ["features", str(inline), "--out", str(tmp_path / "f"), "--set", "x"]
    )
    assert result.exit_code == 2 and "invalid feature set 'x'" in result.output
    result = runner.invoke(
        app, ["generate", "-n", "1", "--out", str(tmp_path / "d"), "--features", "y"]
    )
    assert result.exit_code == 2 and "invalid feature set 'y'" in result.output
