"""Notifications through real channels (a local webhook receiver and a local SMTP server, both
failing first): exactly one taken per event and recipient across retries and restarts, every
attempt recorded, escalation when nobody acknowledges, routing by zone and kind."""

from __future__ import annotations

import email
from collections.abc import Iterator
from pathlib import Path

import pytest

from components import SmtpServer, WebhookReceiver
from embercast.agents.response import ResponseAgent
from embercast.bus import open_bus
from embercast.errors import InputError
from embercast.notify.outbox import Outbox
from embercast.notify.recipients import Recipient, load_recipients
from embercast.notify.send import EVENT_HEADER, send

T0 = 1_800_000_000.0


def event(kind: str, zone: str = "kitchen", t: float = T0, **detail: object) -> dict[str, object]:
    return {"event_id": f"{zone}:{kind}:{round(t * 1000)}", "zone": zone, "kind": kind, "t": t,
            "previous": "normal", "state": "alarm", "who": "system", "detail": detail}  # fmt: skip


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver(fail_first=2)
    yield receiver
    receiver.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(fail_first=1)
    yield server
    server.stop()


def test_a_webhook_carries_the_event_id_and_a_failure_says_why(webhook: WebhookReceiver) -> None:
    first = send(webhook.url(), "FIRE ALARM in kitchen", "body", "kitchen:alarm:1")
    assert not first.ok and "error=500" in first.detail  # the receiver answered 500
    send(webhook.url(), "FIRE ALARM in kitchen", "body", "kitchen:alarm:1")
    ok = send(webhook.url(), "FIRE ALARM in kitchen", "body", "kitchen:alarm:1")
    assert ok.ok
    (taken,) = webhook.accepted
    assert taken["headers"][EVENT_HEADER] == "kitchen:alarm:1"  # type: ignore[index]
    assert taken["body"]["title"] == "FIRE ALARM in kitchen"  # type: ignore[index]


def test_each_event_reaches_each_recipient_once_through_failures_and_a_restart(
    webhook: WebhookReceiver, smtp: SmtpServer, tmp_path: Path
) -> None:
    recipients = [
        Recipient("ops", smtp.url("ops@example.org")),
        Recipient("hook", webhook.url(), zones=("kitchen",)),
    ]
    outbox = Outbox(str(tmp_path / "outbox.sqlite"), backoff_s=1.0)
    agent = ResponseAgent(outbox, recipients)
    alarm = event("alarm", devices=["k1"])
    assert agent.handle(alarm) == 2
    assert agent.handle(alarm) == 0  # the same event again (a retry): nothing new
    assert agent.handle(event("trouble", zone="hall", device="h1", reason="silent")) == 1  # ops
    now = T0
    for _ in range(6):  # the channels fail first; retries after the backoff
        agent.deliver(now)
        now += 5.0
    outbox.close()
    again = ResponseAgent(Outbox(str(tmp_path / "outbox.sqlite")), recipients)  # a restart
    again.handle(alarm)
    again.deliver(now + 100)
    assert len(webhook.accepted) == 1 and len(webhook.received) == 3  # 2 refused, 1 taken
    assert len(smtp.messages) == 2 and smtp.refused == 1  # the alarm and the hall's trouble
    subjects = sorted(
        str(email.message_from_bytes(m["content"])["Subject"])  # type: ignore[arg-type]
        for m in smtp.messages
    )
    assert subjects == ["FIRE ALARM in kitchen", "Trouble in hall"]
    attempts = again.outbox.attempts(str(alarm["event_id"]))
    assert [(a.recipient, a.ok) for a in attempts if a.recipient == "hook"] == [
        ("hook", False), ("hook", False), ("hook", True),
    ]  # fmt: skip
    states = again.outbox.states()
    assert {s["state"] for s in states.values()} == {"sent"}


def test_escalation_when_nobody_acknowledges_and_none_when_someone_does(
    webhook: WebhookReceiver, tmp_path: Path
) -> None:
    webhook.fail_first = 0
    manager = Recipient("manager", webhook.url(), escalate_after_s=120.0)
    agent = ResponseAgent(Outbox(str(tmp_path / "o.sqlite")), [manager])
    agent.handle(event("alarm", zone="kitchen", t=T0))
    agent.handle(event("alarm", zone="store", t=T0))
    agent.deliver(T0 + 60)
    assert webhook.received == []  # not yet
    agent.handle(event("acknowledged", zone="store", t=T0 + 90))
    agent.deliver(T0 + 121)
    (escalation,) = webhook.accepted  # the kitchen's, not acknowledged in 2 minutes
    assert escalation["body"]["title"] == "ESCALATION: FIRE ALARM in kitchen"  # type: ignore[index]


