"""Ingest: device messages in, durably stored, then folded into the devices' streams.

:meth:`Ingest.submit` is the one entry for MQTT and HTTP alike: it parses and checks a payload
(a bad one goes to the dead-letter table with its reason, is counted, and stops nothing),
drops duplicates and messages too late to use, and appends the rest to the
:class:`~embercast.service.ingest_log.IngestLog`. The caller acknowledges once the returned
future is done; then a processor thread folds the messages into the
:class:`~embercast.service.hub.StreamHub`. Every message sent is counted once, as stored,
duplicate or dead-lettered.

At start-up :meth:`Ingest.start` rebuilds each device's stream from the log (the last
``replay_s`` of it), so a restart neither forgets a fire that was burning nor learns it as
background.

With ``publish`` (fold workers fold the devices: :mod:`embercast.service.fold_worker`) the
processor thread hands what was stored to ``publish`` (the ``readings`` topic) instead of
folding it, and a payload is acknowledged only once its messages are published as well as
stored. At start-up the log's messages are then only admitted (so a device's resends are
known), and those received in the last ``REPUBLISH_S`` before the stop are published again (a
stop between storing and publishing leaves them unacknowledged; their ids make a second
publication one message).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

from embercast.service.db import ServiceDB
from embercast.service.hub import StreamHub
from embercast.service.ingest_log import IngestLog
from embercast.service.messages import Message, Rejected, parse

logger = logging.getLogger(__name__)


SCHEMA = (
    """CREATE TABLE IF NOT EXISTS dead_letters (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        received_s REAL NOT NULL,
        source TEXT NOT NULL,
        device_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        reason TEXT NOT NULL,
        message TEXT NOT NULL,
        payload BLOB NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS dead_letters_reason ON dead_letters (reason)",
)

REPUBLISH_S = 60.0
"""At start-up with fold workers, the messages received this long before the last one are
published again [s]."""

Known = Callable[[str], str | None]
"""Why a device may not send (``unknown_device``, ``revoked_device``), or None."""


@dataclass
class Submitted:
    """What became of one payload: messages stored (once ``stored`` is done), duplicates
    dropped, or the reason and message it was dead-lettered with."""

    accepted: int = 0
    duplicates: int = 0
    reason: str | None = None
    message: str | None = None
    stored: Future[None] = field(default_factory=Future)


