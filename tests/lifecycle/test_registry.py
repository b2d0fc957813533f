"""The model registry: versions, aliases, the promotion gate, rollback, a corrupt store."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from embercast.cli import app

runner = CliRunner()


@pytest.fixture
def own_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A registry store of the test's own, empty: versions start at 1."""
    from embercast.config import get_settings

    store = tmp_path / "mlflow.db"
    monkeypatch.setenv("EMBERCAST_MLFLOW_URI", str(store))
    get_settings.cache_clear()
    return store


@pytest.mark.usefixtures("own_registry")
def test_registry_versions_aliases_gate_and_rollback(features: Path, tmp_path: Path) -> None:
    from embercast.evaluation.feature_data import load_features
    from embercast.lifecycle.registry import Registry
    from embercast.models.baselines import CO2Threshold

    for model in ("gbm", "rf"):
        result = runner.invoke(
            app, ["train", str(features), "--model", model, "--register", "fire", "--json"]
        )
        assert result.exit_code == 0, result.output
    listed = json.loads(runner.invoke(app, ["models", "list", "--json"]).stdout)
    assert [(r["version"], r["aliases"]) for r in listed] == [
        (1, ["champion"]),
        (2, ["challenger"]),
    ]
    assert {"detection_rate", "ttd_median_s", "false_alarm_scenario_rate"} <= set(
        listed[0]["metrics"]
    )
    # a clearly worse version, measured on the same scenarios, is refused by the gate, and the
    # decision is recorded
    registry = Registry()
    X = pd.DataFrame({"gas_val": [400.0, 9000.0], "gas_vel": [0.0, 9.0]})
    worse = CO2Threshold().fit(X, [0, 1])
    same = {"features_content_hash": load_features(str(features)).content_hash,
            "features_location": str(features), "eval_groups": "test,holdout"}  # fmt: skip
    _, version = registry.log_training(
        worse, params={"model": "co2"}, tags=same,
        metrics={"detection_rate": 0.1, "ttd_median_s": 900.0, "false_alarm_scenario_rate": 0.9},
        register="fire",
    )  # fmt: skip
    refused = runner.invoke(app, ["models", "promote", f"fire/{version}"])
    assert refused.exit_code == 1 and "refused by the gate" in refused.output
    assert "detection rate 0.100 <" in refused.output
    assert f"recorded metrics, both on test,holdout of {features}" in refused.output
    shown = json.loads(runner.invoke(app, ["models", "show", "fire", "--json"]).stdout)
    assert shown[version - 1]["gate"]["passed"] == "false"
    champion_before = [r["version"] for r in shown if "champion" in r["aliases"]]
    assert champion_before == [1]
    one = json.loads(runner.invoke(app, ["models", "show", "fire@champion", "--json"]).stdout)
    assert (one["version"], one["aliases"]) == (1, ["champion"])
    assert json.loads(runner.invoke(app, ["models", "show", "fire/2"]).stdout)["version"] == 2
    # promoting version 2 passes only if it is not worse than version 1 on held-out metrics
    decision = registry.gate("fire", 2)
    promoted = runner.invoke(app, ["models", "promote", "fire/2", "--json"])
    assert json.loads(promoted.stdout)["passed"] == decision.passed
    if decision.passed:
        assert registry.resolve("fire@champion") == ("fire", 2)
        assert runner.invoke(app, ["models", "rollback", "fire"]).exit_code == 0
        assert registry.resolve("fire@champion") == ("fire", 1)
    # evaluate by registry reference
    ok = runner.invoke(
        app,
        [
            "evaluate",
            "--model",
            "fire@champion",
            "--data",
            str(features),
            "--out",
            str(tmp_path / "r"),
            "--json",
        ],
    )
    assert ok.exit_code == 0, ok.output
    bad = runner.invoke(
        app,
        ["evaluate", "--model", "fire@nope", "--data", str(features), "--out", str(tmp_path / "r")],
    )
    assert bad.exit_code == 2 and "unknown model reference 'fire@nope'" in bad.output
    assert runner.invoke(app, ["models", "show", "ghost"]).exit_code == 2
    missing = runner.invoke(app, ["models", "show", "fire/99"])
    assert missing.exit_code == 2 and "unknown model reference 'fire/99'" in missing.output