def test_zone_events_on_the_bus_become_notifications_once(
    webhook: WebhookReceiver, tmp_path: Path
) -> None:
    webhook.fail_first = 0
    bus = open_bus(str(tmp_path / "bus.sqlite"))
    alarm = event("alarm")
    bus.publish("alarms", alarm, message_id=str(alarm["event_id"]))
    bus.publish("alarms", alarm, message_id=str(alarm["event_id"]))  # published twice
    agent = ResponseAgent(Outbox(str(tmp_path / "o.sqlite")), [Recipient("hook", webhook.url())])
    assert agent.step(bus, now=T0) == 1
    assert agent.step(bus, now=T0 + 10) == 0
    assert len(webhook.accepted) == 1
    assert bus.stats()[0].handled == 1


def test_every_attempt_is_published_once_and_the_service_keeps_it(
    webhook: WebhookReceiver, tmp_path: Path
) -> None:
    from embercast.agents.response import NOTIFICATIONS_TOPIC
    from embercast.service.db import ServiceDB
    from embercast.service.notifications import NotificationLog

    webhook.fail_first = 1
    bus = open_bus(str(tmp_path / "bus.sqlite"))
    alarm = event("alarm")
    bus.publish("alarms", alarm, message_id=str(alarm["event_id"]))
    outbox = Outbox(str(tmp_path / "o.sqlite"), backoff_s=1.0)
    agent = ResponseAgent(outbox, [Recipient("hook", webhook.url())])
    published = bus.publish_many

    def refused(*_: object) -> int:
        raise OSError("the bus is away")

    bus.publish_many = refused  # type: ignore[method-assign]
    with pytest.raises(OSError, match="the bus is away"):
        agent.step(bus, now=T0)  # the first attempt failed, and could not be published
    bus.publish_many = published  # type: ignore[method-assign]
    agent.step(bus, now=T0 + 5)  # the second went through: both published now
    agent.step(bus, now=T0 + 10)
    # a second agent on the same outbox publishes nothing again
    assert ResponseAgent(outbox, [Recipient("hook", webhook.url())]).publish_attempts(bus) == 0
    assert [(m.payload["ok"], m.payload["recipient"]) for m in bus.read(NOTIFICATIONS_TOPIC, 0)
            ] == [(False, "hook"), (True, "hook")]  # fmt: skip
    log = NotificationLog(ServiceDB(str(tmp_path / "service.sqlite")))
    assert log.step(bus) == 2 and log.step(bus) == 0
    shown = log.list(str(alarm["event_id"]))
    assert [(n["ok"], n["t_s"]) for n in shown] == [(True, T0 + 5), (False, T0)]  # newest first
    assert "error=500" in shown[1]["detail"]  # what the channel said
    assert log.list("kitchen:alarm:0") == []
    bus.close()


def test_recipients_file_errors_name_the_entry(tmp_path: Path) -> None:
    path = tmp_path / "recipients.toml"
    path.write_text('[[recipient]]\nname = "ops"\nurl = "json://127.0.0.1:1/h"\n'
                    'zones = ["kitchen"]\nescalate_after_s = 60\n')  # fmt: skip
    (ops,) = load_recipients(str(path))
    assert ops.wants("kitchen", "alarm") and not ops.wants("hall", "alarm")
    assert ops.escalate_after_s == 60.0 and not ops.wants("kitchen", "acknowledged")
    path.write_text('[[recipient]]\nname = "ops"\nurl = "bogus://x"\n')
    with pytest.raises(InputError, match=r"recipient 1: not a usable notification URL .*bogus"):
        load_recipients(str(path))
    path.write_text('[[recipient]]\nname = "ops"\nurl = "json://h/x"\nkinds = ["fire"]\n')
    with pytest.raises(InputError, match=r"recipient 1: unknown event kinds \['fire'\]"):
        load_recipients(str(path))
    with pytest.raises(InputError, match="does not exist"):
        load_recipients(str(tmp_path / "missing.toml"))
