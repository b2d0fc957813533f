"""Tests of the Lepton 3.5 sensor model (embercast.sensors.lepton)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from embercast.sensors.datasheets import LEPTON35, LeptonSpec
from embercast.sensors.lepton import (
    LeptonCamera,
    LeptonDevice,
    counts_to_celsius,
    ffc_source_index,
    frame_index_at_or_before,
    frame_time,
    sample_lepton_device,
)

SHAPE = (LEPTON35.height_px, LEPTON35.width_px)


def ideal_device(**changes: object) -> LeptonDevice:
    """A device without bias, fixed pattern or dead pixels (thresholds become exact)."""
    fields: dict[str, object] = {
        "bias_high_k": 0.0,
        "bias_low_k": 0.0,
        "fpn_k": np.zeros(SHAPE, dtype=np.float32),
        "dead_rows": np.zeros(0, dtype=np.intp),
        "dead_cols": np.zeros(0, dtype=np.intp),
        "dead_counts": np.zeros(0, dtype=np.uint16),
        "ffc_interval_s": 180.0,
        "ffc_phase_s": 60.0,
    }
    fields.update(changes)
    return LeptonDevice(**fields)  # type: ignore[arg-type]


def scene(
    background_c: float = 25.0, patch_c: float | None = None, n_patch: int = 10
) -> np.ndarray:
    """Uniform scene, optionally with ``n_patch`` pixels of row 60 at ``patch_c``."""
    s = np.full(SHAPE, background_c, dtype=np.float32)
    if patch_c is not None:
        s[60, 70 : 70 + n_patch] = patch_c
    return s


def live_mask(device: LeptonDevice) -> np.ndarray:
    mask = np.ones(SHAPE, dtype=bool)
    mask[device.dead_rows, device.dead_cols] = False
    return mask


def test_spec_geometry() -> None:
    assert LEPTON35.focal_length_px == pytest.approx(80.0 / math.tan(math.radians(28.5)))
    assert LEPTON35.focal_length_px == pytest.approx(147.34, abs=0.01)
    assert LEPTON35.vfov_deg == pytest.approx(44.3, abs=0.1)


def test_sampled_devices_stay_in_class() -> None:
    rng = np.random.default_rng(2024)
    devices = [sample_lepton_device(rng) for _ in range(300)]
    bias_high = np.array([d.bias_high_k for d in devices])
    bias_low = np.array([d.bias_low_k for d in devices])
    assert np.all(np.abs(bias_high) <= LEPTON35.accuracy_high_k)
    assert np.all(np.abs(bias_low) <= LEPTON35.accuracy_low_k)
    assert 1.0 < bias_high.std() < 2.0  # drawn with sigma 1.5 K, not all zero
    for d in devices:
        assert 0 <= d.dead_rows.size <= 8
        assert LEPTON35.ffc_interval_min_s <= d.ffc_interval_s <= LEPTON35.ffc_interval_max_s
        assert LEPTON35.ffc_freeze_s <= d.ffc_phase_s <= d.ffc_interval_s
        assert d.fpn_k.dtype == np.float32 and d.fpn_k.shape == SHAPE
        assert abs(float(d.fpn_k.mean())) < 1e-4
        assert 0.04 < float(d.fpn_k.std()) < 0.12


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_uniform_scene_mean_is_bias_and_noise_is_netd(seed: int) -> None:
    device = sample_lepton_device(np.random.default_rng(seed))
    cam = LeptonCamera(device, seed=seed)
    frames = np.stack(
        [counts_to_celsius(cam.observe(scene(25.0), k).counts) for k in range(30)]
    ).astype(np.float64)
    live = live_mask(device)
    assert frames[:, live].mean() == pytest.approx(25.0 + device.bias_high_k, abs=0.02)
    temporal_std = frames.std(axis=0, ddof=1)[live].mean()
    assert 0.03 < temporal_std < LEPTON35.netd_k
    assert cam.gain == "high"


def test_gain_switches_with_hysteresis() -> None:
    cam = LeptonCamera(ideal_device(), seed=5)
    assert cam.observe(scene(), 0).gain == "high"
    # fewer pixels than gain_min_pixels above 140 °C: stays high, those pixels saturate at 140 °C
    few = cam.observe(scene(patch_c=300.0, n_patch=LEPTON35.gain_min_pixels - 1), 1)
    assert few.gain == "high"
    assert counts_to_celsius(few.counts).max() == pytest.approx(140.0, abs=0.01)
    assert cam.observe(scene(patch_c=150.0), 2).gain == "low"
    assert cam.observe(scene(patch_c=125.0), 3).gain == "low"  # between 110 and 140: hysteresis
    assert cam.observe(scene(patch_c=111.0), 4).gain == "low"
    assert cam.observe(scene(patch_c=100.0), 5).gain == "high"
    assert cam.observe(scene(patch_c=125.0), 6).gain == "high"  # back in high, 125 < 140


def test_low_gain_saturates_and_quantises_to_tenth_kelvin() -> None:
    cam = LeptonCamera(ideal_device(), seed=9)
    frame = cam.observe(scene(patch_c=1000.0), 0)
    assert frame.gain == "low"
    assert np.all(frame.counts % 10 == 0)  # 0.1 K steps, after noise
    assert len(np.unique(frame.counts)) > 3  # noise is present (0.15 K before rounding)
    hot = counts_to_celsius(frame.counts[60, 70:80])
    assert np.all(hot == hot[0])  # saturated: noise does not show
    assert float(hot[0]) == pytest.approx(65530 / 100 - 273.15, abs=1e-3)  # format ceiling
    background = counts_to_celsius(frame.counts)[0:50]
    assert float(background.mean()) == pytest.approx(25.0, abs=0.02)
    assert 0.1 < float(background.std()) < 0.2


def test_low_gain_ceiling_of_spec_below_format_ceiling() -> None:
    spec = LeptonSpec(low_gain_max_c=300.0)
    cam = LeptonCamera(ideal_device(), spec=spec, seed=1)
    frame = cam.observe(scene(patch_c=1000.0), 0)
    assert float(counts_to_celsius(frame.counts).max()) == pytest.approx(300.0, abs=0.1)


def test_high_gain_quantises_to_centikelvin() -> None:
    frame = LeptonCamera(ideal_device(), seed=3).observe(scene(), 0)
    assert np.any(frame.counts % 10 != 0)
    assert float(counts_to_celsius(frame.counts).min()) >= -10.0


def test_dead_pixels_are_stuck() -> None:
    rows = np.array([3, 50, 119], dtype=np.intp)
    cols = np.array([0, 80, 159], dtype=np.intp)
    stuck = np.array([0, 30000, 65535], dtype=np.uint16)
    cam = LeptonCamera(ideal_device(dead_rows=rows, dead_cols=cols, dead_counts=stuck), seed=2)
    for k, s in enumerate([scene(20.0), scene(40.0, patch_c=300.0), scene(-5.0)]):
        frame = cam.observe(s, k)
        np.testing.assert_array_equal(frame.counts[rows, cols], stuck)


def test_repeated_frame_index_gives_identical_frame_and_seeds_differ() -> None:
    device = sample_lepton_device(np.random.default_rng(11))
    s = scene(30.0, patch_c=60.0)
    cam = LeptonCamera(device, seed=4)
    first = cam.observe(s, 7).counts
    np.testing.assert_array_equal(cam.observe(s, 7).counts, first)
    np.testing.assert_array_equal(LeptonCamera(device, seed=4).observe(s, 7).counts, first)
    assert not np.array_equal(LeptonCamera(device, seed=5).observe(s, 7).counts, first)
    assert not np.array_equal(cam.observe(s, 8).counts, first)
    with pytest.raises(ValueError, match="increasing frame_index"):
        cam.observe(s, 3)
    with pytest.raises(ValueError, match="shape"):
        cam.observe(np.zeros((160, 120)), 9)


@pytest.mark.parametrize("seed", [0, 3, 8])
def test_ffc_repeats_pre_freeze_frame_for_one_second(seed: int) -> None:
    device = sample_lepton_device(np.random.default_rng(seed))
    f = LEPTON35.frame_rate_hz
    n = math.ceil((device.ffc_phase_s + 2.5 * device.ffc_interval_s) * f)
    result = [ffc_source_index(device, k) for k in range(n)]
    frozen = np.array([fr for _, fr in result])
    starts = np.flatnonzero(frozen & ~np.r_[False, frozen[:-1]])
    assert len(starts) == 3
    np.testing.assert_allclose(np.diff(starts), device.ffc_interval_s * f, atol=1.0)
    assert starts[0] == math.ceil(device.ffc_phase_s * f - 1e-9)
    for start in starts:
        run = np.flatnonzero(frozen[start:] == 0)[0]
        assert run in (8, 9)  # ~1 s at 8.7 Hz
        assert {result[k][0] for k in range(start, start + run)} == {start - 1}
    for k in np.flatnonzero(~frozen):
        assert result[k] == (int(k), False)


@given(st.integers(min_value=0, max_value=10**8))
def test_frame_clock_round_trips(k: int) -> None:
    assert frame_index_at_or_before(frame_time(k)) == k
    assert frame_index_at_or_before(frame_time(k) + 0.5 / LEPTON35.frame_rate_hz) == k


@settings(max_examples=200)
@given(st.floats(min_value=-10.0, max_value=382.0, allow_nan=False))
def test_counts_to_celsius_round_trips(t_c: float) -> None:
    counts = np.array([round((t_c + 273.15) * 100)], dtype=np.uint16)
    back = counts_to_celsius(counts)
    assert back.dtype == np.float32
    assert float(back[0]) == pytest.approx(t_c, abs=0.005 + 1e-4)
    assert round((float(back[0]) + 273.15) * 100) == int(counts[0])
