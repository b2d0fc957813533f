"""Sim-to-real: detectors fed the FAA fire tests through the SCD41 sensor model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from embercast.alarm.decision import AlarmParams
from embercast.cli import app
from embercast.errors import InputError
from embercast.evaluation.sim_to_real import (
    AMBIENT_C,
    AMBIENT_CO2_PPM,
    FAA_FUEL_WATER_PER_CO2,
    QUIET_S,
    faa_streams,
    sim_to_real,
)
from embercast.models.baselines import CO2Threshold
from embercast.models.persistence import load_model
from embercast.physics.species import h2o_ppm_from_rh

runner = CliRunner()

FIXED = pd.DataFrame({"gas_val": [400.0, 2000.0], "gas_vel": [0.0, 3.0]})
"""Two rows to fit fixed-threshold detectors with (they learn nothing from them)."""


def test_each_faa_co2_probe_becomes_a_device_stream(real_fires: Path) -> None:
    streams = {s.name: s for s in faa_streams(real_fires)}
    # the probes with data: three in tests 1 and 4, one in tests 2 and 3
    assert len(streams) == 8 and sum(n.startswith("TestCase1/") for n in streams) == 3
    one = streams["TestCase1/Mid Pan CO2"]
    quiet = one.t_s < one.ignition_s
    assert one.ignition_s == QUIET_S and quiet.sum() == QUIET_S
    assert np.all(one.co2_ppm[quiet] == AMBIENT_CO2_PPM)
    assert np.all(one.temperature_c[quiet] == AMBIENT_C)
    table = pd.read_csv(real_fires / "faa_cargo_compartments" / "TestCase1_FAA_EXPDATA.csv",
                        skiprows=[1])  # fmt: skip
    assert one.co2_ppm.max() - AMBIENT_CO2_PPM == pytest.approx(table["Mid Pan CO2"].max() * 1e6)
    # the probe at thermocouple 36 warms as TC36 does; the others as the ceiling's median
    tc36 = streams["TestCase1/TC36 CO2"]
    assert tc36.temperature_c.max() - AMBIENT_C == pytest.approx(table["TC36"].max())
    tcs = [c for c in table.columns if c.startswith("TC") and c[2:].isdigit()]
    assert one.temperature_c.max() - AMBIENT_C == pytest.approx(table[tcs].median(axis=1).max())
    # warming the air at constant water lowers its relative humidity
    assert one.rh_pct[quiet][0] == pytest.approx(40.0) and one.rh_pct.min() < 40.0


def test_the_fires_water_may_come_with_its_co2(real_fires: Path) -> None:
    dry = {s.name: s for s in faa_streams(real_fires)}["TestCase1/Mid Pan CO2"]
    wet = {s.name: s for s in faa_streams(real_fires, FAA_FUEL_WATER_PER_CO2)}[dry.name]
    water = h2o_ppm_from_rh(dry.rh_pct, dry.temperature_c)
    assert np.allclose(water, water[0])  # by default, the room's water only
    added = h2o_ppm_from_rh(wet.rh_pct, wet.temperature_c) - water
    assert np.allclose(added, FAA_FUEL_WATER_PER_CO2 * (dry.co2_ppm - AMBIENT_CO2_PPM))
    assert added.max() > 1000 and wet.rh_pct.max() > dry.rh_pct.max()
    with pytest.raises(InputError, match="water per CO2 must be at least 0 mol/mol, not -1"):
        faa_streams(real_fires, -1.0)


def test_detectors_meet_the_real_fires_through_the_alarm_decision(real_fires: Path) -> None:
    level = CO2Threshold(level_ppm=1000.0, rate_ppm_s=1000.0).fit(FIXED, [0, 1])
    jumpy = CO2Threshold(level_ppm=1.0, rate_ppm_s=1000.0).fit(FIXED, [0, 1])
    result = sim_to_real({"level": level, "jumpy": jumpy}, real_fires, seed=3)
    streams = result["streams"]
    # CO2 above 1,000 ppm: the fires adding well over 570 ppm, not the two adding 212-268
    found = {n for n, s in streams.items() if s["detectors"]["level"]["detected"]}
    assert {n for n in streams if not n.startswith("TestCase4/")} <= found
    assert not found & {"TestCase4/Aft Pan CO2", "TestCase4/TC5 CO2"}
    assert all(s["co2_rise_ppm"] > 1000 for n, s in streams.items() if n.startswith("TestCase1"))
    summary = result["detectors"]["level"]
    assert summary["detected"] == len(found) and summary["false_alarms_before_ignition"] == 0
    first = streams["TestCase1/Mid Pan CO2"]["detectors"]["level"]["ttd_s"]
    assert 0 < first < 300  # after ignition: the SCD41's lag and the debounce
    # a detector that alarms in the quiet room is charged with it before ignition
    assert result["detectors"]["jumpy"]["false_alarms_before_ignition"] == len(streams)
    # and the quiet room's probabilities are reported: nothing there for the 1,000-ppm level
    assert summary["quiet_p_median"] == summary["quiet_p_max"] == 0.0
    assert result["detectors"]["jumpy"]["quiet_p_median"] == 1.0


class _Model(CO2Threshold):
    """A fixed CO2 level scored as a model is (not a baseline)."""

    baseline = False


def test_models_may_be_run_at_another_alarm_point(real_fires: Path) -> None:
    model = _Model(level_ppm=1000.0, rate_ppm_s=1000.0).fit(FIXED, [0, 1])
    base = CO2Threshold(level_ppm=1000.0, rate_ppm_s=1000.0).fit(FIXED, [0, 1])
    own = sim_to_real({"model": model, "base": base}, real_fires, seed=3)
    slow = AlarmParams(threshold=0.5, delay_on_s=70.0)
    other = sim_to_real({"model": model, "base": base}, real_fires, seed=3, alarm=slow)
    assert other["detectors"]["model"]["alarm_rule"] == slow.describe()
    assert own["detectors"]["model"]["alarm_rule"] != slow.describe()
    # the baseline keeps its own point; the model alarms 60 s later on every fire it finds
    assert other["detectors"]["base"] == own["detectors"]["base"]
    for name, stream in own["streams"].items():
        was, now = stream["detectors"]["model"], other["streams"][name]["detectors"]["model"]
        if now["detected"]:
            assert now["ttd_s"] == pytest.approx(was["ttd_s"] + 60.0)
        elif was["detected"]:  # the test ends before the longer delay is held
            assert was["ttd_s"] + 60.0 > stream["seconds_after_ignition"]
    assert 0 < other["detectors"]["model"]["detected"] <= own["detectors"]["model"]["detected"]


def test_an_unfitted_detector_needs_synthetic_data_to_fit_on(real_fires: Path) -> None:
    with pytest.raises(ValueError, match="co2 is not fitted: give a synthetic feature set"):
        sim_to_real({"co2": CO2Threshold()}, real_fires)
    with pytest.raises(ValueError, match="holds no FAA test"):
        sim_to_real({}, real_fires / "nowhere")


def test_sim2real_sets_a_trained_model_beside_the_baselines(
    features: Path, gas_model: Path, real_fires: Path
) -> None:
    model = gas_model  # train --model gas --out, once per session (conftest)
    args = ["sim2real", "--model", str(model), "--real-fires", str(real_fires)]
    result = runner.invoke(app, [*args, "--fit", str(features), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert list(out["detectors"]) == ["gas", "rate_of_rise", "co2_threshold"]
    assert out["detectors"]["gas"]["streams"] == len(out["streams"]) == 8
    chosen = load_model(str(model)).alarm_.describe()  # the model's own operating point
    assert out["detectors"]["gas"]["alarm_rule"] == chosen
    text = runner.invoke(app, args)  # without --fit: the model alone, in words
    assert text.exit_code == 0, text.output
    assert text.output.startswith("gas: ") and "TestCase1/Mid Pan CO2: CO2 +1610 ppm" in text.output
    missing = runner.invoke(app, ["sim2real", "--model", "co2_threshold", "--real-fires", "."])
    assert missing.exit_code == 2 and "holds no FAA test" in missing.output
    unfitted = runner.invoke(
        app, ["sim2real", "--model", "co2_threshold", "--real-fires", str(real_fires)]
    )
    assert unfitted.exit_code == 2 and "co2_threshold is not fitted" in unfitted.output
    strict = runner.invoke(app, [*args, "--alarm", "0.99:25", "--json"])
    assert strict.exit_code == 0, strict.output
    rule = AlarmParams(threshold=0.99, delay_on_s=25.0).describe()  # not among the candidates
    assert json.loads(strict.stdout)["detectors"]["gas"]["alarm_rule"] == rule != chosen
    for bad, why in (("0.7", "invalid --alarm '0.7'"), ("1.5:10", "alarm threshold must be in")):
        wrong = runner.invoke(app, [*args, "--alarm", bad])
        assert wrong.exit_code == 2 and why in wrong.output


def test_models_may_be_run_with_a_co2_path(real_fires: Path) -> None:
    # a model that never rises (p 0) with a CO2 path at gate 0 alarms as the CO2 detector of
    # the same level and rate does: the same fires, at the same times (both wait 10 s)
    model = _Model(level_ppm=1e6, rate_ppm_s=1e6).fit(FIXED, [0, 1])
    base = CO2Threshold(level_ppm=1000.0, rate_ppm_s=1.0).fit(FIXED, [0, 1])
    plain = sim_to_real({"model": model, "base": base}, real_fires, seed=3)
    assert plain["detectors"]["model"]["detected"] == 0
    gated = sim_to_real({"model": model, "base": base}, real_fires, seed=3, co2=(0.0, 1000.0, 1.0))
    assert (
        "or CO2 >= 1000 ppm or >= 1 ppm/s with p >= 0" in gated["detectors"]["model"]["alarm_rule"]
    )
    assert gated["detectors"]["base"] == plain["detectors"]["base"]
    assert gated["detectors"]["base"]["detected"] > 0
    for stream in gated["streams"].values():
        found = stream["detectors"]
        assert (found["model"]["detected"], found["model"]["ttd_s"]) == (
            found["base"]["detected"], found["base"]["ttd_s"],
        )  # fmt: skip
    # by the command line the level and rate come from --fit's train scenarios, which it needs
    args = ["sim2real", "--model", "co2_threshold", "--real-fires", str(real_fires)]
    bad = runner.invoke(app, [*args, "--co2-gate", "0.5"])
    assert bad.exit_code == 2 and "--co2-gate needs --fit" in bad.output
