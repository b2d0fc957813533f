"""Scenario metrics through the alarm decision, split by camera coverage; Wilson intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from embercast.alarm.decision import AlarmParams
from embercast.alarm.zone import ZoneParams
from embercast.evaluation.metrics import outcomes, row_metrics, scenario_metrics, wilson_interval
from helpers import scored


def test_scenario_metrics_follow_the_alarm_decision() -> None:
    frame, facts = scored()
    found = outcomes(frame, frame.p.to_numpy(), facts, AlarmParams(delay_on_s=10.0))
    m = scenario_metrics(found)
    flaming = m["fire_classes"]["flaming_fire"]
    lo, hi = flaming.pop("detection_rate_ci95")
    assert flaming == {
        "scenarios": 1,
        "detection_rate": 1.0,
        "ttd_median_s": 60.0,
        "ttd_p90_s": 60.0,
    }  # alarm at 160 s (10 s debounce after 150 s), ignition at 100 s
    assert hi == pytest.approx(1.0) and lo == pytest.approx(0.2065, abs=1e-4)  # 1 of 1
    assert m["false_alarm_scenario_rate_ci95"] == wilson_interval(1, 2)
    assert m["nuisance_classes"]["toaster"]["false_alarm_scenario_rate"] == 0.5  # spike debounced
    hours = (60 + 60 + 19) * 5 / 3600  # non-fire rows: both toasters and f1 before 100 s
    assert m["false_alarms_per_1000_device_hours"] == pytest.approx(1000 * 1 / hours)
    r = row_metrics(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
    assert r["roc_auc"] == 0.75 and r["brier"] == pytest.approx((0.01 + 0.16 + 0.4225 + 0.04) / 4)


def test_scenario_metrics_split_fires_by_camera_coverage() -> None:
    frame, facts = scored()
    late = frame[frame.scenario_id == "f1"].assign(scenario_id="f2", device_id="f2-d0")
    late = late.assign(p=0.1)  # never alarms
    frame = pd.concat([frame, late], ignore_index=True)
    facts = {**facts, "f2": ("flaming_fire", True, 100.0)}
    found = outcomes(frame, frame.p.to_numpy(), facts, AlarmParams(delay_on_s=10.0))
    assert "in_view" not in scenario_metrics(found)  # coverage unknown: no split
    m = scenario_metrics(found, {"f1": True, "f2": False})
    flaming = m["fire_classes"]["flaming_fire"]
    assert flaming["detection_rate"] == 0.5
    assert flaming["in_view"] == {
        "scenarios": 1,
        "detected": 1,
        "detection_rate": 1.0,
        "detection_rate_ci95": wilson_interval(1, 1),
    }
    assert flaming["out_of_view"]["detected"] == 0 and flaming["out_of_view"]["scenarios"] == 1
    assert m["in_view"]["detection_rate"] == 1.0 and m["out_of_view"]["detection_rate"] == 0.0
    # a fire the coverage does not list is in neither share
    m = scenario_metrics(found, {"f1": True})
    assert m["in_view"]["scenarios"] == 1 and m["out_of_view"]["scenarios"] == 0
    assert m["out_of_view"]["detection_rate"] is None


def test_a_zone_of_any_device_gives_the_single_device_numbers_and_confirmation_its_own() -> None:
    frame, facts = scored()
    # a second device in each room: in the fire it follows 20 s later; in the toaster rooms
    # it sees nothing
    second = frame.assign(device_id=frame.device_id.str.replace("-d0", "-d1"))
    second = second.assign(p=np.where(second.scenario_id == "f1",
                                      np.where(second.t_s >= 170, 0.95, 0.1), 0.1))  # fmt: skip
    frame = pd.concat([frame, second], ignore_index=True)
    rule = AlarmParams(delay_on_s=10.0)
    single = scenario_metrics(outcomes(frame, frame.p.to_numpy(), facts, rule))
    zone = scenario_metrics(outcomes(frame, frame.p.to_numpy(), facts, rule, ZoneParams()))
    assert zone == single
    assert single["ttd_median_s"] == 60.0 and single["false_alarm_scenario_rate"] == 0.5
    double = ZoneParams(confirm_devices=2, confirm_timeout_s=180.0)
    confirmed = scenario_metrics(outcomes(frame, frame.p.to_numpy(), facts, rule, double))
    assert confirmed["ttd_median_s"] == 80.0  # when the second device's decision turns on
    # one device's 100-s bump: pre-alarm, cleared before the 180-s fallback (on at 110 s,
    # off 60 s after the bump ends at 200 s)
    assert confirmed["false_alarm_scenario_rate"] == 0.0
    assert confirmed["false_alarms_per_1000_device_hours"] == 0.0
    sooner = ZoneParams(confirm_devices=2, confirm_timeout_s=60.0)
    longer = scenario_metrics(outcomes(frame, frame.p.to_numpy(), facts, rule, sooner))
    assert longer["false_alarm_scenario_rate"] == 0.5  # held past the 60-s fallback: alarm


def test_wilson_interval() -> None:
    # textbook values: 5 of 10 and 0 of 10 at 95 %
    assert wilson_interval(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    none, every = wilson_interval(0, 48), wilson_interval(48, 48)
    assert none is not None and every is not None
    assert none[0] == 0.0 and every[1] == 1.0  # exactly, as a report prints them
    # the interval narrows with more scenarios around the same share
    few, many = wilson_interval(2, 100), wilson_interval(20, 1000)
    assert few is not None and many is not None
    assert few[0] < many[0] < 0.02 < many[1] < few[1]
    assert wilson_interval(0, 0) is None
    with pytest.raises(ValueError, match="k <= n"):
        wilson_interval(3, 2)
