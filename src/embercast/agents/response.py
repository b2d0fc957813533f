"""The response agent: zone events in, notifications out.

It reads the ``alarms`` topic (zone events, :func:`~embercast.alarm.zone.event_message`), routes
each event to the recipients that want it (:class:`~embercast.notify.recipients.Recipient`),
stores one notification per event and recipient in the outbox (so retries and restarts send
nothing twice), delivers what is due (every attempt recorded there, then published on
``notifications`` for the service), and handles escalation: a recipient with
``escalate_after_s`` is told of an alarm only if nobody acknowledged it by then (an
``acknowledged`` or ``reset`` event of the zone cancels the pending escalations). Reminders and
the sounder's return after a silence come as their own events.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import asdict
from typing import Any

from embercast.bus.base import Bus, Delivery
from embercast.notify.outbox import Attempt, Outbox, Sender
from embercast.notify.recipients import Recipient
from embercast.notify.send import check_url, send

logger = logging.getLogger(__name__)

TOPIC = "alarms"
"""The bus topic of zone events."""
NOTIFICATIONS_TOPIC = "notifications"
"""Where every attempt to notify is published (after the outbox recorded it)."""
GROUP = "response"
"""The response agent's consumer group."""
BATCH = 256
"""Zone events taken by one receive."""
BATCHES = 8
"""Receives of a step while they come full, before what is due is delivered."""

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
    "security_event": "embercast security event: {condition}",
    "security_event_cleared": "embercast security event over: {condition}",
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
        for r in recipients:  # each URL usable, its channel loaded now rather than at the alarm
            check_url(r.url)

    def notifications(
        self, event: dict[str, Any]
    ) -> list[tuple[str, str, str, str, float | None, str]]:
        """The notifications one zone event calls for (outbox items)."""
        kind, zone, t = event["kind"], event["zone"], float(event["t"])
        title, body = describe(event)
        items: list[tuple[str, str, str, str, float | None, str]] = []
        for r in self.recipients:
            if not r.wants(zone, kind):
                continue
            if r.escalate_after_s is None:
                items.append((event["event_id"], r.name, title, body, None, ""))
            elif kind == "alarm":
                items.append((f"{event['event_id']}:escalation", r.name, f"ESCALATION: {title}",
                              body, t + r.escalate_after_s, f"escalate:{zone}"))  # fmt: skip
        return items

    def _cancel(self, event: dict[str, Any]) -> None:
        if event["kind"] in ("acknowledged", "reset"):
            cancelled = self.outbox.cancel(f"escalate:{event['zone']}")
            if cancelled:
                logger.info("%s in %s: %d escalations cancelled", event["kind"], event["zone"],
                            cancelled)  # fmt: skip

    def handle(self, event: dict[str, Any]) -> int:
        """Take one zone event; the notifications it stored (0 for an event seen before)."""
        self._cancel(event)
        return self.outbox.enqueue_many(self.notifications(event))

    def deliver(self, now: float | None = None) -> list[Attempt]:
        """Send what is due."""
        return self.outbox.deliver(self.urls, now, self.sender)

    def step(
        self, bus: Bus, consumer: str = "response-1", now: float | None = None, wait_s: float = 0.0
    ) -> int:
        """Take the zone events waiting on the bus (waiting up to ``wait_s`` [s] for one when
        there is none; up to :data:`BATCHES` receives of :data:`BATCH` while they come full),
        each acknowledged once stored in the outbox, then deliver what is due; the events
        taken."""
        count = 0
        for k in range(BATCHES):
            taken = bus.receive(TOPIC, GROUP, consumer, limit=BATCH, visibility_s=60.0,
                                wait_s=wait_s if k == 0 else 0.0)  # fmt: skip
            self._store(bus, taken)
            count += len(taken)
            if len(taken) < BATCH:
                break
        self.deliver(now)
        self.publish_attempts(bus)
        return count

    def _store(self, bus: Bus, taken: list[Delivery]) -> None:
        """The notifications of ``taken`` events into the outbox; each acknowledged once stored,
        one that cannot be handled failed (retried by the bus, then a dead letter)."""
        items: list[tuple[str, str, str, str, float | None, str]] = []
        good = []
        for delivery in taken:  # in order: an acknowledgement cancels the escalations before it
            try:
                event = delivery.message.payload
                if event["kind"] in ("acknowledged", "reset"):
                    self.outbox.enqueue_many(items)
                    items = []
                    self._cancel(event)
                items += self.notifications(event)
            except Exception as exc:
                logger.exception("zone event %s not handled", delivery.message.message_id)
                bus.fail(delivery, f"{type(exc).__name__}: {exc}")
            else:
                good.append(delivery)
        self.outbox.enqueue_many(items)
        bus.ack_many(good)

    def publish_attempts(self, bus: Bus) -> int:
        """Publish the attempts the outbox recorded since the last published (id: event,
        recipient and time, so agents sharing the outbox publish each once); how many."""
        last, attempts = self.outbox.unpublished()
        if attempts:
            bus.publish_many(NOTIFICATIONS_TOPIC, [
                (asdict(a), a.recipient, f"{a.event_id}:{a.recipient}:{a.t_s!r}")
                for a in attempts
            ])  # fmt: skip
            self.outbox.published(last)
        return len(attempts)

    def run(self, bus: Bus, stop: threading.Event, period_s: float = 0.1) -> None:
        """:meth:`step` until ``stop`` is set: a zone event is taken as soon as the bus has it
        (published in this process) or within ``period_s`` [s], and what is due is delivered at
        least every ``period_s``."""
        while not stop.is_set():
            try:
                self.step(bus, wait_s=period_s)
            except Exception:  # the store or bus briefly away: try again next period
                logger.exception("response agent step failed")
                stop.wait(period_s)
