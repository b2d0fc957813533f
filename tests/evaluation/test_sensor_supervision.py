"""Sensor supervision in the evaluation: scoring without an SCD41 in FAULT."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from embercast.alarm.decision import AlarmParams
from embercast.alarm.scd41_health import HealthParams
from embercast.evaluation.condition_folds import condition_folds, condition_out_scores
from embercast.evaluation.evaluate import evaluate
from embercast.evaluation.feature_data import FeatureData
from embercast.evaluation.sensor_supervision import apply_sensor_supervision, sensor_faults
from embercast.models.baselines import CO2Threshold


def _stuck_scenario() -> pd.DataFrame:
    """Scenario s1: device d0's SCD41 frozen at 1,200 ppm for 10 min, d1 beside it reading a
    quiet room; rows of the two devices interleaved, newest first (order must not matter)."""
    t = np.arange(0.0, 600.0, 5.0)
    d0 = pd.DataFrame({"device_id": "s1-d0", "t_s": t, "gas_val": 1200.0, "gas_vel": 0.0,
                       "scd_temp_val": 22.0, "scd_rh_val": 41.0})  # fmt: skip
    d1 = pd.DataFrame({"device_id": "s1-d1", "t_s": t, "gas_val": 430.0 + (t % 20),
                       "gas_vel": 0.1, "scd_temp_val": 22.0, "scd_rh_val": 41.0})  # fmt: skip
    rows = pd.concat([d0, d1]).assign(scenario_id="s1", split_group="test", fire=0, t_max=24.0)
    return rows.sort_values("t_s", ascending=False).reset_index(drop=True)


def test_supervised_rows_lose_the_scd41_features_of_a_sensor_in_fault() -> None:
    rows = _stuck_scenario()
    faulted = sensor_faults(rows)
    expected = (rows["device_id"] == "s1-d0") & (rows["t_s"] >= 60.0)
    assert np.array_equal(faulted, expected.to_numpy())
    masked, same = apply_sensor_supervision(rows)
    assert np.array_equal(same, faulted)
    gas = ["gas_val", "gas_vel", "scd_temp_val", "scd_rh_val"]
    assert masked.loc[faulted, gas].isna().all().all()
    pd.testing.assert_frame_equal(masked.loc[~faulted], rows.loc[~faulted])
    assert (masked["t_max"] == 24.0).all()  # the camera's features are kept
    assert not sensor_faults(rows, HealthParams(frozen_s=600.0)).any()
    with pytest.raises(ValueError, match="needs the CO2 reading column 'gas_val'"):
        sensor_faults(rows.drop(columns="gas_val"))


def test_evaluation_scores_a_frozen_sensor_as_absent() -> None:
    rows = _stuck_scenario()
    data = FeatureData(rows, {"s1": ("sensor_fault", False, None)}, "extended", "mem", "h")
    co2 = CO2Threshold(level_ppm=1000.0, rate_ppm_s=5.0).fit(rows, rows["fire"].to_numpy())
    slow = AlarmParams(threshold=0.5, clear_threshold=0.5, delay_on_s=120.0)
    plain = evaluate(data, {"co2": co2}, params=slow, health=None)[0]
    assert plain.outcomes[0].false_alarms == 1  # 1,200 ppm held for 2 min
    assert "sensor_fault_scenarios" not in plain.metrics
    watched = evaluate(data, {"co2": co2}, params=slow)[0]
    assert watched.outcomes[0].false_alarms == 0  # FAULT at 60 s: the reading is not evidence
    assert watched.metrics["sensor_fault_scenarios"] == {
        "sensor_fault": {"scenarios": 1, "with_fault": 1}
    }


def test_the_alarm_operating_point_is_chosen_on_supervised_scores() -> None:
    stuck = _stuck_scenario().assign(split_group="train")
    others = [
        pd.DataFrame({"scenario_id": sid, "device_id": f"{sid}-d0",
                      "t_s": np.arange(0.0, 50.0, 5.0), "gas_val": 450.0 + np.arange(10.0),
                      "gas_vel": 0.2, "scd_temp_val": 21.0,
                      "scd_rh_val": 40.0 + np.arange(10.0) / 100, "split_group": "train",
                      "fire": fire, "t_max": 24.0})
        for sid, fire in (("f1", 1), ("n2", 0), ("f2", 1))
    ]  # fmt: skip
    rows = pd.concat([stuck, *others], ignore_index=True)
    data = FeatureData(
        rows,
        {"s1": ("sensor_fault", False, None), "f1": ("flaming_fire", True, 0.0),
         "n2": ("toaster", False, None), "f2": ("flaming_fire", True, 0.0)},
        "extended", "mem", "h",
        conditions={"s1": {"room_size": "small"}, "f1": {"room_size": "small"},
                    "n2": {"room_size": "large"}, "f2": {"room_size": "large"}},
    )  # fmt: skip
    folds = condition_folds(data, ("train",))
    scores = condition_out_scores(
        data, CO2Threshold(level_ppm=1000.0, rate_ppm_s=5.0), ("train",), folds
    )
    frozen = (scores.rows["device_id"] == "s1-d0").to_numpy()
    late = frozen & (scores.rows["t_s"] >= 60.0).to_numpy()
    assert late.any() and (scores.p[late] == 0.0).all()  # the frozen 1,200 ppm is not evidence
    assert (scores.p[frozen & ~late] == 1.0).all()  # before the FAULT it was
