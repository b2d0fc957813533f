"""The generator against real fire tests (shared/data/real_fires, NIST / FAA / UL FSRI).

FAA cargo-compartment tests: the same small flaming fire (a 0.1 m pan, peak about 4.9 kW at 80 s)
in the B707 lower cargo compartment (tests 1-3: 3.18 x 6.73 m, 1.37 m high, about 25 m^3) and the
DC-10 compartment (test 4: about 98 m^3), seen by ceiling gas probes and thermocouples
(shared/data/real_fires/README.md). Each compartment is compared with its own tests, after passing
both through the SCD41's 60-s lag at its 5-s cadence: the CO2 rise within 300 s of ignition, its
fastest rate, and the ceiling warming. UL FSRI DelCo room fires: CO2 above the SCD41's 40,000 ppm
output.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from embercast.dataset.schema import FramePolicy
from embercast.sensors.scd41 import first_order_lag, measure, sample_scd41_device
from embercast.synth.runner import run_scenario
from embercast.synth.scenarios import ScenarioSpec, sample_spec
from helpers import developed_fire_spec

FAA_COMPARTMENTS: dict[str, tuple[dict[str, float], tuple[str, ...]]] = {
    # a box of the B707 compartment's length, height and volume (its lower sides slope), leaking
    # through two small floor-level openings
    "B707": (
        {"room_length": 6.73, "room_width": 2.71, "room_height": 1.37, "ach": 0.5},
        ("1", "2", "3"),
    ),
    # a box of the DC-10 compartment's volume (97.7 m^3) under a low ceiling, with the test's
    # ventilation: two ceiling vents of 0.094 m^3/s each (6.9 air changes per hour)
    "DC-10": (
        {"room_length": 12.0, "room_width": 3.7, "room_height": 2.2, "ach": 6.9},
        ("4",),
    ),
}
"""Compartment (room parameters) and the FAA test cases run in it; geometry and ventilation from
the tests' FDS validation inputs (firemodels/fds, Validation/FAA_Cargo_Compartments)."""
FAA_FIRE_KW = 4.9
"""Peak heat release rate of the FAA tests' pan fire [kW]."""


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, skiprows=[1])


def faa_measured(real_fires: Path, cases: tuple[str, ...]) -> dict[str, tuple[float, float]]:
    """(min, max) over the probes of FAA test cases ``cases`` of: lagged CO2 rise [ppm], its
    fastest rate [ppm/s], and the median over thermocouples of their peak warming [K]."""
    rises, rates, warm = [], [], []
    folder = real_fires / "faa_cargo_compartments"
    for path in [folder / f"TestCase{case}_FAA_EXPDATA.csv" for case in cases]:
        df = _read(path)
        tcs = [c for c in df.columns if c.startswith("TC") and c[2:].isdigit()]
        warm.append(float(df[tcs].max().median()))
        for col in (c for c in df.columns if c.endswith("CO2")):
            x = df[col].to_numpy() * 1e6
            ok = ~np.isnan(x)
            if ok.sum() < 10:
                continue
            x = np.interp(df["Time"], df["Time"][ok], x[ok])
            y = first_order_lag(x, 1.0, 60.0)[::5]
            rises.append(float(y[:61].max() - y[0]))
            rates.append(float(np.diff(y).max() / 5.0))
    return {
        "rise": (min(rises), max(rises)),
        "rate": (min(rates), max(rates)),
        "warm": (min(warm), max(warm)),
    }


def small_fire(room: dict[str, float], q_peak: float, fuel: str, seed: int) -> pd.DataFrame:
    """The FAA pan fire in ``room``: slow t-squared growth to ``q_peak`` (about 40 s for 4.9 kW;
    the measured ramp peaks at 80 s), 40 s steady, 200 s of decay; ignition at 100 s."""
    base = sample_spec(seed, 11, "flaming_fire")
    params = (
        dict(base.params)
        | room
        | {
            "q_peak": q_peak,
            "fuel": fuel,
            "growth": "slow",
            "ignition_frac": 0.1,
            "steady_s": 40.0,
            "decay_s": 200.0,
            "fire_x_frac": 0.5,
            "fire_y_frac": 0.5,
            "fire_z": 0.0,
            "door_open": False,
            "duration_s": 1000,
            "second_device": False,
            "scd41_low_power": False,
            "asc": False,
            "people": 0,
            "hvac": False,
            "initial_co2_excess": 0.0,
        }
    )
    spec = replace(base, params=params)
    return run_scenario(spec, FramePolicy.parse("none")).readings.to_pandas()


