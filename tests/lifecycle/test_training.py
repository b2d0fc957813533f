"""Training: the alarm operating point chosen with the model, on condition folds or val."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from embercast.cli import app
from embercast.evaluation.condition_folds import condition_folds, condition_out_scores
from embercast.evaluation.operating_point import (
    DELAYS_S,
    SLOW_THRESHOLDS,
    SLOW_WINDOWS_S,
    THRESHOLDS,
    choose_operating_point,
)
from embercast.lifecycle.training import choose_alarm
from embercast.models.trees import GBMDetector
from helpers import condition_data

runner = CliRunner()


def test_train_considers_the_slow_path_when_asked(features: Path) -> None:
    args = ["train", str(features), "--model", "gbm", "--alarm-budget", "1", "--json"]
    result = runner.invoke(app, [*args, "--slow-path"])
    assert result.exit_code == 0, result.output
    alarm = json.loads(result.stdout)["alarm"]
    # every slow candidate was measured on val beside the fast ones
    slow = [c for c in alarm["candidates"] if c["slow_threshold"] is not None]
    assert len(slow) == len(SLOW_THRESHOLDS) * len(SLOW_WINDOWS_S)
    assert alarm["slow_threshold"] in (None, *SLOW_THRESHOLDS)


def test_train_chooses_the_alarm_with_room_conditions_left_out(features: Path) -> None:
    # trained on train and holdout, the pool holds medium and large rooms with fires in both
    args = ["train", str(features), "--model", "gas", "--split", "train,holdout"]
    args += ["--alarm-budget", "1", "--json"]  # a budget tiny data can meet
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    alarm = json.loads(result.stdout)["alarm"]
    assert alarm["chosen_on"] == "room conditions left out of train,holdout,val"
    assert "room_size=large" in alarm["folds"] and alarm["threshold"] in THRESHOLDS
    # there the slow path is considered unless declined
    slow = [c for c in alarm["candidates"] if c["slow_threshold"] is not None]
    assert len(slow) == len(SLOW_THRESHOLDS) * len(SLOW_WINDOWS_S)
    result = runner.invoke(app, [*args, "--no-slow-path"])
    assert result.exit_code == 0, result.output
    alarm = json.loads(result.stdout)["alarm"]
    assert alarm["slow_threshold"] is None
    assert len(alarm["candidates"]) == len(THRESHOLDS) * len(DELAYS_S)
    # asked for val, the point is chosen there; an unknown choice is named before any fit
    result = runner.invoke(app, [*args, "--alarm-on", "val"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["alarm"]["chosen_on"] == "val"
    result = runner.invoke(app, [*args, "--alarm-on", "test"])
    assert result.exit_code != 0 and "invalid alarm choice 'test'" in result.output


def test_train_on_the_standard18_columns_of_an_extended_table(
    features: Path, tmp_path: Path
) -> None:
    from embercast.dataset.feature_table import STANDARD18
    from embercast.models.persistence import load_model

    out = tmp_path / "s18.pkl"
    result = runner.invoke(
        app, ["train", str(features), "--model", "gbm", "--set", "standard18", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert tuple(load_model(str(out)).feature_names_in_) == STANDARD18
    bad = runner.invoke(app, ["train", str(features), "--model", "gbm", "--set", "bogus"])
    assert bad.exit_code == 2 and "feature set 'bogus' is not in the table" in bad.output


def test_the_alarm_is_chosen_on_condition_folds_by_default() -> None:
    data = condition_data()
    model = GBMDetector(n_estimators=20, bags=1)
    detector = GBMDetector(n_estimators=20, bags=1).fit(
        data.split(("train",)),
        data.split(("train",))["fire"],
        groups=data.split(("train",))["scenario_id"],
    )
    summary = choose_alarm(data, detector, ("val",), 0.02, pool=("train",))
    assert summary is not None
    assert summary["chosen_on"] == "room conditions left out of train"
    assert summary["budget_limit"] == 0.0  # 2 % is not told from 0 over 7 nuisance scenarios
    assert summary["folds"] == [f.label for f in condition_folds(data, ("train",))]
    scores = condition_out_scores(data, model, ("train",), condition_folds(data, ("train",)))
    expected = choose_operating_point(
        scores.rows, scores.p, scores.scenarios, 0.02, fires=7, nuisances=7
    )
    assert detector.alarm_ == expected.params and detector.alarm_.threshold in THRESHOLDS
    # on "val" (here: no val rows) nothing is chosen; an unknown choice is named
    assert choose_alarm(data, detector, ("val",), 0.02, on="val") is None
    with pytest.raises(ValueError, match="invalid alarm choice 'rows'"):
        choose_alarm(data, detector, ("val",), 0.02, on="rows")


def test_train_sets_estimator_parameters_and_names_a_wrong_one_before_reading_data(
    features: Path, tmp_path: Path
) -> None:
    from embercast.models.persistence import load_model

    out = tmp_path / "gas.skops"
    args = ["train", str(features), "--model", "gas", "--alarm-on", "val", "--out", str(out)]
    result = runner.invoke(app, [*args, "--param", "bags=2", "--param", "calibration=pooled"])
    assert result.exit_code == 0, result.output
    model = load_model(str(out))
    assert (model.bags, model.calibration) == (2, "pooled") and len(model.members_) == 2
    sidecar = json.loads(Path(f"{out}.json").read_text())["params"]
    assert (sidecar["bags"], sidecar["calibration"]) == (2, "pooled")
    # wrong parameters end with one line naming them, before the data are read
    missing = str(tmp_path / "no-such-features")
    for param, message in (
        ("nope=1", "gas has no parameter 'nope': set one of bags, calibration,"),
        ("bags=0", "The 'bags' parameter of GasModel must be an int in the range [1, inf)"),
        ("calibration=platt", "The 'calibration' parameter of GasModel must be a str among"),
        ("feature_set=standard18", "the feature set is not set by --param: choose it with --set"),
        ("bags", "invalid --param 'bags': give NAME=VALUE"),
    ):
        bad = runner.invoke(app, ["train", missing, "--model", "gas", "--param", param])
        assert bad.exit_code == 2 and message in bad.output, (param, bad.output)
        assert len(bad.output.strip().splitlines()) == 1


def test_train_considers_a_co2_path_with_and_without_a_camera(features: Path) -> None:
    from embercast.evaluation.feature_data import load_features
    from embercast.evaluation.operating_point import CO2_GATES
    from embercast.lifecycle.training import co2_rule
    from embercast.models.baselines import CO2Threshold

    args = ["train", str(features), "--model", "gas", "--alarm-on", "val", "--json"]
    result = runner.invoke(app, [*args, "--co2-path"])
    assert result.exit_code == 0, result.output
    alarm = json.loads(result.stdout)["alarm"]
    # every gate measured on val as it is and without a camera, beside the point itself (no
    # gate), whose threshold and delay stay
    gated = [c for c in alarm["candidates"] if c.get("without_camera") is not None]
    assert sorted((c["co2_gate"] or 0.0, c["without_camera"]) for c in gated) == sorted(
        (g, w) for g in (0.0, *CO2_GATES) for w in (False, True)
    )
    assert {(c["threshold"], c["delay_on_s"]) for c in gated} == {
        (alarm["threshold"], alarm["delay_on_s"])
    }
    assert all("without_camera" not in c for c in alarm["candidates"] if c not in gated)
    # the path's level and rate are the CO2 threshold detector's, fitted on the train rows
    train = load_features(str(features)).split(("train",))
    fitted = CO2Threshold().fit(train, train["fire"].to_numpy())
    assert co2_rule(train) == (fitted.level_ppm_, fitted.rate_ppm_s_)
    if alarm["co2_gate"] is not None:
        assert alarm["co2_gate"] in CO2_GATES
        assert (alarm["co2_level_ppm"], alarm["co2_rate_ppm_s"]) == co2_rule(train)
    with pytest.raises(ValueError, match="no training rows to fit the CO2 path"):
        co2_rule(train.head(0))
