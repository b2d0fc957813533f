"""Zones on MQTT through a real Mosquitto: the retained state, Home Assistant's discovery, an
alarm's new / update / end with one id; while the broker is away the events wait on the bus."""

from __future__ import annotations

import json
import queue
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from components import Mosquitto
from embercast.agents.zones import ZoneAgent, risk_message
from embercast.alarm.decision import AlarmParams
from embercast.bus import Bus, open_bus
from embercast.service.broker import READER_USER
from embercast.service.mqtt import BrokerAddress, MqttIngest, make_client
from embercast.service.zone_topics import ZonePublisher

RULE = AlarmParams(threshold=0.9, delay_on_s=10.0, delay_off_s=30.0)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    b = Mosquitto(tmp_path / "broker", [READER_USER])  # Home Assistant's account
    b.start()
    yield b
    b.stop()


def _watch(broker: Mosquitto) -> tuple[mqtt.Client, queue.Queue[tuple[str, Any, bool]]]:
    got: queue.Queue[tuple[str, Any, bool]] = queue.Queue()
    client = make_client(BrokerAddress.parse(broker.url(READER_USER)), "watcher",
                         persistent=False)  # fmt: skip
    client.on_message = lambda _c, _u, m: got.put((m.topic, json.loads(m.payload), m.retain))
    client.connect("127.0.0.1", broker.port)
    client.subscribe([("embercast/v1/zones/#", 1), ("homeassistant/#", 1)])
    client.loop_start()
    return client, got


def _drain(got: queue.Queue[tuple[str, Any, bool]], wait_s: float = 1.0) -> list[Any]:
    out, deadline = [], time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            out.append(got.get(timeout=0.1))
        except queue.Empty:
            pass
    return out


def _service(broker: Mosquitto) -> MqttIngest:
    service = MqttIngest(None, broker.url(), "embercast-service")  # type: ignore[arg-type]
    service.start()
    assert service.connected.wait(20)
    return service


def _fire(bus: Bus, zone: str, t0: float, p: float = 0.95) -> None:
    bus.publish_many("risk", [risk_message("k1", zone, {"t_s": t0 + t, "p_fire": p})
                              for t in range(0, 30, 5)])  # fmt: skip


def test_a_zone_alarm_on_mqtt_new_update_end_and_discovery(
    broker: Mosquitto, tmp_path: Path
) -> None:
    bus = open_bus(str(tmp_path / "bus.sqlite"))
    zones = ZoneAgent(str(tmp_path / "zones.sqlite"), lambda: RULE, bus)
    service = _service(broker)
    watcher, got = _watch(broker)
    publisher = ZonePublisher(zones, service.publish_confirmed)
    try:
        _fire(bus, "kitchen", 0.0)
        zones.step(bus)
        zones.act("kitchen", "acknowledge", "ana", now=31.0)
        _fire(bus, "kitchen", 35.0, p=0.1)
        _fire(bus, "kitchen", 65.0, p=0.1)
        zones.step(bus)
        assert zones.act("kitchen", "reset", "ana", now=96.0)[0]
        publisher.step(bus)
        seen = _drain(got)
        events = [m for topic, m, _ in seen if topic == "embercast/v1/zones/kitchen/events"]
        assert [(e["type"], e["kind"]) for e in events] == [
            ("new", "alarm"), ("update", "acknowledged"), ("end", "reset"),
        ]  # fmt: skip
        assert len({e["id"] for e in events}) == 1 and events[0]["id"].startswith("kitchen:alarm")
        assert events[0]["snapshot"] == "/v1/live/k1/thermal.png"
        (config,) = [m for topic, m, _ in seen if topic.startswith("homeassistant/")]
        assert config["device_class"] == "smoke"
        assert config["state_topic"] == "embercast/v1/zones/kitchen/state"
        assert bus.stats()[0].handled > 0
    finally:
        watcher.loop_stop()
        watcher.disconnect()
    # a new subscriber gets the retained state and discovery at once
    late, got = _watch(broker)
    retained = {topic: m for topic, m, retain in _drain(got) if retain}
    assert retained["embercast/v1/zones/kitchen/state"]["state"] == "normal"
    assert "homeassistant/binary_sensor/embercast_kitchen/config" in retained
    late.loop_stop()
    late.disconnect()
    # the broker away: the event waits on the bus, and goes out once it is back
    broker.stop()
    _fire(bus, "hall", 200.0)
    zones.step(bus)
    publisher.step(bus)
    waiting = [s for s in bus.stats() if s.group == "mqtt"]
    assert waiting and waiting[0].waiting > 0
    broker.start()
    assert service.connected.wait(30)
    watcher, got = _watch(broker)
    deadline = time.monotonic() + 30
    seen = []
    while time.monotonic() < deadline:
        publisher.step(bus)
        seen += _drain(got, 0.5)
        if any(t == "embercast/v1/zones/hall/events" for t, _, _ in seen):
            break
    assert [m["type"] for t, m, _ in seen if t == "embercast/v1/zones/hall/events"] == ["new"]
    watcher.loop_stop()
    watcher.disconnect()
    service.stop()
