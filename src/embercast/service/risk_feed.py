"""The hub's predictions onto the bus: every scored reading becomes a ``risk`` message (keyed
by device, id = device and time, so a repeat is one message) for the zone agent.

:meth:`RiskFeed.update` is the hub's sink (it only appends to a buffer); :meth:`RiskFeed.run`,
an agent loop, publishes what gathered every ``period_s`` in one batch (a fold worker calls
:meth:`RiskFeed.flush` itself, before it acknowledges the readings). A device's zone is looked
up once (a device never changes zone). :func:`prediction_of` reads a risk message back as the
prediction it was made from (the service's view of what fold workers predict); a starting
:class:`RiskView` first puts the last predictions still on the bus back in the dashboard's
history.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any

from embercast.agents.zones import RISK_TOPIC, risk_message
from embercast.bus.base import Bus
from embercast.service.device_stream import Prediction

logger = logging.getLogger(__name__)


def prediction_of(risk: dict[str, Any]) -> Prediction:
    """The prediction a ``risk`` message was made from (:func:`risk_message`)."""
    p = risk.get("p_fire")
    return Prediction(
        float(risk["t_s"]), math.nan if p is None else float(p), str(risk.get("risk")),
        bool(risk.get("alarm")), bool(risk.get("onset")), risk.get("heat_kind"),
        bool(risk.get("sensor_fault")), str(risk.get("thermal_status", "ok")),
        tuple(math.nan if v is None else float(v) for v in risk.get("x") or ()),
        tuple(str(t) for t in risk.get("troubles") or ()),
        _number(risk.get("co2_ppm")), _number(risk.get("co2_rate_ppm_s")),
    )  # fmt: skip


def _number(value: Any) -> float:
    return math.nan if value is None else float(value)


class RiskFeed:
    """Publishes predictions on ``bus``, each with its device's zone (``zone_of``)."""

    def __init__(
        self, bus: Bus, zone_of: Callable[[str], str | None], period_s: float = 0.05
    ) -> None:
        self.bus = bus
        self.zone_of = zone_of
        self.period_s = period_s
        self._zones: dict[str, str | None] = {}
        self._buffer: list[tuple[dict[str, Any], str, str]] = []
        self._lock = threading.Lock()

    def _zone(self, device_id: str) -> str | None:
        if device_id not in self._zones:
            self._zones[device_id] = self.zone_of(device_id)
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


class RiskView:
    """The service's view of what fold workers predict: every ``risk`` message, read as group
    ``service``, is mirrored into the service's hub (:meth:`StreamHub.mirror`), whose sink
    keeps the alarms and the dashboard in step as when the service folds itself."""

    GROUP = "service"

    def __init__(
        self,
        bus: Bus,
        mirror: Callable[[str, Prediction], bool],
        restore: Callable[[str, Prediction], bool] | None = None,
        history_s: float = 0.0,
    ) -> None:
        self.bus = bus
        self.mirror = mirror
        self.restore = restore
        self.history_s = history_s
        self.restored = 0
        """Predictions put back in the history at the start."""

    def run(self, stop: threading.Event, idle_s: float = 0.05) -> None:
        """Put back the last ``history_s`` of predictions (with ``restore``), then mirror risk
        messages until ``stop`` is set."""
        if self.restore is not None and self.history_s > 0:
            for message in self.bus.read(RISK_TOPIC, time.time() - self.history_s):
                if stop.is_set():
                    return
                risk = message.payload
                self.restored += self.restore(str(risk["device_id"]), prediction_of(risk))
            logger.info("%d predictions of the last %.0f s restored", self.restored,
                        self.history_s)  # fmt: skip
        while not stop.is_set():
            taken = self.bus.receive(RISK_TOPIC, self.GROUP, "service", limit=1024,
                                     visibility_s=60.0)  # fmt: skip
            for delivery in taken:
                risk = delivery.message.payload
                self.mirror(str(risk["device_id"]), prediction_of(risk))
            self.bus.ack_many(taken)
            if not taken:
                stop.wait(idle_s)
