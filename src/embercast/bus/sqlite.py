"""The embedded bus: one SQLite file (WAL) that any number of threads and processes share.

Messages are rows of ``bus_messages`` (unique per topic and message id). A group's position in a
topic is a cursor, and the messages past it are waiting for the group. :meth:`SqliteBus.receive`
leases the group's due deliveries first (failed ones past their backoff, leases that ran out),
then messages past the cursor, which become deliveries as they are leased (``leased`` until
``due_s``, the end of the visibility timeout; the cursor moves past them); a delivery is then
``handled`` on acknowledgement, ``waiting`` again after a failure (due after the backoff) or a
lease that ran out, and ``dead`` once the policy's attempts are spent. Deliveries still to
handle are indexed apart (``bus_pending``), so the handled ones cost nothing to a receive.
:meth:`SqliteBus.prune` deletes old messages every group is done with, with their deliveries,
and keeps their tally (``bus_pruned``: per topic, ``grp`` '' for the messages).
Every change is one ``BEGIN IMMEDIATE`` transaction, so two consumers never hold the same
message and a crash leaves each message in exactly one state.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from embercast import jsonio
from embercast.bus.base import (
    Bus,
    BusError,
    DeadLetter,
    Delivery,
    GroupStats,
    Message,
    RetryPolicy,
    check_name,
    encode,
    new_id,
)
from embercast.errors import InputError
from embercast.store.wal import WalFile

logger = logging.getLogger(__name__)

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS bus_messages (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        topic TEXT NOT NULL,
        message_id TEXT NOT NULL,
        key TEXT NOT NULL,
        payload TEXT NOT NULL,
        published_s REAL NOT NULL,
        UNIQUE (topic, message_id)
    )""",
    # a group reads the messages past its cursor in a topic through this index: without it each
    # receive scanned and sorted every message the topic still holds
    "CREATE INDEX IF NOT EXISTS bus_topic_seq ON bus_messages (topic, seq)",
    """CREATE TABLE IF NOT EXISTS bus_groups (
        topic TEXT NOT NULL,
        grp TEXT NOT NULL,
        cursor INTEGER NOT NULL,
        PRIMARY KEY (topic, grp)
    )""",
    """CREATE TABLE IF NOT EXISTS bus_deliveries (
        grp TEXT NOT NULL,
        seq INTEGER NOT NULL REFERENCES bus_messages (seq),
        topic TEXT NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        due_s REAL NOT NULL,
        consumer TEXT,
        lease TEXT,
        error TEXT,
        changed_s REAL NOT NULL,
        PRIMARY KEY (grp, seq)
    )""",
    "DROP INDEX IF EXISTS bus_due",  # of every delivery; bus_pending holds those still to handle
    "CREATE INDEX IF NOT EXISTS bus_pending ON bus_deliveries (topic, grp, due_s) "
    "WHERE state IN ('waiting', 'leased')",
    """CREATE TABLE IF NOT EXISTS bus_pruned (
        topic TEXT NOT NULL,
        grp TEXT NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (topic, grp)
    )""",
    """CREATE TABLE IF NOT EXISTS bus_leases (
        name TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        until_s REAL NOT NULL
    )""",
)


PAST_CURSOR = (
    "SELECT seq, message_id, key, payload, published_s FROM bus_messages "
    "WHERE topic = ? AND seq > ? ORDER BY seq LIMIT ?"
)
"""The first messages of a topic past a group's cursor (through ``bus_topic_seq``)."""
WAITING_PAST_CURSOR = "SELECT count(*) FROM bus_messages WHERE topic = ? AND seq > ?"
"""How many messages of a topic are past a group's cursor (a range of ``bus_topic_seq``)."""
WAITING_AGAIN = (
    "SELECT count(*) FROM bus_deliveries WHERE topic = ? AND grp = ? "
    "AND state IN ('waiting', 'leased') AND state = 'waiting'"
)
"""How many of a group's deliveries wait for another attempt (through ``bus_pending``, whose
condition the first test repeats)."""
READ_PAGE = 1_000
"""Messages per query of :meth:`SqliteBus.read`."""
PRUNE_BATCH = 5_000
"""Messages deleted per transaction by :meth:`SqliteBus.prune` (others write in between)."""


