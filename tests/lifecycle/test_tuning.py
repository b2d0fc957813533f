"""Hyperparameter search: seeded, journal-backed, resumable, tuned on val scenarios only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from embercast.evaluation.feature_data import FeatureData
from embercast.lifecycle.tuning import score, tune
from helpers import table


def data() -> FeatureData:
    X, y, groups = table(n_scenarios=16, rows=30)
    rows = X.assign(
        scenario_id=groups, device_id=[f"{g}-d0" for g in groups],
        t_s=np.tile(np.arange(5.0, 155.0, 5.0), 16), fire=y,
        split_group=np.where(np.isin(groups, ["s012", "s013", "s014", "s015"]), "val", "train"),
    )  # fmt: skip
    facts = {}
    for sid in np.unique(groups):
        fire = bool(rows[rows.scenario_id == sid].fire.any())
        facts[str(sid)] = ("flaming_fire" if fire else "toaster", fire, 80.0 if fire else None)
    return FeatureData(
        rows=rows, scenarios=facts, feature_set="extended", location="mem", content_hash="abc123"
    )


def test_tuning_is_seeded_and_resumes(tmp_path: Path) -> None:
    first = tune(data(), "gas", 3, str(tmp_path / "a.journal"), seed=1)
    again = tune(data(), "gas", 3, str(tmp_path / "b.journal"), seed=1)
    assert first["best_params"] == again["best_params"] and first["trials"] == 3
    resumed = tune(data(), "gas", 2, str(tmp_path / "a.journal"), seed=1)
    assert resumed["trials"] == 5 and resumed["best_value"] >= first["best_value"]
    assert (tmp_path / "a.journal").stat().st_size > 0


def test_tuning_needs_val_scenarios_and_a_search_space(tmp_path: Path) -> None:
    d = data()
    no_val = FeatureData(d.rows.assign(split_group="train"), d.scenarios, "extended", "mem", "x")
    with pytest.raises(ValueError, match="needs train and val scenarios"):
        tune(no_val, "gas", 1, str(tmp_path / "j"))
    with pytest.raises(ValueError, match="no search space for 'ensemble'"):
        tune(d, "ensemble", 1, str(tmp_path / "j"))


def test_objective_prefers_more_fires_sooner_and_fewer_false_alarms() -> None:
    base = {"detection_rate": 0.9, "false_alarm_scenario_rate": 0.1, "ttd_median_s": 120.0}
    assert score(base | {"detection_rate": 1.0}) > score(base)
    assert score(base | {"false_alarm_scenario_rate": 0.0}) > score(base)
    assert score(base | {"ttd_median_s": 60.0}) > score(base)
