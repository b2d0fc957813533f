"""SCD41 supervision: the FAULT checks of one sensor (a frozen or invalid reading)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from embercast.alarm.scd41_health import HealthParams, Scd41Health


def test_frozen_readings_go_to_fault_after_the_hold_and_stay_until_reset() -> None:
    h = Scd41Health(HealthParams(frozen_s=60.0))
    for t in np.arange(0.0, 60.0, 5.0):  # 12 identical readings span 55 s: not yet
        h.update(float(t), "d0", 800.0, 21.0, 40.0)
    assert h.get() == {}
    h.update(60.0, "d0", 800.0, 21.0, 40.0)
    assert h.get() == {"d0": "frozen: CO2, temperature and humidity unchanged for 60 s"}
    h.update(65.0, "d0", 812.0, 21.1, 40.3)  # a fault is latched: readings moving again
    assert h.faulted("d0")
    h.reset("d0")
    assert not h.faulted("d0") and h.get() == {}


def test_a_reading_that_moves_or_goes_missing_restarts_the_frozen_clock() -> None:
    h = Scd41Health(HealthParams(frozen_s=30.0))
    readings = [(0, 700.0, 21.0), (10, 700.0, 21.0), (20, 700.0, 21.01), (40, 700.0, 21.01),
                (45, math.nan, 21.01), (50, 700.0, 21.01), (75, 700.0, 21.01)]  # fmt: skip
    for t, co2, temp in readings:
        h.update(float(t), "d0", co2, temp, 40.0)
    assert not h.faulted("d0")  # 20 -> 40 s, then a dropout, then 50 -> 75 s: never 30 s
    h.update(80.0, "d0", 700.0, 21.01, 40.0)
    assert h.faulted("d0")


def test_only_co2_is_needed_and_each_device_is_its_own() -> None:
    h = Scd41Health(HealthParams(frozen_s=20.0))
    for t in (0.0, 5.0, 10.0, 15.0, 20.0):
        h.update(t, "a", 650.0)  # temperature and humidity missing: CO2 alone decides
        h.update(t, "b", 650.0 + t)
    assert h.get() == {"a": "frozen: CO2, temperature and humidity unchanged for 20 s"}
    assert not h.faulted("b") and not h.faulted("never-seen")


@pytest.mark.parametrize(
    ("co2", "faulted"), [(0.0, True), (-3.0, True), (40_000.0, False), (40_001.0, True),
                         (1.0, False), (math.nan, False)],
)  # fmt: skip
def test_invalid_co2_readings(co2: float, faulted: bool) -> None:
    h = Scd41Health()
    h.update(0.0, "d0", co2, 20.0, 45.0)
    assert h.faulted("d0") is faulted
    if faulted:
        assert h.get()["d0"].startswith(f"invalid: CO2 reads {co2:g} ppm")


def test_bad_use_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="frozen_s must be > 0 s, got 0"):
        HealthParams(frozen_s=0.0)
    h = Scd41Health()
    h.update(10.0, "d0", 500.0)
    with pytest.raises(ValueError, match="device 'd0': reading at t=5.0 s is older"):
        h.update(5.0, "d0", 501.0)