class _Wake:
    """What this process published on one bus file, by topic, and a condition a waiting
    receive waits on."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._counts: Counter[str] = Counter()

    def seen(self, topic: str) -> int:
        """A mark of ``topic``'s publications so far (for :meth:`wait`)."""
        with self._cond:
            return self._counts[topic]

    def published(self, topic: str) -> None:
        with self._cond:
            self._counts[topic] += 1
            self._cond.notify_all()

    def wait(self, topic: str, seen: int, timeout_s: float) -> bool:
        """Until ``topic`` has a publication after the mark ``seen``, at most ``timeout_s``;
        whether it has."""
        with self._cond:
            return self._cond.wait_for(lambda: self._counts[topic] != seen, timeout_s)


_WAKES: dict[str, _Wake] = {}
_WAKES_LOCK = threading.Lock()


def _wake_of(path: str) -> _Wake:
    """The one :class:`_Wake` of the bus file ``path`` in this process (every bus opened on it
    shares it)."""
    with _WAKES_LOCK:
        return _WAKES.setdefault(os.path.realpath(path), _Wake())


class SqliteBus(Bus):
    """The bus in the SQLite file ``path`` (created with its folder when missing);
    ``clock`` gives the time [s since the epoch] (tests pass their own). A receive that waits
    is woken at once by a publication of this process (on any bus object of the file). Waiting
    up to ``poll_s`` [s], as a consumer's loop does, it looks once more only when woken (the
    loop's next receive looks for other processes' publications: one look per wait, as a
    sleep between polls made); waiting longer, it looks again at pauses growing from 10 ms to
    ``poll_s``."""

    def __init__(
        self,
        path: str,
        policy: RetryPolicy | None = None,
        *,
        clock: Callable[[], float] = time.time,
        poll_s: float = 0.2,
    ) -> None:
        if poll_s <= 0:
            raise InputError(f"poll_s must be > 0, got {poll_s}")
        self.path = path
        self.poll_s = poll_s
        self.policy = policy or RetryPolicy()
        self.clock = clock
        self._file = WalFile(path, "the bus", BusError, schema=SCHEMA, synchronous_normal=True)
        self._conn, self._lock, self._write = self._file.conn, self._file.lock, self._file.write
        self._wake = _wake_of(path)

    def _query(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return self._file.query(sql, args)

    def publish(
        self, topic: str, payload: dict[str, Any], *, key: str = "", message_id: str | None = None
    ) -> str:
        check_name("topic", topic)
        mid = message_id or new_id()
        body = encode(payload)
        with self._write() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO bus_messages (topic, message_id, key, payload, published_s) "
                "VALUES (?,?,?,?,?)",
                (topic, mid, key, body, self.clock()),
            )
        self._wake.published(topic)
        return mid

    def publish_many(
        self, topic: str, items: Sequence[tuple[dict[str, Any], str, str | None]]
    ) -> int:
        """Publish every item in one transaction."""
        check_name("topic", topic)
        now = self.clock()
        rows = [(topic, mid or new_id(), key, encode(payload), now)
                for payload, key, mid in items]  # fmt: skip
        with self._write() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO bus_messages (topic, message_id, key, payload, published_s) "
                "VALUES (?,?,?,?,?)",
                rows,
            )
        self._wake.published(topic)
        return len(rows)

    # ------------------------------------------------------------------ consuming
    def receive(
        self,
        topic: str,
        group: str,
        consumer: str,
        *,
        limit: int = 64,
        visibility_s: float = 30.0,
        wait_s: float = 0.0,
    ) -> list[Delivery]:
        check_name("topic", topic)
        check_name("group", group)
        check_name("consumer", consumer)
        if limit < 1 or visibility_s <= 0:
            raise InputError("receive needs limit >= 1 and visibility_s > 0")
        deadline = time.monotonic() + wait_s
        pause = 0.01
        while True:
            seen = self._wake.seen(topic)
            got = self._lease(topic, group, consumer, limit, visibility_s)
            remaining = deadline - time.monotonic()
            if got or remaining <= 0:
                return got
            if wait_s <= self.poll_s:  # a consumer's loop: the next receive looks again
                if not self._wake.wait(topic, seen, remaining):
                    return got
                continue
            self._wake.wait(topic, seen, min(pause, remaining))  # looks every pause too
            pause = min(self.poll_s, pause * 2)

    def _lease(
        self, topic: str, group: str, consumer: str, limit: int, visibility_s: float
    ) -> list[Delivery]:
        now = self.clock()
        lease = secrets.token_hex(8)  # this hold of the batch; with seq, each delivery's
        out: list[Delivery] = []
        with self._write() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO bus_groups (topic, grp, cursor) VALUES (?,?,0)",
                (topic, group),
            )
            (cursor,) = conn.execute(
                "SELECT cursor FROM bus_groups WHERE topic = ? AND grp = ?", (topic, group)
            ).fetchone()
            due = conn.execute(  # every delivery is at or before the cursor: these come first
                "SELECT d.seq, d.attempts, d.state, d.error, m.message_id, m.key, m.payload, "
                "m.published_s FROM bus_deliveries d JOIN bus_messages m ON m.seq = d.seq "
                "WHERE d.topic = ? AND d.grp = ? AND d.state IN ('waiting', 'leased') "
                "AND d.due_s <= ? ORDER BY d.seq LIMIT ?",
                (topic, group, now, limit),
            ).fetchall()
            dead: list[tuple[Any, ...]] = []
            leased: list[tuple[Any, ...]] = []
            for seq, attempts, state, error, mid, key, payload, published_s in due:
                if state == "leased":  # its consumer let the lease run out: a failed attempt
                    error = f"lease of attempt {attempts} ran out (visibility timeout)"
                if attempts >= self.policy.max_attempts:
                    dead.append((error, now, group, seq))
                    logger.warning("bus: %s/%s message %s dead after %d attempts: %s",
                                   topic, group, mid, attempts, error)  # fmt: skip
                    continue
                leased.append((now + visibility_s, consumer, lease, error, now, group, seq))
                message = Message(topic, mid, key, jsonio.loads(payload), published_s)
                out.append(Delivery(message, group, consumer, attempts + 1, f"{seq}:{lease}"))
            conn.executemany(
                "UPDATE bus_deliveries SET state = 'dead', error = ?, changed_s = ?, "
                "lease = NULL WHERE grp = ? AND seq = ?",
                dead,
            )
            conn.executemany(
                "UPDATE bus_deliveries SET state = 'leased', attempts = attempts + 1, "
                "due_s = ?, consumer = ?, lease = ?, error = ?, changed_s = ? "
                "WHERE grp = ? AND seq = ?",
                leased,
            )
            if len(due) < limit:  # then messages past the cursor, leased as they become due
                new = conn.execute(PAST_CURSOR, (topic, cursor, limit - len(due))).fetchall()
                if new:
                    conn.executemany(
                        "INSERT INTO bus_deliveries (grp, seq, topic, state, attempts, due_s, "
                        "consumer, lease, changed_s) VALUES (?,?,?,'leased',1,?,?,?,?)",
                        [(group, seq, topic, now + visibility_s, consumer, lease, now)
                         for seq, *_ in new],
                    )  # fmt: skip
                    conn.execute(
                        "UPDATE bus_groups SET cursor = ? WHERE topic = ? AND grp = ?",
                        (new[-1][0], topic, group),
                    )
                for seq, mid, key, payload, published_s in new:
                    message = Message(topic, mid, key, jsonio.loads(payload), published_s)
                    out.append(Delivery(message, group, consumer, 1, f"{seq}:{lease}"))
        return out

    def _receipt(self, delivery: Delivery) -> tuple[int, str]:
        seq, _, lease = delivery.receipt.partition(":")
        return int(seq), lease

    def ack(self, delivery: Delivery) -> bool:
        """True when the lease was still this delivery's (else another consumer has the
        message now, and this acknowledgement changes nothing)."""
        seq, lease = self._receipt(delivery)
        with self._write() as conn:
            done = conn.execute(
                "UPDATE bus_deliveries SET state = 'handled', lease = NULL, changed_s = ? "
                "WHERE grp = ? AND seq = ? AND state = 'leased' AND lease = ?",
                (self.clock(), delivery.group, seq, lease),
            ).rowcount
        if not done:
            logger.warning("bus: stale acknowledgement of %s by %s (its lease ran out)",
                           delivery.message.message_id, delivery.consumer)  # fmt: skip
        return bool(done)

    def ack_many(self, deliveries: Sequence[Delivery]) -> int:
        """Acknowledge every delivery in one transaction."""
        now = self.clock()
        rows = [(now, d.group, *self._receipt(d)) for d in deliveries]
        with self._write() as conn:
            done = conn.executemany(
                "UPDATE bus_deliveries SET state = 'handled', lease = NULL, changed_s = ? "
                "WHERE grp = ? AND seq = ? AND state = 'leased' AND lease = ?",
                rows,
            ).rowcount
        if done < len(deliveries):
            logger.warning("bus: %d stale acknowledgements (their leases ran out)",
                           len(deliveries) - done)  # fmt: skip
        return done

    def fail(self, delivery: Delivery, error: str) -> bool:
        """True when the lease was still this delivery's (see :meth:`ack`)."""
        seq, lease = self._receipt(delivery)
        now = self.clock()
        dead = delivery.attempt >= self.policy.max_attempts
        due = now if dead else now + self.policy.delay_s(delivery.attempt)
        state = "dead" if dead else "waiting"
        with self._write() as conn:
            done = conn.execute(
                "UPDATE bus_deliveries SET state = ?, due_s = ?, error = ?, lease = NULL, "
                "changed_s = ? WHERE grp = ? AND seq = ? AND state = 'leased' AND lease = ?",
                (state, due, error, now, delivery.group, seq, lease),
            ).rowcount
        if done and dead:
            logger.warning("bus: %s/%s message %s dead after %d attempts: %s",
                           delivery.message.topic, delivery.group, delivery.message.message_id,
                           delivery.attempt, error)  # fmt: skip
        return bool(done)

    # ------------------------------------------------------------------ inspection
    def stats(self) -> list[GroupStats]:
        rows = self._query(
            "SELECT g.topic, g.grp, "
            "(SELECT count(*) FROM bus_messages m WHERE m.topic = g.topic), "
            "(SELECT count(*) FROM bus_messages m WHERE m.topic = g.topic AND m.seq > g.cursor), "
            "(SELECT count(*) FROM bus_deliveries d WHERE d.topic = g.topic AND d.grp = g.grp "
            "AND d.state = 'waiting'), "
            "(SELECT count(*) FROM bus_deliveries d WHERE d.topic = g.topic AND d.grp = g.grp "
            "AND d.state = 'leased'), "
            "(SELECT count(*) FROM bus_deliveries d WHERE d.topic = g.topic AND d.grp = g.grp "
            "AND d.state = 'handled'), "
            "(SELECT count(*) FROM bus_deliveries d WHERE d.topic = g.topic AND d.grp = g.grp "
            "AND d.state = 'dead') "
            "FROM bus_groups g ORDER BY g.topic, g.grp"
        )
        pruned = {(t, g): n for t, g, n in self._query("SELECT topic, grp, count FROM bus_pruned")}
        return [
            GroupStats(topic, grp, published + pruned.get((topic, ""), 0), beyond + waiting,
                       leased, handled + pruned.get((topic, grp), 0), dead)
            for topic, grp, published, beyond, waiting, leased, handled, dead in rows
        ]  # fmt: skip

    def waiting(self, group: str) -> int:
        """Messages waiting for ``group`` (see :meth:`Bus.waiting`) through the indexes: the
        messages past each of its cursors and its deliveries due again, so that the count costs
        what waits, not what the bus holds (:meth:`stats` counts every message and delivery)."""
        total = 0
        for topic, cursor in self._query(
            "SELECT topic, cursor FROM bus_groups WHERE grp = ?", (group,)
        ):
            total += self._query(WAITING_PAST_CURSOR, (topic, cursor))[0][0]
            total += self._query(WAITING_AGAIN, (topic, group))[0][0]
        return int(total)

    def read(self, topic: str, since_s: float) -> Iterator[Message]:
        check_name("topic", topic)
        after = -1
        while True:
            rows = self._query(
                "SELECT seq, message_id, key, payload, published_s FROM bus_messages "
                "WHERE topic = ? AND seq > ? AND published_s >= ? ORDER BY seq LIMIT ?",
                (topic, after, since_s, READ_PAGE),
            )
            for seq, mid, key, payload, published_s in rows:
                after = seq
                yield Message(topic, mid, key, jsonio.loads(payload), published_s)
            if len(rows) < READ_PAGE:
                return

    def prune(self, older_than_s: float) -> int:
        cutoff = self.clock() - older_than_s
        (end,) = self._query(  # messages are in time order: the first recent one ends the scan
            "SELECT coalesce((SELECT seq FROM bus_messages WHERE published_s >= ? ORDER BY seq "
            "LIMIT 1), (SELECT max(seq) + 1 FROM bus_messages), 0)",
            (cutoff,),
        )[0]
        total, start = 0, 0
        while True:
            with self._write() as conn:
                rows = conn.execute(
                    "SELECT m.seq, m.topic FROM bus_messages m WHERE m.seq > ? AND m.seq < ? "
                    "AND m.published_s < ? AND NOT EXISTS (SELECT 1 FROM bus_groups g "
                    "WHERE g.topic = m.topic AND g.cursor < m.seq) AND NOT EXISTS (SELECT 1 "
                    "FROM bus_groups g JOIN bus_deliveries d ON d.grp = g.grp AND d.seq = m.seq "
                    "WHERE g.topic = m.topic AND d.state != 'handled') ORDER BY m.seq LIMIT ?",
                    (start, end, cutoff, PRUNE_BATCH),
                ).fetchall()
                if not rows:
                    break
                start = rows[-1][0]
                conn.execute("CREATE TEMP TABLE IF NOT EXISTS bus_gone (seq INTEGER PRIMARY KEY)")
                conn.execute("DELETE FROM bus_gone")
                conn.executemany("INSERT INTO bus_gone (seq) VALUES (?)", [(q,) for q, _ in rows])
                tallies = Counter((topic, "") for _, topic in rows)
                for topic, group in conn.execute("SELECT topic, grp FROM bus_groups").fetchall():
                    (n,) = conn.execute(  # each through the key (grp, seq)
                        "SELECT count(*) FROM bus_deliveries WHERE grp = ? AND topic = ? "
                        "AND seq IN (SELECT seq FROM bus_gone)",
                        (group, topic),
                    ).fetchone()
                    if n:
                        tallies[(topic, group)] += n
                        conn.execute(
                            "DELETE FROM bus_deliveries WHERE grp = ? AND topic = ? "
                            "AND seq IN (SELECT seq FROM bus_gone)",
                            (group, topic),
                        )
                conn.executemany(
                    "INSERT INTO bus_pruned (topic, grp, count) VALUES (?,?,?) ON CONFLICT "
                    "(topic, grp) DO UPDATE SET count = count + excluded.count",
                    [(t, g, n) for (t, g), n in tallies.items()],
                )
                conn.execute("DELETE FROM bus_messages WHERE seq IN (SELECT seq FROM bus_gone)")
            total += len(rows)
        if total:
            logger.info("bus: %d messages older than %.0f s pruned", total, older_than_s)
        return total

    def dead_letters(
        self, topic: str | None = None, group: str | None = None, limit: int = 100
    ) -> list[DeadLetter]:
        where, args = ["d.state = 'dead'"], []
        if topic is not None:
            where.append("d.topic = ?")
            args.append(topic)
        if group is not None:
            where.append("d.grp = ?")
            args.append(group)
        rows = self._query(
            "SELECT d.topic, m.message_id, m.key, m.payload, m.published_s, d.grp, d.attempts, "
            "d.error, d.changed_s FROM bus_deliveries d JOIN bus_messages m ON m.seq = d.seq "
            f"WHERE {' AND '.join(where)} ORDER BY d.seq LIMIT ?",
            (*args, limit),
        )
        return [
            DeadLetter(
                Message(t, mid, key, jsonio.loads(payload), published_s),
                grp,
                attempts,
                error or "",
                dead_s,
            )  # fmt: skip
            for t, mid, key, payload, published_s, grp, attempts, error, dead_s in rows
        ]

    def replay(self, topic: str, group: str, message_ids: list[str] | None = None) -> int:
        now = self.clock()
        sql = (
            "UPDATE bus_deliveries SET state = 'waiting', attempts = 0, due_s = ?, changed_s = ? "
            "WHERE topic = ? AND grp = ? AND state = 'dead'"
        )
        args: list[Any] = [now, now, topic, group]
        if message_ids is not None:
            marks = ",".join("?" * len(message_ids))
            sql += (
                " AND seq IN (SELECT seq FROM bus_messages WHERE topic = ? "
                f"AND message_id IN ({marks}))"
            )
            args += [topic, *message_ids]
        with self._write() as conn:
            count = conn.execute(sql, args).rowcount
        logger.info("bus: %d dead letters of %s/%s replayed", count, topic, group)
        return int(count)

    # ------------------------------------------------------------------ leases
    def hold(self, name: str, owner: str, ttl_s: float) -> bool:
        now = self.clock()
        with self._write() as conn:
            held = conn.execute(
                "INSERT INTO bus_leases (name, owner, until_s) VALUES (?,?,?) "
                "ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, "
                "until_s = excluded.until_s WHERE bus_leases.owner = excluded.owner "
                "OR bus_leases.until_s <= ?",
                (name, owner, now + ttl_s, now),
            ).rowcount
        return bool(held)

    def release(self, name: str, owner: str) -> None:
        with self._write() as conn:
            conn.execute("DELETE FROM bus_leases WHERE name = ? AND owner = ?", (name, owner))

    def holders(self, prefix: str) -> dict[str, str]:
        rows = self._query(
            "SELECT name, owner FROM bus_leases WHERE substr(name, 1, ?) = ? AND until_s > ?",
            (len(prefix), prefix, self.clock()),
        )
        return dict(rows)

    def close(self) -> None:
        with self._lock:
            self._conn.close()
