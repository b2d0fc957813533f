"""Run one scenario: plan -> physics truth -> sensor models -> readings and frames.

``run_scenario`` only composes: the builders make the plan,
:mod:`~embercast.synth.ground_truth` the air and surfaces, :mod:`~embercast.synth.thermal_film`
the thermal frames, :mod:`embercast.sensors` the sensor outputs. It is deterministic: the same
spec gives identical tables.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from embercast.dataset.schema import (
    FRAMES_SCHEMA,
    PHASES,
    READINGS_SCHEMA,
    FramePolicy,
)
from embercast.sensors.lepton import frame_index_at_or_before, sample_lepton_device
from embercast.sensors.scd41 import (
    SCD41Readings,
    lost_when_overheated,
    measure,
    next_self_calibration_s,
    sample_scd41_device,
)
from embercast.synth.builders import build_plan
from embercast.synth.builders.base import furniture_boxes
from embercast.synth.camera_coverage import fire_in_view
from embercast.synth.ground_truth import SensorTruth, ZoneTruth, sensor_truth, zone_truth
from embercast.synth.plan import Device, Fault, FloatArray, ScenarioPlan
from embercast.synth.result import InlineFeatures, ScenarioResult
from embercast.synth.scenarios import ScenarioSpec
from embercast.synth.thermal_film import DeviceFilm


def apply_scd41_faults(r: SCD41Readings, faults: list[Fault]) -> dict[str, FloatArray]:
    """SCD41 outputs after faults (dropout -> NaN, stuck -> held value, drift -> growing CO2
    offset that stays) and after over-temperature loss of the sensor."""
    out = {
        "co2_ppm": r.co2_ppm.copy(),
        "temperature_c": r.temperature_c.copy(),
        "humidity_pct": r.humidity_pct.copy(),
    }
    t = r.t_s
    for fault in faults:
        inside = (t >= fault.start) & (t < fault.end)
        if not inside.any():
            continue
        if fault.kind == "scd41_dropout":
            for col in out.values():
                col[inside] = np.nan
        elif fault.kind == "scd41_stuck":
            first = int(np.flatnonzero(inside)[0])
            for col in out.values():
                col[inside] = col[first]
        elif fault.kind == "scd41_drift":
            offset = fault.magnitude * (np.clip(t, fault.start, fault.end) - fault.start)
            out["co2_ppm"] = np.clip(out["co2_ppm"] + offset, 0.0, 40_000.0)
    lost = np.isnan(lost_when_overheated(r).temperature_c) & ~np.isnan(r.temperature_c)
    if lost.any():
        for col in out.values():
            col[int(np.argmax(lost)) :] = np.nan
    return out


def _readings_table(
    spec: ScenarioSpec,
    plan: ScenarioPlan,
    device: Device,
    zone: ZoneTruth,
    air: SensorTruth,
    r: SCD41Readings,
    available: np.ndarray,
) -> pa.Table:
    t = r.t_s
    i = np.minimum(np.round(t).astype(np.intp), plan.n - 1)
    outputs = apply_scd41_faults(r, plan.device_faults(device))
    ign = plan.ignition_s
    fire = np.zeros(t.size, np.int8) if ign is None else (t >= ign).astype(np.int8)
    n = t.size
    cols: dict[str, Any] = {
        "scenario_id": pa.array([spec.scenario_id] * n, pa.string()),
        "device_id": pa.array([device.device_id] * n, pa.string()),
        "t_s": t,
        **outputs,
        "outdoor_temp_c": plan.outdoor_temp[i],
        "outdoor_rh_pct": plan.outdoor_rh[i],
        "hvac_on": plan.hvac_on[i],
        "window_open": plan.window_open[i],
        "occupancy": plan.occupancy[i].astype(np.int16),
        "thermal_available": available,
        "true_hrr_kw": zone.hrr[i],
        "true_co2_ppm": air.co2[i],
        "true_gas_temp_c": air.temp[i],
        "true_rh_pct": air.rh[i],
        "fire": fire,
        "phase": pa.array(np.asarray(PHASES, dtype=object)[plan.phase[i]], pa.string()),
        "scenario_class": pa.array([spec.scenario_class] * n, pa.string()),
    }
    return pa.Table.from_pydict(cols, schema=READINGS_SCHEMA)


def _pair_indices(film: DeviceFilm, t: float) -> list[int]:
    """Frame indices a reading at ``t`` uses: at or before t and at or before t - 1 s."""
    out = []
    for tt in (t, t - 1.0):
        idx = frame_index_at_or_before(tt)
        if idx >= 0 and film.available(tt):
            out.append(idx)
    return out


def _film(
    spec: ScenarioSpec,
    device: Device,
    film: DeviceFilm,
    t: FloatArray,
    frames: FramePolicy,
    render_all: bool,
) -> tuple[np.ndarray, list[dict[str, Any]], list[dict[str, Any]]]:
    """Frames of the readings: for each, the frame at or before t and at or before t - 1 s.

    Returns per-reading availability, the rows of the frames to store (those of the readings
    ``frames`` keeps) and the rows of every rendered frame (all readings' when ``render_all``).
    """
    available = np.array([film.available(float(x)) for x in t])
    stored: set[int] = set()
    wanted: set[int] = set()
    for k, tr in enumerate(t):
        keep = frames.keeps(k)
        if keep or render_all:
            pair = _pair_indices(film, float(tr))
            wanted.update(pair)
            if keep:
                stored.update(pair)
    rendered: list[dict[str, Any]] = []
    for idx in sorted(wanted):
        fr = film.frame(idx)
        rendered.append(
            {
                "scenario_id": spec.scenario_id,
                "device_id": device.device_id,
                "t_s": fr.t_s,
                "frame_index": idx,
                "gain": fr.gain,
                "ffc": fr.ffc,
                "frame": fr.counts.astype("<u2").tobytes(),
            }
        )
    return available, [r for r in rendered if r["frame_index"] in stored], rendered


def _frames_table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=FRAMES_SCHEMA) if rows else FRAMES_SCHEMA.empty_table()


def run_scenario(
    spec: ScenarioSpec, frames: FramePolicy, *, features: InlineFeatures | None = None
) -> ScenarioResult:
    """Run one scenario and return its scenarios row, readings and stored frames.

    Frames are rendered only for the readings whose frames are stored (``frames``); under
    ``none`` nothing is rendered and ``thermal_available`` still reports camera dropouts. With
    ``features`` (a feature set to compute while generating) every reading's frames are
    rendered and folded into the feature table (``ScenarioResult.features``) whatever
    ``frames`` stores.
    """
    plan = build_plan(spec)
    zone = zone_truth(plan)
    p = spec.params
    readings: list[pa.Table] = []
    stored_rows: list[dict[str, Any]] = []
    rendered_rows: list[dict[str, Any]] = []
    for k, device in enumerate(plan.devices):
        rng = np.random.default_rng([spec.seed, 10 + k])
        air = sensor_truth(plan, zone, device)
        r = measure(
            plan.t,
            air.co2,
            air.temp,
            air.rh,
            sample_scd41_device(rng),
            rng=rng,
            period_s=30.0 if p["scd41_low_power"] else 5.0,
            asc=bool(p["asc"]),
            asc_initial_s=next_self_calibration_s(float(p["scd41_uptime_h"]) * 3600.0),
        )
        film = DeviceFilm(plan, zone, device, sample_lepton_device(rng), seed=spec.seed * 4 + k)
        available, stored, rendered = _film(spec, device, film, r.t_s, frames, features is not None)
        stored_rows.extend(stored)
        rendered_rows.extend(rendered)
        readings.append(_readings_table(spec, plan, device, zone, air, r, available))
    row = spec.to_row()
    row["ignition_s"] = plan.ignition_s
    row["fire_in_view"] = fire_in_view(row, furniture_boxes(plan))
    table = pa.concat_tables(readings)
    feature_table = None
    if features is not None:
        feature_table = features.fold(table, _frames_table(rendered_rows), spec.split_group)
    return ScenarioResult(
        scenario=row,
        readings=table,
        frames=_frames_table(stored_rows),
        rendered_frames=len(rendered_rows),
        features=feature_table,
    )
