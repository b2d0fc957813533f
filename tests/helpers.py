"""Helpers the tests share, importable as ``helpers`` (``tests/`` is on pytest's ``pythonpath``).

* processes: giving up root's permission to ignore file modes, free loopback ports;
* a fake scenario sampler and runner for the dataset writer, fast and contract-valid (defined
  here, so worker processes and Dask workers import them by this module's name);
* hand-made datasets and feature sets for the lineage catalog and SQL, and the CLI around them;
* small synthetic feature tables and scored scenarios for the models and the evaluation.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from embercast.dataset.feature_table import FLAG_COLUMNS, KEY_COLUMNS, LABEL_COLUMNS, STANDARD18
from embercast.dataset.manifest import DATASET_FORMAT, FEATURES_FORMAT, content_hash
from embercast.dataset.schema import (
    FRAME_HEIGHT,
    FRAME_WIDTH,
    FRAMES_SCHEMA,
    READINGS_SCHEMA,
    FramePolicy,
)
from embercast.errors import InputError
from embercast.synth.result import ScenarioResult
from embercast.synth.scenarios import ScenarioSpec
from embercast.synth.writer import GenerateSummary, generate_dataset

if TYPE_CHECKING:
    from typer.testing import Result

    from embercast.evaluation.feature_data import FeatureData
    from embercast.features.build import FeaturesSummary

# the command line, the evaluation and the feature sets are imported where they are used: worker
# processes import this module for the fake generator only

OfflineFeatures = Callable[[str], tuple["FeaturesSummary", Path]]
"""The conftest fixture ``offline_features``: a feature set's build summary and location."""

# --------------------------------------------------------------------------- processes


