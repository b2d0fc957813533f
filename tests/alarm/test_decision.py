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
