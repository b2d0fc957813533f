"""Edge rows: the thermal part of a device's rows computed on the device (EdgeThermal), sent as
JSON and taken by DeviceFeatures instead of frames, give the rows of the raw frames bit for bit;
received edge values are checked, each problem with its reason."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from embercast.features.base import Frame, Reading, RowContext
from embercast.features.edge import (
    MAY_BE_NULL_WITH_F,
    EdgeProblem,
    EdgeThermal,
    edge_names,
    edge_row,
)
from embercast.features.sets import FEATURE_SETS, get_feature_set, is_scd41
from embercast.features.stream import DeviceFeatures


def streams(dataset: Path) -> Iterator[tuple[str, pd.DataFrame, pd.DataFrame]]:
    """(scenario_id, readings, frames) of every device stream of a dataset, by time."""
    readings = pq.read_table(dataset / "readings").to_pandas()
    frames = pq.read_table(dataset / "frames").to_pandas()
    for (sid, dev), r in readings.groupby(["scenario_id", "device_id"]):
        f = frames[(frames.scenario_id == sid) & (frames.device_id == dev)]
        yield str(sid), r.sort_values("t_s"), f.sort_values("t_s")


def camera_dropout(readings: pd.DataFrame, frames: pd.DataFrame) -> pd.DataFrame:
    """The frames without those of the first two readings (no frame yet) and of the 5th to 9th
    readings' times (a camera that stops, then comes back: stale rows)."""
    t = readings["t_s"].to_numpy()
    gone = (frames.t_s <= t[1]) | ((frames.t_s > t[3]) & (frames.t_s <= t[8]))
    return frames[~gone]


def events(readings: pd.DataFrame, frames: pd.DataFrame) -> list[tuple[float, int, Any]]:
    """The device's events in the live order: by time, a frame before a reading at the same
    instant (kind 0 a frame, 1 a reading)."""
    out: list[tuple[float, int, Any]] = [(f.t_s, 0, f) for f in frames.itertuples()]
    out += [(r.t_s, 1, r) for r in readings.itertuples()]
    return sorted(out, key=lambda e: (e[0], e[1]))


def reading(r: Any) -> Reading:
    return Reading(float(r.t_s), r.co2_ppm, r.temperature_c, r.humidity_pct)


def pixels(f: Any) -> np.ndarray:
    return np.frombuffer(f.frame, "<u2").reshape(120, 160)


def on_the_device(feature_set: str, readings: pd.DataFrame, frames: pd.DataFrame) -> list[bytes]:
    """What a device with a camera sends instead of frames: one JSON edge payload per reading."""
    edge = EdgeThermal(feature_set)
    sent = []
    for _, kind, e in events(readings, frames):
        if kind == 0:
            assert edge.update_frame(e.t_s, pixels(e), bool(e.ffc))
            continue
        row = edge.update(reading(e))
        assert row is not None
        sent.append(json.dumps(row.payload()).encode())
    return sent


@pytest.mark.parametrize("dropout", [False, True], ids=["camera", "camera_dropout"])
@pytest.mark.parametrize("feature_set", ["standard18", "extended"])
def test_edge_rows_give_the_rows_of_the_raw_frames_bit_for_bit(
    frames_dataset: Path, feature_set: str, dropout: bool
) -> None:
    statuses: set[str] = set()
    nulls_with_f: set[str] = set()
    for _, readings, frames in streams(frames_dataset):
        if dropout:
            frames = camera_dropout(readings, frames)
        raw = DeviceFeatures(feature_set)  # the service, sent frames
        want = []
        for _, kind, e in events(readings, frames):
            if kind == 0:
                raw.update_frame(e.t_s, pixels(e), bool(e.ffc))
            else:
                want.append((raw.update_reading(reading(e)), raw.status))
        served = DeviceFeatures(feature_set)  # the service, sent readings and edge rows
        got = []
        payloads = on_the_device(feature_set, readings, frames)
        for r, payload in zip(readings.itertuples(), payloads, strict=True):
            m = json.loads(payload)
            row = edge_row(m["ts"], m["feature_set"], m["feature_version"], m["status"],
                           m["features"])  # fmt: skip
            got.append((served.update_reading(reading(r), edge=row), served.status))
            if row.status == "ok":
                nulls_with_f |= {n for n, v in m["features"].items() if v is None}
        assert [s for _, s in got] == [s for _, s in want]
        np.testing.assert_array_equal(np.array([v for v, _ in got]), [v for v, _ in want])
        assert not served.rejected and not raw.rejected
        statuses |= {s for _, s in got}
    # the streams cover a camera in FFC, rows without P, and (with the dropout) no camera yet
    # and a camera that stopped
    assert statuses == ({"ok", "ffc", "no_frame", "stale"} if dropout else {"ok", "ffc"})
    assert nulls_with_f and nulls_with_f <= MAY_BE_NULL_WITH_F


