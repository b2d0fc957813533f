"""The zone agent: predictions to zone states and events, on the bus and in the audit log;
operators' actions with who did them; state kept across a restart; and the chain
predictions -> zone agent -> bus -> response agent -> a webhook, once per event."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from components import Redis, WebhookReceiver
from embercast.agents.response import ResponseAgent
from embercast.agents.zones import ZoneAgent, risk_message
from embercast.alarm.decision import AlarmParams
from embercast.bus import Bus, open_bus
from embercast.errors import InputError
from embercast.notify.outbox import Outbox
from embercast.notify.recipients import Recipient

RULE = AlarmParams(threshold=0.9, clear_threshold=0.5, delay_on_s=10.0, delay_off_s=30.0)
T0 = 1_800_000_000.0


@pytest.fixture(params=["sqlite", "redis"])
def bus(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Bus]:
    """The bus of the agents: the embedded one, and Redis Streams on a real redis-server."""
    if request.param == "sqlite":
        with open_bus(str(tmp_path / "bus.sqlite")) as opened:
            yield opened
        return
    server = Redis(tmp_path / "redis")
    server.start()
    try:
        with open_bus(server.url) as opened:
            yield opened
    finally:
        server.kill()


def publish(bus: Bus, device: str, zone: str, points: list[tuple[float, float]]) -> None:
    bus.publish_many("risk", [risk_message(device, zone, {"t_s": T0 + t, "p_fire": p})
                              for t, p in points])  # fmt: skip


def test_a_fire_alarms_its_zone_once_and_operators_act_on_it(bus: Bus, tmp_path: Path) -> None:
    agent = ZoneAgent(str(tmp_path / "zones.sqlite"), lambda: RULE, bus)
    publish(bus, "k1", "kitchen", [(t, 0.95) for t in range(0, 30, 5)])
    publish(bus, "h1", "hall", [(t, 0.1) for t in range(0, 30, 5)])
    publish(bus, "k1", "kitchen", [(t, 0.95) for t in range(0, 30, 5)])  # a repeat: ignored
    agent.step(bus)
    views = {v.zone: v for v in agent.zones()}
    assert views["kitchen"].state == "alarm" and views["kitchen"].sounding
    assert views["hall"].state == "normal"
    alarms = bus.receive("alarms", "watch", "w", limit=100)
    assert [d.message.payload["kind"] for d in alarms if d.message.payload["kind"] != "state"] == [
        "alarm"
    ]
    done, _ = agent.act("kitchen", "reset", "ana", now=T0 + 31)
    assert not done  # the fire still holds the device's decision
    assert agent.act("kitchen", "acknowledge", "ana", now=T0 + 32)[0]
    assert agent.act("kitchen", "silence", "ana", seconds=120, now=T0 + 33)[0]
    publish(bus, "k1", "kitchen", [(t, 0.1) for t in range(35, 80, 5)])
    agent.step(bus)
    assert agent.act("kitchen", "reset", "ana", now=T0 + 81)[0]
    log = agent.audit("kitchen")
    assert [(e["kind"], e["who"]) for e in log if e["kind"] != "state"][:4] == [
        ("reset", "ana"), ("silenced", "ana"), ("acknowledged", "ana"), ("reset_refused", "ana"),
    ]  # fmt: skip
    with pytest.raises(InputError, match="unknown zone action 'extinguish'"):
        agent.act("kitchen", "extinguish", "ana")
    with pytest.raises(InputError, match="no zone 'attic' has reported yet"):
        agent.act("attic", "reset", "ana")


def test_the_latch_survives_a_restart(bus: Bus, tmp_path: Path) -> None:
    path = str(tmp_path / "zones.sqlite")
    first = ZoneAgent(path, lambda: RULE, bus)
    publish(bus, "k1", "kitchen", [(t, 0.95) for t in range(0, 30, 5)])
    first.step(bus)
    first.close()
    again = ZoneAgent(path, lambda: RULE, bus)
    (kitchen,) = again.zones()
    assert kitchen.state == "alarm" and kitchen.latched and kitchen.alarm_devices == ["k1"]
    assert again.act("kitchen", "reset", "ana", now=T0 + 40)[0]  # nothing holds it now
    assert again.zones()[0].state == "normal"


def test_no_model_no_zone_state(bus: Bus, tmp_path: Path) -> None:
    agent = ZoneAgent(str(tmp_path / "zones.sqlite"), lambda: None, bus)
    publish(bus, "k1", "kitchen", [(0, 0.95)])
    agent.step(bus)
    assert agent.zones() == []


def test_from_predictions_to_one_notification_per_event(bus: Bus, tmp_path: Path) -> None:
    receiver = WebhookReceiver(fail_first=1)
    try:
        zones = ZoneAgent(str(tmp_path / "zones.sqlite"), lambda: RULE, bus)
        response = ResponseAgent(Outbox(str(tmp_path / "outbox.sqlite"), backoff_s=0.0),
                                 [Recipient("ops", receiver.url())])  # fmt: skip
        # a kitchen fire, and toast in the living room: one reading high, then low again
        publish(bus, "k1", "kitchen", [(t, 0.95) for t in range(0, 60, 5)])
        publish(bus, "l1", "living-room", [(0, 0.1), (5, 0.95), (10, 0.2), (15, 0.1)])
        for _ in range(3):
            zones.step(bus)
            response.step(bus)
        (taken,) = receiver.accepted
        assert taken["body"]["title"] == "FIRE ALARM in kitchen"  # type: ignore[index]
        assert len(receiver.received) == 2  # refused once, then taken
        assert {v.zone: v.state for v in zones.zones()} == {
            "kitchen": "alarm", "living-room": "normal",
        }  # fmt: skip
    finally:
        receiver.stop()


def test_a_zone_runs_on_its_devices_clock(bus: Bus, tmp_path: Path) -> None:
    """Readings stamped with a replay's own time (seconds from 0): the zone's timers run on
    that time, advanced by the wall clock, not on the wall clock's date."""
    agent = ZoneAgent(str(tmp_path / "zones.sqlite"), lambda: RULE, bus)
    bus.publish_many("risk", [risk_message("k1", "kitchen", {"t_s": float(t), "p_fire": 0.95})
                              for t in range(0, 30, 5)])  # fmt: skip
    agent.step(bus)
    assert 25.0 <= agent.now("kitchen") < 60.0
    agent.tick()
    kinds = [e["kind"] for e in agent.audit("kitchen")]
    assert "alarm" in kinds and "reminder" not in kinds  # 300 s have not passed on its clock
    assert agent.act("kitchen", "acknowledge", "ana")[0]
    (acknowledged,) = [e for e in agent.audit("kitchen") if e["kind"] == "acknowledged"]
    assert 25.0 <= acknowledged["t"] < 60.0


