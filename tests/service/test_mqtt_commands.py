"""Twins and commands over MQTT through a real Mosquitto: a command sent over REST reaches the
device and is delivered, then acknowledged or failed by the device's answer; a device's state
replaces its twin's reported state; a device reaches nothing of another device; pending commands
go out when the service connects again; bad messages are counted and the stream goes on."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from fastapi.testclient import TestClient

from components import Mosquitto

DEVICES = ["cam-1", "cam-2", "gone", "ghost"]
"""Broker accounts; ``ghost`` is never registered with the service, ``gone`` is revoked."""
PREFIX = "embercast/v1/devices/"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    b = Mosquitto(tmp_path / "broker", DEVICES)
    b.start()
    yield b
    b.stop()


def _until(check: Callable[[], Any], timeout_s: float = 15.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout_s} s: {what or check}")


@dataclass
class Running:
    """A service in this process: its REST client, its state and an operator's headers."""

    client: TestClient
    state: Any
    auth: dict[str, str]

    def command(self, device_id: str, command_id: str) -> dict[str, Any]:
        url = f"/v1/devices/{device_id}/commands/{command_id}"
        answer = self.client.get(url, headers=self.auth)
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found

    def send(self, device_id: str, name: str, **body: Any) -> dict[str, Any]:
        url = f"/v1/devices/{device_id}/commands"
        answer = self.client.post(url, headers=self.auth, json={"name": name, **body})
        assert answer.status_code == 201, answer.text
        assert answer.json()["status"] == "pending"
        sent: dict[str, Any] = answer.json()
        return sent

    def twin(self, device_id: str) -> dict[str, Any]:
        found: dict[str, Any] = self.client.get(
            f"/v1/devices/{device_id}/twin", headers=self.auth
        ).json()
        return found

    def counts(self) -> dict[tuple[str, str], int]:
        return dict(self.state.mqtt.device_topics.counts)


@pytest.fixture
def service(
    service_env: Path, broker: Mosquitto, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Any]:
    """Start a service in this process (a context manager) on the broker, ``connected``: wait
    until it is; devices cam-1, cam-2 and gone (revoked) are registered at the first start."""
    from embercast.config import get_settings
    from embercast.service.app import create_app

    monkeypatch.setenv("EMBERCAST_MQTT_URL", broker.url())
    first = [True]

    @contextmanager
    def start(connected: bool = True) -> Iterator[Running]:
        get_settings.cache_clear()
        app = create_app(get_settings())
        state = app.state.service
        if first[0]:
            for device_id in ("cam-1", "cam-2", "gone"):
                state.devices.register(device_id, "lab")
            state.devices.revoke("gone")
            first[0] = False
        auth = {"X-API-Key": state.keys.create("test", "operate")[1]}
        with TestClient(app) as client:
            if connected:
                assert state.mqtt.connected.wait(15)
            yield Running(client, state, auth)

    return start


