"""Feature data for training and evaluation: relative locations, several feature sets combined."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from embercast.cli import app

runner = CliRunner()


def test_a_relative_dataset_location_still_finds_its_scenarios(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from embercast.evaluation.feature_data import load_features

    monkeypatch.chdir(tmp_path)
    result = runner.invoke(
        app,
        [
            "generate",
            "-n",
            "2",
            "--seed",
            "1",
            "--frames",
            "none",
            "--features",
            "standard18",
            "--out",
            "rel",
        ],
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "rel" / "features" / "manifest.json").read_text())
    assert Path(manifest["parent"]["location"]).is_absolute()
    elsewhere = tmp_path / "other"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    data = load_features(str(tmp_path / "rel" / "features"))
    assert len(data.scenarios) == 2 and len(data.rows) > 0


def test_train_and_evaluate_on_several_feature_sets(features: Path, tmp_path: Path) -> None:
    from embercast.evaluation.feature_data import combine_features, load_features

    more = tmp_path / "more"
    args = ["generate", "-n", "8", "--seed", "6", "--frames", "none", "--features", "extended"]
    result = runner.invoke(app, [*args, "--out", str(more), "--holdout", "room_size=large"])
    assert result.exit_code == 0, result.output
    one, two = load_features(str(features)), load_features(str(more / "features"))
    assert one.holdout == two.holdout == "room_size=large" and len(one.seeds) == 24
    both = load_features([str(features), str(more / "features")])
    # every scenario once, under its set's position, in its own split group
    assert len(both.rows) == len(one.rows) + len(two.rows)
    assert set(both.scenarios) == {f"0/{s}" for s in one.scenarios} | {
        f"1/{s}" for s in two.scenarios
    }
    assert both.scenarios["1/s000003"] == two.scenarios["s000003"]
    # camera coverage of every fire scenario, kept under the combined names
    assert set(one.in_view) == {s for s, facts in one.scenarios.items() if facts[1]}
    assert both.in_view == {f"0/{s}": v for s, v in one.in_view.items()} | {
        f"1/{s}": v for s, v in two.in_view.items()
    }
    groups = both.rows.groupby("scenario_id")["split_group"].first()
    assert groups["1/s000003"] == two.rows.groupby("scenario_id")["split_group"].first()["s000003"]
    assert both.content_hash not in (one.content_hash, two.content_hash)
    model = tmp_path / "gbm.pkl"
    cmd = ["train", str(features), str(more / "features"), "--model", "gbm", "--json"]
    result = runner.invoke(app, [*cmd, "--out", str(model)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["rows"] == len(both.split(("train",)))
    assert json.loads((tmp_path / "gbm.pkl.json").read_text())["data"] == both.location
    data = ["--data", str(features), "--data", str(more / "features")]
    report = tmp_path / "report"
    result = runner.invoke(
        app, ["evaluate", "--model", str(model), *data, "--out", str(report), "--json"]
    )
    assert result.exit_code == 0, result.output
    held = both.split(("test", "holdout"))
    counts = json.loads(result.stdout)
    n_fire = sum(v["scenarios"] for v in counts["fire_classes"].values())
    assert n_fire == sum(both.scenarios[s][1] for s in held["scenario_id"].unique())
    # the same scenarios twice, or a set holding out other conditions, are refused
    twice = runner.invoke(app, ["train", str(features), str(features), "--model", "gbm"])
    assert twice.exit_code == 2 and "they share 24 scenarios" in twice.output
    other = replace(two, holdout="room_size=small")
    with pytest.raises(ValueError, match="they hold out different conditions"):
        combine_features([one, other])
    narrow = replace(two, rows=two.rows.drop(columns=["hot_flicker"]))
    with pytest.raises(ValueError, match="their feature columns differ"):
        combine_features([one, narrow])
