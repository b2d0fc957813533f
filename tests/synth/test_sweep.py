"""Sweeps over many sampled scenarios: every dataset the catalogue can make validates clean and
has sensible label balance. The large sweep is slow (``make test-slow``)."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from embercast.dataset.schema import FramePolicy
from embercast.dataset.validate import validate_dataset
from embercast.synth.runner import run_scenario
from embercast.synth.scenarios import ScenarioSpec, sample_spec
from embercast.synth.writer import generate_dataset


def sweep(tmp_path: Path, scenarios: int, seed: int) -> None:
    out = tmp_path / "sweep"
    generate_dataset(str(out), scenarios=scenarios, seed=seed, frames="none", workers=1)
    problems = validate_dataset(str(out))
    assert problems == [], "\n".join(str(p) for p in problems[:20])
    table = pq.read_table(out / "scenarios.parquet").to_pandas()
    readings = pq.read_table(
        out / "readings", columns=["fire", "co2_ppm", "true_hrr_kw"]
    ).to_pandas()
    assert 0.25 < table.is_fire.mean() < 0.55
    assert 0.05 < readings.fire.mean() < 0.5
    fires = table[table.is_fire]
    assert fires.ignition_s.notna().all() and (fires.ignition_s < fires.duration_s).all()


def test_sweep_of_a_hundred_scenarios_validates(tmp_path: Path) -> None:
    sweep(tmp_path, 100, seed=123)


@pytest.mark.slow
def test_sweep_of_a_thousand_scenarios_validates(tmp_path: Path) -> None:
    sweep(tmp_path, 1000, seed=321)


def test_impossible_room_is_refused_with_a_clear_error() -> None:
    base = sample_spec(0, 0, "flaming_fire")
    spec = ScenarioSpec(
        scenario_id="bad",
        scenario_class="flaming_fire",
        seed=1,
        params=dict(base.params) | {"room_length": -3.0},
    )
    with pytest.raises(ValueError, match=r"invalid room: length must be .*got -3.0"):
        run_scenario(spec, FramePolicy.parse("none"))