class Device:
    """A device's own MQTT client: its commands as they arrive (``got``), publishing as itself."""

    def __init__(self, broker: Mosquitto, device_id: str, *, persistent: bool = False,
                 subscribe: tuple[str, ...] | None = None) -> None:  # fmt: skip
        from embercast.service.mqtt import BrokerAddress, make_client

        self.device_id = device_id
        self.got: list[tuple[str, dict[str, Any]]] = []
        self.client = make_client(BrokerAddress.parse(broker.url(device_id)), device_id,
                                  persistent=persistent)  # fmt: skip
        topics = subscribe if subscribe is not None else (f"{PREFIX}{device_id}/commands",)
        subscribed = threading.Event()

        def connected(c: mqtt.Client, u: Any, f: Any, reason: Any, p: Any) -> None:
            c.subscribe([(t, 1) for t in topics])

        self.client.on_connect = connected
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.on_message = lambda c, u, m: self.got.append((m.topic, json.loads(m.payload)))
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        assert subscribed.wait(10)

    def publish(self, kind: str, body: Any, retain: bool = False, device_id: str = "") -> None:
        """Publish ``body`` (JSON, or bytes as they are) on ``kind`` of ``device_id`` (its own)."""
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        topic = f"{PREFIX}{device_id or self.device_id}/{kind}"
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_a_command_reaches_the_device_then_its_answer_settles_it(
    service: Callable[..., Any], broker: Mosquitto
) -> None:
    device = Device(broker, "cam-1")
    try:
        with service() as svc:
            sent = svc.send("cam-1", "ffc", args={"gain": "low"}, timeout_s=120)
            topic, body = _until(lambda: device.got, what="the command at the device")[0]
            assert topic == "embercast/v1/devices/cam-1/commands"
            assert body == {"command_id": sent["command_id"], "name": "ffc",
                            "args": {"gain": "low"}, "deadline_s": sent["deadline_s"]}  # fmt: skip
            cid = sent["command_id"]
            delivered = _until(lambda: svc.command("cam-1", cid)["delivered_s"], what="delivery")
            assert svc.command("cam-1", cid)["status"] == "delivered" and delivered > 0

            device.publish("commands/ack", {"command_id": cid, "ok": True,
                                            "result": {"took_s": 0.4}})  # fmt: skip
            _until(lambda: svc.command("cam-1", cid)["status"] == "acknowledged")
            assert svc.command("cam-1", cid)["result"] == {"took_s": 0.4}

            # a failed answer, then the same answer again (QoS 1: at least once)
            other = svc.send("cam-1", "reboot")["command_id"]
            _until(lambda: len(device.got) == 2)
            failure = {"command_id": other, "ok": False, "result": {"error": "busy"}}
            device.publish("commands/ack", failure)
            device.publish("commands/ack", failure)
            _until(lambda: svc.counts().get(("commands/ack", "duplicate")) == 1)
            failed = svc.command("cam-1", other)
            assert (failed["status"], failed["result"], failed["reason"]) == (
                "failed", {"error": "busy"}, "the device failed it",
            )  # fmt: skip
            assert svc.counts() == {("commands/ack", "acknowledged"): 1,
                                    ("commands/ack", "failed"): 1,
                                    ("commands/ack", "duplicate"): 1}  # fmt: skip
            metrics = svc.client.get("/metrics", headers=svc.auth).text
    finally:
        device.close()
    assert 'embercast_device_messages_total{kind="commands/ack",outcome="failed"} 1.0' in metrics
    assert [b["command_id"] for _, b in device.got] == [cid, other]  # each sent once


def test_state_over_mqtt_replaces_the_reported_twin(
    service: Callable[..., Any], broker: Mosquitto
) -> None:
    device = Device(broker, "cam-1")
    try:
        with service() as svc:
            device.publish("state", {"fw": "1.2.0", "interval_s": 5}, retain=True)
            _until(lambda: svc.twin("cam-1")["reported_version"] == 1)
            assert svc.twin("cam-1")["reported"] == {"fw": "1.2.0", "interval_s": 5}
            device.publish("state", {"fw": "1.2.1"}, retain=True)  # a report replaces
            _until(lambda: svc.twin("cam-1")["reported_version"] == 2)
            twin = svc.twin("cam-1")
            assert twin["reported"] == {"fw": "1.2.1"} and twin["desired_version"] == 0
            assert twin["reported_s"] > 0
        # at the next start the broker hands the retained state again: nothing changes
        with service() as svc:
            _until(lambda: svc.counts().get(("state", "unchanged")) == 1, what="retained state")
            assert svc.twin("cam-1")["reported_version"] == 2
            device.publish("state", {"fw": "1.3.0"}, retain=True)
            _until(lambda: svc.twin("cam-1")["reported_version"] == 3)
            assert svc.counts() == {("state", "unchanged"): 1, ("state", "reported"): 1}
    finally:
        device.close()


