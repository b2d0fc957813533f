"""The monitoring agent: devices that fall silent.

It reads the ``risk`` topic (its own group) and remembers, per device, its zone, its reading
period (the median of its last intervals, in its own time) and when its latest reading arrived
[wall-clock s]. A device that has sent nothing for ``silent_periods`` of its periods (at least
``silent_min_s``) is reported to the zone agent as silent once
(:meth:`~embercast.agents.zones.ZoneAgent.silent`): trouble, or ``ALARM`` when it fell silent in
a steep rise (heat destroys sensors). Its next reading ends the silence (the zone clears the
trouble itself).

In the service it tells the zone agent directly; as ``embercast agent monitoring`` it publishes
each silence on ``device_events`` (:func:`publisher`), from which the zone agent takes it, in
the service or in ``embercast agent zones`` (:func:`hand_over`, group ``zones``).
"""

from __future__ import annotations

import logging
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from embercast.agents.zones import GROUP as ZONES_GROUP
from embercast.agents.zones import RISK_TOPIC, ZoneAgent
from embercast.bus.base import Bus

logger = logging.getLogger(__name__)

GROUP = "monitoring"
EVENTS_TOPIC = "device_events"
"""Where a monitoring agent in a process of its own reports the devices that fell silent."""

Report = Callable[[str, str], None]
"""Told ``(zone, device)`` of a device that fell silent."""


@dataclass
class _Seen:
    zone: str
    last_t: float
    arrived: float
    intervals: deque[float] = field(default_factory=lambda: deque(maxlen=12))
    silent: bool = False

    @property
    def period_s(self) -> float:
        return statistics.median(self.intervals) if self.intervals else 5.0


def told(zones: ZoneAgent) -> Report:
    """A report that tells ``zones`` itself: the device is silent at its zone's clock."""

    def report(zone: str, device: str) -> None:
        zones.silent(zone, device, zones.now(zone))

    return report


def publisher(bus: Bus) -> Report:
    """A report published on ``device_events`` (id: the device and the wall-clock second)."""

    def report(zone: str, device: str) -> None:
        at = time.time()
        event = {"kind": "silent", "zone": zone, "device_id": device, "t": at}
        bus.publish(EVENTS_TOPIC, event, key=zone, message_id=f"silent:{device}:{at:.0f}")

    return report


def hand_over(zones: ZoneAgent, bus: Bus) -> int:
    """Hand the silences published on ``device_events`` to ``zones`` (group ``zones``); how
    many events were taken."""
    report = told(zones)
    taken = bus.receive(EVENTS_TOPIC, ZONES_GROUP, "zones-1", limit=256, visibility_s=60.0)
    for delivery in taken:
        event = delivery.message.payload
        if event.get("kind") == "silent":
            report(str(event["zone"]), str(event["device_id"]))
    bus.ack_many(taken)
    return len(taken)


def take_reports(zones: ZoneAgent, bus: Bus, stop: threading.Event, idle_s: float = 1.0) -> None:
    """When the monitoring agent runs elsewhere: :func:`hand_over` until ``stop`` is set."""
    while not stop.is_set():
        if not hand_over(zones, bus):
            stop.wait(idle_s)


class DeviceWatch:
    """Watches the devices whose predictions reach it and reports the silent ones (``report``:
    :func:`told` a zone agent, or :func:`publisher` on the bus)."""

    def __init__(
        self, report: Report, *, silent_periods: float = 6.0, silent_min_s: float = 60.0
    ) -> None:
        self.report = report
        self.silent_periods = silent_periods
        self.silent_min_s = silent_min_s
        self.devices: dict[str, _Seen] = {}
        self._lock = threading.Lock()

    def handle(self, risk: dict[str, Any], arrived: float | None = None) -> None:
        """Take one prediction (a ``risk`` message) that arrived at ``arrived`` [wall s]."""
        device = str(risk["device_id"])
        zone = risk.get("zone") or f"device:{device}"
        t, now = float(risk["t_s"]), time.time() if arrived is None else arrived
        with self._lock:
            seen = self.devices.get(device)
            if seen is None:
                self.devices[device] = _Seen(zone, t, now)
                return
            if t > seen.last_t:
                seen.intervals.append(t - seen.last_t)
                seen.last_t = t
            seen.arrived, seen.zone = now, zone
            if seen.silent:
                seen.silent = False
                logger.info("device %s reports again", device)

    def check(self, now: float | None = None) -> list[str]:
        """Report the devices silent at ``now`` [wall s] (each once per silence); their ids."""
        at = time.time() if now is None else now
        found: list[tuple[str, _Seen]] = []
        with self._lock:
            for device, seen in self.devices.items():
                limit = max(self.silent_min_s, self.silent_periods * seen.period_s)
                if not seen.silent and at - seen.arrived > limit:
                    seen.silent = True
                    found.append((device, seen))
        for device, seen in found:
            logger.warning("device %s of %s silent for %.0f s", device, seen.zone,
                           at - seen.arrived)  # fmt: skip
            try:
                self.report(seen.zone, device)
            except Exception:
                seen.silent = False  # not reported: the next check reports it again
                raise
        return [device for device, _ in found]

    def step(self, bus: Bus, consumer: str = "monitoring-1") -> int:
        """Take the predictions waiting on the bus, then look for silent devices."""
        taken = bus.receive(RISK_TOPIC, GROUP, consumer, limit=1024, visibility_s=60.0)
        for delivery in taken:
            self.handle(delivery.message.payload)
        bus.ack_many(taken)
        self.check()
        return len(taken)

    def run(self, bus: Bus, stop: threading.Event, idle_s: float = 1.0) -> None:
        """:meth:`step` until ``stop`` is set."""
        while not stop.is_set():
            if not self.step(bus):
                stop.wait(idle_s)
