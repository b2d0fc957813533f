"""What the learning agents in processes of their own publish on ``model_events``, and the
service's view of it.

``embercast agent drift`` publishes each drift (``kind = "drift"``), ``embercast agent shadow``
the shadow comparison when it changes (``kind = "shadow"``, ``summary``:
:meth:`~embercast.agents.shadow.Shadow.summary`) and each of the model steward's actions
(``kind = "steward"``: :attr:`~embercast.agents.steward.ModelSteward.actions`). The service
follows the topic (group ``service-drift``) and shows them as its own: :class:`LearningView`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from embercast.agents.drift import EVENTS_TOPIC, Drift, DriftWatch
from embercast.agents.steward import ModelSteward
from embercast.bus.base import Bus

logger = logging.getLogger(__name__)

FOLLOW_GROUP = "service-drift"
"""The service's group on ``model_events`` (it first followed drifts only)."""


def announcer(bus: Bus, kind: str) -> Callable[[dict[str, Any]], None]:
    """Publish a body on ``model_events`` as an event of ``kind`` (id: kind and wall-clock
    time [s])."""

    def announce(body: dict[str, Any]) -> None:
        at = time.time()
        bus.publish(EVENTS_TOPIC, {"kind": kind, "t": at, **body}, key=kind,
                    message_id=f"{kind}:{at!r}")  # fmt: skip

    return announce


class LearningView:
    """The drifts, shadow comparison and steward's actions that agents elsewhere publish: drifts
    go to ``drift`` (listed and counted as its own), actions to ``steward.actions``, the latest
    comparison to :attr:`shadow`. ``None`` for what the service does itself."""

    def __init__(self, drift: DriftWatch | None, steward: ModelSteward | None) -> None:
        self.drift = drift
        self.steward = steward
        self.shadow: dict[str, Any] | None = None
        self._lock = threading.Lock()

    def take(self, event: dict[str, Any]) -> None:
        """Take one event of ``model_events``."""
        kind = event.get("kind")
        if kind == "drift" and self.drift is not None:
            self.drift.add(Drift(str(event["signal"]), float(event["before"]),
                                 float(event["after"]), int(event["seen"]),
                                 float(event["t"])))  # fmt: skip
        elif kind == "shadow" and self.steward is not None:
            with self._lock:
                self.shadow = event.get("summary")
        elif kind == "steward" and self.steward is not None:
            action = {k: v for k, v in event.items() if k != "kind"}
            self.steward.actions.append(action)

    def step(self, bus: Bus) -> int:
        """Take the events waiting; how many."""
        taken = bus.receive(EVENTS_TOPIC, FOLLOW_GROUP, "service", limit=256, visibility_s=60.0)
        for delivery in taken:
            self.take(delivery.message.payload)
        bus.ack_many(taken)
        return len(taken)

    def run(self, bus: Bus, stop: threading.Event, idle_s: float = 1.0) -> None:
        """:meth:`step` until ``stop`` is set."""
        while not stop.is_set():
            if not self.step(bus):
                stop.wait(idle_s)