def test_a_device_reads_no_commands_and_writes_no_state_of_another(
    service: Callable[..., Any], broker: Mosquitto
) -> None:
    owner = Device(broker, "cam-1")
    snoop = Device(broker, "cam-2", subscribe=(f"{PREFIX}cam-1/commands", f"{PREFIX}+/commands",
                                               f"{PREFIX}#"))  # fmt: skip
    try:
        with service() as svc:
            cid = svc.send("cam-1", "ffc")["command_id"]
            _until(lambda: owner.got and svc.command("cam-1", cid)["status"] == "delivered")
            # cam-2 writes cam-1's state and answers its command: the broker drops both
            snoop.publish("state", {"fw": "evil"}, retain=True, device_id="cam-1")
            snoop.publish("commands/ack", {"command_id": cid, "ok": False}, device_id="cam-1")
            # then answers it on its own topic: not its command
            snoop.publish("commands/ack", {"command_id": cid, "ok": False})
            snoop.publish("state", {"fw": "2.0"})  # its own state goes through
            _until(lambda: svc.twin("cam-2")["reported_version"] == 1)
            _until(lambda: svc.counts().get(("commands/ack", "unknown_command")) == 1)
            time.sleep(0.3)
            assert svc.twin("cam-1")["reported_version"] == 0
            assert svc.twin("cam-1")["reported"] == {}
            assert svc.command("cam-1", cid)["status"] == "delivered"
            assert svc.counts() == {("state", "reported"): 1,
                                    ("commands/ack", "unknown_command"): 1}  # fmt: skip
    finally:
        owner.close()
        snoop.close()
    assert [t for t, _ in owner.got] == [f"{PREFIX}cam-1/commands"]
    # neither cam-1's command nor its (refused) state: only cam-2's own state came back to it
    assert snoop.got == [(f"{PREFIX}cam-2/state", {"fw": "2.0"})]


def test_pending_commands_go_out_when_the_service_connects_again(
    service: Callable[..., Any], broker: Mosquitto
) -> None:
    device = Device(broker, "cam-1", persistent=True)  # the broker keeps what comes for it
    try:
        with service() as svc:
            broker.stop()
            _until(lambda: not svc.state.mqtt.connected.is_set())
            waiting = svc.send("cam-1", "ffc", timeout_s=300)["command_id"]
            short = svc.send("cam-1", "reboot", timeout_s=1.0)["command_id"]
            time.sleep(0.3)
            assert svc.command("cam-1", waiting)["status"] == "pending"
        time.sleep(1.2)  # the short one expires while the service is down
        broker.start()  # the device reconnects by itself
        with service() as svc:  # the service restarts
            _until(lambda: svc.command("cam-1", waiting)["status"] == "delivered")
            assert svc.command("cam-1", short)["status"] == "expired"
            _until(lambda: device.got, what="the pending command at the device")
            # the broker restarts under a running service: what was sent meanwhile goes out
            broker.stop()
            _until(lambda: not svc.state.mqtt.connected.is_set())
            later = svc.send("cam-1", "ffc", timeout_s=300)["command_id"]
            broker.start()
            _until(lambda: svc.command("cam-1", later)["status"] == "delivered", 30)
            _until(lambda: len(device.got) >= 2, 30, "the later command at the device")
            time.sleep(0.3)
    finally:
        device.close()
    assert [b["command_id"] for _, b in device.got] == [waiting, later]


