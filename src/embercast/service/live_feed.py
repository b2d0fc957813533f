"""The dashboard's live feed: every new prediction and alarm change, fanned out to the browsers
following ``GET /v1/live/events`` (server-sent events, :mod:`embercast.service.sse`).

:class:`LiveFeed` chains itself into the hub's sink (the sink there before it still runs first)
and turns each prediction into a ``prediction`` event, plus an ``alarm`` event when the device's
alarm decision turns on or off or its risk level moves while on. The sink runs on the ingest
thread; the events made while the loop is busy cross to it together (one
``loop.call_soon_threadsafe`` for all of them, in order) and are put in every client's bounded
queue there (a client too slow to keep up loses the oldest first).
Event ids are ``<boot>-<n>``: a client that reconnects gets a ``hello`` event first and reloads
the state (``GET /v1/live``) rather than a replay.

Open streams end when the process is told to stop (SIGTERM, SIGINT), so the server's graceful
shutdown does not wait for them; the browsers' EventSource reconnects by itself once the
service is back.
"""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from embercast.service.device_stream import Prediction
from embercast.service.heatmap import celsius
from embercast.service.hub import HISTORY
from embercast.service.messages import Message
from embercast.service.sse import HEARTBEAT_S, Event, Subscriber, end_on_exit
from embercast.service.state import ServiceState

logger = logging.getLogger(__name__)
_READING = ("co2_ppm", "temperature_c", "humidity_pct")


def reading_view(message: Message | None) -> dict[str, Any] | None:
    """A reading for the page: ``ts`` [s], ``co2_ppm``, ``temperature_c`` [°C],
    ``humidity_pct`` [%] (None where the sensor gave nothing)."""
    if message is None or message.reading is None:
        return None
    r = message.reading
    values = zip(_READING, (r.co2_ppm, r.temperature_c, r.humidity_pct), strict=True)
    return {"ts": message.ts} | {k: (None if math.isnan(v) else float(v)) for k, v in values}


def thermal_view(message: Message | None) -> dict[str, Any] | None:
    """The latest frame in brief: ``ts`` [s] (its heat map's ETag), coldest and hottest pixel
    [°C]."""
    if message is None or message.frame is None:
        return None
    c = celsius(message.frame)
    return {"ts": message.ts, "min_c": round(float(c.min()), 2), "max_c": round(float(c.max()), 2)}


