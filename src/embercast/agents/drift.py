"""The drift watch: has what devices send, or what the model makes of it, moved?

It reads the ``risk`` topic (its own group): each message carries the model's input row (``x``,
the served model's features in order) and its fire probability. One ADWIN detector (river;
Bifet and Gavaldà 2007, adaptive windowing: a change in a stream's mean with confidence
``1 - delta``) per feature and one on the probability, each over all devices' readings
together, so it sees the population move (new rooms, a season, a sensor batch, a firmware)
rather than one device's day. A detected change is a :class:`Drift`, published on
``model_events`` (at most one per signal per ``cooldown_s``) and counted; it says retraining may
be due (``embercast learn retrain``), it never raises an alarm. When the served model's features
change, the detectors start afresh. It runs in the service, or as ``embercast agent drift``: the
service then takes the drifts published as its own (:meth:`DriftWatch.follow`).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from river.drift import ADWIN

from embercast.agents.zones import RISK_TOPIC
from embercast.bus.base import Bus

logger = logging.getLogger(__name__)

GROUP = "drift"
"""The service's group on ``model_events`` when the drift watch runs elsewhere."""
EVENTS_TOPIC = "model_events"
SCORE = "p_fire"
"""The signal name of the fire probability (the others are the features' names)."""


@dataclass(frozen=True)
class Drift:
    """A change in the mean of ``signal`` (a feature or ``p_fire``): the mean before and
    after [the signal's unit], after ``seen`` values, noticed at ``t`` [wall s]."""

    signal: str
    before: float
    after: float
    seen: int
    t: float


class DriftWatch:
    """ADWIN on each of the served model's features (``names()``) and on its probability."""

    def __init__(
        self,
        names: Callable[[], Sequence[str] | None],
        *,
        delta: float = 0.002,
        cooldown_s: float = 3600.0,
        counted: Callable[[str], None] = lambda _signal: None,
    ) -> None:
        self.names = names
        self.delta = delta
        self.cooldown_s = cooldown_s
        self.counted = counted
        self._signals: tuple[str, ...] = ()
        self._detectors: dict[str, ADWIN] = {}
        self._seen: dict[str, int] = {}
        self._last: dict[str, float] = {}
        self.found: list[Drift] = []
        self._lock = threading.Lock()

    def _ready(self) -> bool:
        names = tuple(self.names() or ())
        if names != self._signals:
            self._signals = names
            self._detectors = {
                n: ADWIN(delta=self.delta)  # type: ignore[no-untyped-call]
                for n in (*names, SCORE)
            }
            self._seen = dict.fromkeys(self._detectors, 0)
        return bool(names)

    def handle(self, risk: dict[str, Any], now: float | None = None) -> list[Drift]:
        """Take one prediction; the drifts it revealed (each signal at most once per cooldown)."""
        at = time.time() if now is None else now
        found = []
        with self._lock:
            if not self._ready():
                return []
            x = risk.get("x") or []
            values = (
                dict(zip(self._signals, x, strict=False)) if len(x) == len(self._signals) else {}
            )
            values[SCORE] = risk.get("p_fire")
            for name, value in values.items():
                if value is None or not math.isfinite(float(value)):
                    continue
                detector = self._detectors[name]
                before = float(detector.estimation)
                detector.update(float(value))  # type: ignore[no-untyped-call]
                self._seen[name] += 1
                if not detector.drift_detected:
                    continue
                if at - self._last.get(name, -math.inf) < self.cooldown_s:
                    continue
                self._last[name] = at
                drift = Drift(name, before, float(detector.estimation), self._seen[name], at)
                found.append(drift)
        for drift in found:
            self.add(drift)
            logger.info("drift in %s: mean %.4g -> %.4g after %d values", drift.signal,
                           drift.before, drift.after, drift.seen)  # fmt: skip
        return found

    def add(self, drift: Drift) -> None:
        """List and count a drift (found here, or by a drift watch elsewhere)."""
        with self._lock:
            self.found.append(drift)
        self.counted(drift.signal)

    def step(self, bus: Bus, consumer: str = "drift-1") -> int:
        """Take the predictions waiting, publish the drifts they reveal; how many taken."""
        taken = bus.receive(RISK_TOPIC, GROUP, consumer, limit=512, visibility_s=60.0)
        drifts = [d for delivery in taken for d in self.handle(delivery.message.payload)]
        if drifts:
            bus.publish_many(EVENTS_TOPIC, [
                ({"kind": "drift", **asdict(d)}, d.signal, f"drift:{d.signal}:{d.t!r}")
                for d in drifts
            ])  # fmt: skip
        bus.ack_many(taken)
        return len(taken)

    def run(self, bus: Bus, stop: threading.Event, idle_s: float = 0.2) -> None:
        """:meth:`step` until ``stop`` is set."""
        while not stop.is_set():
            if not self.step(bus):
                stop.wait(idle_s)