def test_bad_messages_are_counted_and_the_stream_goes_on(
    service: Callable[..., Any], broker: Mosquitto
) -> None:
    cam1, cam2 = Device(broker, "cam-1"), Device(broker, "cam-2")
    ghost, gone = Device(broker, "ghost"), Device(broker, "gone")
    try:
        with service() as svc:
            done = svc.send("cam-1", "ffc")["command_id"]
            theirs = svc.send("cam-2", "ffc")["command_id"]
            _until(lambda: cam1.got and cam2.got)
            cam1.publish("commands/ack", {"command_id": done, "ok": True})
            _until(lambda: svc.command("cam-1", done)["status"] == "acknowledged")
            bad: Any
            for bad in (b"{oops", b"[1, 2]", b"\xff\xfe", {"device_id": "cam-2", "fw": "1"},
                        b'{"t": NaN}'):  # fmt: skip
                cam1.publish("state", bad)
            for bad in ({"command_id": "nope", "ok": True}, {"command_id": done},
                        {"command_id": done, "ok": False}, {"command_id": theirs, "ok": True},
                        {"command_id": done, "ok": True, "extra": 1}):  # fmt: skip
                cam1.publish("commands/ack", bad)
            ghost.publish("state", {"fw": "1"})
            gone.publish("state", {"fw": "1"})
            cam1.publish("state", {"fw": "1.0"})  # then good ones: the stream goes on
            cam1.publish("scd41", {"ts": 100.0, "co2_ppm": 500.0, "temperature_c": 21.0,
                                   "humidity_pct": 40.0})  # fmt: skip
            _until(lambda: sum(svc.counts().values()) == 14, what="every message counted")
            _until(lambda: svc.state.ingest.counts.get("stored") == 1, what="the reading")
            counts = svc.counts()
            assert svc.twin("cam-1")["reported"] == {"fw": "1.0"}
            assert svc.command("cam-2", theirs)["status"] == "delivered"
            metrics = svc.client.get("/metrics", headers=svc.auth).text
        assert counts == {
            ("commands/ack", "acknowledged"): 1,
            ("state", "json"): 3,
            ("state", "device_mismatch"): 1,
            ("state", "invalid"): 1,
            ("commands/ack", "unknown_command"): 2,
            ("commands/ack", "invalid"): 2,
            ("commands/ack", "transition"): 1,
            ("state", "unknown_device"): 1,
            ("state", "revoked_device"): 1,
            ("state", "reported"): 1,
        }
        assert 'embercast_device_messages_total{kind="state",outcome="json"} 3.0' in metrics
        # every one was acknowledged to the broker: none comes again after a restart
        with service() as svc:
            time.sleep(1.0)
            assert svc.counts() == {}
    finally:
        for d in (cam1, cam2, ghost, gone):
            d.close()


def test_a_simulated_device_reports_its_state_and_answers_commands(
    service: Callable[..., Any], broker: Mosquitto
) -> None:
    from embercast.service.transports import SIM_REPORTED, MqttTransport

    transport = MqttTransport(f"mqtt://127.0.0.1:{broker.port}", broker.passwords)
    try:
        with service() as svc:
            transport.connect("cam-1")
            cid = svc.send("cam-1", "ffc")["command_id"]
            _until(lambda: svc.command("cam-1", cid)["status"] == "acknowledged")
            assert svc.command("cam-1", cid)["result"] == {"simulated": True, "name": "ffc"}
            assert svc.twin("cam-1")["reported_version"] == 0  # not before its first message
            reading = {"ts": 100.0, "co2_ppm": 500.0, "temperature_c": 21.0, "humidity_pct": 40.0}
            assert transport.send("cam-1", "scd41", json.dumps(reading).encode())
            _until(lambda: svc.twin("cam-1")["reported_version"] == 1)
            assert svc.twin("cam-1")["reported"] == SIM_REPORTED
            # away, then back: its persistent session kept the command sent meanwhile
            transport.close()
            later = svc.send("cam-1", "reboot")["command_id"]
            _until(lambda: svc.command("cam-1", later)["status"] == "delivered")
            transport.connect("cam-1")
            _until(lambda: svc.command("cam-1", later)["status"] == "acknowledged")
            assert transport.send("cam-1", "scd41", json.dumps({**reading, "ts": 105.0}).encode())
            _until(lambda: svc.state.ingest.counts.get("stored") == 2)
            assert svc.twin("cam-1")["reported_version"] == 1  # reported once per run
    finally:
        transport.close()
    assert transport.answered == {"cam-1": 2}
    assert transport.tally.counts("cam-1").sent == 2  # its state is not one of its messages
