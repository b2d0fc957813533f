"""Replicas of the FAA cargo-compartment tests: a scenario class drawn only when named, built
from the tests' geometry, fire and probes, compared probe by probe with the measurements, and
plotted beside them.

The goal (CO2 rise within 1.5x at every probe, warming within 2x, at 60, 120 and 180 s) is not
reached yet; the bounds below hold what generator v10 reaches, so a change that moves the
replicas away from the measurements fails here (docs/RESULTS.md has the table).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from embercast.synth.builders import build_plan
from embercast.synth.replica_check import (
    CO2_GOAL,
    WARMING_GOAL,
    ProbeComparison,
    compare_replicas,
)
from embercast.synth.replicas import FAA_IGNITION_S, FAA_TESTS, faa_hrr
from embercast.synth.scenarios import SCENARIO_CLASSES, sample_scenarios, sample_spec
from helpers import assert_usage_error, invoke

REPLICAS = ("faa_b707_replica", "faa_dc10_replica")


@pytest.fixture(scope="module")
def rows(real_fires: Path) -> list[ProbeComparison]:
    return compare_replicas(real_fires)


def test_replicas_are_drawn_only_when_named() -> None:
    drawn = {s.scenario_class for s in sample_scenarios(60, 3)}
    assert drawn == {c for c in SCENARIO_CLASSES if c not in REPLICAS}
    named = sample_scenarios(4, 3, classes=["faa_b707_replica"])
    assert {s.params["faa_test"] for s in named} <= {"1", "2", "3"}


@pytest.mark.parametrize("case", list(FAA_TESTS))
def test_a_replica_is_its_test(case: str) -> None:
    test = FAA_TESTS[case]
    cls = "faa_b707_replica" if test.compartment.name == "B707" else "faa_dc10_replica"
    spec = sample_spec(0, 5, cls)
    plan = build_plan(replace(spec, params=dict(spec.params) | {"faa_test": case}))
    c = test.compartment
    assert (plan.room.length, plan.room.width, plan.room.height) == (c.length, c.width, c.height)
    assert plan.room.volume * plan.mix_fraction == pytest.approx(c.volume, rel=1e-5)
    assert [d.pose.position for d in plan.devices] == [p.xyz for p in test.probes]
    assert len(plan.fires) == 1 and plan.fires[0].xy == test.fire_xy
    assert plan.people_xy.size == 0 and not plan.hvac_on.any()
    # the measured ramp: about 4.9 kW at 80 s after ignition
    hrr = plan.fires[0].hrr
    assert float(hrr.max()) == pytest.approx(4.87, abs=0.05)
    assert int(np.argmax(hrr)) == FAA_IGNITION_S + 80
    np.testing.assert_array_equal(hrr, faa_hrr(plan.t))


def test_every_measured_probe_is_compared(rows: list[ProbeComparison]) -> None:
    measured = [r for r in rows if np.isfinite(r.co2_measured)]
    # test 1: three probes at 60/120/180 s; tests 2-3: the aft probe; test 4: three at 60 s
    assert len(measured) == 9 + 3 + 3 + 3
    assert all(r.co2_replica > 0 and r.warming_replica > 0 for r in rows)


def test_replicas_stay_as_close_as_generator_v10_brings_them(rows: list[ProbeComparison]) -> None:
    co2 = np.array([r.co2_factor for r in rows if np.isfinite(r.co2_factor)])
    warm = np.array([r.warming_factor for r in rows if np.isfinite(r.warming_factor)])
    assert co2.max() < 1.75 and np.median(co2) < 1.4
    assert warm.max() < 5.0 and np.median(warm) < 1.3
    # generator v9 (the jet of the fire's total heat release): 9 of 18 and 19 of 30
    assert (co2 <= CO2_GOAL).sum() >= 15 and (warm <= WARMING_GOAL).sum() >= 23
    # the replicas err on the high side for CO2: none is under half the measured rise
    assert all(r.co2_replica > 0.5 * r.co2_measured for r in rows if np.isfinite(r.co2_measured))


def test_replicas_command_and_plot_beside_the_data(
    real_fires: Path, tmp_path: Path, catalog_path: Path
) -> None:
    out = invoke("replicas", "--real-fires", str(real_fires), "--json")
    assert out.exit_code == 0, out.output
    payload = json.loads(out.stdout)
    assert {r["case"] for r in payload} == set(FAA_TESTS)
    table = invoke("replicas", "--real-fires", str(real_fires)).stdout
    assert table.startswith("| test | probe (TC) |") and "| 4 | TC5 (TC5) | 60 |" in table
    data = tmp_path / "rep"
    made = invoke("generate", "-n", "1", "--classes", "faa_dc10_replica", "--frames", "none",
                  "--out", str(data))  # fmt: skip
    assert made.exit_code == 0, made.output
    png = tmp_path / "rep.png"
    drawn = invoke("plot", str(data), "--scenario", "s000000", "--out", str(png),
                   "--real-fires", str(real_fires))  # fmt: skip
    assert drawn.exit_code == 0, drawn.output
    assert png.stat().st_size > 10_000
    assert_usage_error(invoke("replicas", "--real-fires", str(tmp_path)), "no FAA test data")
