"""The readings topic: stored messages to fold workers and back, and a fold worker's stream
equal to the offline fold."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from test_ingest import _rows_seen, device_stream, frame_payload, reading_payload

from helpers import OfflineFeatures


def test_stored_messages_travel_the_bus_unchanged(tmp_path: Path) -> None:
    from embercast.bus import open_bus
    from embercast.bus.partitions import partition_of, partition_topic
    from embercast.errors import InputError
    from embercast.features.base import Reading
    from embercast.features.edge import edge_names, edge_row
    from embercast.service.fold_topic import message_of, payload_of, publish_stored
    from embercast.service.messages import Message

    rng = np.random.default_rng(3)
    frame = rng.integers(27_000, 40_000, (120, 160)).astype(np.uint16)
    values: dict[str, float | None] = dict.fromkeys(edge_names("standard18"), 21.25)
    values |= {"t_diff_mean": None, "t_diff_std": None}
    sent = [
        Message("d1", "scd41", 5.0, 100.5, reading=Reading(5.0, 612.5, math.nan, 41.0)),
        Message("d1", "thermal", 5.0, 100.6, frame=frame, ffc=True, gain="low"),
        Message("d2", "edge", 10.0, 101.0, edge=edge_row(10.0, "standard18", 1, "ok", values)),
    ]
    got = [message_of(payload_of(m, "kitchen")) for m in sent]
    r = got[0].reading
    assert r is not None and (r.t_s, r.co2_ppm, r.humidity_pct) == (5.0, 612.5, 41.0)
    assert math.isnan(r.temperature_c) and (got[0].kind, got[0].received_s) == ("scd41", 100.5)
    np.testing.assert_array_equal(got[1].frame, frame)  # type: ignore[arg-type]
    assert (got[1].ffc, got[1].gain, got[1].ts) == (True, "low", 5.0)
    assert got[2].edge is not None and sent[2].edge is not None
    assert got[2].edge.names == sent[2].edge.names
    np.testing.assert_array_equal(got[2].edge.values, sent[2].edge.values)  # NaN where NaN
    with pytest.raises(InputError, match="readings message cannot be read"):
        message_of({"device_id": "d1", "kind": "thermal", "ts": 1.0, "received_s": 2.0,
                    "frame": "bm90IGEgZnJhbWU=", "ffc": False, "gain": "high"})  # fmt: skip
    with pytest.raises(InputError, match="unknown kind 'smoke'"):
        message_of({"device_id": "d1", "kind": "smoke", "ts": 1.0, "received_s": 2.0})

    with open_bus(str(tmp_path / "bus.sqlite")) as bus:
        assert publish_stored(bus, sent + sent, lambda d: "kitchen", 4) == 6
        for device in ("d1", "d2"):
            topic = partition_topic("readings", partition_of(device, 4))
            taken = bus.receive(topic, "fold", "w", limit=100)
            assert {d.message.key for d in taken} == {device}  # its partition holds it alone
            ids = [d.message.message_id for d in taken]
            assert len(ids) == len(set(ids)) == (2 if device == "d1" else 1)  # published once


@pytest.fixture
def bus_state(service_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A started service state (no HTTP) whose devices fold workers fold."""
    from embercast.config import get_settings
    from embercast.service.state import ServiceState

    monkeypatch.setenv("EMBERCAST_SERVICE_FOLD_IN_SERVICE", "false")
    monkeypatch.setenv("EMBERCAST_SERVICE_READING_WAIT_S", "60")
    get_settings.cache_clear()
    state = ServiceState.open(get_settings())
    assert state.refresh_model()
    state.ingest.start()
    yield state
    state.ingest.stop()
    state.db.close()


