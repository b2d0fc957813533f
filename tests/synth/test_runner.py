"""The scenario runner end to end: every class, labels, determinism, frames, faults."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from embercast.dataset.schema import (
    FRAME_BYTES,
    FRAMES_SCHEMA,
    PHASES,
    READINGS_SCHEMA,
    FramePolicy,
)
from embercast.sensors.lepton import counts_to_celsius, sample_lepton_device
from embercast.synth.builders import build_plan
from embercast.synth.ground_truth import zone_truth
from embercast.synth.runner import run_scenario
from embercast.synth.scenarios import SCENARIO_CLASSES, ScenarioSpec, sample_spec
from embercast.synth.thermal_film import DeviceFilm

SAMPLE = FramePolicy.parse("sample:6")


def spec_with(cls: str, index: int = 0, seed: int = 1, **params: Any) -> ScenarioSpec:
    base = sample_spec(index, seed, cls)
    fixed = {"second_device": False, "scd41_low_power": False, "asc": False}
    return replace(base, params=dict(base.params) | fixed | params)


def frames_celsius(frames: pa.Table) -> np.ndarray:
    return np.stack(
        [
            counts_to_celsius(np.frombuffer(b, "<u2").reshape(120, 160))
            for b in frames["frame"].to_pylist()
        ]
    )


@pytest.mark.parametrize("cls", sorted(SCENARIO_CLASSES))
def test_every_class_runs_with_consistent_labels(cls: str) -> None:
    spec = spec_with(cls, duration_s=900)
    res = run_scenario(spec, SAMPLE)
    r = res.readings
    assert r.schema.equals(READINGS_SCHEMA) and res.frames.schema.equals(FRAMES_SCHEMA)
    t = r["t_s"].to_numpy()
    devices = np.asarray(r["device_id"].to_pylist())
    for device in set(devices):  # a replica has a device at each of its probes
        own = t[devices == device]
        assert np.all(np.diff(own) == 5.0) and own[0] == 5.0 and own[-1] <= 900
    fire = r["fire"].to_numpy()
    phase = np.asarray(r["phase"].to_pylist())
    assert set(phase) <= set(PHASES)
    ign = res.scenario["ignition_s"]
    if SCENARIO_CLASSES[cls].is_fire:
        assert ign is not None and 0 < ign < 900
        np.testing.assert_array_equal(fire, (t >= ign).astype(np.int8))
        assert np.all((phase == "normal") == (fire == 0))
    else:
        assert ign is None and not fire.any() and np.all(phase == "normal")
    assert res.frames.num_rows > 0 and res.rendered_frames >= res.frames.num_rows
    assert all(len(b) == FRAME_BYTES for b in res.frames["frame"].to_pylist())
    co2 = r["co2_ppm"].to_numpy()
    assert np.nanmin(co2) >= 0 and np.nanmax(co2) <= 40_000


def test_same_spec_same_tables_other_seed_differs() -> None:
    spec = spec_with("flaming_fire", duration_s=600)
    a, b = run_scenario(spec, SAMPLE), run_scenario(spec, SAMPLE)
    assert a.readings.to_pandas().equals(b.readings.to_pandas())  # NaN-aware
    assert a.frames.equals(b.frames) and a.scenario == b.scenario
    c = run_scenario(replace(spec, seed=spec.seed + 1), SAMPLE)
    assert not c.readings.to_pandas().equals(a.readings.to_pandas())


def test_frames_none_renders_nothing_and_all_keeps_pairs() -> None:
    spec = spec_with("occupancy", duration_s=300)
    none = run_scenario(spec, FramePolicy.parse("none"))
    assert none.frames.num_rows == 0 and none.rendered_frames == 0
    full = run_scenario(spec, FramePolicy.parse("all"))
    n = full.readings.num_rows
    assert full.frames.num_rows == 2 * n  # the frame at t and the one at t - 1 s
    assert none.readings.to_pandas().equals(full.readings.to_pandas())


def test_visible_fire_is_hot_in_frames_and_raises_gas() -> None:
    spec = spec_with(
        "flaming_fire",
        fire_x_frac=0.5,
        fire_y_frac=0.5,
        fire_z=0.2,
        q_peak=80.0,
        growth="fast",
        ignition_frac=0.3,
        duration_s=900,
        door_open=True,
        fuel="wood",
        room_length=8.0,
        room_width=6.0,
        room_height=3.0,
        steady_s=900.0,
    )
    res = run_scenario(spec, FramePolicy.parse("sample:2"))
    ign = res.scenario["ignition_s"]
    img = frames_celsius(res.frames)
    t = res.frames["t_s"].to_numpy()
    assert img[t < ign].max() < 80.0
    assert img[t > ign + 120].max() > 200.0
    r = res.readings.to_pandas()
    assert r[r.t_s > ign + 200].co2_ppm.max() > r[r.t_s < ign].co2_ppm.max() + 500


def test_gas_burner_under_an_oil_pan_gives_methanes_water_with_its_co2() -> None:
    """Before the oil ignites, a gas burner is a methane flame: 2 mol of water per mol of CO2
    (CH4 + 2 O2 -> CO2 + 2 H2O), as the gas-stove nuisance's burners give; an electric hob
    gives neither. Without the water, a dry CO2 rise with warming is what the data teach as
    not a fire, and that is what a small real fire looks like to an SCD41."""
    gas = build_plan(spec_with("cooking_oil_fire", burner_type="gas", cook_leaves_s=60.0))
    electric = build_plan(spec_with("cooking_oil_fire", burner_type="electric", cook_leaves_s=60.0))
    before = (gas.t >= 120.0) & (gas.t < min(gas.ignition_s, electric.ignition_s))
    assert before.sum() > 60
    co2 = (gas.co2_source - electric.co2_source)[before]
    h2o = (gas.h2o_source - electric.h2o_source)[before]
    assert co2.min() > 0  # [m^3/s] of CO2 from the burner
    assert np.allclose(h2o / co2, 2.0, rtol=0.02)


def test_smoulder_front_spreads_so_heat_and_glowing_spot_grow() -> None:
    """A smoulder spreads over the item it burns: its heat release grows with the burnt area and
    the camera sees the glowing spot widen, unlike a hob ring or heater bar of fixed size."""
    spec = spec_with(
        "smouldering",
        seed=3,  # a room where the camera sees the item (elsewhere furniture may hide it)
        q_smoulder=0.3,
        spread_mm_min=3.0,
        ramp_s=300.0,
        glow_temp=500.0,
        transition=False,
        ignition_frac=0.05,
        duration_s=3000,
        fire_x_frac=0.5,
        fire_y_frac=0.5,
        fire_z=0.4,
    )
    plan = build_plan(spec)
    hrr = plan.fires[0].hrr
    t_on = int(plan.ignition_s)
    early, late = hrr[t_on + 600], hrr[-1]
    assert late > 2.0 * early > 0  # radius 0.074 m -> 0.19 m: area x 6.6, capped at 3 kW
    assert late <= 3.0
    film = DeviceFilm(
        plan,
        zone_truth(plan),
        plan.devices[0],
        sample_lepton_device(np.random.default_rng(0)),
        seed=3,
    )
    hot = [int((film.renderer.render(film.state(t)) > 150.0).sum()) for t in (t_on + 600, 2999)]
    assert hot[1] > 3 * hot[0] > 0


def test_gas_stove_and_crowd_raise_co2_sunlight_does_not() -> None:
    def rise(res: Any) -> float:
        co2 = res.readings["co2_ppm"].to_numpy()
        return float(np.nanmax(co2) - co2[0])

    stove = run_scenario(
        spec_with(
            "cooking_gas_stove",
            burners=3,
            burner_kw=2.5,
            hood=False,
            start_frac=0.1,
            cook_frac=0.8,
            ach=0.5,
            duration_s=1500,
        ),
        FramePolicy.parse("none"),
    )
    crowd = run_scenario(
        spec_with("occupancy", crowd=25, arrive_frac=0.05, stay_frac=0.7, ach=0.5, duration_s=1500),
        FramePolicy.parse("none"),
    )
    sun = run_scenario(
        spec_with("sunlight", people=0, initial_co2_excess=0.0, duration_s=1500),
        FramePolicy.parse("none"),
    )
    assert rise(stove) > 300 and rise(crowd) > 300
    assert rise(sun) < 60


@pytest.mark.parametrize(
    "fault", ["scd41_dropout", "scd41_stuck", "scd41_drift", "camera_dropout", "ffc_storm"]
)
def test_sensor_faults(fault: str) -> None:
    spec = spec_with(
        "sensor_fault",
        fault=fault,
        fault_start_frac=0.2,
        fault_len_frac=0.3,
        drift_rate=0.5,
        duration_s=1000,
    )
    res = run_scenario(spec, FramePolicy.parse("all"))
    r = res.readings.to_pandas()
    inside = (r.t_s >= 200) & (r.t_s < 500)
    if fault == "scd41_dropout":
        assert r[inside].co2_ppm.isna().all() and r[~inside].co2_ppm.notna().all()
    elif fault == "scd41_stuck":
        assert r[inside].co2_ppm.nunique() == 1 and r[inside].temperature_c.nunique() == 1
    elif fault == "scd41_drift":
        err = (r.co2_ppm - r.true_co2_ppm).to_numpy()
        assert err[r.t_s >= 500].mean() - err[r.t_s < 200].mean() > 100
    elif fault == "camera_dropout":
        assert not r[inside].thermal_available.any() and r[~inside].thermal_available.all()
        ft = res.frames["t_s"].to_numpy()
        assert not np.any((ft >= 200) & (ft < 500))
    else:
        ffc = res.frames["ffc"].to_numpy()
        ft = res.frames["t_s"].to_numpy()
        assert ffc[(ft >= 200) & (ft < 500)].mean() > 0.05


@pytest.mark.parametrize("fault", ["scd41_drift", "scd41_dropout", "camera_dropout"])
def test_a_sensor_fault_is_one_devices_the_other_keeps_measuring(fault: str) -> None:
    """A fault is one device's sensor failing: a second device in the room reads on."""
    spec = spec_with(
        "sensor_fault",
        fault=fault,
        second_device=True,
        fault_start_frac=0.2,
        fault_len_frac=0.3,
        drift_rate=0.5,
        duration_s=1000,
    )
    r = run_scenario(spec, FramePolicy.parse("none")).readings.to_pandas()
    inside = (r.t_s >= 200) & (r.t_s < 500)
    first, second = (r[r.device_id == d] for d in sorted(r.device_id.unique()))
    inside_1, inside_2 = inside[first.index], inside[second.index]
    if fault == "scd41_drift":
        drift = lambda d: (d.co2_ppm - d.true_co2_ppm).to_numpy()  # noqa: E731
        late, early = first.t_s >= 500, first.t_s < 200
        assert drift(first)[late].mean() - drift(first)[early].mean() > 100
        late, early = second.t_s >= 500, second.t_s < 200
        assert abs(drift(second)[late].mean() - drift(second)[early].mean()) < 20
    elif fault == "scd41_dropout":
        assert first[inside_1].co2_ppm.isna().all()
        assert second.co2_ppm.notna().all() and inside_2.any()
    else:
        assert not first[inside_1].thermal_available.any()
        assert second.thermal_available.all() and inside_2.any()


