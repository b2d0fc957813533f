"""MQTT ingest through a real Mosquitto: acknowledged only once stored, nothing lost when the
service is killed (SIGKILL) or the broker restarts, a device confined to its own topics, bad
messages dead-lettered without stopping the stream, and the service's availability topic."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest

from components import Mosquitto, serve
from helpers import free_port

DEVICES = ["lab-1", "lab-2"]


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    b = Mosquitto(tmp_path / "broker", DEVICES)
    b.start()
    yield b
    b.stop()


def _client(broker: Mosquitto, user: str, client_id: str | None = None) -> mqtt.Client:
    from embercast.service.mqtt import BrokerAddress, make_client

    client = make_client(BrokerAddress.parse(broker.url(user)), client_id or f"test-{user}",
                         persistent=False)  # fmt: skip
    client.connect(broker_host := "127.0.0.1", broker.port)
    assert broker_host
    client.loop_start()
    return client


def _register(home: Path) -> str:
    from embercast.service.db import DB_FILE, ServiceDB
    from embercast.service.devices import DeviceStore
    from embercast.service.keys import KeyStore

    db = ServiceDB(str(home / DB_FILE))
    for d in DEVICES:
        DeviceStore(db).register(d, name=d, zone="lab")
    key = KeyStore(db).create("test", "admin")[1]
    db.close()
    return key


def _stored(home: Path) -> list[tuple[str, float]]:
    from embercast.service.ingest_log import IngestLog

    table = IngestLog(str(home / "ingest")).read("scd41")
    return list(zip(table["device_id"].to_pylist(), table["ts"].to_pylist(), strict=True))


def _reading(i: int) -> bytes:
    return json.dumps({"ts": 100.0 + 5 * i, "co2_ppm": 500.0 + i, "temperature_c": 21.0,
                       "humidity_pct": 40.0 + i % 5}).encode()  # fmt: skip


def test_nothing_acknowledged_is_lost_when_service_and_broker_die(
    service_env: Path, broker: Mosquitto
) -> None:
    key = _register(service_env)
    env = dict(os.environ, EMBERCAST_MQTT_URL=broker.url())
    port = free_port()
    statuses: list[str] = []
    watcher = _client(broker, "embercast-service", "status-watcher")
    watcher.on_message = lambda c, u, m: statuses.append(m.payload.decode())
    watcher.subscribe("embercast/v1/service/status", qos=1)
    service = serve(env, port, ("broker",))
    device = _client(broker, "lab-1")
    total = 400
    sent = 0
    try:
        for i in range(total):
            info = device.publish("embercast/v1/devices/lab-1/scd41", _reading(i), qos=1)
            info.wait_for_publish(timeout=10)  # the broker has it
            sent += 1
            if i == total // 3:
                service.send_signal(signal.SIGKILL)  # the service dies mid-stream
                service.wait()
            if i == total // 2:
                broker.stop()  # the broker restarts too, keeping its persistent sessions
                device.loop_stop()
                broker.start()
                device = _client(broker, "lab-1")
                watcher = _client(broker, "embercast-service", "status-watcher-2")
                watcher.on_message = lambda c, u, m: statuses.append(m.payload.decode())
                watcher.subscribe("embercast/v1/service/status", qos=1)
        service = serve(env, port, ("broker",))  # the session's waiting messages come in
        deadline = time.monotonic() + 60
        while len(_stored(service_env)) < total and time.monotonic() < deadline:
            time.sleep(0.2)
        stored = _stored(service_env)
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics",
                            headers={"X-API-Key": key}).text  # fmt: skip
    finally:
        service.send_signal(signal.SIGTERM)
        service.wait(timeout=30)
        device.loop_stop()
    assert sent == total
    assert len(stored) == len(set(stored)) == total  # every message once
    assert 'embercast_ingest_messages_total{outcome="stored",source="mqtt"}' in metrics
    # the will said offline when the service was killed; it came back online
    assert "offline" in statuses and statuses[-1] in ("online", "offline")
    assert "online" in statuses[statuses.index("offline") :]


def test_a_device_publishes_only_under_its_own_topics(
    service_env: Path, broker: Mosquitto, monkeypatch: pytest.MonkeyPatch
) -> None:
    from embercast.config import get_settings
    from embercast.service.state import ServiceState

    _register(service_env)
    monkeypatch.setenv("EMBERCAST_MQTT_URL", broker.url())
    get_settings.cache_clear()
    state = ServiceState.open(get_settings())
    state.refresh_model()
    state.ingest.start()
    assert state.mqtt is not None
    state.mqtt.start()
    assert state.mqtt.connected.wait(10)
    seen: list[str] = []
    spy = _client(broker, "embercast-service", "spy")
    spy.on_message = lambda c, u, m: seen.append(m.topic)
    spy.subscribe("embercast/v1/devices/#", qos=1)
    time.sleep(0.5)
    intruder = _client(broker, "lab-1")
    try:
        # lab-1 pretends to be lab-2: the broker drops it
        intruder.publish("embercast/v1/devices/lab-2/scd41", _reading(0), qos=1).wait_for_publish(5)
        # its own topic, but a payload naming another device: dead-lettered by the service
        spoof = json.dumps({"ts": 1.0, "co2_ppm": 500.0, "device_id": "lab-2"}).encode()
        intruder.publish("embercast/v1/devices/lab-1/scd41", spoof, qos=1).wait_for_publish(5)
        intruder.publish("embercast/v1/devices/lab-1/scd41", b"{oops", qos=1).wait_for_publish(5)
        intruder.publish("embercast/v1/devices/lab-1/scd41", _reading(1), qos=1).wait_for_publish(5)
        deadline = time.monotonic() + 10
        while state.ingest.counts.get("stored", 0) < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        letters = [d["reason"] for d in state.ingest.dead_letters()]
    finally:
        intruder.loop_stop()
        spy.loop_stop()
        state.mqtt.stop()
        state.ingest.stop()
        state.db.close()
    assert "embercast/v1/devices/lab-2/scd41" not in seen
    assert seen.count("embercast/v1/devices/lab-1/scd41") == 3
    assert state.ingest.counts == {"stored": 1, "dead_letter": 2}
    assert letters == ["json", "device_mismatch"]
    assert state.hub.history("lab-2") == [] and len(state.hub.history("lab-1")) == 1
    assert all(dev == "lab-1" for dev, _ in _stored(service_env))
