"""The hub's predictions onto the bus: every scored reading becomes a ``risk`` message (keyed
by device, id = device and time, so a repeat is one message) for the zone agent.

:meth:`RiskFeed.update` is the hub's sink (it only appends to a buffer); :meth:`RiskFeed.run`,
an agent loop, publishes what gathered every ``period_s`` in one batch. A device's zone is
looked up once (a device never changes zone).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from embercast.agents.zones import RISK_TOPIC, risk_message
from embercast.bus.base import Bus
from embercast.service.device_records import NotFound
from embercast.service.device_stream import Prediction
from embercast.service.devices import DeviceStore

logger = logging.getLogger(__name__)


class RiskFeed:
    """Publishes the predictions of devices in ``devices`` on ``bus``."""

    def __init__(self, bus: Bus, devices: DeviceStore, period_s: float = 0.05) -> None:
        self.bus = bus
        self.devices = devices
        self.period_s = period_s
        self._zones: dict[str, str | None] = {}
        self._buffer: list[tuple[dict[str, Any], str, str]] = []
        self._lock = threading.Lock()

    def _zone(self, device_id: str) -> str | None:
        if device_id not in self._zones:
            try:
                self._zones[device_id] = self.devices.get(device_id).zone
            except NotFound:
                self._zones[device_id] = None
        return self._zones[device_id]

    def update(self, device_id: str, prediction: Prediction) -> None:
        """The hub's sink: keep the prediction for the next batch."""
        message = risk_message(
            device_id, self._zone(device_id), prediction.as_dict(), prediction.inputs
        )
        with self._lock:
            self._buffer.append(message)

    def flush(self) -> int:
        """Publish what gathered; how many (kept for the next flush if the bus refuses)."""
        with self._lock:
            batch, self._buffer = self._buffer, []
        if not batch:
            return 0
        try:
            return self.bus.publish_many(RISK_TOPIC, batch)
        except Exception:
            with self._lock:
                self._buffer[:0] = batch
            raise

    def run(self, stop: threading.Event) -> None:
        """Flush every ``period_s`` until ``stop`` is set (then once more)."""
        while not stop.wait(self.period_s):
            self.flush()
        self.flush()
