"""The streaming path and the offline table agree; missing and bad input are handled and counted."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from embercast.dataset.schema import FramePolicy
from embercast.features.base import Reading
from embercast.features.sets import feature_names, scd41_features
from embercast.features.stream import DeviceFeatures
from embercast.physics.species import relative_humidity
from embercast.synth.runner import run_scenario
from embercast.synth.scenarios import sample_spec
from helpers import OfflineFeatures


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


@pytest.fixture
def dataset(frames_dataset: Path) -> Path:
    """Three scenarios with every frame stored (conftest: shared, read-only)."""
    return frames_dataset


@pytest.mark.parametrize("feature_set", ["standard18", "extended"])
def test_offline_table_equals_the_stream_row_by_row(
    dataset: Path, offline_features: OfflineFeatures, feature_set: str
) -> None:
    # build_features(dataset, out, feature_set=feature_set), once per session (conftest)
    summary, out = offline_features(feature_set)
    table = pq.read_table(out / "features").to_pandas()
    assert summary.rows == len(table) > 0
    names = feature_names(feature_set)
    readings = pq.read_table(dataset / "readings").to_pandas()
    frames = pq.read_table(dataset / "frames").to_pandas()
    compared = 0
    for (sid, dev), r in readings.groupby(["scenario_id", "device_id"]):
        f = frames[(frames.scenario_id == sid) & (frames.device_id == dev)]
        # the live order: every event by time, a frame before a reading at the same instant
        events = [(t, 0, i) for t, i in zip(f.t_s, f.index, strict=True)]
        events += [(t, 1, i) for t, i in zip(r.t_s, r.index, strict=True)]
        stream = DeviceFeatures(feature_set)
        expected = table[(table.scenario_id == sid) & (table.device_id == dev)].set_index("t_s")
        for t, kind, i in sorted(events):
            if kind == 0:
                raw = np.frombuffer(frames.frame[i], "<u2").reshape(120, 160)
                stream.update_frame(t, raw, bool(frames.ffc[i]))
                continue
            row = stream.update_reading(
                Reading(t, readings.co2_ppm[i], readings.temperature_c[i], readings.humidity_pct[i])
            )
            assert row is not None
            want = expected.loc[t]
            assert all(same(v, float(want[n])) for n, v in zip(names, row, strict=True)), (sid, t)
            assert (stream.status != "ok") == bool(want.thermal_missing)
            compared += 1
    assert compared == len(table)


def test_ffc_and_stale_frames() -> None:
    dev = DeviceFeatures("standard18")
    img = np.full((120, 160), 21.0, np.float32)
    dev.update_frame(4.0, img)
    dev.update_frame(5.0, img, ffc=True)
    row = dev.update_reading(Reading(5.0, 420.0, 21.0, 40.0))
    assert row is not None and dev.status == "ffc" and math.isnan(row[0])
    dev.update_frame(9.0, img)
    row = dev.update_reading(Reading(10.0, 420.0, 21.0, 40.0))  # newest frame is 1 s old
    assert row is not None and dev.status == "stale" and math.isnan(row[0])
    dev.update_frame(14.0, img)
    dev.update_frame(15.0, img)
    row = dev.update_reading(Reading(15.0, 420.0, 21.0, 40.0))
    assert row is not None and dev.status == "ok" and row[0] == pytest.approx(21.0)


def test_bad_input_is_rejected_counted_and_the_stream_goes_on() -> None:
    dev = DeviceFeatures("standard18")
    good = np.full((120, 160), 21.0, np.float32)
    assert not dev.update_frame(1.0, np.zeros((160, 120), np.float32))
    assert not dev.update_frame(1.0, np.zeros((120, 160), np.int32))
    nan = good.copy()
    nan[3, 3] = np.nan
    assert not dev.update_frame(1.0, nan)
    hot = good.copy()
    hot[0, 0] = 5000.0
    assert not dev.update_frame(1.0, hot)
    assert not dev.update_frame(1.0, np.zeros((120, 160), np.uint16))  # 0 cK is -273 °C
    assert dev.update_frame(4.5, good) and dev.update_frame(5.0, good)
    assert not dev.update_frame(4.8, good)  # out of order
    assert dev.update_reading(Reading(5.0, 420.0, 21.0, 40.0)) is not None
    assert dev.update_reading(Reading(5.0, 421.0, 21.0, 40.0)) is None  # duplicate
    assert dev.update_reading(Reading(3.0, 421.0, 21.0, 40.0)) is None  # out of order
    assert dev.update_reading(Reading(float("nan"), 421.0, 21.0, 40.0)) is None
    assert dict(dev.rejected) == {
        "frame_shape": 1,
        "frame_dtype": 1,
        "frame_nan": 1,
        "frame_range": 2,
        "frame_order": 1,
        "reading_order": 2,
        "reading_time": 1,
    }
    dev.update_frame(10.0, good)
    assert dev.update_reading(Reading(10.0, 430.0, 21.0, 40.0)) is not None
    assert dev.get()[dev.names.index("gas_delta")] == pytest.approx(10.0)


def test_missing_co2_reading_gives_nan_gas_features_not_a_number() -> None:
    dev = DeviceFeatures("standard18")
    dev.update_reading(Reading(5.0, 420.0, 21.0, 40.0))
    row = dev.update_reading(Reading(10.0, float("nan"), float("nan"), float("nan")))
    assert row is not None
    g = dict(zip(dev.names, row, strict=True))
    assert math.isnan(g["gas_val"]) and math.isnan(g["gas_delta"]) and math.isnan(g["gas_vel"])


def test_new_hot_object_ignores_static_machinery_and_sees_a_fire() -> None:
    machine = sample_spec(0, 3, "hot_machinery")
    res = run_scenario(
        replace(
            machine,
            params=dict(machine.params)
            | {"cycling": False, "machine_temp": 110.0, "duration_s": 600},
        ),
        FramePolicy.parse("all"),
    )
    frames = res.frames.to_pandas()
    dev = DeviceFeatures("extended")
    i_area = dev.names.index("newhot_area_pct")
    for t in res.readings["t_s"].to_pylist():
        for _, fr in frames[(frames.t_s <= t) & (frames.t_s > t - 1.2)].iterrows():
            dev.update_frame(fr.t_s, np.frombuffer(fr.frame, "<u2").reshape(120, 160), fr.ffc)
        dev.update_reading(Reading(t, 420.0, 21.0, 40.0))
    # the machines were hot from the start: nothing new once the background has them
    assert dev.get()[i_area] == 0.0
    fire = (
        np.frombuffer(frames.frame.iloc[-1], "<u2").reshape(120, 160).astype(np.float32) / 100
        - 273.15
    )
    fire = fire.copy()
    fire[70:74, 90:94] = 350.0
    dev.update_frame(700.0, fire)
    dev.update_reading(Reading(700.0, 420.0, 21.0, 40.0))
    assert dev.get()[i_area] == pytest.approx(100.0 * 16 / (120 * 160))


def test_hot_area_slopes_tell_a_spreading_spot_from_one_switched_on() -> None:
    """A smoulder's glowing spot keeps growing; a hob ring switched on is a step: its 10-min
    slope falls back to 0 while the 30-min slope still remembers the step."""

    def run(area_px: Callable[[float], int], until: float) -> dict[str, float]:
        dev = DeviceFeatures("extended")
        for t in np.arange(5.0, until + 1.0, 5.0):
            img = np.full((120, 160), 21.0, np.float32)
            img.ravel()[: area_px(float(t))] = 300.0
            dev.update_frame(float(t), img)
            dev.update_reading(Reading(float(t), 420.0, 21.0, 40.0))
        return dict(zip(dev.names, dev.get(), strict=True))

    pct_per_px = 100.0 / (120 * 160)
    growing = run(lambda t: int(t // 10), 2400.0)  # 0.1 px/s
    assert growing["hot_area_vel_600"] == pytest.approx(0.1 * pct_per_px, rel=0.02)
    assert growing["hot_area_vel_1800"] == pytest.approx(0.1 * pct_per_px, rel=0.02)
    step = run(lambda t: 100 if t >= 300 else 0, 1000.0)
    assert step["hot_area_vel_600"] == 0.0
    assert step["hot_area_vel_1800"] > 0.0


def test_water_per_co2_tells_breath_from_burning_whatever_the_room_temperature() -> None:
    """People add about 3 molecules of water per CO2, a smouldering item about 1. The ratio is
    taken on water vapour, not relative humidity, so a room warming by 5 K (which lowers the
    RH) does not change it; with CO2 flat there is no ratio to take."""

    def run(ratio: float, warming_k_s: float, co2_rise: float) -> dict[str, float]:
        dev = DeviceFeatures("extended")
        for t in np.arange(5.0, 1805.0, 5.0):
            co2 = 450.0 + co2_rise * (1.0 - math.exp(-t / 900.0))
            temp = 20.0 + warming_k_s * t
            rh = float(relative_humidity(9000.0 + ratio * (co2 - 450.0), temp))
            dev.update_reading(Reading(float(t), co2, temp, rh))
        return dict(zip(dev.names, dev.get(), strict=True))

    people = run(3.0, 0.0, 1000.0)
    smoulder = run(1.0, 0.003, 1000.0)
    assert people["h2o_per_co2_600"] == pytest.approx(3.0, rel=1e-6)
    assert people["h2o_per_co2_1800"] == pytest.approx(3.0, rel=1e-6)
    assert smoulder["h2o_per_co2_600"] == pytest.approx(1.0, rel=1e-6)
    assert smoulder["h2o_per_co2_1800"] == pytest.approx(1.0, rel=1e-6)
    flat = run(3.0, 0.0, 0.0)
    assert math.isnan(flat["h2o_per_co2_600"]) and math.isnan(flat["h2o_per_co2_1800"])
    # the SCD41 alone gives them: the gas model and the dropout augmentation use them
    assert {"h2o_per_co2_600", "h2o_per_co2_1800"} <= set(scd41_features("extended"))