@pytest.mark.usefixtures("own_registry")
def test_the_gate_compares_versions_on_the_same_scenarios(features: Path, tmp_path: Path) -> None:
    from embercast.lifecycle.registry import Registry
    from embercast.models.baselines import CO2Threshold

    trained = runner.invoke(app, ["train", str(features), "--model", "gas", "--register", "fire"])
    assert trained.exit_code == 0, trained.output
    registry = Registry()
    X = pd.DataFrame({"gas_val": [400.0, 9000.0], "gas_vel": [0.0, 9.0]})
    jumpy = CO2Threshold().fit(X, [0, 1])  # its level learned on two rows: alarms at people
    flattering = {"detection_rate": 1.0, "ttd_median_s": 1.0, "false_alarm_scenario_rate": 0.0}
    elsewhere = {"features_content_hash": "another", "eval_groups": "test,holdout"}
    # recorded numbers from other scenarios are not compared: both are measured on the
    # candidate's own held-out scenarios, where it alarms in most nuisance scenarios
    _, v2 = registry.log_training(
        jumpy, params={}, metrics=flattering,
        tags={**elsewhere, "features_location": str(features)}, register="fire",
    )  # fmt: skip
    decision = registry.gate("fire", v2)
    assert not decision.passed
    assert any(r.startswith("false-alarm rate") for r in decision.reasons), decision.reasons
    assert decision.compared_on == f"both measured on test,holdout of {features}"
    # a feature set given: both measured on it (the CLI records where)
    refused = runner.invoke(app, ["models", "promote", f"fire/{v2}", "--data", str(features)])
    assert refused.exit_code == 1 and "false-alarm rate" in refused.output
    shown = json.loads(runner.invoke(app, ["models", "show", f"fire/{v2}"]).stdout)
    assert shown["gate"]["compared_on"] == f"both measured on test,holdout of {features}"
    # data that cannot be read: refused, saying why, rather than compared on other scenarios
    _, v3 = registry.log_training(
        jumpy, params={}, metrics=flattering,
        tags={**elsewhere, "features_location": str(tmp_path / "gone")}, register="fire",
    )  # fmt: skip
    gone = registry.gate("fire", v3)
    assert not gone.passed and "measured on different data" in gone.reasons[0]
    assert "promote --data" in gone.reasons[0]
    _, v4 = registry.log_training(jumpy, params={}, metrics=flattering, tags={}, register="fire")
    assert "held-out data is not recorded" in registry.gate("fire", v4).reasons[0]
    assert registry.resolve("fire@champion") == ("fire", 1)
    assert registry.gate("fire", 1).reasons == ["version 1 is the champion already"]


def test_a_corrupt_registry_store_is_a_clear_error(
    features: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from embercast.config import get_settings

    store = tmp_path / "mlflow.db"
    store.write_text("this is not a database")
    monkeypatch.setenv("EMBERCAST_MLFLOW_URI", str(store))
    get_settings.cache_clear()
    result = runner.invoke(app, ["train", str(features), "--model", "gbm", "--register", "fire"])
    assert result.exit_code == 2 and "is not a SQLite database" in result.output
    assert store.read_text() == "this is not a database"


def test_model_artifacts_are_kept_beside_the_store(
    own_registry: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from embercast.lifecycle.registry import Registry
    from embercast.models.baselines import CO2Threshold

    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    X = pd.DataFrame({"gas_val": [400.0, 9000.0], "gas_vel": [0.0, 9.0]})
    registry = Registry()
    _, version = registry.log_training(
        CO2Threshold().fit(X, [0, 1]), params={}, metrics={}, tags={}, register="fire"
    )
    assert version == 1
    assert not (elsewhere / "mlruns").exists()
    assert list((own_registry.parent / "mlartifacts").rglob("model.*"))
    assert isinstance(registry.load("fire@champion"), CO2Threshold)
