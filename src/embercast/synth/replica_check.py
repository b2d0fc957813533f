"""The FAA replicas beside the measurements, probe by probe (``embercast replicas``).

For each test and gas probe, the CO2 rise at the probe and the warming at the thermocouple
nearest to it, measured and replicated (the generator's air, before any sensor model: the tests
used gas analysers and thermocouples), at 60, 120 and 180 s after ignition.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from embercast.errors import InputError
from embercast.synth.builders import build_plan
from embercast.synth.ground_truth import sensor_truth, zone_truth
from embercast.synth.replicas import FAA_IGNITION_S, FAA_TESTS, probe_device
from embercast.synth.scenarios import sample_spec

FAA_FOLDER = "faa_cargo_compartments"
"""Folder of the FAA tests' data in the real-fire data."""
COMPARE_AT = (60, 120, 180)
"""Times after ignition the replicas are compared at [s]."""
CO2_GOAL = 1.5
"""A replica's CO2 rise should be within this factor of the measured one at every probe."""
WARMING_GOAL = 2.0
"""A replica's ceiling warming should be within this factor of the measured one."""


@dataclass(frozen=True, kw_only=True)
class ProbeComparison:
    """One probe of one test at one time: measured and replicated CO2 rise [ppm] and warming
    [K] (the thermocouple's; NaN where the data have none)."""

    case: str
    probe: str
    thermocouple: str
    t_s: int
    co2_measured: float
    co2_replica: float
    warming_measured: float
    warming_replica: float

    @property
    def co2_factor(self) -> float:
        """How far apart the CO2 rises are, as a factor >= 1 (NaN without a measurement)."""
        return _factor(self.co2_replica, self.co2_measured)

    @property
    def warming_factor(self) -> float:
        """How far apart the warmings are, as a factor >= 1 (NaN without a measurement)."""
        return _factor(self.warming_replica, self.warming_measured)


def _factor(a: float, b: float) -> float:
    if not (np.isfinite(a) and np.isfinite(b)) or a <= 0 or b <= 0:
        return float("nan")
    return float(max(a / b, b / a))


def read_faa_test(real_fires: Path, case: str) -> pd.DataFrame:
    """The measurements of FAA test ``case`` (row 2 of the file holds the units)."""
    path = Path(real_fires) / FAA_FOLDER / f"TestCase{case}_FAA_EXPDATA.csv"
    if not path.is_file():
        raise InputError(f"no FAA test data at {path}: pass the folder of the real-fire data")
    return pd.read_csv(path, skiprows=[1])


def compare_replicas(real_fires: Path, seed: int = 0) -> list[ProbeComparison]:
    """Every FAA test's replica beside its measurements, probe by probe (see module doc).

    ``seed`` draws the replica's unfixed conditions (room temperature, humidity); they do not
    move the compared rises.
    """
    rows = []
    for case, test in FAA_TESTS.items():
        data = read_faa_test(real_fires, case)
        cls = "faa_b707_replica" if test.compartment.name == "B707" else "faa_dc10_replica"
        spec = sample_spec(0, seed, cls)
        spec = replace(spec, params=dict(spec.params) | {"faa_test": case})
        plan = build_plan(spec)
        zone = zone_truth(plan)
        ign = round(FAA_IGNITION_S)
        for k, probe in enumerate(test.probes):
            air = sensor_truth(plan, zone, plan.devices[k])
            tc = sensor_truth(plan, zone, probe_device("tc", probe.tc_xyz, test.fire_xy))
            for t in COMPARE_AT:
                if t >= len(data):
                    continue
                rows.append(
                    ProbeComparison(
                        case=case,
                        probe=probe.column.removesuffix(" CO2"),
                        thermocouple=probe.thermocouple,
                        t_s=t,
                        co2_measured=float(data[probe.column].iloc[t]) * 1e6,
                        co2_replica=float(air.co2[ign + t] - air.co2[ign]),
                        warming_measured=float(data[probe.thermocouple].iloc[t]),
                        warming_replica=float(tc.temp[ign + t] - tc.temp[ign]),
                    )
                )
    return rows


def comparison_table(rows: list[ProbeComparison]) -> str:
    """The comparison as a Markdown table, one line per probe and time."""
    lines = [
        "| test | probe (TC) | t s | CO2 rise ppm: measured / replica | factor "
        "| warming K: measured / replica | factor |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        co2 = (
            f"{r.co2_measured:,.0f} / {r.co2_replica:,.0f}"
            if np.isfinite(r.co2_measured)
            else f"- / {r.co2_replica:,.0f}"
        )
        lines.append(
            f"| {r.case} | {r.probe} ({r.thermocouple}) | {r.t_s} | {co2} | "
            f"{r.co2_factor:.2f} | {r.warming_measured:.1f} / {r.warming_replica:.1f} | "
            f"{r.warming_factor:.2f} |"
        )
    return "\n".join(lines)
