"""Tests of the SCD41 sensor model (embercast.sensors.scd41)."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from embercast.sensors.datasheets import SCD41
from embercast.sensors.scd41 import (
    SCD41Device,
    first_order_lag,
    measure,
    sample_scd41_device,
    self_calibration_offset,
)

EXACT = SCD41Device(
    co2_offset_ppm=0.0, co2_gain_error=0.0, temperature_offset_c=0.0, humidity_offset_pct=0.0
)
finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


Arr = npt.NDArray[np.float64]


def steady(
    n: int = 301, co2: float = 800.0, temp: float = 22.0, rh: float = 45.0
) -> tuple[Arr, Arr, Arr, Arr]:
    """Truth on the 1-s grid: constant CO2 [ppm], temperature [°C] and RH [%RH]."""
    return np.arange(float(n)), np.full(n, co2), np.full(n, temp), np.full(n, rh)


@pytest.mark.parametrize(("dt_s", "tau_s"), [(1.0, 60.0), (1.0, 120.0), (0.5, 90.0)])
def test_lag_step_reaches_63_percent_at_tau(dt_s: float, tau_s: float) -> None:
    n = int(3 * tau_s / dt_s) + 1
    y = first_order_lag(np.full(n, 1000.0), dt_s, tau_s, x0=400.0)
    k_tau = round(tau_s / dt_s)
    assert y[0] == 400.0
    assert y[k_tau] == pytest.approx(400.0 + 600.0 * (1 - math.exp(-1)), rel=1e-12)
    assert np.all(np.diff(y) > 0)


def test_lag_edge_cases() -> None:
    x = np.array([1.0, 5.0, -2.0])
    np.testing.assert_array_equal(first_order_lag(x, 1.0, 0.0), x)
    assert first_order_lag(np.array([]), 1.0, 60.0).size == 0
    np.testing.assert_array_equal(first_order_lag(np.full(10, 7.0), 1.0, 60.0), np.full(10, 7.0))
    with pytest.raises(ValueError, match="tau_s"):
        first_order_lag(x, 1.0, -1.0)
    with pytest.raises(ValueError, match="dt_s"):
        first_order_lag(x, 0.0, 1.0)


@settings(max_examples=100, deadline=None)
@given(
    hnp.arrays(np.float64, st.integers(1, 200), elements=finite),
    st.floats(0.1, 10.0),
    st.floats(0.0, 500.0),
)
def test_lag_stays_within_input_range(x: np.ndarray, dt_s: float, tau_s: float) -> None:
    y = first_order_lag(x, dt_s, tau_s)
    tol = 1e-9 * max(1.0, float(np.abs(x).max()))
    assert np.all(y >= x.min() - tol) and np.all(y <= x.max() + tol)


def test_sampled_devices_stay_in_accuracy_class() -> None:
    rng = np.random.default_rng(7)
    devices = [sample_scd41_device(rng) for _ in range(1000)]
    offsets = np.array([d.co2_offset_ppm for d in devices])
    gains = np.array([d.co2_gain_error for d in devices])
    for reading in (400.0, 1000.0, 5000.0):
        error = offsets + gains * reading
        assert np.all(np.abs(error) <= SCD41.co2_accuracy_ppm + SCD41.co2_accuracy_rel * reading)
    assert np.all(np.abs([d.temperature_offset_c for d in devices]) <= 0.8)
    assert np.all(np.abs([d.humidity_offset_pct for d in devices]) <= 6.0)
    assert 15.0 < offsets.std() < 25.0  # 2 sigma = 40 ppm, so the class is used, not all zero
    assert 0.02 < gains.std() < 0.03


@pytest.mark.parametrize("seed", range(5))
def test_mean_readings_within_accuracy_class(seed: int) -> None:
    rng = np.random.default_rng(seed)
    device = sample_scd41_device(rng)
    t, co2, temp, rh = steady(n=3001, co2=2000.0)
    r = measure(t, co2, temp, rh, device, rng=rng)
    assert len(r.t_s) == 600
    assert abs(r.co2_ppm.mean() - 2000.0) <= 40.0 + 0.05 * 2000.0
    assert abs(r.temperature_c.mean() - 22.0) <= 0.8 + 0.01
    assert abs(r.humidity_pct.mean() - 45.0) <= 6.0 + 0.05
    assert r.co2_ppm.std() == pytest.approx(SCD41.co2_repeatability_ppm, rel=0.15)


def test_co2_saturates_at_40000_ppm() -> None:
    t, co2, temp, rh = steady(n=601, co2=100_000.0)  # 10 % CO2, as in full-scale room fires
    co2[:60] = 420.0
    r = measure(t, co2, temp, rh, EXACT, rng=np.random.default_rng(0))
    assert r.co2_ppm.max() == 40_000.0
    assert r.co2_ppm[-1] == 40_000.0
    assert r.co2_ppm[0] < 1000.0


def test_reading_times_and_lagged_step() -> None:
    n = 401
    t, co2, temp, rh = steady(n=n, co2=400.0)
    co2[100:] = 1400.0
    r = measure(t, co2, temp, rh, EXACT, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(r.t_s, np.arange(5.0, 401.0, 5.0))
    # input held over (t - 1 s, t]: the step acts from t = 99 s, so 61 s of it at t = 160 s
    at_160 = r.co2_ppm[r.t_s == 160.0][0]
    assert at_160 == pytest.approx(400.0 + 1000.0 * (1 - math.exp(-61 / 60)), abs=40.0)
    slow = measure(t, co2, temp, rh, EXACT, rng=np.random.default_rng(3), period_s=30.0)
    np.testing.assert_array_equal(slow.t_s, np.arange(30.0, 401.0, 30.0))


def test_outputs_are_quantised_and_float64() -> None:
    r = measure(*steady(), EXACT, rng=np.random.default_rng(1))
    for arr in (r.t_s, r.co2_ppm, r.temperature_c, r.humidity_pct):
        assert arr.dtype == np.float64
    np.testing.assert_array_equal(r.co2_ppm, np.round(r.co2_ppm))
    np.testing.assert_allclose(r.temperature_c * 100, np.round(r.temperature_c * 100), atol=1e-6)
    np.testing.assert_allclose(r.humidity_pct * 100, np.round(r.humidity_pct * 100), atol=1e-6)


def test_seeded_determinism() -> None:
    args = (*steady(), sample_scd41_device(np.random.default_rng(0)))
    a = measure(*args, rng=np.random.default_rng(42))
    b = measure(*args, rng=np.random.default_rng(42))
    c = measure(*args, rng=np.random.default_rng(43))
    np.testing.assert_array_equal(a.co2_ppm, b.co2_ppm)
    np.testing.assert_array_equal(a.humidity_pct, b.humidity_pct)
    assert not np.array_equal(a.co2_ppm, c.co2_ppm)


def test_self_calibration_calibrates_a_slow_fire_away() -> None:
    n = 2 * 3600 + 1
    t, co2, temp, rh = steady(n=n, co2=1500.0)  # CO2 held high for hours, never fresh air
    kwargs = {"rng": np.random.default_rng(5), "asc_initial_s": 1800.0, "asc_period_s": 1800.0}
    on = measure(t, co2, temp, rh, EXACT, asc=True, **kwargs)  # type: ignore[arg-type]
    off = measure(t, co2, temp, rh, EXACT, rng=np.random.default_rng(5))
    before, after = on.t_s <= 1800.0, on.t_s > 1800.0
    np.testing.assert_array_equal(on.co2_ppm[before], off.co2_ppm[before])
    assert abs(off.co2_ppm[after].mean() - 1500.0) < 5.0
    assert 400.0 < on.co2_ppm[after].mean() < 460.0  # min of a period forced to 400 ppm


def test_self_calibration_offset_ignores_missing_readings() -> None:
    t = np.arange(1.0, 9.0)
    c = np.array([500, 450, np.nan, np.nan, 700, 700, 700, 700])
    out = self_calibration_offset(t, c, initial_s=2.0, period_s=2.0, target_ppm=400.0)
    np.testing.assert_array_equal(out, [0, 0, -50, -50, -50, -50, -300, -300])
    with pytest.raises(ValueError, match="period_s"):
        self_calibration_offset(t, c, initial_s=2.0, period_s=0.0)


def test_measure_rejects_bad_inputs() -> None:
    t, co2, temp, rh = steady()
    with pytest.raises(ValueError, match="co2_ppm"):
        measure(t, co2[:-1], temp, rh, EXACT, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="regular"):
        measure(t**1.01, co2, temp, rh, EXACT, rng=np.random.default_rng(0))


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(np.float64, st.integers(2, 120), elements=finite),
    st.integers(0, 2**32 - 1),
    st.booleans(),
)
def test_outputs_always_within_output_range(x: np.ndarray, seed: int, asc: bool) -> None:
    rng = np.random.default_rng(seed)
    t = np.arange(float(x.size))
    r = measure(
        t,
        x,
        x / 1e4,
        x,
        sample_scd41_device(rng),
        rng=rng,
        asc=asc,
        asc_initial_s=20.0,
        asc_period_s=20.0,
    )
    assert np.all((r.co2_ppm >= 0.0) & (r.co2_ppm <= 40_000.0))
    assert np.all((r.humidity_pct >= 0.0) & (r.humidity_pct <= 100.0))
    assert np.all((r.temperature_c >= -45.0) & (r.temperature_c <= 130.0))