def drop_root_override() -> None:
    """In a child process: give up root's permission to ignore file modes (Linux)."""
    libc = ctypes.CDLL(None, use_errno=True)
    pr_capbset_drop = 24
    for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        libc.prctl(pr_capbset_drop, capability, 0, 0, 0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --------------------------------------------------------------------------- the fake generator


FAKE_CLASSES: dict[str, dict[str, Any]] = {
    "flaming_fire": {"fire": True, "duration_s": 300.0, "period_s": 5.0},
    "smouldering_fire": {"fire": True, "duration_s": 600.0, "period_s": 30.0},
    "normal_day": {"fire": False, "duration_s": 300.0, "period_s": 30.0},
    "cooking_gas_stove": {"fire": False, "duration_s": 240.0, "period_s": 5.0},
    "long_quiet": {"fire": False, "duration_s": 7200.0, "period_s": 5.0},
}
"""Fake catalogue; ``long_quiet`` is only drawn when asked for (large datasets)."""


DEFAULT_FAKE_CLASSES = ("cooking_gas_stove", "flaming_fire", "normal_day", "smouldering_fire")


DEVICES = ("dev-a", "dev-b")


FRAME_RATE_HZ = 8.7


@dataclass(frozen=True, kw_only=True)
class FakeSpec:
    """Same fields as the catalogue's ScenarioSpec."""

    scenario_id: str
    scenario_class: str
    seed: int
    params: dict[str, float | int | str | bool] = field(default_factory=dict)

    def to_row(self) -> dict[str, object]:
        info = FAKE_CLASSES[self.scenario_class]
        row: dict[str, object] = {
            "scenario_id": self.scenario_id,
            "scenario_class": self.scenario_class,
            "is_fire": info["fire"],
            "ignition_s": None,
            "duration_s": float(self.params["duration_s"]),
            "seed": self.seed,
            "split_group": "train",
        }
        row.update({k: v for k, v in self.params.items() if k != "duration_s"})
        return row


def fake_sampler(
    n: int, seed: int, *, classes: Sequence[str] | None = None, policy: object = None
) -> list[FakeSpec]:
    """Deterministic fake of ``sample_scenarios``; class parameters differ by class."""
    if n < 1:
        raise InputError(f"invalid number of scenarios: must be >= 1, got {n}")
    names = list(classes) if classes else list(DEFAULT_FAKE_CLASSES)
    for name in names:
        if name not in FAKE_CLASSES:
            raise InputError(f"unknown scenario class {name!r}; valid: {', '.join(FAKE_CLASSES)}")
    rng = np.random.default_rng(seed)
    specs = []
    for i in range(n):
        name = names[i % len(names)]
        params: dict[str, float | int | str | bool] = {
            "duration_s": FAKE_CLASSES[name]["duration_s"],
            "room_volume_m3": round(float(rng.uniform(20, 200)), 3),
        }
        if FAKE_CLASSES[name]["fire"]:
            params["fuel"] = str(rng.choice(["wood", "foam", "paper"]))
            params["alpha_kw_s2"] = round(float(rng.uniform(0.001, 0.05)), 5)
        else:
            params["occupants"] = int(rng.integers(0, 5))
            params["window_open"] = bool(rng.integers(0, 2))
        specs.append(
            FakeSpec(
                scenario_id=f"s{i:06d}",
                scenario_class=name,
                seed=int(rng.integers(2**31)),
                params=params,
            )
        )
    return specs


def _phases(t: np.ndarray, ignition: float | None) -> tuple[np.ndarray, list[str]]:
    if ignition is None:
        return np.zeros(t.size, dtype=np.int8), ["normal"] * t.size
    fire = (t >= ignition).astype(np.int8)
    phase = [
        "normal" if f == 0 else ("incipient" if ti < ignition + 60 else "growth")
        for f, ti in zip(fire, t, strict=True)
    ]
    return fire, phase


def fake_runner(spec: FakeSpec, frames: FramePolicy) -> ScenarioResult:
    """Deterministic fake of ``run_scenario`` producing contract-valid tables."""
    info = FAKE_CLASSES[spec.scenario_class]
    rng = np.random.default_rng(spec.seed)
    duration = float(spec.params["duration_s"])
    period = float(info["period_s"])
    ignition = round(duration * 0.4, 1) if info["fire"] else None
    t = np.arange(0.0, duration, period)
    fire, phase = _phases(t, ignition)
    readings = []
    frame_rows: dict[str, list[Any]] = {name: [] for name in FRAMES_SCHEMA.names}
    for device in DEVICES:
        heat = np.where(fire == 1, (t - (ignition or 0.0)) * 0.5, 0.0)
        co2 = 420.0 + 2.0 * heat + rng.normal(0, 5, t.size)
        co2[rng.integers(0, t.size)] = np.nan  # one missing reading
        n = t.size
        readings.append(
            pa.table(
                {
                    "scenario_id": [spec.scenario_id] * n,
                    "device_id": [device] * n,
                    "t_s": t,
                    "co2_ppm": co2,
                    "temperature_c": 21.0 + 0.05 * heat + rng.normal(0, 0.1, n),
                    "humidity_pct": np.clip(45.0 + rng.normal(0, 1, n), 0, 100),
                    "outdoor_temp_c": np.full(n, 12.0),
                    "outdoor_rh_pct": np.full(n, 70.0),
                    "hvac_on": np.zeros(n, dtype=bool),
                    "window_open": np.full(n, bool(spec.params.get("window_open", False))),
                    "occupancy": np.full(n, int(spec.params.get("occupants", 0)), dtype=np.int16),
                    "thermal_available": np.ones(n, dtype=bool),
                    "true_hrr_kw": heat,
                    "true_co2_ppm": 420.0 + 2.0 * heat,
                    "true_gas_temp_c": 21.0 + 0.05 * heat,
                    "true_rh_pct": np.full(n, 45.0),
                    "fire": fire,
                    "phase": phase,
                    "scenario_class": [spec.scenario_class] * n,
                },
                schema=READINGS_SCHEMA,
            )
        )
        for k, tk in enumerate(t):
            if not frames.keeps(k):
                continue
            for ft in sorted({max(tk - 1.0, 0.0), tk}):
                index = int(np.floor(ft * FRAME_RATE_HZ))
                pixels = rng.integers(29_300, 29_400, FRAME_HEIGHT * FRAME_WIDTH, dtype=np.uint16)
                frame_rows["scenario_id"].append(spec.scenario_id)
                frame_rows["device_id"].append(device)
                frame_rows["t_s"].append(index / FRAME_RATE_HZ)
                frame_rows["frame_index"].append(index)
                frame_rows["gain"].append("high")
                frame_rows["ffc"].append(False)
                frame_rows["frame"].append(pixels.astype("<u2").tobytes())
    row = spec.to_row()
    row["ignition_s"] = ignition
    return ScenarioResult(
        scenario=row,
        readings=pa.concat_tables(readings),
        frames=pa.table(frame_rows, schema=FRAMES_SCHEMA),
        rendered_frames=2 * t.size * len(DEVICES),
    )


def generate_fake(out: str | Path, **kwargs: Any) -> GenerateSummary:
    """generate_dataset with the fakes and small defaults."""
    options: dict[str, Any] = {
        "scenarios": 6,
        "seed": 7,
        "frames": FramePolicy.parse("sample:12"),
        "scenarios_per_task": 2,
        "sampler": fake_sampler,
        "runner": fake_runner,
    }
    options.update(kwargs)
    return generate_dataset(str(out), **options)


THREE_CLASSES = ("flaming_fire", "smouldering", "normal_day")


def generate_three_classes(out: str) -> GenerateSummary:
    """generate_dataset with the real generator: one scenario of each of :data:`THREE_CLASSES`
    (seed 1), no frames stored."""
    return generate_dataset(
        out, scenarios=3, seed=1, frames=FramePolicy.parse("none"), classes=list(THREE_CLASSES)
    )


# --------------------------------------------------------------------------- hand-made artifacts


def write_dataset_manifest(root: Path, digest: str | None = None, **extra: Any) -> str:
    """A dataset manifest; returns its content hash. Without ``files``, it lists no data files
    and the hash is made up; ``files`` names files under ``root`` whose hashes and sizes it
    records, with the content hash they give."""
    if "files" in extra:
        extra["files"] = {
            rel: {
                "sha256": hashlib.sha256((root / rel).read_bytes()).hexdigest(),
                "bytes": (root / rel).stat().st_size,
            }
            for rel in extra["files"]
        }
        digest = digest or content_hash({rel: e["sha256"] for rel, e in extra["files"].items()})
    digest = digest or hashlib.sha256(str(root).encode()).hexdigest()
    manifest = {
        "format": DATASET_FORMAT,
        "generator": {"embercast_version": "0.1.0", "generator_version": "1"},
        "arguments": {"scenarios": 2, "seed": 1},
        "counts": {"scenarios": 2, "rows": 10},
        "files": {},
        "content_hash": digest,
        **extra,
    }
    root.mkdir(parents=True, exist_ok=True)
    (root / "manifest.json").write_text(json.dumps(manifest))
    return digest


def features_table(keys: pa.Table | None = None, rows: int = 4) -> pa.Table:
    """A feature table with KEY, STANDARD18, FLAG and LABEL columns.

    ``keys`` (scenario_id, device_id, t_s, co2_ppm, fire, phase, scenario_class) come from a
    dataset's readings; without it, ``rows`` made-up rows.
    """
    if keys is None:
        keys = pa.table(
            {
                "scenario_id": [f"s{i // 2:06d}" for i in range(rows)],
                "device_id": [f"s{i // 2:06d}-d0" for i in range(rows)],
                "t_s": [5.0 * (1 + i % 2) for i in range(rows)],
                "co2_ppm": [420.0 + i for i in range(rows)],
                "fire": pa.array([i % 2 for i in range(rows)], pa.int8()),
                "phase": ["normal"] * rows,
                "scenario_class": ["normal_day"] * rows,
            }
        )
    n = keys.num_rows
    rng = np.random.default_rng(0)
    columns: dict[str, Any] = {name: keys.column(name) for name in KEY_COLUMNS}
    for name in STANDARD18:
        columns[name] = rng.normal(size=n)
    columns["gas_val"] = keys.column("co2_ppm")
    columns[FLAG_COLUMNS[0]] = pa.array([False] * n)
    columns[FLAG_COLUMNS[1]] = pa.array(["ok"] * n)
    for name in LABEL_COLUMNS[:3]:
        columns[name] = keys.column(name)
    columns["split_group"] = pa.array(["train"] * n)
    table = pa.table(columns)
    assert table.column_names == [*KEY_COLUMNS, *STANDARD18, *FLAG_COLUMNS, *LABEL_COLUMNS]
    return table


def write_feature_set(
    root: Path,
    parent_location: str,
    parent_hash: str,
    table: pa.Table | None = None,
    feature_set: str = "standard18",
) -> str:
    """A feature set directory (manifest + features/part-00000.parquet); returns its hash."""
    table = table if table is not None else features_table()
    part = root / "features" / "part-00000.parquet"
    part.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, part)
    files = {
        "features/part-00000.parquet": {
            "sha256": hashlib.sha256(part.read_bytes()).hexdigest(),
            "bytes": part.stat().st_size,
        }
    }
    digest = content_hash({path: str(f["sha256"]) for path, f in files.items()})
    manifest = {
        "format": FEATURES_FORMAT,
        "kind": "features",
        "feature_set": feature_set,
        "feature_version": "1",
        "parent": {"location": parent_location, "content_hash": parent_hash},
        "arguments": {"set": feature_set},
        "counts": {"rows": table.num_rows, "columns": table.num_columns},
        "files": files,
        "content_hash": digest,
    }
    (root / "manifest.json").write_text(json.dumps(manifest))
    return digest


