"""Edge rows on the ``thermal`` topic (thermal features computed on the device instead of raw
frames): the service gives the feature rows, probabilities and alarm decisions it gives for the
raw frames, bit for bit, whatever the order messages arrive in and across a restart; the edge
rows are stored in their own dataset; bad edge payloads are dead-lettered with their reason;
``POST /v1/predict`` takes edge rows too."""

from __future__ import annotations

import base64
import json
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from embercast.features.base import Reading
from embercast.features.edge import EdgeThermal
from embercast.features.sets import feature_names
from helpers import OfflineFeatures


def _num(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def device(dataset: Path, scenario_class: str) -> tuple[str, str, pd.DataFrame, pd.DataFrame]:
    """(scenario_id, device_id, readings, frames) of the first device of the dataset's scenario
    of ``scenario_class``, by time."""
    scenarios = pq.read_table(dataset / "scenarios.parquet").to_pandas()
    sid = str(scenarios.loc[scenarios.scenario_class == scenario_class, "scenario_id"].iloc[0])
    readings = pq.read_table(dataset / "readings").to_pandas()
    readings = readings[readings.scenario_id == sid]
    dev = str(sorted(readings.device_id.unique())[0])
    frames = pq.read_table(dataset / "frames").to_pandas()
    frames = frames[(frames.scenario_id == sid) & (frames.device_id == dev)]
    return (
        sid,
        dev,
        readings[readings.device_id == dev].sort_values("t_s"),
        frames.sort_values("t_s"),
    )


def events(readings: pd.DataFrame, frames: pd.DataFrame) -> list[tuple[float, int, Any]]:
    """Frames (kind 0) and readings (1) by time, a frame first at the same instant."""
    out: list[tuple[float, int, Any]] = [(f.t_s, 0, f) for f in frames.itertuples()]
    out += [(r.t_s, 1, r) for r in readings.itertuples()]
    return sorted(out, key=lambda e: (e[0], e[1]))


def reading(r: Any) -> Reading:
    return Reading(float(r.t_s), r.co2_ppm, r.temperature_c, r.humidity_pct)


def pixels(f: Any) -> np.ndarray:
    return np.frombuffer(f.frame, "<u2").reshape(120, 160)


def reading_payload(r: Any) -> bytes:
    values = {
        "co2_ppm": r.co2_ppm,
        "temperature_c": r.temperature_c,
        "humidity_pct": r.humidity_pct,
    }
    return json.dumps({"ts": float(r.t_s)} | {k: _num(v) for k, v in values.items()}).encode()


def frame_payload(f: Any) -> bytes:
    data = base64.b64encode(f.frame).decode()
    return json.dumps(
        {"ts": float(f.t_s), "ffc": bool(f.ffc), "gain": f.gain, "data": data}
    ).encode()


def edge_payloads(feature_set: str, readings: pd.DataFrame, frames: pd.DataFrame) -> list[bytes]:
    """What the device sends on its ``thermal`` topic instead of frames: the JSON of its
    EdgeThermal's row at each reading."""
    edge = EdgeThermal(feature_set)
    sent = []
    for _, kind, e in events(readings, frames):
        if kind == 0:
            assert edge.update_frame(e.t_s, pixels(e), bool(e.ffc))
        else:
            row = edge.update(reading(e))
            assert row is not None
            sent.append(json.dumps(row.payload()).encode())
    return sent


def from_frames(model: Any, dev: str, readings: pd.DataFrame, frames: pd.DataFrame) -> list[Any]:
    """The predictions of the device's stream sent raw frames and readings."""
    from embercast.service.device_stream import DeviceStream

    stream = DeviceStream(model, dev)
    out = []
    for t, kind, e in events(readings, frames):
        if kind == 0:
            stream.update_frame(t, pixels(e), bool(e.ffc))
        else:
            out.append(stream.update(reading(e)))
    return out


def arrival(
    readings: pd.DataFrame, edges: list[bytes], order: str
) -> list[tuple[str, float, bytes]]:
    """(kind, ts, payload) of the readings and edge rows in arrival ``order``: ``edge_first``
    (each reading after its edge row) or ``readings_first`` (every reading before any edge)."""
    sent = [("thermal", float(json.loads(p)["ts"]), p) for p in edges]
    sent += [("scd41", float(r.t_s), reading_payload(r)) for r in readings.itertuples()]
    if order == "edge_first":
        return sorted(sent, key=lambda e: (e[1], e[0] != "thermal"))
    return sorted(sent, key=lambda e: (e[0] != "scd41", e[1]))


class Weighted:
    """A stand-in detector: a fixed logistic function of every feature (NaN as 0), so that any
    change of any feature moves p; hot pixels (t_max) push it over the alarm threshold."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.w = np.linspace(1e-4, 2e-3, len(names))
        self.w[names.index("t_max")] = 0.1

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        p = 1.0 / (1.0 + np.exp(-(np.nan_to_num(X.to_numpy(float)) @ self.w - 7.0)))
        return np.c_[1.0 - p, p]


def stand_in(feature_set: str) -> Any:
    from embercast.alarm.decision import AlarmParams
    from embercast.service.live_model import LiveModel

    names = feature_names(feature_set)
    return LiveModel("stand-in", "stand-in", None, Weighted(names), AlarmParams(), names,  # type: ignore[arg-type]
                     feature_set, 0.0)  # fmt: skip


@pytest.mark.parametrize("order", ["edge_first", "readings_first"])
@pytest.mark.parametrize("feature_set", ["standard18", "extended"])
def test_the_hub_gives_the_predictions_of_the_frames_from_edge_rows(
    frames_dataset: Path, feature_set: str, order: str
) -> None:
    from embercast.service.hub import StreamHub
    from embercast.service.messages import parse

    model = stand_in(feature_set)
    hub = StreamHub(lambda: model, wait_s=60.0)
    alarms = 0
    for scenario_class in ("hot_machinery", "flaming_fire"):
        _, dev, readings, frames = device(frames_dataset, scenario_class)
        want = from_frames(model, dev, readings, frames)
        for kind, _, payload in arrival(
            readings, edge_payloads(feature_set, readings, frames), order
        ):
            (message,) = parse(dev, kind, payload, 0.0)
            assert hub.admit(message) is None
            hub.add([message], now=0.0)
        assert hub.waiting() == 0  # each reading was folded once its edge row was there
        assert hub.history(dev) == want
        alarms += sum(p.onset for p in want)
    assert not hub.rejected
    assert alarms > 0  # the decisions compared include alarms


@pytest.fixture
def service_state(service_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A started service state (no HTTP), readings waiting up to a minute for their thermal
    messages."""
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

    def spy(self: DeviceFeatures, reading: Any, edge: Any = None) -> tuple[float, ...] | None:
        row = original(self, reading, edge)
        if row is not None:
            seen.append(row)
        return row

    monkeypatch.setattr(DeviceFeatures, "update_reading", spy)
    return seen


@pytest.mark.parametrize("order", ["edge_first", "readings_first"])
def test_ingested_edge_rows_give_the_rows_probabilities_and_alarms_of_the_frames(
    service_state: Any,
    frames_dataset: Path,
    offline_features: OfflineFeatures,
    monkeypatch: pytest.MonkeyPatch,
    order: str,
) -> None:
    _, location = offline_features("extended")  # the served model's feature set
    offline = pq.read_table(location / "features").to_pandas()
    sid, dev, readings, frames = device(frames_dataset, "flaming_fire")
    model = service_state.models.current
    assert model.feature_set == "extended"
    want = from_frames(model, dev, readings, frames)
    service_state.devices.register(dev, name="kitchen sensor", zone="kitchen")
    seen = _rows_seen(monkeypatch)
    sent = arrival(readings, edge_payloads("extended", readings, frames), order)
    ingest = service_state.ingest
    results = [ingest.submit("mqtt", dev, kind, payload) for kind, _, payload in sent]
    for result in results:
        result.stored.result(timeout=30)
        assert result.reason is None and result.accepted == 1
    ingest.stop()
    names = list(feature_names("extended"))
    rows = offline[(offline.scenario_id == sid) & (offline.device_id == dev)].sort_values("t_s")
    np.testing.assert_array_equal(np.array(seen), rows[names].to_numpy())  # NaN where NaN
    assert service_state.hub.history(dev) == want
    assert any(p.alarm for p in want)  # the model finds this fire: alarm decisions compared
    assert ingest.counts == {"stored": len(sent)}
    stored = ingest.log.read("edge")
    assert stored.num_rows == len(readings)
    assert (Path(ingest.log.root) / "edge").is_dir()
    assert [p.parent.name[:4] for p in (Path(ingest.log.root) / "edge").rglob("*.parquet")][0] == (
        "day="
    )


def test_a_restart_replays_the_stored_edge_rows(
    service_env: Path, frames_dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from embercast.config import get_settings
    from embercast.service.state import ServiceState

    monkeypatch.setenv("EMBERCAST_SERVICE_READING_WAIT_S", "60")
    _, dev, readings, frames = device(frames_dataset, "hot_machinery")
    sent = arrival(readings, edge_payloads("extended", readings, frames), "edge_first")
    # stop after an edge row: it is stored before the restart, its reading comes after
    half = next(i for i in range(len(sent) // 2, len(sent)) if sent[i - 1][0] == "thermal")
    replayed: list[int] = []

    def run(parts: list[list[tuple[str, float, bytes]]], home: str) -> list[Any]:
        monkeypatch.setenv("EMBERCAST_SERVICE_HOME", home)
        get_settings.cache_clear()
        out: list[Any] = []
        for part in parts:
            state = ServiceState.open(get_settings())
            state.refresh_model()
            replayed.append(state.ingest.start())
            if not state.devices.list():
                state.devices.register(dev, name="lab", zone="lab")
            for kind, _, payload in part:
                state.ingest.submit("mqtt", dev, kind, payload).stored.result(timeout=30)
            state.ingest.stop()
            out = state.hub.history(dev) + [state.models.current]
            state.db.close()
        return out

    *whole, model = run([sent], str(service_env / "once"))
    *restarted, _ = run([sent[:half], sent[half:]], str(service_env / "twice"))
    assert replayed == [0, 0, half]  # the restart replayed every message stored before it
    assert restarted == whole == from_frames(model, dev, readings, frames)


def _edge(readings: pd.DataFrame, frames: pd.DataFrame, i: int = 0) -> dict[str, Any]:
    return json.loads(edge_payloads("extended", readings.head(i + 1), frames)[i])


def test_bad_edge_payloads_are_dead_lettered_with_their_reason(
    service_state: Any, frames_dataset: Path
) -> None:
    _, dev, readings, frames = device(frames_dataset, "hot_machinery")
    service_state.devices.register(dev, name="hall", zone="hall")
    good = _edge(readings, frames)
    assert good["status"] == "ok" and good["features"]["t_diff_mean"] is not None
    standard = json.loads(edge_payloads("standard18", readings.head(1), frames)[0])
    stale = good | {"status": "stale"}

    def changed(**features: Any) -> dict[str, Any]:
        return good | {"features": good["features"] | features}

    missing = good | {"features": {k: v for k, v in good["features"].items() if k != "t_max"}}
    sent: list[tuple[bytes, str]] = [
        (json.dumps(good | {"edge": 2}).encode(), "edge_version"),
        (json.dumps({k: v for k, v in good.items() if k != "edge"}).encode(), "edge_version"),
        (json.dumps(standard).encode(), "edge_feature_set"),
        (json.dumps(good | {"feature_version": 4}).encode(), "edge_feature_set"),
        (json.dumps(changed(gas_val=612.0)).encode(), "edge_unknown"),
        (json.dumps(missing).encode(), "edge_missing"),
        (json.dumps(changed(t_max=math.nan)).encode(), "edge_value"),  # NaN is not JSON
        (json.dumps(changed(t_max=math.inf)).encode(), "edge_value"),
        (json.dumps(changed(t_max=None)).encode(), "edge_value"),
        (json.dumps(stale).encode(), "edge_status"),
        (json.dumps(good | {"status": "warm"}).encode(), "edge_status"),
        (json.dumps(good | {"gain": "high"}).encode(), "schema"),
        (json.dumps(good | {"features": [1.0, 2.0]}).encode(), "schema"),
        (json.dumps(changed(t_max="21.5")).encode(), "schema"),
        (json.dumps(changed(thermal_ok=True)).encode(), "schema"),
        (json.dumps(good).encode(), None),
        (json.dumps(good).encode(), None),  # a duplicate
    ]
    ingest = service_state.ingest
    results = [ingest.submit("http", dev, "thermal", payload) for payload, _ in sent]
    for r in results:
        r.stored.result(timeout=30)
    assert [r.reason for r in results] == [reason for _, reason in sent]
    assert "version 4, but this service computes version 5" in str(results[3].message)
    assert "features of 'standard18', but the served model takes 'extended'" in str(
        results[2].message
    )
    assert "t_max" in str(results[5].message) and "t_max" in str(results[8].message)
    assert results[-1].duplicates == 1
    # an edge row older than what the stream has folded is too late to use
    ingest.submit("http", dev, "scd41", reading_payload(next(readings.itertuples()))).stored.result(
        30
    )
    deadline = time.monotonic() + 30  # stored, then handed to the hub by the ingest's thread
    while ingest.backlog() and time.monotonic() < deadline:
        time.sleep(0.01)
    ingest.hub.flush()
    late = ingest.submit("http", dev, "thermal", json.dumps(good).encode())
    assert late.reason is None and late.duplicates == 1  # the same time: a duplicate
    later = _edge(readings, frames, 1) | {"ts": float(readings.t_s.iloc[0]) - 1.0}
    assert ingest.submit("http", dev, "thermal", json.dumps(later).encode()).reason == "edge_order"
    letters = {d["reason"] for d in ingest.dead_letters()}
    assert letters == {r for _, r in sent if r is not None} | {"edge_order"}
    assert ingest.counts == {"stored": 2, "duplicate": 2, "dead_letter": len(sent) - 2 + 1}
    assert ingest.log.read("edge").num_rows == 1


def test_predict_takes_a_devices_edge_rows(served: Any, frames_dataset: Path) -> None:
    _, dev, readings, frames = device(frames_dataset, "flaming_fire")
    body = {
        "device_id": dev,
        "readings": [json.loads(reading_payload(r)) for r in readings.itertuples()],
        "frames": [json.loads(frame_payload(f)) for f in frames.itertuples()],
    }
    raw = served.client.post("/v1/predict", headers=served.auth(), json={"device": body})
    edges = [json.loads(p) for p in edge_payloads("extended", readings, frames)]
    body = {"device_id": dev, "readings": body["readings"], "edge": edges}
    edge = served.client.post("/v1/predict", headers=served.auth(), json={"device": body})
    assert raw.status_code == edge.status_code == 200, edge.text[:500]
    assert edge.json() == raw.json()
    assert any(p["alarm"] for p in edge.json()["predictions"])
    body["edge"][3]["features"]["hot_flicker"] = "hot"
    bad = served.client.post("/v1/predict", headers=served.auth(), json={"device": body})
    assert bad.status_code == 422 and "hot_flicker" in bad.text
    del body["edge"][3]["features"]["hot_flicker"]
    bad = served.client.post("/v1/predict", headers=served.auth(), json={"device": body})
    assert (
        bad.status_code == 422 and "device.edge[3]" in bad.text and "lack hot_flicker" in bad.text
    )


class _Collect:
    """A transport that keeps what the simulated devices send."""

    def __init__(self) -> None:
        from embercast.service.transports import Tally

        self.tally = Tally()
        self.sent: list[tuple[str, str, bytes]] = []

    def send(self, device_id: str, kind: str, payload: bytes) -> None:
        self.sent.append((device_id, kind, payload))
        self.tally.record(device_id, "acknowledged")


@pytest.mark.parametrize("feature_set", ["standard18", "extended"])
def test_simulated_edge_devices_get_the_predictions_of_frame_devices(
    frames_dataset: Path, feature_set: str
) -> None:
    from embercast.errors import InputError
    from embercast.service import simulator
    from embercast.service.hub import StreamHub
    from embercast.service.messages import parse

    recordings = simulator.load_recordings(frames_dataset, 3)
    model = stand_in(feature_set)
    histories, sizes = [], []
    for edge in (None, feature_set):
        devices = simulator.make_devices(recordings, 3, {}, edge=edge)
        transport = _Collect()
        simulator.run([simulator.plan(d) for d in devices], transport, 1e6, start=1_764_939_600.0)
        hub = StreamHub(lambda: model, wait_s=60.0)
        for device_id, kind, payload in transport.sent:
            (message,) = parse(device_id, kind, payload, 0.0)
            assert hub.admit(message) is None
            hub.add([message], now=0.0)
        hub.flush()  # the last reading waits for a later frame: the stream ends
        histories.append({d.device_id: hub.history(d.device_id) for d in devices})
        sizes.append(max(len(p) for _, kind, p in transport.sent if kind == "thermal"))
    assert histories[0] == histories[1] and sum(map(len, histories[1].values())) == 61 + 33 + 585
    assert sizes[0] > 50_000 > 2_000 > sizes[1]  # a frame in base64 against a row of numbers
    with pytest.raises(InputError, match="invalid feature set 'standard17'"):
        simulator.make_devices(recordings, 3, {}, edge="standard17")