def test_device_faults_refuses_a_device_of_another_plan() -> None:
    plan = build_plan(spec_with("sensor_fault", fault="scd41_drift", duration_s=600))
    other = replace(plan.devices[0])  # equal, but not this plan's device
    assert len(plan.device_faults(plan.devices[0])) == 1
    with pytest.raises(ValueError, match="not one of this plan's devices"):
        plan.device_faults(other)


def test_ffc_frames_repeat_the_frame_before_the_freeze() -> None:
    spec = spec_with("hot_machinery", duration_s=600)
    plan = build_plan(spec)
    zone = zone_truth(plan)
    lepton = sample_lepton_device(np.random.default_rng(0))
    film = DeviceFilm(plan, zone, plan.devices[0], lepton, seed=3)
    first = next(k for k in range(5000) if film.source(k)[1])
    before = film.frame(first - 1)
    frozen = [film.frame(k) for k in range(first, first + 8)]
    after = film.frame(first + 12)
    assert not before.ffc and all(f.ffc for f in frozen) and not after.ffc
    assert all(np.array_equal(f.counts, before.counts) for f in frozen)
    assert not np.array_equal(after.counts, before.counts)


def test_low_power_mode_reads_every_30_s() -> None:
    res = run_scenario(
        spec_with("normal_day", scd41_low_power=True, duration_s=3600), FramePolicy.parse("none")
    )
    assert np.all(np.diff(res.readings["t_s"].to_numpy()) == 30.0)


def test_second_device_has_its_own_rows() -> None:
    res = run_scenario(
        spec_with("candles_smoking", second_device=True, duration_s=300), FramePolicy.parse("none")
    )
    devices = set(res.readings["device_id"].to_pylist())
    assert len(devices) == 2


def test_humidity_holds_without_moisture_sources() -> None:
    # outdoor air far wetter than indoors: the building's buffering holds the indoor humidity
    spec = spec_with(
        "sensor_fault",
        fault="camera_dropout",
        people=0,
        room_rh=30.0,
        outdoor_rh=90.0,
        outdoor_temp=25.0,
        room_temp=18.0,
        ach=4.0,
        duration_s=1800,
    )
    r = run_scenario(spec, FramePolicy.parse("none")).readings.to_pandas()
    assert abs(r.true_rh_pct - 30.0).max() < 3.0
