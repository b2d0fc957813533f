"""Ingest: durable before acknowledged, the same rows as the offline fold whatever the order
messages arrive in, duplicates dropped, bad messages dead-lettered and counted, streams rebuilt
after a restart."""

from __future__ import annotations

import base64
import json
import math
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from helpers import OfflineFeatures


def _num(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def device_stream(dataset: Path, scenario: int = 0) -> tuple[str, str, pd.DataFrame, pd.DataFrame]:
    """(scenario_id, device_id, readings, frames) of the first device of a scenario, frames
    limited to those the stream uses (the latest at or before t and t - 1 s)."""
    readings = pq.read_table(dataset / "readings").to_pandas()
    frames = pq.read_table(dataset / "frames").to_pandas()
    sid = sorted(readings["scenario_id"].unique())[scenario]
    dev = sorted(readings.loc[readings["scenario_id"] == sid, "device_id"].unique())[0]
    mine = readings[(readings["scenario_id"] == sid) & (readings["device_id"] == dev)]
    shots = frames[(frames["scenario_id"] == sid) & (frames["device_id"] == dev)].sort_values("t_s")
    t_frames = shots["t_s"].to_numpy()
    used: set[int] = set()
    for t in mine["t_s"]:
        for at in (t, t - 1.0):
            k = int(np.searchsorted(t_frames, at + 1e-6, side="right")) - 1
            if k >= 0:
                used.add(k)
    return sid, dev, mine.sort_values("t_s"), shots.iloc[sorted(used)]


def reading_payload(r: Any) -> bytes:
    return json.dumps(
        {
            "ts": float(r.t_s),
            "co2_ppm": _num(r.co2_ppm),
            "temperature_c": _num(r.temperature_c),
            "humidity_pct": _num(r.humidity_pct),
        }  # fmt: skip
    ).encode()


def frame_payload(f: Any) -> bytes:
    return json.dumps(
        {
            "ts": float(f.t_s),
            "ffc": bool(f.ffc),
            "gain": str(f.gain),
            "data": base64.b64encode(f.frame).decode(),
        }  # fmt: skip
    ).encode()


@pytest.fixture
def service_state(service_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A started service state (no HTTP): model loaded, ingest running, readings wait up to a
    minute for their frames."""
    from embercast.config import get_settings
    from embercast.service.state import ServiceState

    monkeypatch.setenv("EMBERCAST_SERVICE_READING_WAIT_S", "60")
    get_settings.cache_clear()
    state = ServiceState.open(get_settings())
    assert state.refresh_model()
    state.ingest.start()
    yield state
    state.ingest.stop()
    state.db.close()


def _rows_seen(monkeypatch: pytest.MonkeyPatch) -> list[tuple[float, ...]]:
    """Every feature row the device streams make, in order."""
    from embercast.features.stream import DeviceFeatures

    seen: list[tuple[float, ...]] = []
    original = DeviceFeatures.update_reading

    def spy(self: DeviceFeatures, reading: Any) -> tuple[float, ...] | None:
        row = original(self, reading)
        if row is not None:
            seen.append(row)
        return row

    monkeypatch.setattr(DeviceFeatures, "update_reading", spy)
    return seen


@pytest.mark.parametrize("order", ["frames_first", "readings_first"])
def test_ingested_streams_give_the_offline_rows_in_either_order(
    service_state: Any,
    frames_dataset: Path,
    offline_features: OfflineFeatures,
    monkeypatch: pytest.MonkeyPatch,
    order: str,
) -> None:
    from embercast.features.sets import feature_names

    _, location = offline_features("extended")
    offline = pq.read_table(location / "features").to_pandas()
    sid, dev, readings, frames = device_stream(frames_dataset)
    readings, frames = readings.head(40), frames[frames["t_s"] <= readings["t_s"].iloc[39]]
    service_state.devices.register(dev, name="kitchen sensor", zone="kitchen")
    seen = _rows_seen(monkeypatch)
    ingest = service_state.ingest
    events = [("thermal", f.t_s, frame_payload(f)) for f in frames.itertuples()]
    events += [("scd41", r.t_s, reading_payload(r)) for r in readings.itertuples()]
    if order == "frames_first":  # each reading after its frames (a frame at t before it)
        events.sort(key=lambda e: (e[1], e[0] != "thermal"))
    else:  # every reading before any frame
        events.sort(key=lambda e: (e[0] != "scd41", e[1]))
    results = [ingest.submit("mqtt", dev, kind, payload) for kind, _, payload in events]
    for result in results:
        result.stored.result(timeout=30)
        assert result.reason is None and result.accepted == 1
    ingest.stop()
    names = list(feature_names("extended"))
    want = offline[(offline["scenario_id"] == sid) & (offline["device_id"] == dev)]
    want = want.sort_values("t_s").head(len(readings))[names].to_numpy()
    got = np.array(seen)
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)  # bit for bit, NaN where NaN
    history = service_state.hub.history(dev)
    assert [p.t_s for p in history] == readings["t_s"].tolist()
    assert ingest.counts == {"stored": len(events)}


@pytest.mark.parametrize("threads", [1, 2])
def test_many_readings_folded_at_once_are_scored_in_one_call_as_one_at_a_time(
    service_state: Any, frames_dataset: Path, monkeypatch: pytest.MonkeyPatch, threads: int
) -> None:
    """The hub makes the rows of every ready reading of every device (devices with frames side
    by side on its fold threads), scores them in one model call, then decides each device's in
    order: the predictions of one reading at a time."""
    from embercast.service.device_stream import DeviceStream
    from embercast.service.hub import StreamHub
    from embercast.service.live_model import LiveModel
    from embercast.service.messages import parse

    model = service_state.models.current
    messages, want = [], {}
    for scenario in range(3):  # a flaming fire, a sensor fault, hot machinery
        _, dev, readings, frames = device_stream(frames_dataset, scenario)
        dev = f"{dev}-{scenario}"
        one = DeviceStream(model, dev)
        events = [("thermal", f.t_s, frame_payload(f)) for f in frames.itertuples()]
        rows = list(readings.itertuples())
        if scenario == 1:  # its SCD41 reads 0 ppm from half-way: in FAULT from then on
            rows = rows[: len(rows) // 2] + [
                r._replace(co2_ppm=0.0) for r in rows[len(rows) // 2 :]
            ]
        events += [("scd41", r.t_s, reading_payload(r)) for r in rows]
        events.sort(key=lambda e: (e[1], e[0] != "thermal"))
        found = []
        for kind, _, payload in events:
            (m,) = parse(dev, kind, payload, 0.0)
            messages.append(m)
            if kind == "thermal":
                one.update_frame(m.ts, m.frame, m.ffc)
            else:
                found.append(one.update(m.reading))
        want[dev] = found
    assert any(p.sensor_fault for ps in want.values() for p in ps)
    assert any(p.alarm for ps in want.values() for p in ps)
    calls: list[int] = []
    score = LiveModel.score

    def counted(self: LiveModel, X: Any) -> Any:
        calls.append(len(X))
        return score(self, X)

    monkeypatch.setattr(LiveModel, "score", counted)
    folded_on: set[str] = set()
    update_frame = DeviceStream.update_frame

    def on_thread(self: DeviceStream, *args: Any) -> bool:
        folded_on.add(threading.current_thread().name.split("_")[0])
        return update_frame(self, *args)

    monkeypatch.setattr(DeviceStream, "update_frame", on_thread)
    hub = StreamHub(lambda: model, threads=threads)
    got = hub.add(messages, force=True)
    assert folded_on == ({"MainThread"} if threads == 1 else {"fold"})
    assert calls == [sum(len(w) for w in want.values())]  # every reading in one call
    assert len(got) == calls[0]
    for dev, found in want.items():
        assert hub.history(dev) == found  # p, risk, alarm, heat, fault, camera: all the same


def test_messages_that_cannot_be_stored_are_refused_and_taken_when_sent_again(
    served: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk: the group commit fails, every message of the group is refused (503, no
    acknowledgement), and the same messages sent again are stored, not dropped as duplicates."""
    from embercast.service import ingest_log

    client, operate = served.client, served.auth("operate")
    made = client.post("/v1/devices", headers=served.auth("admin"),
                       json={"device_id": "hall-1", "zone": "hall"})  # fmt: skip
    assert made.status_code == 201, made.text
    write = ingest_log.write_table_atomic
    failing = [True]

    def full_disk(*args: Any, **kwargs: Any) -> None:
        if failing[0]:
            raise OSError(28, "No space left on device")
        write(*args, **kwargs)

    monkeypatch.setattr(ingest_log, "write_table_atomic", full_disk)
    readings = [{"ts": 1000.0 + 5 * i, "co2_ppm": 600.0 + i} for i in range(3)]
    url = "/v1/ingest/hall-1/scd41"
    for body in readings:
        refused = client.post(url, headers=operate, json=body)
        assert refused.status_code == 503, refused.text
        assert "could not be stored (" in refused.json()["detail"]
        assert "No space left on device" in refused.json()["detail"]
    failing[0] = False
    for body in readings:
        again = client.post(url, headers=operate, json=body)
        assert again.status_code == 202, again.text
        assert again.json() == {"accepted": 1, "duplicates": 0, "rejected": None}
    log = client.app.state.service.ingest.log  # type: ignore[attr-defined]
    assert log.read("scd41")["ts"].to_pylist() == [r["ts"] for r in readings]


def test_the_appends_of_one_group_commit_complete_together(tmp_path: Path) -> None:
    from embercast.features.base import Reading
    from embercast.service.ingest_log import IngestLog
    from embercast.service.messages import Message

    def reading(t: float) -> list[Message]:
        return [Message("d1", "scd41", t, t, reading=Reading(t, 500.0, 21.0, 40.0))]

    log = IngestLog(str(tmp_path / "ingest"), flush_s=0.5)
    first, second = log.append(reading(5.0)), log.append(reading(10.0))
    assert first is second  # one future for the group: no lock and condition per message
    first.result(10)
    third = log.append(reading(15.0))
    assert third is not first
    third.result(10)
    log.close()
    assert log.read("scd41")["ts"].to_pylist() == [5.0, 10.0, 15.0]
    assert len(log.parts("scd41")) == 2


def test_duplicates_bad_messages_and_unknown_devices_are_counted(
    service_state: Any, frames_dataset: Path
) -> None:
    _, dev, readings, frames = device_stream(frames_dataset)
    service_state.devices.register(dev, name="hall", zone="hall")
    ingest = service_state.ingest
    first = readings.iloc[0]
    good = reading_payload(first)
    sent = [
        (dev, "scd41", good),
        (dev, "scd41", good),  # a duplicate (same device, same time)
        (dev, "scd41", b"{not json"),
        (dev, "scd41", json.dumps({"ts": 1.0, "co2_ppm": "high"}).encode()),
        (
            dev,
            "thermal",
            json.dumps({"ts": 2.0, "data": base64.b64encode(b"12").decode()}).encode(),
        ),
        (dev, "scd41", json.dumps({"ts": 3.0, "device_id": "other"}).encode()),
        ("stranger", "scd41", good),
        (dev, "thermal", frame_payload(frames.iloc[0]).replace(b'"ffc"', b'"ffc_"')),
    ]
    results = [ingest.submit("http", d, k, p) for d, k, p in sent]
    for r in results:
        r.stored.result(timeout=30)
    reasons = [r.reason for r in results]
    assert reasons == [None, None, "json", "schema", "frame_size", "device_mismatch",
                       "unknown_device", "schema"]  # fmt: skip
    assert results[1].duplicates == 1 and results[1].accepted == 0
    # a reading older than what the stream has folded is too late to use
    deadline = time.monotonic() + 10  # the fold thread takes stored messages as they come
    while not ingest.hub.history(dev) and time.monotonic() < deadline:
        ingest.hub.flush()
        time.sleep(0.01)
    late = json.dumps({"ts": float(first.t_s) - 5.0, "co2_ppm": 500.0}).encode()
    assert ingest.submit("http", dev, "scd41", late).reason == "reading_order"
    counts = ingest.counts
    assert counts == {"stored": 1, "duplicate": 1, "dead_letter": 7}
    assert sum(counts.values()) == len(sent) + 1  # every message sent is counted once
    letters = ingest.dead_letters()
    assert [d["reason"] for d in letters][:2] == ["reading_order", "schema"]
    assert {d["reason"] for d in letters} == {"json", "schema", "frame_size", "device_mismatch",
                                              "unknown_device", "reading_order"}  # fmt: skip
    assert all(d["bytes"] > 0 for d in letters)
    assert ingest.log.read("scd41").num_rows == 1  # stored once


def test_a_restart_rebuilds_each_stream_from_what_was_stored(
    service_env: Path, frames_dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from embercast.config import get_settings
    from embercast.service.state import ServiceState

    monkeypatch.setenv("EMBERCAST_SERVICE_READING_WAIT_S", "60")
    get_settings.cache_clear()
    _, dev, readings, frames = device_stream(frames_dataset)
    readings = readings.head(60)
    events = [("thermal", f.t_s, frame_payload(f)) for f in frames.itertuples()
              if f.t_s <= readings["t_s"].iloc[-1]]  # fmt: skip
    events += [("scd41", r.t_s, reading_payload(r)) for r in readings.itertuples()]
    events.sort(key=lambda e: (e[1], e[0] != "thermal"))
    half = next(
        i for i, e in enumerate(events) if e[0] == "scd41" and e[1] >= readings["t_s"].iloc[30]
    )

    def run(parts: list[list[tuple[str, float, bytes]]], home: str) -> list[float]:
        monkeypatch.setenv("EMBERCAST_SERVICE_HOME", home)
        get_settings.cache_clear()
        out: list[float] = []
        for part in parts:
            state = ServiceState.open(get_settings())
            state.refresh_model()
            state.ingest.start()
            if not state.devices.list():
                state.devices.register(dev, name="lab", zone="lab")
            for kind, _, payload in part:
                state.ingest.submit("mqtt", dev, kind, payload).stored.result(timeout=30)
            state.ingest.stop()
            out = [p.p_fire for p in state.hub.history(dev)]
            state.db.close()
        return out

    whole = run([events], str(service_env / "once"))
    restarted = run([events[:half], events[half:]], str(service_env / "twice"))
    assert len(whole) == len(readings) and restarted == whole


def test_store_prune_deletes_whole_days_past_the_retention(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time as clock

    from embercast.features.base import Reading
    from embercast.service.ingest_log import IngestLog
    from embercast.service.messages import Message
    from helpers import invoke

    home = tmp_path / "svc"
    monkeypatch.setenv("EMBERCAST_SERVICE_HOME", str(home))
    log = IngestLog(str(home / "ingest"), flush_s=0.0)
    log.append(
        [Message("d1", "scd41", 5.0, clock.time(), reading=Reading(5.0, 500, 21, 40))]
    ).result(10)
    log.close()
    old = home / "ingest" / "readings" / "day=2020-01-01"
    shutil.copytree(next((home / "ingest" / "readings").iterdir()), old)
    assert IngestLog(str(home / "ingest")).read("scd41").num_rows == 2
    result = invoke("store", "prune", "--older-than-days", "30", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["deleted"] == ["readings/day=2020-01-01"]
    assert not old.exists() and IngestLog(str(home / "ingest")).read("scd41").num_rows == 1


def test_a_restart_reads_the_recent_parts_only_and_drops_devices_silent_past_the_window(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import embercast.service.ingest_log as ingest_log
    from embercast.features.base import Reading
    from embercast.service.ingest_log import IngestLog
    from embercast.service.messages import Message

    window, now = 3600.0, time.time()
    root = tmp_path / "ingest"
    heard = {"old": now - 3 * 86400.0, "quiet": now - 1.5 * window, "live": now}
    parts: dict[str, Path] = {}
    for device, received in heard.items():  # each device's readings in a part of its own
        log = IngestLog(str(root), flush_s=0.0)
        log.append([Message(device, "scd41", received - k, received, reading=Reading(
            received - k, 500.0, 21.0, 40.0)) for k in (20.0, 10.0, 0.0)]).result(10)  # fmt: skip
        log.close()
        (part,) = set(root.rglob("*.parquet")) - set(parts.values())
        moved = root / "readings" / ingest_log.part_name(int(received * 1e9), 1)  # written then
        moved.parent.mkdir(exist_ok=True)
        parts[device] = part.rename(moved)

    opened: list[str] = []
    read_table = pq.read_table

    def counted(path: str, **kw: Any) -> Any:
        opened.append(str(path))
        return read_table(path, **kw)

    monkeypatch.setattr(ingest_log.pq, "read_table", counted)
    log = IngestLog(str(root))
    try:
        replayed = list(log.replay(window))
        # the parts within twice the window of the newest are read; "quiet" was heard 1.5
        # windows before the newest, so it starts anew; "old" is not even opened
        assert {m.device_id for m in replayed} == {"live"} and len(replayed) == 3
        assert sorted(opened) == sorted(str(parts[d]) for d in ("quiet", "live"))
        assert sorted(log.recent("scd41", window)["device_id"].to_pylist()) == ["live"] * 3
        assert log.read("scd41").num_rows == 9  # the whole log is still there to read
    finally:
        log.close()


def test_the_co2_path_alarms_live_where_it_alarms_offline(
    service_state: Any, frames_dataset: Path, offline_features: OfflineFeatures
) -> None:
    """A device stream's decision reads the CO2 and its rate that evaluation's reads: with a
    CO2 path at the model's operating point, the fire's device without its camera alarms at
    the same reading; with its camera, the path is off (p alone decides)."""
    from dataclasses import replace

    from embercast.evaluation.metrics import outcomes
    from embercast.evaluation.sensor_supervision import apply_sensor_supervision
    from embercast.features.sets import feature_names
    from embercast.models.augment import without_camera
    from embercast.service.device_stream import DeviceStream
    from embercast.service.messages import parse

    base = service_state.models.current
    sid, dev, readings, frames = device_stream(frames_dataset)  # the flaming fire
    _, location = offline_features("extended")
    table = pq.read_table(location / "features").to_pandas()
    rows = table[(table["scenario_id"] == sid) & (table["device_id"] == dev)].sort_values("t_s")
    rows, _ = apply_sensor_supervision(rows)
    quiet = replace(base.params, threshold=1.0, delay_on_s=600.0)  # the p path stays off
    level = float(np.nanquantile(rows["gas_val"], 0.9))  # the fire's CO2 passes it
    co2 = replace(quiet, co2_gate=0.0, co2_level_ppm=level, co2_rate_ppm_s=1e6)
    facts = {sid: ("flaming_fire", True, 0.0)}  # detect_s: the first alarm
    seen = [("thermal", f.t_s, frame_payload(f)) for f in frames.itertuples()]
    blind = [("scd41", r.t_s, reading_payload(r)) for r in readings.itertuples()]
    events = sorted(seen + blind, key=lambda e: (e[1], e[0] != "thermal"))
    no_camera = without_camera(rows, list(feature_names("extended")))
    for params, stream_of, table_of, alarms in (
        (quiet, blind, no_camera, False), (co2, blind, no_camera, True), (co2, events, rows, False)
    ):  # fmt: skip
        p = base.score(table_of[list(base.features)].to_numpy())
        (offline,) = outcomes(table_of, p, facts, params)
        stream = DeviceStream(replace(base, params=params), dev)
        first = None
        for kind, _, payload in stream_of:
            (m,) = parse(dev, kind, payload, 0.0)
            if kind == "thermal":
                stream.update_frame(m.ts, m.frame, m.ffc)
                continue
            found = stream.update(m.reading)
            if found is not None and found.alarm and first is None:
                first = found.t_s
                assert found.co2_ppm >= level or not alarms
        assert first == offline.detect_s and (first is not None) == alarms