def invoke(*args: str) -> Result:
    from typer.testing import CliRunner

    import embercast.cli as cli

    return CliRunner().invoke(cli.app, list(args))


def assert_usage_error(result: Result, *needles: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for needle in needles:
        assert needle in lines[0]


# --------------------------------------------------------------------------- models and evaluation


def table(
    n_scenarios: int = 12, rows: int = 40, seed: int = 0
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """A small synthetic feature table with a learnable fire signal and NaN thermal gaps."""
    from embercast.features.sets import feature_names

    rng = np.random.default_rng(seed)
    names = feature_names("extended")
    n = n_scenarios * rows
    X = pd.DataFrame(rng.normal(size=(n, len(names))), columns=list(names))
    groups = np.repeat([f"s{i:03d}" for i in range(n_scenarios)], rows)
    fire_scen = np.arange(n_scenarios) % 2 == 0
    y = np.zeros(n, int)
    for i in np.flatnonzero(fire_scen):
        y[i * rows + rows // 2 : (i + 1) * rows] = 1
    X["gas_val"] = 450 + 3000 * y + rng.normal(0, 50, n)
    X["gas_vel"] = 0.1 + 5 * y + rng.normal(0, 0.2, n)
    X["t_max"] = 30 + 200 * y + rng.normal(0, 2, n)
    X["scd_temp_val"] = 22 + 40 * y
    X["scd_temp_vel"] = 0.3 * y
    X.loc[rng.random(n) < 0.1, "t_mean"] = np.nan
    return X, y, groups


def scored() -> tuple[pd.DataFrame, dict[str, tuple[str, bool, float | None]]]:
    t = np.arange(5.0, 305.0, 5.0)
    rows, p = [], []
    # fire: ignition at 100 s, the score rises at 150 s; nuisance: one spike, one long bump
    for sid in ("f1", "n1", "n2"):
        for ti in t:
            rows.append((sid, f"{sid}-d0", ti))
            if sid == "f1":
                p.append(0.95 if ti >= 150 else 0.1)
            elif sid == "n1":
                p.append(0.95 if ti == 100 else 0.1)
            else:
                p.append(0.95 if 100 <= ti < 200 else 0.1)
    frame = pd.DataFrame(rows, columns=["scenario_id", "device_id", "t_s"]).assign(p=p)
    facts = {
        "f1": ("flaming_fire", True, 100.0),
        "n1": ("toaster", False, None),
        "n2": ("toaster", False, None),
    }
    return frame, facts


CONDITION_ROWS = 40  # rows per scenario of condition_data, 5 s apart


def condition_data(n: int = 16) -> FeatureData:
    """``n`` scenarios (even ones fires, igniting half-way): rooms large / medium in fours,
    ventilation medium / low in pairs, every room normal ambient; the only ``hot`` scenario
    is a nuisance one."""
    from embercast.evaluation.feature_data import FeatureData

    X, y, groups = table(n_scenarios=n, rows=CONDITION_ROWS)
    rows = X.assign(
        scenario_id=groups,
        device_id=[f"{g}-d0" for g in groups],
        t_s=np.tile(np.arange(CONDITION_ROWS) * 5.0, n),
        fire=y,
        split_group=np.where(np.isin(groups, ["s014", "s015"]), "test", "train"),
    )
    sids = [f"s{i:03d}" for i in range(n)]
    facts: dict[str, tuple[str, bool, float | None]] = {
        s: ("flaming_fire", True, CONDITION_ROWS // 2 * 5.0)
        if i % 2 == 0
        else ("toaster", False, None)
        for i, s in enumerate(sids)
    }
    conditions = {
        s: {
            "room_size": "medium" if i // 4 % 2 else "large",
            "ventilation": "low" if i // 2 % 2 else "medium",
            "ambient": "hot" if s == "s001" else "normal",
        }
        for i, s in enumerate(sids)
    }
    return FeatureData(rows, facts, "extended", "memory", "0", conditions=conditions)


def developed_fire_spec(duration_s: int) -> ScenarioSpec:
    """A developed 1.5-MW polyurethane fire near a 5 x 4 x 2.5 m room's corner, door open,
    ignition at a tenth of ``duration_s`` [s]: hot enough to take a ceiling device past its
    SCD41's operating range."""
    from dataclasses import replace

    from embercast.synth.scenarios import sample_spec

    base = sample_spec(5, 11, "flaming_fire")
    params = dict(base.params) | {
        "room_length": 5.0, "room_width": 4.0, "room_height": 2.5, "q_peak": 1500.0,
        "fuel": "polyurethane_foam", "growth": "fast", "door_open": True, "steady_s": 600.0,
        "ignition_frac": 0.1, "duration_s": duration_s, "second_device": False,
        "scd41_low_power": False, "fire_x_frac": 0.8, "fire_y_frac": 0.8, "fire_z": 0.3,
    }  # fmt: skip
    return replace(base, params=params)