class LiveFeed:
    """Predictions and alarm changes of ``state``'s hub, for every open event stream."""

    def __init__(self, state: ServiceState, heartbeat_s: float = HEARTBEAT_S) -> None:
        self.state = state
        self.heartbeat_s = heartbeat_s
        self.boot = secrets.token_hex(4)
        """This process's mark in event ids."""
        self._seq = 0
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._subscribers: set[Subscriber] = set()
        self._outbox: list[Event] = []
        """Events made and not yet handed to the loop."""
        self._handing = False
        """Whether a hand-over of the outbox is scheduled on the loop."""
        self._closed = False
        self._zones: dict[str, str] = {}
        self._alarm: dict[str, tuple[bool, str]] = {}
        self.readings: dict[str, deque[dict[str, Any]]] = {}
        """Each device's latest readings for the charts (at most ``HISTORY``)."""
        self._undo_signals: Callable[[], None] = lambda: None
        previous = state.hub.sink

        def sink(device_id: str, prediction: Prediction) -> None:
            if previous is not None:
                previous(device_id, prediction)
            self.on_prediction(device_id, prediction)

        state.hub.sink = sink

    # ------------------------------------------------------------------ lifecycle
    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Deliver on ``loop``, take the charts' readings from the ingest log, and end the
        streams when the process is told to stop."""
        self._loop, self._closed = loop, False
        self.load_readings(self.state.ingest.log.recent("scd41", self.state.ingest.replay_s))
        self._undo_signals = end_on_exit(self.close)

    def stop(self) -> None:
        """End every stream and give the signals back."""
        self.close()
        self._undo_signals()

    def close(self) -> None:
        """End every open stream (safe from any thread and from a signal handler)."""
        self._closed = True
        self._call(self._deliver, None)

    # ------------------------------------------------------------------ clients
    def subscribe(self) -> Subscriber:
        """A new client's queue, starting with a ``hello`` event (None at once when closed)."""
        sub = Subscriber()
        if self._closed:
            sub.put(None)
            return sub
        self._subscribers.add(sub)
        sub.put(self.event("hello", {"boot": self.boot, "model": self.model()}))
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self._subscribers.discard(sub)
        if sub.dropped:
            logger.info("a live client fell behind and lost %d events", sub.dropped)

    @property
    def clients(self) -> int:
        return len(self._subscribers)

    # ------------------------------------------------------------------ events
    def event(self, kind: str, data: dict[str, Any]) -> Event:
        with self._lock:
            self._seq += 1
            return Event(f"{self.boot}-{self._seq}", kind, data)

    def publish(self, kind: str, data: dict[str, Any]) -> None:
        """Send an event to every client (from any thread)."""
        if not self._subscribers:
            return
        event = self.event(kind, data)
        with self._lock:
            self._outbox.append(event)
            if self._handing:  # the scheduled hand-over takes this one too
                return
            self._handing = True
        if not self._call(self._hand_over, None):
            with self._lock:
                self._outbox.clear()
                self._handing = False

    def _hand_over(self, _: Event | None) -> None:
        """On the loop: every event of the outbox to every client, in order."""
        with self._lock:
            events, self._outbox = self._outbox, []
            self._handing = False
        for event in events:
            self._deliver(event)

    def _call(self, fn: Callable[[Event | None], None], arg: Event | None) -> bool:
        """Run ``fn(arg)`` on the loop; whether it was scheduled."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return False
        try:
            loop.call_soon_threadsafe(fn, arg)
        except RuntimeError:  # the loop closed meanwhile: nobody is listening
            return False
        return True

    def _deliver(self, event: Event | None) -> None:
        for sub in list(self._subscribers):
            sub.put(event)

    def model(self) -> dict[str, Any] | None:
        """Name and version of the model being served (None while none is loaded)."""
        m = self.state.models.current
        return None if m is None else {"name": m.name, "version": m.version, "ref": m.ref}

    def zone(self, device_id: str) -> str | None:
        """The zone of ``device_id`` (None: not registered)."""
        if device_id not in self._zones:
            found = self.state.devices.list(include_revoked=True)
            self._zones.update({d.device_id: d.zone for d in found})
        return self._zones.get(device_id)

    def on_prediction(self, device_id: str, prediction: Prediction) -> None:
        """The hub's sink: note the reading, publish the prediction and any alarm change."""
        hub = self.state.hub
        reading = reading_view(hub.last_reading(device_id))
        if reading is not None:
            self.note_reading(device_id, reading)
        now = (prediction.alarm, prediction.risk if prediction.alarm else "")
        changed = self._alarm.get(device_id, (False, "")) != now
        self._alarm[device_id] = now
        if not self._subscribers:
            return
        zone = self.zone(device_id)
        self.publish("prediction", {
            "device_id": device_id, "zone": zone, "prediction": prediction.as_dict(),
            "reading": reading, "thermal": thermal_view(hub.last_frame(device_id)),
            "model": self.model(),
        })  # fmt: skip
        if changed:
            self.publish("alarm", {
                "device_id": device_id, "zone": zone, "alarm": prediction.alarm,
                "t_s": prediction.t_s, "risk": prediction.risk,
                "p_fire": prediction.as_dict()["p_fire"],
            })  # fmt: skip

    def note_reading(self, device_id: str, reading: dict[str, Any]) -> None:
        """Keep a reading for the charts (once per time)."""
        with self._lock:
            kept = self.readings.setdefault(device_id, deque(maxlen=HISTORY))
            if not kept or reading["ts"] > kept[-1]["ts"]:
                kept.append(reading)

    def load_readings(self, table: Any) -> None:
        """Fill the charts' readings from the ingest log's readings (a pyarrow table with
        ``device_id``, ``ts``, ``co2_ppm``, ``temperature_c``, ``humidity_pct``)."""
        if table.num_rows == 0:
            return
        table = table.sort_by([("device_id", "ascending"), ("ts", "ascending")])
        columns = [table[c].to_pylist() for c in ("device_id", "ts", *_READING)]
        for dev, ts, *values in zip(*columns, strict=True):
            self.note_reading(dev, {"ts": ts} | dict(zip(_READING, values, strict=True)))

    def history(self, device_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.readings.get(device_id, ()))
