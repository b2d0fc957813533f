"""Episodes from the field: a device's recorded window folds into the rows the offline path
gives for the same data, labelled by the operator's verdict; they are stored once per verdict and
device and read back as training data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from embercast.dataset.episodes import (
    episode_key,
    has_episode,
    is_episodes,
    read_episodes,
    write_episode,
)
from embercast.errors import InputError
from embercast.evaluation.feature_data import load_features
from embercast.features.episodes import episode_rows

EPOCH = 1.8e9  # devices stamp their messages with wall-clock time


def recorded(dataset: Path, scenario_class: str) -> tuple[str, str, pa.Table, pa.Table]:
    """(scenario, device, readings, frames) of the first device of the dataset's
    ``scenario_class`` scenario, in the ingest log's columns and the devices' clock."""
    scen = pq.read_table(dataset / "scenarios.parquet").to_pandas()
    sid = str(scen.loc[scen["scenario_class"] == scenario_class, "scenario_id"].iloc[0])
    readings = pq.read_table(dataset / "readings", filters=[("scenario_id", "=", sid)]).to_pandas()
    dev = str(sorted(readings["device_id"].unique())[0])
    mine = readings[readings["device_id"] == dev].sort_values("t_s")
    frames = pq.read_table(
        dataset / "frames", filters=[("scenario_id", "=", sid), ("device_id", "=", dev)]
    ).to_pandas().sort_values("t_s")  # fmt: skip
    r = pa.Table.from_pandas(
        mine.assign(ts=mine["t_s"] + EPOCH)[
            ["device_id", "ts", "co2_ppm", "temperature_c", "humidity_pct"]
        ], preserve_index=False,
    )  # fmt: skip
    f = pa.Table.from_pandas(
        frames.assign(ts=frames["t_s"] + EPOCH)[["device_id", "ts", "ffc", "frame"]],
        preserve_index=False,
    )
    return sid, dev, r, f


def test_a_false_alarm_window_is_the_offline_rows_labelled_no_fire(
    frames_dataset: Path, offline_features: Callable[[str], tuple[Any, Path]]
) -> None:
    sid, dev, readings, frames = recorded(frames_dataset, "hot_machinery")
    rows = episode_rows(readings, frames, "ep-1", feature_set="extended", verdict="false_alarm",
                        cause="hot_machinery", alarm_t=EPOCH + 60.0).to_pandas()  # fmt: skip
    _, location = offline_features("extended")
    offline = pq.read_table(location / "features").to_pandas()
    offline = offline[(offline["scenario_id"] == sid) & (offline["device_id"] == dev)]
    t0 = float(readings["ts"][0].as_py()) - EPOCH
    assert len(rows) == len(offline) > 10
    assert set(rows["scenario_id"]) == {"ep-1"} and set(rows["split_group"]) == {"train"}
    assert set(rows["scenario_class"]) == {"feedback_hot_machinery"}
    assert rows["fire"].sum() == 0 and set(rows["phase"]) == {"normal"}
    np.testing.assert_allclose(rows["t_s"] + t0, offline["t_s"].to_numpy())
    names = [c for c in offline.columns if c.startswith(("co2", "temp", "rh", "hot", "therm"))]
    assert len(names) > 5
    pd.testing.assert_frame_equal(
        rows[names].reset_index(drop=True), offline[names].reset_index(drop=True)
    )


def test_a_confirmed_fire_keeps_the_rows_from_its_alarm_on(frames_dataset: Path) -> None:
    _, _, readings, frames = recorded(frames_dataset, "flaming_fire")
    k = readings.num_rows // 2
    alarm_t = float(readings["ts"][k].as_py())
    rows = episode_rows(readings, frames, "ep-2", feature_set="extended", verdict="fire",
                        cause=None, alarm_t=alarm_t).to_pandas()  # fmt: skip
    t0 = float(readings["ts"][0].as_py())
    assert rows["t_s"].min() == pytest.approx(alarm_t - t0)
    assert (rows["fire"] == 1).all() and set(rows["scenario_class"]) == {"feedback_fire"}
    assert len(rows) == readings.num_rows - k > 0
    with pytest.raises(InputError, match="no reading"):
        episode_rows(readings.slice(0, 0), frames, "ep-3", feature_set="extended",
                     verdict="fire", cause=None, alarm_t=alarm_t)  # fmt: skip
    with pytest.raises(InputError, match="unknown verdict"):
        episode_rows(readings, frames, "ep-3", feature_set="extended", verdict="maybe",
                     cause=None, alarm_t=alarm_t)  # fmt: skip


def test_episodes_are_stored_once_and_read_as_training_data(
    frames_dataset: Path, features: Path, tmp_path: Path
) -> None:
    _, dev, readings, frames = recorded(frames_dataset, "hot_machinery")
    key = episode_key("alarm-1:feedback:1", dev)
    rows = episode_rows(readings, frames, key, feature_set="extended", verdict="false_alarm",
                        cause="hot_machinery", alarm_t=EPOCH + 60.0)  # fmt: skip
    folder = str(tmp_path / "episodes")
    assert not is_episodes(folder) and not has_episode(folder, key)
    write_episode(folder, key, "extended", {"verdict": "false_alarm", "device_id": dev}, rows)
    write_episode(folder, key, "extended", {"verdict": "false_alarm", "device_id": dev}, rows)
    assert is_episodes(folder) and has_episode(folder, key)
    found = read_episodes(folder)
    assert list(found.facts) == [key] and found.rows.num_rows == rows.num_rows
    assert found.facts[key]["rows"] == rows.num_rows
    with pytest.raises(InputError, match="holds 'extended' features, not 'standard18'"):
        write_episode(folder, "other", "standard18", {}, rows)

    both = load_features([str(features), folder])  # synthetic data and the field's episodes
    base = load_features(str(features))
    assert both.holdout == base.holdout and len(both.rows) == len(base.rows) + rows.num_rows
    assert both.scenarios[f"1/{key}"] == ("feedback_hot_machinery", False, None)
    assert set(both.split(("train",))["scenario_id"]) >= {f"1/{key}"}
    assert f"1/{key}" not in set(both.split(("test", "holdout", "val"))["scenario_id"])
    # a half-written episode (rows without facts) is not one
    (tmp_path / "episodes" / "features" / "half.parquet").write_bytes(b"")
    assert list(read_episodes(folder).facts) == [key]
