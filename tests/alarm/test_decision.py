"""The alarm decision: debounce, hysteresis, the slow confirmation path; risk levels."""

from __future__ import annotations

import pytest

from embercast.alarm.decision import AlarmDecision, AlarmParams
from embercast.alarm.risk import risk_level


def test_alarm_decision_debounce_and_hysteresis() -> None:
    d = AlarmDecision(
        AlarmParams(threshold=0.7, clear_threshold=0.4, delay_on_s=10, delay_off_s=20)
    )
    states = [d.update(t, p) for t, p in [(0, 0.9), (5, 0.2), (10, 0.9), (15, 0.9), (20, 0.9)]]
    assert states == [False, False, False, False, True]  # the dip restarts the debounce
    assert d.onset
    states = [d.update(t, p) for t, p in [(25, 0.5), (30, 0.3), (40, 0.3), (50, 0.3)]]
    assert states == [True, True, True, False]  # 0.5 is above the clear threshold
    assert not d.update(55, float("nan"))
    with pytest.raises(ValueError, match="clear_threshold must be"):
        AlarmParams(threshold=0.5, clear_threshold=0.6)
    assert risk_level(0.72) == "high"


def test_slow_confirmation_raises_a_wavering_probability_and_restarts_after_clearing() -> None:
    # p alternates 0.9 / 0.4 every 5 s: never held for the 10-s debounce, mean 0.65
    wavering = [(5.0 * i, 0.9 if i % 2 else 0.4) for i in range(200)]
    fast_only = AlarmDecision(AlarmParams(threshold=0.7, delay_on_s=10.0))
    assert not any(fast_only.update(t, p) for t, p in wavering)
    slow = AlarmParams(threshold=0.7, delay_on_s=10.0, slow_threshold=0.6, slow_window_s=300.0)
    d = AlarmDecision(slow)
    states = [d.update(t, p) for t, p in wavering]
    assert states.index(True) == 60  # the first whole 300-s window (t = 300 s)
    assert d.slow_onset
    # a mean below the slow threshold never confirms
    assert not any(
        AlarmDecision(AlarmParams(slow_threshold=0.7, slow_window_s=300.0)).update(t, p)
        for t, p in wavering
    )
    # NaN readings stay out of the mean (not counted as 0): with every 4th reading (a 0.4)
    # missing, the window (mean 0.73) still confirms, at the first reading from 300 s on (305 s:
    # the 300-s one is missing); a fast threshold of 0.95 keeps that path off
    gaps = AlarmDecision(AlarmParams(threshold=0.95, slow_threshold=0.7, slow_window_s=300.0))
    gappy = [(t, float("nan") if i % 4 == 0 else p) for i, (t, p) in enumerate(wavering)]
    assert [gaps.update(t, p) for t, p in gappy].index(True) == 61
    # after the alarm clears, the old window is forgotten: no immediate re-alarm, and a new
    # whole window of wavering is needed before the slow path raises it again
    quiet = [(1000.0 + 5.0 * i, 0.1) for i in range(13)]  # 60 s below clear_threshold
    assert [d.update(t, p) for t, p in quiet][-1] is False
    again = [(1065.0 + t, p) for t, p in wavering]
    assert [d.update(t, p) for t, p in again].index(True) == 60
    with pytest.raises(ValueError, match="slow_threshold"):
        AlarmParams(slow_threshold=1.5)
    with pytest.raises(ValueError, match="slow_window_s"):
        AlarmParams(slow_threshold=0.6, slow_window_s=0.0)


def test_the_co2_path_raises_a_rise_the_model_does_not_rule_out_and_holds_it() -> None:
    prm = AlarmParams(
        threshold=0.9, clear_threshold=0.5, delay_off_s=20.0,
        co2_gate=0.2, co2_level_ppm=2000.0, co2_rate_ppm_s=2.5,
    )  # fmt: skip
    # CO2 rising at 3 ppm/s from 0 s while p stays at 0.3: the alarm after the path's 10 s
    d = AlarmDecision(prm)
    on = [d.update(t, 0.3, co2_ppm=600.0 + 3.0 * t, co2_rate_ppm_s=3.0) for t in (0, 5, 10)]
    assert on == [False, False, True] and d.onset and d.co2_onset and not d.slow_onset
    # held while the evidence stays (p below the clear threshold), cleared 20 s after it goes
    assert all(d.update(t, 0.3, co2_ppm=700.0, co2_rate_ppm_s=3.0) for t in (15, 30, 45))
    after = [d.update(t, 0.3, co2_ppm=700.0, co2_rate_ppm_s=0.0) for t in (50, 60, 70)]
    assert after == [True, True, False] and not d.co2_onset
    # the level alone is evidence too; a missing rate is none
    level = AlarmDecision(prm)
    assert [level.update(t, 0.3, co2_ppm=2100.0) for t in (0, 10)] == [False, True]
    # the model vetoes: below the gate, the same rise raises nothing; the p path still can
    vetoed = AlarmDecision(prm)
    assert not any(vetoed.update(t, 0.1, co2_rate_ppm_s=3.0) for t in range(0, 60, 5))
    assert [vetoed.update(t, 0.95, co2_rate_ppm_s=3.0) for t in (60, 70)] == [False, True]
    assert not vetoed.co2_onset
    # a gap in the evidence restarts the path's delay
    gap = AlarmDecision(prm)
    rates = [(0, 3.0), (5, 3.0), (10, 0.0), (15, 3.0), (20, 3.0), (25, 3.0)]
    assert [gap.update(t, 0.3, co2_rate_ppm_s=r) for t, r in rates] == [False] * 5 + [True]
    # without a gate there is no CO2 path, whatever the CO2
    off = AlarmDecision(AlarmParams(threshold=0.9))
    assert not any(off.update(t, 0.5, co2_ppm=40_000.0, co2_rate_ppm_s=99.0) for t in range(60))
    with pytest.raises(ValueError, match="co2_gate must be in"):
        AlarmParams(co2_gate=1.5)
    with pytest.raises(ValueError, match="co2_level_ppm and co2_rate_ppm_s must be > 0"):
        AlarmParams(co2_gate=0.2, co2_rate_ppm_s=0.0)
