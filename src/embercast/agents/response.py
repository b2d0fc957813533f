"""The response agent: zone events in, notifications out.

It reads the ``alarms`` topic (zone events, :func:`~embercast.alarm.zone.event_message`), routes
each event to the recipients that want it (:class:`~embercast.notify.recipients.Recipient`),
stores one notification per event and recipient in the outbox (so retries and restarts send
nothing twice), delivers what is due, and handles escalation: a recipient with
``escalate_after_s`` is told of an alarm only if nobody acknowledged it by then (an
``acknowledged`` or ``reset`` event of the zone cancels the pending escalations). Reminders and
the sounder's return after a silence come as their own events.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from embercast.bus.base import Bus
from embercast.notify.outbox import Attempt, Outbox, Sender
from embercast.notify.recipients import Recipient
from embercast.notify.send import send

logger = logging.getLogger(__name__)

TOPIC = "alarms"
"""The bus topic of zone events."""
GROUP = "response"
"""The response agent's consumer group."""

TITLES: dict[str, str] = {
    "alarm": "FIRE ALARM in {zone}",
    "escalated": "FIRE ALARM in {zone}: a second device confirms",
    "pas_started": "Fire pre-alarm in {zone}: acknowledge within 15 s",
    "resounded": "FIRE ALARM in {zone} sounds again (silence over)",
    "reminder": "FIRE ALARM in {zone} still not acknowledged",
    "trouble": "Trouble in {zone}",
    "supervisory": "Supervisory condition in {zone}",
    "isolation_expired": "{zone} is enabled again (isolation over)",
    "system_trouble": "embercast trouble: {condition}",
    "system_trouble_cleared": "embercast trouble cleared: {condition}",
}
"""Notification titles by event kind."""


def describe(event: dict[str, Any]) -> tuple[str, str]:
    """The title and body of the notification of a zone event."""
    condition = event.get("detail", {}).get("condition", "")
    title = TITLES.get(event["kind"], "{zone}: " + event["kind"]).format(
        zone=event["zone"], condition=condition
    )
    detail = ", ".join(f"{k}: {v}" for k, v in sorted(event.get("detail", {}).items()))
    body = f"{title}. Zone state: {event.get('state', '?')}." + (f" {detail}." if detail else "")
    return title, body


class ResponseAgent:
    """Routes zone events of ``recipients`` into ``outbox`` and delivers them with ``sender``."""

    def __init__(self, outbox: Outbox, recipients: list[Recipient], sender: Sender = send) -> None:
        self.outbox = outbox
        self.recipients = recipients
        self.urls = {r.name: r.url for r in recipients}
        self.sender = sender

    def handle(self, event: dict[str, Any]) -> int:
        """Take one zone event; the notifications it stored (0 for an event seen before)."""
        kind, zone, t = event["kind"], event["zone"], float(event["t"])
        if kind in ("acknowledged", "reset"):
            cancelled = self.outbox.cancel(f"escalate:{zone}")
            if cancelled:
                logger.info("%s in %s: %d escalations cancelled", kind, zone, cancelled)
            return 0
        title, body = describe(event)
        stored = 0
        for r in self.recipients:
            if not r.wants(zone, kind):
                continue
            if r.escalate_after_s is None:
                stored += self.outbox.enqueue(event["event_id"], r.name, title, body)
            elif kind == "alarm":
                stored += self.outbox.enqueue(
                    f"{event['event_id']}:escalation", r.name, f"ESCALATION: {title}", body,
                    due_s=t + r.escalate_after_s, cancel_key=f"escalate:{zone}",
                )  # fmt: skip
        return stored

    def deliver(self, now: float | None = None) -> list[Attempt]:
        """Send what is due."""
        return self.outbox.deliver(self.urls, now, self.sender)

    def step(self, bus: Bus, consumer: str = "response-1", now: float | None = None) -> int:
        """Take the zone events waiting on the bus (each acknowledged once stored in the
        outbox), then deliver what is due; the events taken."""
        taken = bus.receive(TOPIC, GROUP, consumer, limit=256, visibility_s=60.0)
        for delivery in taken:
            try:
                self.handle(delivery.message.payload)
            except Exception as exc:  # retried by the bus, then a dead letter
                logger.exception("zone event %s not handled", delivery.message.message_id)
                bus.fail(delivery, f"{type(exc).__name__}: {exc}")
            else:
                bus.ack(delivery)
        self.deliver(now)
        return len(taken)

    def run(self, bus: Bus, stop: threading.Event, period_s: float = 0.1) -> None:
        """:meth:`step` every ``period_s`` until ``stop`` is set."""
        while not stop.is_set():
            try:
                self.step(bus)
            except Exception:  # the store or bus briefly away: try again next period
                logger.exception("response agent step failed")
            stop.wait(period_s)
