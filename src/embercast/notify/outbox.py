"""The outbox: each (event, recipient) notification stored once, sent until a channel takes it,
every attempt recorded.

:meth:`Outbox.enqueue` stores a notification keyed by event id and recipient (a second enqueue of
the same pair changes nothing: retries and restarts do not duplicate). :meth:`Outbox.deliver`
sends what is due: each row is claimed (``sending``, for :data:`CLAIM_S`) in one transaction
before the channel is called, so two senders sharing the file never send one row twice, and is
``sent`` after the channel took the message, or ``pending`` again with a backoff, or ``gave_up``
after ``max_attempts``. A process killed between the channel taking a message and the record of
it leaves the row ``sending``; once the claim runs out it is sent again with the same event id
(webhooks carry it in a header for the receiver to drop the repeat). Escalations are enqueued
with a later due time and a ``cancel_key`` that :meth:`Outbox.cancel` uses when the alarm is
acknowledged in time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from embercast.errors import EmbercastError
from embercast.notify.send import Sent, send
from embercast.store.wal import WalFile

logger = logging.getLogger(__name__)

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS outbox (
        event_id TEXT NOT NULL,
        recipient TEXT NOT NULL,
        title TEXT NOT NULL,
        body TEXT NOT NULL,
        state TEXT NOT NULL
            CHECK (state IN ('pending', 'sending', 'sent', 'cancelled', 'gave_up')),
        attempts INTEGER NOT NULL DEFAULT 0,
        due_s REAL NOT NULL,
        created_s REAL NOT NULL,
        sent_s REAL,
        last_error TEXT,
        cancel_key TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (event_id, recipient)
    )""",
    "CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, due_s)",
    """CREATE TABLE IF NOT EXISTS outbox_attempts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id TEXT NOT NULL,
        recipient TEXT NOT NULL,
        t_s REAL NOT NULL,
        ok INTEGER NOT NULL,
        detail TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS outbox_published (
        one INTEGER PRIMARY KEY CHECK (one = 1),
        last_id INTEGER NOT NULL
    )""",
)

CLAIM_S = 120.0
"""How long a row being sent is another sender's to leave alone [s]; after it (its sender
died), it is sent again."""

Sender = Callable[[str, str, str, str], Sent]
"""(url, title, body, event_id) -> what came of sending it."""


class OutboxError(EmbercastError, OSError):
    """The outbox's file cannot be opened or written."""


@dataclass(frozen=True)
class Attempt:
    """One attempt to send ``event_id`` to ``recipient``: when [s], whether it went, and what
    the channel said."""

    event_id: str
    recipient: str
    t_s: float
    ok: bool
    detail: str