def test_the_faa_data_are_what_we_think(real_fires: Path) -> None:
    b707 = faa_measured(real_fires, FAA_COMPARTMENTS["B707"][1])
    dc10 = faa_measured(real_fires, FAA_COMPARTMENTS["DC-10"][1])
    assert 900 < b707["rise"][0] < b707["rise"][1] < 1400 and 5 < b707["warm"][0] < 10
    assert 50 < dc10["rise"][0] < dc10["rise"][1] < 400 and 1 < dc10["warm"][1] < 2


@pytest.mark.parametrize("compartment", list(FAA_COMPARTMENTS))
@pytest.mark.parametrize("fuel", ["plastics", "paper_cardboard"])
def test_small_fire_matches_faa_order_of_magnitude(
    real_fires: Path, compartment: str, fuel: str
) -> None:
    room, cases = FAA_COMPARTMENTS[compartment]
    faa = faa_measured(real_fires, cases)
    r = small_fire(room, FAA_FIRE_KW, fuel, seed=3)
    pre = r[r.t_s < 100]
    post = r[(r.t_s >= 100) & (r.t_s <= 400)]
    rise = post.co2_ppm.max() - pre.co2_ppm.mean()
    # rate of the noise-free CO2 seen through the same 60-s lag as the FAA data
    lagged = first_order_lag(r.true_co2_ppm.to_numpy(), 5.0, 60.0)
    rate = float(np.diff(lagged).max() / 5.0)
    warm = post.true_gas_temp_c.max() - pre.true_gas_temp_c.mean()
    lo, hi = faa["rise"]
    assert lo / 2 <= rise <= 2 * hi, f"CO2 rise {rise:.0f} ppm vs FAA {lo:.0f}-{hi:.0f}"
    lo, hi = faa["rate"]
    assert lo / 3 <= rate <= 3 * hi, f"CO2 rate {rate:.1f} ppm/s vs FAA {lo:.1f}-{hi:.1f}"
    lo, hi = faa["warm"]
    assert lo / 3 <= warm <= 3 * hi, f"ceiling warming {warm:.1f} K vs FAA {lo:.1f}-{hi:.1f}"


def test_developed_room_fire_saturates_scd41_like_ul_fsri(real_fires: Path) -> None:
    # the measured room fires, seen through an SCD41, clip at its 40,000 ppm output
    peaks = []
    for path in sorted((real_fires / "ulfsri_delco_trainers").glob("Test_*.csv")):
        df = _read(path)
        x = df["CO2_A"].interpolate().fillna(0.0).to_numpy() * 1e6
        t1 = np.arange(0.0, float(df["Time"].iloc[-1]))
        x1 = np.interp(t1, df["Time"], x)
        dev = sample_scd41_device(np.random.default_rng(0))
        out = measure(
            t1,
            x1,
            np.full(t1.size, 25.0),
            np.full(t1.size, 40.0),
            dev,
            rng=np.random.default_rng(1),
        )
        peaks.append(x.max())
        assert out.co2_ppm.max() == 40_000.0
    assert min(peaks) > 50_000
    # a developed fire of the generator brings the same CO2 to a ceiling device: the SCD41 model
    # clips it; the device's own temperature then passes its rating and its readings stop
    r = run_scenario(developed_fire_spec(1200), FramePolicy.parse("none")).readings.to_pandas()
    true_peak = r.true_co2_ppm.max()
    assert 0.3 * min(peaks) < true_peak < 3 * max(peaks), f"{true_peak:.0f} vs UL FSRI {peaks}"
    t1 = np.arange(0.0, r.t_s.max() + 1)
    exposed = measure(
        t1,
        np.interp(t1, r.t_s, r.true_co2_ppm),
        np.full(t1.size, 25.0),
        np.full(t1.size, 40.0),
        sample_scd41_device(np.random.default_rng(2)),
        rng=np.random.default_rng(3),
    )
    assert exposed.co2_ppm.max() == 40_000.0
    missing = r.co2_ppm.isna().to_numpy()
    assert missing.any(), "a ceiling device in a developed fire overheats"
    first = int(np.argmax(missing))
    assert missing[first:].all() and r.true_gas_temp_c.iloc[first] > 85.0
    assert r.co2_ppm.max() <= 40_000.0


def test_scenario_spec_roundtrip_keeps_class() -> None:
    spec = sample_spec(1, 2, "smouldering")
    assert isinstance(spec, ScenarioSpec) and spec.scenario_class == "smouldering"