class Ingest:
    """Ingest of one service: log under ``root``, dead letters in ``db``, streams in ``hub``."""

    def __init__(
        self,
        root: str,
        db: ServiceDB,
        hub: StreamHub,
        *,
        flush_s: float = 0.05,
        replay_s: float = 7200.0,
        known: Known | None = None,
        counted: Callable[[str, str, int], None] | None = None,
        submitted: Callable[[str], None] | None = None,
        publish: Callable[[list[Message]], object] | None = None,
    ) -> None:
        self.db = db
        db.ensure(SCHEMA)
        self.hub = hub
        self.log = IngestLog(root, flush_s)
        self.replay_s = replay_s
        self.known = known
        self.counts: Counter[str] = Counter()
        """Messages by outcome: ``stored``, ``duplicate``, ``dead_letter``."""
        self._counted = counted
        self._submitted = submitted
        self.publish = publish
        self._queue: queue.Queue[tuple[list[Message], Submitted | None] | None] = queue.Queue()
        self._backlog = 0
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> int:
        """Rebuild the streams from the log, then start folding; the messages replayed."""
        sink, self.hub.sink = self.hub.sink, None  # history, not news
        replayed = 0
        recent: list[Message] = []
        try:
            for message in self.log.replay(self.replay_s):
                self.hub.admit(message)
                replayed += 1
                if self.publish is None:
                    self.hub.add([message], force=True)
                else:
                    self.hub.note([message])
                    recent.append(message)
        finally:
            self.hub.sink = sink
        if recent and self.publish is not None:
            newest = max(m.received_s for m in recent)
            self.publish([m for m in recent if m.received_s >= newest - REPUBLISH_S])
        logger.info("rebuilt %d device streams from %d stored messages", len(self.hub.devices()),
                    replayed)  # fmt: skip
        self._thread = threading.Thread(target=self._process, name="ingest-fold", daemon=True)
        self._thread.start()
        return replayed

    def stop(self) -> None:
        """Store what is queued, fold what is stored, and stop."""
        self.log.close()
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        self.hub.flush()

    def _process(self) -> None:
        """Fold what was stored, everything waiting at once (one model call for the readings
        of many devices), until :meth:`stop`."""
        stopping = False
        while not stopping:
            batch: list[Message] = []
            waiting: list[tuple[list[Message], Submitted]] = []
            try:
                first = self._queue.get(timeout=0.1)
                while True:
                    if first is None:
                        stopping = True
                        break
                    batch += first[0]
                    if first[1] is not None:
                        waiting.append((first[0], first[1]))
                    first = self._queue.get_nowait()
            except queue.Empty:
                pass
            try:
                if self.publish is not None:
                    self._hand_over(batch, waiting)
                else:
                    if batch:
                        self.hub.add(batch)
                    self.hub.tick()
            except Exception:  # a defect must not stop ingest: the messages are stored
                logger.exception("folding %d messages failed", len(batch))
            finally:
                with self._lock:
                    self._backlog -= len(batch)

    def _hand_over(
        self, batch: list[Message], waiting: list[tuple[list[Message], Submitted]]
    ) -> None:
        """Publish what was stored to the fold workers, then let its payloads be acknowledged
        (or, when the bus refuses it, refuse them: the device sends them again)."""
        if not batch:
            return
        assert self.publish is not None
        try:
            self.publish(batch)
        except Exception as exc:
            logger.error("cannot hand %d stored messages to the fold workers: %s", len(batch), exc)
            for messages, result in waiting:
                self.hub.unreserve(messages)
                result.stored.set_exception(exc)
            return
        self.hub.note(batch)
        for _, result in waiting:
            result.stored.set_result(None)

    def backlog(self) -> int:
        """Messages stored and not folded yet."""
        with self._lock:
            return self._backlog

    # ------------------------------------------------------------------ messages
    def _count(self, source: str, outcome: str, n: int) -> None:
        if n <= 0:
            return
        with self._lock:
            self.counts[outcome] += n
        if self._counted is not None:
            self._counted(source, outcome, n)

    def dead_letter(
        self, source: str, device_id: str, kind: str, reason: str, message: str, payload: bytes,
        count: int = 1,
    ) -> None:  # fmt: skip
        """Keep a payload that cannot be used, with its reason."""
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO dead_letters (received_s, source, device_id, kind, reason, message, "
                "payload) VALUES (?,?,?,?,?,?,?)",
                (time.time(), source, device_id, kind, reason, message, payload),
            )
        self._count(source, "dead_letter", count)
        logger.info("dead letter from %s (%s): %s", device_id, reason, message)

    def _check_feature_set(self, messages: list[Message]) -> None:
        """Rejected (``edge_feature_set``) when an edge row is of another feature set than the
        served model's (with no model yet, the stream checks it when it folds the row)."""
        served = self.hub.feature_set()
        for m in messages:
            if m.edge is not None and served is not None and m.edge.feature_set != served:
                raise Rejected(
                    "edge_feature_set",
                    f"thermal edge message at ts={m.ts}: features of {m.edge.feature_set!r}, "
                    f"but the served model takes {served!r}",
                )

    def submit(self, source: str, device_id: str, kind: str, payload: bytes) -> Submitted:
        """Take one payload of ``device_id``; see :class:`Submitted`."""
        result = Submitted()
        if self._submitted is not None:  # every payload, usable or not (misuse)
            self._submitted(device_id)
        try:
            messages = parse(device_id, kind, payload, time.time())
            self._check_feature_set(messages)
            refused = self.known(device_id) if self.known is not None else None
            if refused is not None:
                raise Rejected(refused, f"device {device_id!r}: {refused.replace('_', ' ')}")
        except Rejected as exc:
            self.dead_letter(source, device_id, kind, exc.reason, str(exc), payload)
            result.reason, result.message = exc.reason, str(exc)
            result.stored.set_result(None)
            return result
        fresh: list[Message] = []
        for m in messages:
            why = self.hub.admit(m)
            if why is None:
                fresh.append(m)
            elif why == "duplicate":
                result.duplicates += 1
            else:
                text = f"{kind} message at ts={m.ts} is older than what the stream has used"
                self.dead_letter(source, device_id, kind, why, text, payload)
                result.reason, result.message = why, text
        self._count(source, "duplicate", result.duplicates)
        result.accepted = len(fresh)
        stored = self.log.append(fresh)

        def done(future: Future[None]) -> None:
            if future.exception() is None:
                self._count(source, "stored", len(fresh))
                if fresh:
                    with self._lock:
                        self._backlog += len(fresh)
                    if self.publish is not None:  # acknowledged once published too
                        self._queue.put((fresh, result))
                        return
                    self._queue.put((fresh, None))
            else:  # not stored, not acknowledged: taken again when the device resends them
                self.hub.unreserve(fresh)
                result.stored.set_exception(future.exception())
                return
            result.stored.set_result(None)

        stored.add_done_callback(done)
        return result

    def dead_letters(self, limit: int = 100, reason: str | None = None) -> list[dict[str, object]]:
        """The latest dead letters (without their payloads), newest first."""
        where, args = ("WHERE reason = ?", (reason,)) if reason else ("", ())
        rows = self.db.query(
            f"SELECT id, received_s, source, device_id, kind, reason, message, length(payload) "
            f"FROM dead_letters {where} ORDER BY id DESC LIMIT ?",
            (*args, limit),
        )
        keys = ("id", "received_s", "source", "device_id", "kind", "reason", "message", "bytes")
        return [dict(zip(keys, row, strict=True)) for row in rows]