def test_a_fold_worker_folds_what_the_service_stored_as_the_service_would(
    bus_state: Any,
    frames_dataset: Path,
    offline_features: OfflineFeatures,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from embercast.agents.zones import RISK_TOPIC
    from embercast.config import get_settings
    from embercast.features.sets import feature_names
    from embercast.service.fold_worker import FoldWorker
    from embercast.service.ingest_log import IngestLog
    from embercast.service.live_model import ModelHolder
    from embercast.service.risk_feed import RiskView, prediction_of
    from embercast.service.state import stream_hub

    settings = get_settings()
    _, location = offline_features("extended")
    offline = pq.read_table(location / "features").to_pandas()
    sid, dev, readings, frames = device_stream(frames_dataset)
    readings, frames = readings.head(40), frames[frames["t_s"] <= readings["t_s"].iloc[39]]
    bus_state.devices.register(dev, name="kitchen sensor", zone="kitchen")
    seen = _rows_seen(monkeypatch)
    bus = bus_state.bus
    models = ModelHolder(settings.model_ref)
    log = IngestLog(str(Path(settings.service_home) / "ingest"))
    worker = FoldWorker(bus, stream_hub(settings, models), models, log, "w1",
                        settings.bus_partitions, idle_s=0.01)  # fmt: skip
    stop = threading.Event()
    view = RiskView(bus, bus_state.hub.mirror)
    threads = [threading.Thread(target=loop, args=(stop,)) for loop in (worker.run, view.run)]
    for t in threads:
        t.start()  # the worker takes the partitions, nothing to rebuild yet
    events = [("thermal", f.t_s, frame_payload(f)) for f in frames.itertuples()]
    events += [("scd41", r.t_s, reading_payload(r)) for r in readings.itertuples()]
    events.sort(key=lambda e: (e[0] != "scd41", e[1]))  # every reading before any frame
    try:
        deadline = time.monotonic() + 60
        while len(worker.held) < settings.bus_partitions and time.monotonic() < deadline:
            time.sleep(0.02)
        results = [bus_state.ingest.submit("http", dev, kind, p) for kind, _, p in events]
        for result in results:
            result.stored.result(timeout=30)  # acknowledged: stored and on the bus
            assert result.reason is None and result.accepted == 1
        deadline = time.monotonic() + 60
        while len(bus_state.hub.history(dev)) < len(readings) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
        log.close()
    assert bus_state.hub.folded_until(dev) == -math.inf  # the service folded nothing itself
    assert bus_state.hub.last_reading(dev).ts == readings["t_s"].max()  # the dashboard's view
    names = list(feature_names("extended"))
    want = offline[(offline["scenario_id"] == sid) & (offline["device_id"] == dev)]
    want = want.sort_values("t_s").head(len(readings))[names].to_numpy()
    np.testing.assert_array_equal(np.array(seen), want)  # the worker's rows, bit for bit
    mirrored = bus_state.hub.history(dev)
    assert [p.t_s for p in mirrored] == readings["t_s"].tolist()
    made = worker.hub.history(dev)
    assert mirrored == made  # the service's view is what the worker predicted
    np.testing.assert_array_equal([p.inputs for p in mirrored], [p.inputs for p in made])
    assert (worker.counts["folded"], worker.counts["duplicate"]) == (len(events), 0)  # as it came
    taken = bus.receive(RISK_TOPIC, "check", "c", limit=1000)
    assert sorted(prediction_of(d.message.payload).t_s for d in taken) == [p.t_s for p in made]
    assert {d.message.payload["zone"] for d in taken} == {"kitchen"}
    stats = {(s.topic, s.group): s for s in bus.stats()}
    waiting = sum(s.waiting + s.leased for (t, g), s in stats.items() if g == "fold")
    assert waiting == 0  # every stored message acknowledged by the worker


def _reading(t: float) -> bytes:
    return f'{{"ts": {t}, "co2_ppm": 600, "temperature_c": 21.0, "humidity_pct": 40}}'.encode()


def test_what_the_bus_refused_is_not_acknowledged_and_is_taken_when_sent_again(
    bus_state: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from embercast.bus.base import BusError

    bus_state.devices.register("hall-1", zone="hall")
    ingest = bus_state.ingest
    publish = ingest.publish

    def refused(messages: Any) -> int:
        raise BusError("the bus's file is locked")

    monkeypatch.setattr(ingest, "publish", refused)
    first = ingest.submit("http", "hall-1", "scd41", _reading(5.0))
    with pytest.raises(BusError, match="locked"):
        first.stored.result(timeout=30)  # stored in the log, but not handed over: no ack
    monkeypatch.setattr(ingest, "publish", publish)
    again = ingest.submit("http", "hall-1", "scd41", _reading(5.0))
    again.stored.result(timeout=30)
    assert (again.accepted, again.duplicates) == (1, 0)  # taken, not a duplicate
    taken = [d for p in range(16) for d in bus_state.bus.receive(f"readings.p{p}", "fold", "w")]
    assert [d.message.message_id for d in taken] == ["hall-1:scd41:5.0"]


def test_a_restart_publishes_again_what_came_in_the_last_minute(
    service_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from embercast.bus import open_bus
    from embercast.config import get_settings
    from embercast.service.state import ServiceState

    monkeypatch.setenv("EMBERCAST_SERVICE_FOLD_IN_SERVICE", "false")
    get_settings.cache_clear()
    state = ServiceState.open(get_settings())
    assert state.refresh_model()
    state.ingest.start()
    state.devices.register("hall-1", zone="hall")
    for t in (5.0, 10.0, 15.0):
        state.ingest.submit("http", "hall-1", "scd41", _reading(t)).stored.result(timeout=30)
    state.ingest.stop()
    state.bus.close()
    state.db.close()
    (service_env / "bus.sqlite").unlink()  # as if the service died before publishing them
    state = ServiceState.open(get_settings())
    assert state.refresh_model()
    state.ingest.start()
    try:
        with open_bus(str(service_env / "bus.sqlite")) as bus:
            taken = [d for p in range(16) for d in bus.receive(f"readings.p{p}", "fold", "w")]
        assert sorted(d.message.payload["ts"] for d in taken) == [5.0, 10.0, 15.0]
        resent = state.ingest.submit("http", "hall-1", "scd41", _reading(15.0))
        assert resent.duplicates == 1  # the log's messages are known after the restart
    finally:
        state.ingest.stop()
        state.db.close()


def test_a_restarted_service_puts_the_workers_last_predictions_back_in_its_history(
    bus_state: Any,
) -> None:
    from embercast.agents.zones import RISK_TOPIC
    from embercast.config import get_settings
    from embercast.service.device_stream import Prediction
    from embercast.service.live_model import ModelHolder
    from embercast.service.risk_feed import RiskFeed, RiskView
    from embercast.service.state import stream_hub

    bus = bus_state.bus
    feed = RiskFeed(bus, lambda _: "kitchen")  # what fold workers published
    made = [Prediction(5.0 * k, 0.1 * k, "none", k >= 9, k == 9, None, False, "ok", (1.0, 2.0))
            for k in range(1, 11)]  # fmt: skip
    for p in made:
        feed.update("d1", p)
    feed.flush()
    seen = bus.receive(RISK_TOPIC, RiskView.GROUP, "service", limit=8)
    assert bus.ack_many(seen) == 8  # the service's last life took eight of them
    settings = get_settings()
    models = ModelHolder(settings.model_ref)
    assert models.refresh()
    hub = stream_hub(settings, models)  # the service started again
    sunk: list[float] = []
    hub.sink = lambda device, p: sunk.append(p.t_s)
    view = RiskView(bus, hub.mirror, hub.restore, history_s=3600.0)
    stop = threading.Event()
    thread = threading.Thread(target=view.run, args=(stop,))
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while len(sunk) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)  # nothing more comes
    finally:
        stop.set()
        thread.join(timeout=30)
    assert view.restored == 10
    assert hub.history("d1") == made  # the dashboard's chart, as before the restart
    assert sunk == [45.0, 50.0]  # the two never taken reach the alarms, once; the rest do not
    assert hub.latest("d1") == made[-1]
    assert not hub.mirror("d1", made[-1])  # a redelivery changes nothing
    late = RiskView(bus, hub.mirror, hub.restore, history_s=0.0)
    assert late.restored == 0 and list(bus.read(RISK_TOPIC, time.time() + 60)) == []