def test_an_operators_verdict_goes_to_the_audit_log_and_the_feedback_topic(
    bus: Bus, tmp_path: Path
) -> None:
    agent = ZoneAgent(str(tmp_path / "zones.sqlite"), lambda: RULE, bus)
    publish(bus, "k1", "kitchen", [(t, 0.95) for t in range(0, 30, 5)])
    publish(bus, "h1", "hall", [(t, 0.1) for t in range(0, 30, 5)])
    agent.step(bus)
    with pytest.raises(InputError, match="a false alarm needs a cause"):
        agent.feedback("kitchen", "false_alarm", "ana")
    with pytest.raises(InputError, match="zone 'hall' has had no alarm"):
        agent.feedback("hall", "fire", "ana")
    given = agent.feedback("kitchen", "false_alarm", "ana", "toaster", now=T0 + 40)
    (alarm,) = [e for e in agent.audit("kitchen") if e["kind"] == "alarm"]
    assert (given["alarm_id"], given["devices"], given["cause"]) == (
        alarm["event_id"], ["k1"], "toaster",
    )  # fmt: skip
    (note,) = [e for e in agent.audit("kitchen") if e["kind"] == "feedback"]
    assert note["who"] == "ana" and note["detail"]["verdict"] == "false_alarm"
    (sent,) = bus.receive("feedback", "learning", "l1")
    assert sent.message.payload == given