class Outbox:
    """The outbox in the SQLite file ``path``; failed sends are retried after ``backoff_s``
    (doubled each time, at most ``backoff_max_s``) up to ``max_attempts``; up to ``parallel``
    sends at once (one slow channel does not hold up the others)."""

    def __init__(
        self,
        path: str,
        *,
        max_attempts: int = 8,
        backoff_s: float = 5.0,
        backoff_max_s: float = 600.0,
        parallel: int = 8,
    ) -> None:
        self.path = path
        self.parallel = parallel
        self.max_attempts, self.backoff_s, self.backoff_max_s = (
            max_attempts,
            backoff_s,
            backoff_max_s,
        )
        # durable across a crash of the process; a power cut may lose the last records, whose
        # notifications are then sent again (with the same event id)
        self._file = WalFile(path, "the outbox", OutboxError, schema=SCHEMA,
                             synchronous_normal=True)  # fmt: skip
        self._conn, self._lock, self._write = self._file.conn, self._file.lock, self._file.write

    def enqueue(
        self, event_id: str, recipient: str, title: str, body: str, *,
        due_s: float | None = None, cancel_key: str = "",
    ) -> bool:  # fmt: skip
        """Store a notification (due now, or at ``due_s``); False when this event was already
        stored for this recipient."""
        return bool(self.enqueue_many([(event_id, recipient, title, body, due_s, cancel_key)]))

    def enqueue_many(self, items: list[tuple[str, str, str, str, float | None, str]]) -> int:
        """Store ``(event_id, recipient, title, body, due_s, cancel_key)`` items in one
        transaction (see :meth:`enqueue`); how many were new."""
        now = time.time()
        added = 0
        with self._write() as conn:
            for event_id, recipient, title, body, due_s, cancel_key in items:
                added += conn.execute(
                    "INSERT OR IGNORE INTO outbox (event_id, recipient, title, body, state, "
                    "due_s, created_s, cancel_key) VALUES (?,?,?,?,'pending',?,?,?)",
                    (event_id, recipient, title, body, now if due_s is None else due_s, now,
                     cancel_key),
                ).rowcount  # fmt: skip
        return added

    def cancel(self, cancel_key: str) -> int:
        """Cancel the pending notifications enqueued with ``cancel_key``; how many."""
        with self._write() as conn:
            count = conn.execute(
                "UPDATE outbox SET state = 'cancelled' WHERE cancel_key = ? AND state = 'pending'",
                (cancel_key,),
            ).rowcount
        return int(count)

    def deliver(
        self, urls: Mapping[str, str], now: float | None = None, sender: Sender = send
    ) -> list[Attempt]:
        """Send every notification due at ``now`` [s] (default: the clock) to its recipient's
        URL in ``urls``; the attempts made."""
        at = time.time() if now is None else now
        with self._write() as conn:  # claimed in one transaction: one sender per row
            due = conn.execute(
                "SELECT event_id, recipient, title, body, attempts FROM outbox "
                "WHERE state IN ('pending', 'sending') AND due_s <= ? ORDER BY due_s, created_s",
                (at,),
            ).fetchall()
            conn.executemany(
                "UPDATE outbox SET state = 'sending', attempts = attempts + 1, due_s = ? "
                "WHERE event_id = ? AND recipient = ?",
                [(at + CLAIM_S, event_id, recipient) for event_id, recipient, *_ in due],
            )
        if not due:
            return []

        def attempt(row: tuple[str, str, str, str, int]) -> Attempt:
            event_id, recipient, title, body, attempts = row
            url = urls.get(recipient)
            outcome = (
                sender(url, title, body, event_id)
                if url is not None
                else Sent(False, f"no recipient {recipient!r} configured")
            )
            return self._record(event_id, recipient, attempts + 1, outcome, at)

        if len(due) == 1:
            return [attempt(due[0])]
        with ThreadPoolExecutor(min(self.parallel, len(due)), "notify") as pool:
            return list(pool.map(attempt, due))

    def _record(
        self, event_id: str, recipient: str, attempt: int, outcome: Sent, at: float
    ) -> Attempt:
        if outcome.ok:
            state, due = "sent", at
        elif attempt >= self.max_attempts:
            state, due = "gave_up", at
        else:
            state = "pending"
            due = at + min(self.backoff_max_s, self.backoff_s * 2.0 ** (attempt - 1))
        with self._write() as conn:
            conn.execute(
                "UPDATE outbox SET state = ?, due_s = ?, last_error = ?, sent_s = ? "
                "WHERE event_id = ? AND recipient = ?",
                (state, due, outcome.detail or None, at if outcome.ok else None, event_id,
                 recipient),
            )  # fmt: skip
            conn.execute(
                "INSERT INTO outbox_attempts (event_id, recipient, t_s, ok, detail) "
                "VALUES (?,?,?,?,?)",
                (event_id, recipient, at, int(outcome.ok), outcome.detail),
            )
        if state == "gave_up":
            logger.error("gave up notifying %s of %s after %d attempts: %s",
                         recipient, event_id, attempt, outcome.detail)  # fmt: skip
        return Attempt(event_id, recipient, at, outcome.ok, outcome.detail)

    def attempts(self, event_id: str | None = None) -> list[Attempt]:
        """Every attempt (of one event), oldest first."""
        where, args = ("WHERE event_id = ?", (event_id,)) if event_id else ("", ())
        with self._lock:
            rows = self._conn.execute(
                f"SELECT event_id, recipient, t_s, ok, detail FROM outbox_attempts {where} "
                "ORDER BY id",
                args,
            ).fetchall()
        return [Attempt(e, r, t, bool(ok), d) for e, r, t, ok, d in rows]

    def unpublished(self, limit: int = 1000) -> tuple[int, list[Attempt]]:
        """The attempts after the last one :meth:`published` marks, oldest first, and the id
        of the last of them (to mark once they are published)."""
        with self._lock:
            row = self._conn.execute("SELECT last_id FROM outbox_published").fetchone()
            rows = self._conn.execute(
                "SELECT id, event_id, recipient, t_s, ok, detail FROM outbox_attempts "
                "WHERE id > ? ORDER BY id LIMIT ?",
                (0 if row is None else row[0], limit),
            ).fetchall()
        last = rows[-1][0] if rows else (0 if row is None else row[0])
        return last, [Attempt(e, r, t, bool(ok), d) for _, e, r, t, ok, d in rows]

    def published(self, last_id: int) -> None:
        """Mark the attempts up to ``last_id`` published (never back)."""
        with self._write() as conn:
            conn.execute(
                "INSERT INTO outbox_published (one, last_id) VALUES (1, ?) ON CONFLICT (one) "
                "DO UPDATE SET last_id = max(last_id, excluded.last_id)",
                (last_id,),
            )

    def states(self) -> dict[tuple[str, str], dict[str, Any]]:
        """(event id, recipient) -> its state, attempts and last error."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT event_id, recipient, state, attempts, last_error FROM outbox"
            ).fetchall()
        return {(e, r): {"state": s, "attempts": a, "last_error": err}
                for e, r, s, a, err in rows}  # fmt: skip

    def close(self) -> None:
        with self._lock:
            self._conn.close()
