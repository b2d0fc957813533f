"""Every device's live stream: stored messages in, predictions out.

Readings and frames (or edge rows: thermal features the device computed at a reading's time)
come on separate topics, a little out of order. The hub holds each device's readings, frames and
edge rows in time order and folds a reading at t into the device's
:class:`~embercast.service.device_stream.DeviceStream` once a frame or an edge row at or after t
has arrived (so the frames at or before t, or the edge row at t, are there) or it has waited
``wait_s``; the frames up to t go in first, as in the offline fold, and the edge row at t goes
with the reading (an edge row whose reading never came is dropped when a later reading is
folded, counted as ``edge_unused``). So the same stream gives the same rows whatever the order
its messages arrive in.

:meth:`StreamHub.admit` decides, before a message is stored, whether it is new (a message with
the same device, kind and time is a ``duplicate``: dropped, not stored twice) or too late to be
used (``reading_order`` / ``frame_order`` / ``edge_order``: older than what the stream has
folded).
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from embercast.alarm.device_quality import QualityParams
from embercast.service.device_stream import DeviceStream, ModelInput, Prediction
from embercast.service.live_model import LiveModel
from embercast.service.messages import EDGE, Message

logger = logging.getLogger(__name__)

_EPS = 1e-6
HISTORY = 720
"""Predictions kept per device for the dashboard's charts (an hour at one per 5 s)."""

Sink = Callable[[str, Prediction], None]


@dataclass
class _Row:
    """A reading folded into its device's stream, waiting for its score."""

    device_id: str
    dev: _Device
    input: ModelInput


LATE = {"scd41": "reading_order", "thermal": "frame_order", EDGE: "edge_order"}
"""Why a message of each kind is too late to use."""


@dataclass
class _Device:
    stream: DeviceStream
    readings: list[tuple[float, float, Message]] = field(default_factory=list)
    """Waiting readings: (ts, arrival on the monotonic clock, message), by ts."""
    frames: list[tuple[float, Message]] = field(default_factory=list)
    """Frames not yet folded, by ts."""
    edges: list[tuple[float, Message]] = field(default_factory=list)
    """Edge rows not yet folded, by ts."""
    folded_t: float = float("-inf")
    """Time of the last reading folded."""
    frame_t: float = float("-inf")
    """Time of the last frame folded."""
    newest_thermal: float = float("-inf")
    """Time of the newest frame or edge row received."""
    seen: set[tuple[str, float]] = field(default_factory=set)
    recent: deque[tuple[str, float]] = field(default_factory=deque)
    history: deque[Prediction] = field(default_factory=lambda: deque(maxlen=HISTORY))
    last_reading: Message | None = None
    last_frame: Message | None = None
    mirrored: Prediction | None = None
    """The last prediction a fold worker made (:meth:`StreamHub.mirror`, :meth:`restore`)."""
    mirrored_t: float = float("-inf")
    """Time of the last fold worker's prediction passed to the sink."""


