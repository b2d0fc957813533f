"""The monitoring agent: devices that fall silent.

It reads the ``risk`` topic (its own group) and remembers, per device, its zone, its reading
period (the median of its last intervals, in its own time) and when its latest reading arrived
[wall-clock s]. A device that has sent nothing for ``silent_periods`` of its periods (at least
``silent_min_s``) is reported to the zone agent as silent once
(:meth:`~embercast.agents.zones.ZoneAgent.silent`): trouble, or ``ALARM`` when it fell silent in
a steep rise (heat destroys sensors). Its next reading ends the silence (the zone clears the
trouble itself).
"""

from __future__ import annotations

import logging
import statistics
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from embercast.agents.zones import RISK_TOPIC, ZoneAgent
from embercast.bus.base import Bus

logger = logging.getLogger(__name__)

GROUP = "monitoring"


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


class DeviceWatch:
    """Watches the devices whose predictions reach it and tells ``zones`` of the silent ones."""

    def __init__(
        self, zones: ZoneAgent, *, silent_periods: float = 6.0, silent_min_s: float = 60.0
    ) -> None:
        self.zones = zones
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
            self.zones.silent(seen.zone, device, self.zones.now(seen.zone))
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
