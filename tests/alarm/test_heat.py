"""Heat evidence: a device hot past a heat detector's fixed point, or lost in a steep rise, raises
the alarm whatever the fire probability; a dropout in a room at its usual temperature does not.
Offline evaluation (``outcomes``) takes the same evidence, so a generated fire that silences its
device is detected."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from embercast.alarm.decision import AlarmDecision, AlarmParams
from embercast.alarm.heat import HeatParams, HeatWatch
from embercast.dataset.schema import FRAMES_SCHEMA, FramePolicy
from embercast.evaluation.metrics import HEAT_COLUMN, outcomes
from embercast.features.fold import fold
from embercast.synth.runner import run_scenario
from helpers import developed_fire_spec

NAN = math.nan


def test_fixed_temperature_and_lost_in_heat() -> None:
    w = HeatWatch()
    assert [w.update(t, c) for t, c in [(0, 30.0), (5, 56.9), (10, 57.0)]] == [False, False, True]
    assert w.get() == "hot"
    # a device at 52 °C whose readings stop: lost in heat, held while they stay missing
    w = HeatWatch()
    got = [w.update(t, c) for t, c in [(0, 50.0), (5, 52.0), (10, NAN), (300, NAN)]]
    assert got == [False, False, True, True] and w.get() == "lost in heat"
    # readings back at room temperature: the evidence is gone
    assert not w.update(305, 24.0) and w.get() is None
    # a steep rise (12 K/min) below 50 °C, then silence
    w = HeatWatch()
    rise = [(float(t), 25.0 + 0.2 * t) for t in range(0, 65, 5)]
    assert not any(w.update(t, c) for t, c in rise) and w.update(70, NAN)


def test_a_dropout_in_a_quiet_room_is_no_heat() -> None:
    w = HeatWatch()
    # slowly warming room (2 K/min at most), then the sensor drops out
    assert not any(w.update(float(t), 21.0 + 0.03 * t) for t in range(0, 600, 5))
    assert not w.update(600, NAN) and w.get() is None
    # evidence long before the readings stopped does not count
    w = HeatWatch(HeatParams(lost_within_s=60.0))
    w.update(0, 55.0)
    for t in range(5, 200, 5):
        w.update(float(t), 30.0)
    assert not w.update(200, NAN)


def test_heat_params_and_order_are_checked() -> None:
    with pytest.raises(ValueError, match="lost_c"):
        HeatParams(lost_c=70.0)
    with pytest.raises(ValueError, match="must be > 0"):
        HeatParams(rate_k_per_min=0.0)
    w = HeatWatch()
    w.update(10, 20.0)
    with pytest.raises(ValueError, match="older"):
        w.update(5, 20.0)


def test_heat_raises_and_holds_the_alarm_whatever_p() -> None:
    d = AlarmDecision(AlarmParams(threshold=0.9, delay_on_s=10.0, delay_off_s=20.0))
    assert not d.update(0, 0.1)
    assert d.update(5, 0.1, heat=True) and d.onset
    assert d.update(10, NAN, heat=True) and not d.onset
    # heat gone, p low: clears after delay_off_s as from p
    states = [d.update(t, 0.1) for t in (15, 25, 34, 35)]
    assert states == [True, True, True, False]


def _rows(temps: list[float]) -> pd.DataFrame:
    t = 5.0 * np.arange(1, len(temps) + 1)
    return pd.DataFrame(
        {"scenario_id": "s1", "device_id": "d0", "t_s": t, HEAT_COLUMN: np.asarray(temps)}
    )


def test_outcomes_take_the_heat_evidence_when_the_features_have_it() -> None:
    temps = [22.0] * 12 + [22.0 + 2.5 * k for k in range(1, 13)] + [NAN] * 12  # 30 K/min, then lost
    rows = _rows(temps)
    blind = np.zeros(len(rows))  # a detector that sees nothing
    fire = {"s1": ("flaming_fire", True, 60.0)}
    found = outcomes(rows, blind, fire)[0]
    assert found.ttd_s is not None and found.ttd_s <= 125.0
    # without the device's temperature among the features the decision has only p
    assert outcomes(rows.drop(columns=HEAT_COLUMN), blind, fire)[0].ttd_s is None
    # a dropout in a quiet room raises nothing
    quiet = _rows([22.0] * 24 + [NAN] * 12)
    nuisance = outcomes(quiet, np.zeros(len(quiet)), {"s1": ("sensor_fault", False, None)})[0]
    assert nuisance.false_alarms == 0


def test_a_generated_fire_that_silences_its_device_is_detected() -> None:
    spec = developed_fire_spec(900)
    result = run_scenario(spec, FramePolicy.parse("none"))
    readings = result.readings
    lost = readings.column("co2_ppm").to_numpy()
    assert np.isnan(lost).any(), "the device is lost to heat"
    table = fold(readings, FRAMES_SCHEMA.empty_table(), "extended", {}).to_pandas()
    ign = float(result.scenario["ignition_s"])
    found = outcomes(table, np.zeros(len(table)), {spec.scenario_id: ("flaming_fire", True, ign)})
    t_lost = float(readings.column("t_s").to_numpy()[np.argmax(np.isnan(lost))])
    assert found[0].ttd_s is not None and found[0].ttd_s <= t_lost
