"""Sim-to-real: detectors trained on synthetic data, fed real fire-test measurements (DESIGN 6).

The FAA cargo-compartment tests (``faa_cargo_compartments`` in ``shared/data/real_fires``, from
NIST's firemodels/exp) are one small flaming fire (peak about 4.9 kW), the kind a detector is
certified on, in the B707 lower cargo compartment (tests 1-3, about 25 m^3, 1.37 m high) and the
DC-10 compartment (test 4, about 98 m^3). Ceiling gas probes measured the CO2 rise
[mol/mol] and 40 ceiling thermocouples the warming [K], from ignition at t = 0 for 90-300 s.
No test used a thermal camera, so they test the gas-and-environment path: each CO2 probe becomes
the stream of one SCD41 device without a camera.

- The air at the probe holds ``AMBIENT_CO2_PPM`` plus the measured rise, and is ``AMBIENT_C``
  plus the warming of the probe's own thermocouple (``TC36 CO2`` sits at TC36) or else the
  median warming of the ceiling thermocouples. The room's water is that of ``AMBIENT_RH_PCT``
  at ``AMBIENT_C`` plus ``water_per_co2`` times the CO2 rise: the tests did not measure the
  water the fire added, so by default (0) these streams have less water per CO2 than a real
  fire has, which makes them harder, not easier, for a model that reads that ratio;
  :data:`FAA_FUEL_WATER_PER_CO2` is the fuel's own (the replicas' resin, one H2O per CO2), the
  water that burning it brings with its CO2. The ambient values are assumed (the data give
  rises only).
- ``QUIET_S`` of that room precede ignition, as on a device that has been running, so the
  features' 30-min windows are filled.
- The air passes through the SCD41 sensor model (:func:`embercast.sensors.scd41.measure`: 5-s
  readings, lags, one device's accuracy error, repeatability noise, quantisation, the output
  clip), seeded, so a run is reproducible.
- The features are folded by the extractors every table is made with
  (:func:`embercast.features.fold.fold`, no frames: the camera is absent), and each detector's
  probabilities pass through the live alarm decision at its operating point
  (:func:`embercast.evaluation.metrics.outcomes`).

The UL FSRI DelCo room fires in the same folder are not used: their probes read over 1 % CO2
within 30 s of the start, so there is no early-detection question to ask of them (the generator
is checked against them for the SCD41's clip, tests/synth/test_against_real_fires.py).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from embercast.alarm.decision import AlarmParams
from embercast.dataset.schema import FRAMES_SCHEMA, READINGS_SCHEMA
from embercast.errors import InputError
from embercast.evaluation.evaluate import SUPERVISED, alarm_params, fitted
from embercast.evaluation.feature_data import FeatureData
from embercast.evaluation.metrics import outcomes
from embercast.evaluation.sensor_supervision import apply_sensor_supervision
from embercast.features.fold import fold
from embercast.models.base import FireDetector
from embercast.physics.species import M_CO2, M_H2O, h2o_ppm_from_rh, relative_humidity
from embercast.sensors.scd41 import lost_when_overheated, measure, sample_scd41_device
from embercast.synth.fuels import get_fuel
from embercast.synth.replicas import FAA_FUEL

FAA_FOLDER = "faa_cargo_compartments"
"""Folder of the FAA cargo-compartment tests in the real-fires directory."""
AMBIENT_CO2_PPM = 430.0
"""CO2 of the room before ignition [ppm] (assumed; the data give the rise)."""
AMBIENT_C = 21.0
"""Air temperature before ignition [°C] (assumed; the data give the warming)."""
AMBIENT_RH_PCT = 40.0
"""Relative humidity before ignition [%RH] (assumed; the water content is then held)."""
QUIET_S = 1800
"""Quiet room before ignition [s]."""
FAA_FUEL_WATER_PER_CO2 = (get_fuel(FAA_FUEL).h2o_yield / M_H2O) / (
    get_fuel(FAA_FUEL).co2_yield / M_CO2
)
"""Water per CO2 [mol/mol] the FAA tests' resin gives burning (the replicas' fuel,
:data:`embercast.synth.replicas.FAA_FUEL`)."""


@dataclass(frozen=True)
class RealStream:
    """The air at one gas probe of one real test, on a 1-s grid from the start of the quiet
    room: CO2 [ppm], temperature [°C] and relative humidity [%RH]; ignition at ``ignition_s``."""

    test: str
    probe: str
    t_s: np.ndarray
    co2_ppm: np.ndarray
    temperature_c: np.ndarray
    rh_pct: np.ndarray
    ignition_s: float

    @property
    def name(self) -> str:
        """``TEST/PROBE``, e.g. ``TestCase1/Mid Pan CO2``."""
        return f"{self.test}/{self.probe}"


def _faa_table(path: Path) -> pd.DataFrame:
    """One FAA test: names in the first row, units in the second."""
    return pd.read_csv(path, skiprows=[1])


def faa_streams(real_fires: str | Path, water_per_co2: float = 0.0) -> list[RealStream]:
    """The air at every CO2 probe of the FAA tests under ``real_fires`` (module docstring), with
    ``water_per_co2`` [mol/mol] of the CO2 rise added as water. InputError naming the folder
    when it holds no test, or for a negative ``water_per_co2``."""
    if not water_per_co2 >= 0.0:
        raise InputError(f"water per CO2 must be at least 0 mol/mol, not {water_per_co2}")
    folder = Path(real_fires) / FAA_FOLDER
    paths = sorted(folder.glob("TestCase*_FAA_EXPDATA.csv"))
    if not paths:
        raise InputError(f"{folder} holds no FAA test (TestCase*_FAA_EXPDATA.csv)")
    water = float(h2o_ppm_from_rh(AMBIENT_RH_PCT, AMBIENT_C))
    streams = []
    for path in paths:
        df = _faa_table(path)
        t = df["Time"].to_numpy(dtype=float)
        tcs = [c for c in df.columns if c.startswith("TC") and c[2:].isdigit()]
        median_warming = df[tcs].median(axis=1).to_numpy(dtype=float)
        grid = np.arange(0.0, float(np.nanmax(t)) + 1.0)
        before = np.arange(-float(QUIET_S), 0.0)
        for probe in (c for c in df.columns if c.endswith(" CO2")):
            rise = df[probe].to_numpy(dtype=float) * 1e6
            ok = ~np.isnan(rise)
            if ok.sum() < 10:
                continue
            own = probe.split()[0]
            warming = df[own].to_numpy(dtype=float) if own in tcs else median_warming
            w_ok = ~np.isnan(warming)
            co2 = AMBIENT_CO2_PPM + np.interp(grid, t[ok], rise[ok])
            temp = AMBIENT_C + np.interp(grid, t[w_ok], warming[w_ok])
            co2 = np.concatenate([np.full(before.size, AMBIENT_CO2_PPM), co2])
            temp = np.concatenate([np.full(before.size, AMBIENT_C), temp])
            streams.append(
                RealStream(
                    test=path.name.split("_")[0],
                    probe=probe,
                    t_s=np.concatenate([before, grid]) + QUIET_S,
                    co2_ppm=co2,
                    temperature_c=temp,
                    rh_pct=relative_humidity(water + water_per_co2 * (co2 - AMBIENT_CO2_PPM), temp),
                    ignition_s=float(QUIET_S),
                )
            )
    return streams


def readings(streams: list[RealStream], seed: int = 0) -> pa.Table:
    """SCD41 readings of every stream (one device each, its error and noise drawn from
    ``seed``), with the labels ``fold`` carries: fire from ignition on."""
    rng = np.random.default_rng(seed)
    parts = []
    for stream in streams:
        out = lost_when_overheated(
            measure(stream.t_s, stream.co2_ppm, stream.temperature_c, stream.rh_pct,
                    sample_scd41_device(rng), rng=rng)
        )  # fmt: skip
        burning = out.t_s >= stream.ignition_s
        parts.append(
            pd.DataFrame(
                {
                    "scenario_id": stream.name,
                    "device_id": "d0",
                    "t_s": out.t_s,
                    "co2_ppm": out.co2_ppm,
                    "temperature_c": out.temperature_c,
                    "humidity_pct": out.humidity_pct,
                    "fire": burning.astype(np.int8),
                    "phase": np.where(burning, "growth", "normal"),
                    "scenario_class": "flaming_fire",
                }
            )
        )
    frame = pd.concat(parts, ignore_index=True)
    schema = pa.schema([READINGS_SCHEMA.field(c) for c in frame.columns])
    return pa.Table.from_pandas(frame, schema=schema, preserve_index=False)


def sim_to_real(
    detectors: dict[str, FireDetector],
    real_fires: str | Path,
    feature_set: str = "extended",
    seed: int = 0,
    fit_on: FeatureData | None = None,
    water_per_co2: float = 0.0,
    alarm: AlarmParams | None = None,
    co2: tuple[float, float, float] | None = None,
) -> dict[str, Any]:
    """Run each detector on the FAA tests, its SCD41 supervised and its probabilities through
    the live alarm decision at its operating point, as ``evaluate`` does, or at ``alarm`` for
    every detector but the baselines (what a model would do at another point), with a CO2 path
    when ``co2`` gives one (its gate, level [ppm] and 60-s rate [ppm/s]). A detector not
    fitted (a baseline) is fitted on the ``train`` scenarios of ``fit_on`` (synthetic data:
    nothing is learned from the real tests); without ``fit_on`` it is a ValueError. Returns
    ``streams`` (per probe: the CO2 rise [ppm] and ceiling warming [K] after ignition, and per
    detector whether and when it alarmed [s after ignition] and its highest probability) and
    ``detectors`` (per detector: streams detected, their share, median time to alarm [s],
    alarms raised before ignition, and the median and highest probability in the quiet room
    before it)."""
    streams = faa_streams(real_fires, water_per_co2)
    table = fold(readings(streams, seed), FRAMES_SCHEMA.empty_table(), feature_set, {})
    rows, _ = apply_sensor_supervision(table.to_pandas(), SUPERVISED)
    facts = {s.name: ("flaming_fire", True, s.ignition_s) for s in streams}
    per_stream: dict[str, dict[str, Any]] = {}
    for s in streams:
        after = s.t_s >= s.ignition_s
        per_stream[s.name] = {
            "co2_rise_ppm": float(s.co2_ppm[after].max() - AMBIENT_CO2_PPM),
            "warming_k": float(s.temperature_c[after].max() - AMBIENT_C),
            "seconds_after_ignition": float(s.t_s[-1] - s.ignition_s),
            "detectors": {},
        }
    summary: dict[str, dict[str, Any]] = {}
    for name, det in detectors.items():
        missing = (
            f"{name} is not fitted: give a synthetic feature set to fit it on (its train scenarios)"
        )
        det = fitted(det, None if fit_on is None else fit_on.split(("train",)), missing)
        p = det.predict_proba(rows)[:, 1]
        peak = rows.assign(p=p).groupby("scenario_id")["p"].max()
        quiet = p[rows["t_s"].to_numpy() < QUIET_S]  # ignition is at QUIET_S in every stream
        rule = alarm if alarm is not None and not det.baseline else alarm_params(det)
        if co2 is not None and not det.baseline:
            gate, level_ppm, rate_ppm_s = co2
            rule = replace(rule, co2_gate=gate, co2_level_ppm=level_ppm, co2_rate_ppm_s=rate_ppm_s)
        result = outcomes(rows, p, facts, rule)
        ttds = []
        for o in result:
            per_stream[o.scenario_id]["detectors"][name] = {
                "detected": o.ttd_s is not None,
                "ttd_s": o.ttd_s,
                "max_p": float(peak[o.scenario_id]),
            }
            if o.ttd_s is not None:
                ttds.append(o.ttd_s)
        summary[name] = {
            "alarm_rule": rule.describe(),
            "detected": len(ttds),
            "streams": len(result),
            "detection_rate": len(ttds) / len(result),
            "ttd_median_s": float(np.median(ttds)) if ttds else None,
            "false_alarms_before_ignition": sum(o.false_alarms for o in result),
            "quiet_p_median": float(np.median(quiet)),
            "quiet_p_max": float(quiet.max()),
        }
    return {"streams": per_stream, "detectors": summary, "seed": seed,
            "ambient": {"co2_ppm": AMBIENT_CO2_PPM, "temperature_c": AMBIENT_C,
                        "rh_pct": AMBIENT_RH_PCT, "quiet_s": QUIET_S},
            "water_per_co2": water_per_co2}  # fmt: skip
