"""Golden traces: readings of a few fixed scenarios, checked against
tests/synth/data/golden_readings.csv.

A change to the physics or sensor models that moves these numbers shows up here. When the change
is intended, rebuild the file and commit it with the change::

    .venv/bin/python tests/synth/test_golden.py --regen
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from embercast.dataset.schema import FramePolicy
from embercast.synth.runner import run_scenario
from embercast.synth.scenarios import sample_spec

GOLDEN = Path(__file__).parent / "data" / "golden_readings.csv"
CASES = [
    (0, 11, "flaming_fire"),
    (1, 11, "smouldering"),
    (2, 11, "cooking_gas_stove"),
    (3, 11, "occupancy"),
]
"""(index, dataset seed, class) of each golden scenario."""
COLUMNS = {
    # column: (rtol, atol); sensor outputs are quantised, so a last-digit flip is allowed
    "co2_ppm": (1e-6, 1.0),
    "temperature_c": (1e-6, 0.01),
    "humidity_pct": (1e-6, 0.01),
    "true_hrr_kw": (1e-6, 1e-6),
    "true_co2_ppm": (1e-6, 1e-3),
    "true_gas_temp_c": (1e-6, 1e-4),
    "true_rh_pct": (1e-6, 1e-4),
    "fire": (0.0, 0.0),
}


def build() -> pd.DataFrame:
    parts = []
    for index, seed, cls in CASES:
        spec = sample_spec(index, seed, cls)
        r = run_scenario(spec, FramePolicy.parse("none")).readings.to_pandas()
        r = r[r.device_id == r.device_id.iloc[0]].iloc[::6]  # every 30 s keeps the file small
        parts.append(r[["scenario_class", "t_s", *COLUMNS]])
    return pd.concat(parts, ignore_index=True)


def assert_frame_close(actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Compare column by column with the stated tolerances; NaN must match NaN."""
    assert list(actual.scenario_class) == list(expected.scenario_class)
    np.testing.assert_array_equal(actual.t_s.to_numpy(), expected.t_s.to_numpy())
    for col, (rtol, atol) in COLUMNS.items():
        np.testing.assert_allclose(
            actual[col].to_numpy(dtype=float),
            expected[col].to_numpy(dtype=float),
            rtol=rtol,
            atol=atol,
            equal_nan=True,
            err_msg=f"golden column {col}",
        )


def test_golden_readings() -> None:
    if not GOLDEN.exists():
        pytest.fail(
            f"{GOLDEN} is missing; build it with: python tests/synth/test_golden.py --regen"
        )
    assert_frame_close(build(), pd.read_csv(GOLDEN))


if __name__ == "__main__":
    if "--regen" not in sys.argv:
        raise SystemExit("usage: python tests/synth/test_golden.py --regen")
    build().to_csv(GOLDEN, index=False, float_format="%.10g")
    print(f"wrote {GOLDEN}")  # noqa: T201