@pytest.mark.parametrize("feature_set", sorted(FEATURE_SETS))
def test_the_scd41_extractors_read_no_frame(feature_set: str, rng: np.random.Generator) -> None:
    """The split is exact: what the service computes from the readings alone does not change
    with the frames (so the device need not send their values)."""
    with_frames = [e for e in get_feature_set(feature_set)() if is_scd41(e)]
    without = [e for e in get_feature_set(feature_set)() if is_scd41(e)]
    assert with_frames and len(edge_names(feature_set)) + sum(len(e.names) for e in without) == (
        sum(len(e.names) for e in get_feature_set(feature_set)())
    )
    for k in range(40):
        t = 5.0 * (k + 1)
        r = Reading(t, *rng.uniform([400.0, 15.0, 20.0], [3000.0, 60.0, 90.0]))
        f = Frame(t, rng.uniform(15.0, 300.0, (120, 160)).astype(np.float32))
        p = Frame(t - 1.0, rng.uniform(15.0, 300.0, (120, 160)).astype(np.float32))
        for a, b in zip(with_frames, without, strict=True):
            a.update(RowContext(t, r, f, p, "ok"))
            b.update(RowContext(t, r, None, None, "no_frame"))
            np.testing.assert_array_equal(a.get(), b.get())


def _payload(drop: tuple[str, ...] = (), **change: Any) -> dict[str, Any]:
    """A valid standard18 edge payload (status ok), with ``change`` applied (to its fields or
    its features) and the features ``drop`` left out."""
    features: dict[str, float | None] = dict.fromkeys(edge_names("standard18"), 21.0)
    features |= {"t_diff_mean": None, "t_diff_std": None}
    payload: dict[str, Any] = {"ts": 5.0, "feature_set": "standard18", "feature_version": 1,
                               "status": "ok", "features": features}  # fmt: skip
    for key, value in change.items():
        (payload if key in payload else features)[key] = value
    for key in drop:
        del features[key]
    return payload


def _no_frame(**change: Any) -> dict[str, Any]:
    payload = _payload(status="no_frame", features=dict.fromkeys(edge_names("standard18")))
    payload["features"] |= change
    return payload


@pytest.mark.parametrize(
    ("payload", "reason", "says"),
    [
        (_payload(feature_set="standard19"), "edge_feature_set", "unknown feature set"),
        (_payload(feature_version=2), "edge_feature_set", "version 2"),
        (_payload(status="warming"), "edge_status", "unknown thermal status 'warming'"),
        (_payload(gas_val=420.0), "edge_unknown", "gas_val: not frame-derived"),
        (_payload(t_hot=1.0), "edge_unknown", "t_hot"),
        (_payload(drop=("t_max", "tproxy_vel")), "edge_missing", "lack t_max, tproxy_vel"),
        (_payload(t_max=math.inf), "edge_value", "t_max not finite"),
        (_payload(t_mean=math.nan), "edge_value", "t_mean not finite"),
        (_payload(t_p95=None), "edge_value", "t_p95 null with status 'ok'"),
        (_no_frame(t_mean=21.0), "edge_status", "t_mean must be null"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_bad_edge_values_are_refused_with_their_reason(
    payload: dict[str, Any], reason: str, says: str
) -> None:
    assert edge_row(**_payload()).status == "ok"  # the example is valid before its change
    with pytest.raises(EdgeProblem) as caught:
        edge_row(**payload)
    assert caught.value.reason == reason and says in str(caught.value), str(caught.value)


def test_without_a_usable_frame_every_value_is_null_and_thermal_ok_0() -> None:
    names = edge_names("extended")
    blank = edge_row(5.0, "extended", 5, "stale", dict.fromkeys(names) | {"thermal_ok": 0.0})
    assert names[-1] == "thermal_ok" and blank.values[-1] == 0.0
    assert all(math.isnan(v) for v in blank.values[:-1])
    with pytest.raises(EdgeProblem, match="thermal_ok must be 0.0"):
        edge_row(5.0, "extended", 5, "stale", dict.fromkeys(edge_names("extended")))


def test_an_edge_row_of_another_feature_set_or_time_is_counted_and_the_frames_used() -> None:
    img = np.full((120, 160), 21.0, np.float32)
    device = EdgeThermal("extended")
    device.update_frame(5.0, img)
    other = device.update(Reading(5.0, 420.0, 21.0, 40.0))
    dev = DeviceFeatures("standard18")
    dev.update_frame(5.0, img + 1.0)
    row = dev.update_reading(Reading(5.0, 420.0, 21.0, 40.0), edge=other)
    assert row is not None and row[0] == 22.0 and dict(dev.rejected) == {"edge_feature_set": 1}
    mine = EdgeThermal("standard18")
    mine.update_frame(9.9, img)
    early = mine.update(Reading(9.9, 420.0, 21.0, 40.0))
    dev.update_frame(10.0, img + 2.0)
    row = dev.update_reading(Reading(10.0, 420.0, 21.0, 40.0), edge=early)
    assert row is not None and row[0] == 23.0 and dev.rejected["edge_feature_set"] == 2