def test_each_zone_runs_on_its_own_parameters(bus: Bus, tmp_path: Path) -> None:
    from embercast.alarm.zone_config import load_zone_config

    config = tmp_path / "zones.toml"
    config.write_text("[zones.kitchen]\npositive_alarm_sequence = true\n")
    agent = ZoneAgent(str(tmp_path / "zones.sqlite"), lambda: RULE, bus,
                      load_zone_config(str(config)))  # fmt: skip
    for zone in ("kitchen", "hall"):
        publish(bus, f"{zone}-1", zone, [(t, 0.95) for t in range(0, 15, 5)])
    agent.step(bus)
    states = {v.zone: v.state for v in agent.zones()}
    assert states == {"kitchen": "pre_alarm", "hall": "alarm"}  # the sequence runs in the kitchen


def test_a_device_without_its_camera_alarms_its_zone_by_the_co2_path(tmp_path: Path) -> None:
    """The risk message carries the CO2 and its rate the device's decision read; the zone
    agent's decision of that device reads the same, at the model's CO2 path."""
    from embercast.service.device_stream import Prediction
    from embercast.service.risk_feed import prediction_of

    rule = AlarmParams(threshold=0.9, co2_gate=0.2, co2_level_ppm=1500.0, co2_rate_ppm_s=2.5)
    for zone, gate in (("kitchen", rule), ("hall", AlarmParams(threshold=0.9))):
        with open_bus(str(tmp_path / f"{zone}-bus.sqlite")) as bus:
            agent = ZoneAgent(str(tmp_path / f"{zone}.sqlite"), lambda g=gate: g, bus)
            made = [
                Prediction(T0 + t, 0.3, "low", False, False, None, False, "no_frame",
                           co2_ppm=700.0 + 3.0 * t, co2_rate_ppm_s=3.0)
                for t in range(0, 30, 5)
            ]  # fmt: skip
            messages = [risk_message("k1", zone, p.as_dict()) for p in made]
            assert prediction_of(messages[-1][0]).co2_rate_ppm_s == 3.0
            bus.publish_many("risk", messages)
            agent.step(bus)
            state = {v.zone: v.state for v in agent.zones()}[zone]
            assert state == ("alarm" if zone == "kitchen" else "normal")


def test_running_agents_take_a_fire_as_it_comes_not_at_their_next_poll(
    bus: Bus, tmp_path: Path
) -> None:
    """Both agents poll every 10 s here: a fire published while they wait is delivered long
    before (polling, the first notification would go 9-19 s after it), because each waits on
    the bus for what it reads (a receive with ``wait_s``), and a step takes every full batch of
    zone events waiting before it delivers."""
    import threading
    import time

    receiver = WebhookReceiver()
    zones = ZoneAgent(str(tmp_path / "zones.sqlite"), lambda: RULE, bus)
    response = ResponseAgent(Outbox(str(tmp_path / "outbox.sqlite")),
                             [Recipient("ops", receiver.url())])  # fmt: skip
    stop = threading.Event()
    runs = [threading.Thread(target=zones.run, args=(bus, stop, 10.0)),
            threading.Thread(target=response.run, args=(bus, stop, 10.0))]  # fmt: skip
    try:
        for run in runs:
            run.start()
        time.sleep(1.0)  # both agents are waiting by now
        sent = time.monotonic()
        for z in range(300):  # 300 zones on fire at once: 600 zone events, three full batches
            publish(bus, f"d{z}", f"zone-{z:03d}", [(t, 0.95) for t in range(0, 15, 5)])
        while len(receiver.accepted) < 300 and time.monotonic() - sent < 6.0:
            time.sleep(0.05)
        assert len(receiver.accepted) == 300
    finally:
        stop.set()  # seen when their waits end: one more fire ends both now
        publish(bus, "d-last", "last", [(t, 0.95) for t in range(0, 15, 5)])
        for run in runs:
            run.join(15)
        receiver.stop()