class StreamHub:
    """The streams of all devices, scored by ``model()`` (the served model at each call)."""

    def __init__(
        self,
        model: Callable[[], LiveModel | None],
        wait_s: float = 2.0,
        sink: Sink | None = None,
        threads: int = 1,
        quality: QualityParams | None = None,
    ) -> None:
        self._model = model
        self.quality = quality
        self.wait_s = wait_s
        self.sink = sink
        self._devices: dict[str, _Device] = {}
        self._lock = threading.RLock()
        self.rejected: Counter[str] = Counter()
        """Messages rejected after they were stored (the stream refused them), by reason."""
        self.folded = 0
        self._pool = ThreadPoolExecutor(threads, "fold") if threads > 1 else None
        self._waiting: set[str] = set()
        """Devices with readings waiting (the only ones :meth:`tick` looks at)."""

    # ------------------------------------------------------------------ before storing
    def admit(self, message: Message) -> str | None:
        """Reserve ``message`` if it is new and can still be used; else why not
        (``duplicate``, ``reading_order``, ``frame_order``, ``edge_order``)."""
        with self._lock:
            dev = self._device(message.device_id)
            if dev is None:  # no model yet: stored, and folded once there is one
                return None
            key = (message.kind, message.ts)
            if key in dev.seen:
                return "duplicate"
            late = dev.frame_t if message.kind == "thermal" else dev.folded_t
            if message.ts <= late:
                return LATE[message.kind]
            dev.seen.add(key)
            dev.recent.append(key)
            while len(dev.recent) > 10_000:
                dev.seen.discard(dev.recent.popleft())
            return None

    def unreserve(self, messages: Iterable[Message]) -> None:
        """Forget that ``messages`` were admitted (they could not be stored): the device sends
        them again, and they must not be taken for duplicates then."""
        with self._lock:
            for m in messages:
                dev = self._devices.get(m.device_id)
                if dev is not None:
                    dev.seen.discard((m.kind, m.ts))

    def _device(self, device_id: str) -> _Device | None:
        dev = self._devices.get(device_id)
        if dev is None:
            model = self._model()
            if model is None:
                return None
            stream = DeviceStream(model, device_id, self.quality)
            dev = self._devices[device_id] = _Device(stream)
        return dev

    # ------------------------------------------------------------------ after storing
    def add(
        self, messages: Iterable[Message], now: float | None = None, force: bool = False
    ) -> list[Prediction]:
        """Take stored messages; fold what is ready (with ``force``, every waiting reading of
        the devices they touch: for a replay in time order); the predictions made."""
        clock = time.monotonic() if now is None else now
        touched = set()
        with self._lock:
            for m in messages:
                dev = self._device(m.device_id)
                if dev is None:
                    self.rejected["no_model"] += 1
                    continue
                touched.add(m.device_id)
                dev.stream.quality.update_clock(m.ts, m.received_s)
                if m.kind == "scd41":
                    bisect.insort(dev.readings, (m.ts, clock, m), key=lambda x: x[0])
                    self._waiting.add(m.device_id)
                    dev.last_reading = m
                elif m.kind == EDGE:
                    bisect.insort(dev.edges, (m.ts, m), key=lambda x: x[0])
                    dev.newest_thermal = max(dev.newest_thermal, m.ts)
                else:
                    bisect.insort(dev.frames, (m.ts, m), key=lambda x: x[0])
                    dev.newest_thermal = max(dev.newest_thermal, m.ts)
                    dev.last_frame = m
            return self._score(self._fold(touched, clock, force))

    def tick(self, now: float | None = None) -> list[Prediction]:
        """Fold the readings that have waited ``wait_s``; the predictions made."""
        clock = time.monotonic() if now is None else now
        with self._lock:
            return self._score(self._fold(self._waiting, clock, False))

    def flush(self) -> list[Prediction]:
        """Fold every waiting reading now (at shutdown, and after a replay)."""
        with self._lock:
            return self._score(self._fold(self._devices, float("inf"), True))

    def _fold(self, device_ids: Iterable[str], clock: float, force: bool) -> list[_Row]:
        """The rows of every ready reading of ``device_ids``, by device then time: devices
        folded side by side on the fold threads (a device's readings in order on one)."""
        ids = sorted(device_ids)
        release = partial(self._release, clock=clock, force=force)
        # frames carry the work that runs outside Python's lock (OpenCV, numpy): those devices
        # go to the threads; the rest is Python, quicker on this one
        framed = [d for d in ids if self._devices[d].frames]
        if self._pool is None or len(framed) < 2:
            done = {d: release(d) for d in ids}
        else:
            side = self._pool.map(release, framed)  # submitted now, run beside this thread
            on_threads = set(framed)
            done = {d: release(d) for d in ids if d not in on_threads}
            done.update(zip(framed, side, strict=True))
        rows: list[_Row] = []
        for made, rejected in (done[d] for d in ids):
            rows += made
            self.rejected.update(rejected)
        return rows

    def _release(
        self, device_id: str, clock: float, force: bool
    ) -> tuple[list[_Row], Counter[str]]:
        """Fold the device's ready readings (with their frames or edge rows) into its stream;
        the model rows made, in time order, not yet scored, and the messages rejected."""
        dev = self._devices[device_id]
        out: list[_Row] = []
        rejected: Counter[str] = Counter()
        while dev.readings:
            ts, arrived, m = dev.readings[0]
            ready = force or dev.newest_thermal >= ts - _EPS or clock - arrived >= self.wait_s
            if not ready:
                break
            dev.readings.pop(0)
            while dev.frames and dev.frames[0][0] <= ts + _EPS:
                fts, frame = dev.frames.pop(0)
                assert frame.frame is not None
                if dev.stream.update_frame(fts, frame.frame, frame.ffc):
                    dev.frame_t = fts
                else:
                    rejected["frame_order"] += 1
            edge = None
            while dev.edges and dev.edges[0][0] <= ts + _EPS:
                ets, row = dev.edges.pop(0)
                if ets >= ts - _EPS:
                    edge = row.edge
                else:
                    rejected["edge_unused"] += 1
            assert m.reading is not None
            made = dev.stream.row(m.reading, edge)
            dev.folded_t = max(dev.folded_t, ts)
            if made is None:
                rejected["reading_order"] += 1
                continue
            out.append(_Row(device_id, dev, made))
        if not dev.readings:
            self._waiting.discard(device_id)
        return out, rejected

    def _score(self, rows: list[_Row]) -> list[Prediction]:
        """Score the rows made, one model call for all of them (each device's in its time
        order), and run each device's alarm decision on its own; the predictions."""
        out: list[Prediction] = []
        if not rows:
            return out
        by_model: dict[int, list[_Row]] = {}
        for row in rows:
            by_model.setdefault(id(row.dev.stream.model), []).append(row)
        p: dict[int, float] = {}
        for group in by_model.values():
            scores = group[0].dev.stream.model.score(np.stack([r.input.x for r in group]))
            p.update((id(r), float(s)) for r, s in zip(group, scores, strict=True))
        for row in rows:
            found = row.dev.stream.decide(row.input, p[id(row)])
            self.folded += 1
            row.dev.history.append(found)
            out.append(found)
            if self.sink is not None:
                self.sink(row.device_id, found)
        return out

    # ------------------------------------------------------------------ fold workers
    def folded_until(self, device_id: str) -> float:
        """Time of the device's last reading folded [s] (-inf when none): a reading at or
        before it has its prediction, or was rejected."""
        with self._lock:
            dev = self._devices.get(device_id)
            return float("-inf") if dev is None else dev.folded_t

    def prediction_at(self, device_id: str, t_s: float) -> Prediction | None:
        """The device's prediction of its reading at ``t_s`` [s], while it is in the history."""
        with self._lock:
            dev = self._devices.get(device_id)
            for p in reversed(dev.history if dev is not None else ()):
                if abs(p.t_s - t_s) <= _EPS:
                    return p
                if p.t_s < t_s:
                    break
            return None

    def forget(self, device_ids: Iterable[str]) -> None:
        """Drop the streams of ``device_ids`` (another worker folds them now)."""
        with self._lock:
            for d in device_ids:
                self._devices.pop(d, None)
                self._waiting.discard(d)

    def note(self, messages: Iterable[Message]) -> None:
        """Keep each device's last reading and frame without folding them (the service, when
        fold workers fold its devices)."""
        with self._lock:
            for m in messages:
                dev = self._device(m.device_id)
                if dev is None:
                    continue
                if m.kind == "scd41":
                    dev.last_reading = m
                elif m.kind == "thermal":
                    dev.last_frame = m

    def mirror(self, device_id: str, prediction: Prediction) -> bool:
        """Take a prediction a fold worker made (its risk message) as this hub's own: kept in
        the history (unless :meth:`restore` put it there) and passed to the sink; False for
        one already passed or older (a redelivery), or before a model is served."""
        with self._lock:
            dev = self._device(device_id)
            if dev is None or prediction.t_s <= dev.mirrored_t + _EPS:
                return False
            dev.mirrored_t = prediction.t_s
            if not dev.history or prediction.t_s > dev.history[-1].t_s + _EPS:
                dev.history.append(prediction)
            if dev.mirrored is None or prediction.t_s >= dev.mirrored.t_s:
                dev.mirrored = prediction
            self.folded += 1
        if self.sink is not None:
            self.sink(device_id, prediction)
        return True

    def restore(self, device_id: str, prediction: Prediction) -> bool:
        """Put back in the history a prediction a fold worker made before this service started
        (the sink does not see it: history, not news; :meth:`mirror` still passes it on if
        it was never taken); False for one older than the history's last, or before a model is
        served."""
        with self._lock:
            dev = self._device(device_id)
            if dev is None or (dev.history and prediction.t_s <= dev.history[-1].t_s + _EPS):
                return False
            dev.history.append(prediction)
            dev.mirrored = prediction
            return True

    # ------------------------------------------------------------------ state
    def use(self, model: LiveModel) -> None:
        """Score with ``model`` from now on: each stream keeps its state when the feature set is
        the same (the alarm decision takes the new operating point)."""
        with self._lock:
            for dev in self._devices.values():
                dev.stream.use(model)

    def feature_set(self) -> str | None:
        """The feature set of the model being served (None before one is loaded): edge rows of
        any other set cannot be used."""
        model = self._model()
        return None if model is None else model.feature_set

    def devices(self) -> list[str]:
        with self._lock:
            return sorted(self._devices)

    def latest(self, device_id: str) -> Prediction | None:
        with self._lock:
            dev = self._devices.get(device_id)
            return None if dev is None else dev.stream.get() or dev.mirrored

    def history(self, device_id: str) -> list[Prediction]:
        with self._lock:
            dev = self._devices.get(device_id)
            return [] if dev is None else list(dev.history)

    def last_frame(self, device_id: str) -> Message | None:
        with self._lock:
            dev = self._devices.get(device_id)
            return None if dev is None else dev.last_frame

    def last_reading(self, device_id: str) -> Message | None:
        with self._lock:
            dev = self._devices.get(device_id)
            return None if dev is None else dev.last_reading

    def waiting(self) -> int:
        """Readings waiting for their frames, over all devices."""
        with self._lock:
            return sum(len(d.readings) for d in self._devices.values())
