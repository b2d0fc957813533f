"""What became of the notifications: every attempt the response agents publish on
``notifications`` (in the service's process or in their own), kept in the service's state file
for operators (``GET /v1/notifications``)."""

from __future__ import annotations

import threading
from typing import Any

from embercast.agents.response import NOTIFICATIONS_TOPIC
from embercast.bus.base import Bus
from embercast.service.db import ServiceDB

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS notifications (
        message_id TEXT PRIMARY KEY,
        event_id TEXT NOT NULL,
        recipient TEXT NOT NULL,
        t_s REAL NOT NULL,
        ok INTEGER NOT NULL,
        detail TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS notifications_event ON notifications (event_id, t_s)",
)
GROUP = "service"


class NotificationLog:
    """The attempts published on the bus, in ``db`` (each once, by its message id)."""

    def __init__(self, db: ServiceDB) -> None:
        self.db = db
        db.ensure(SCHEMA)

    def step(self, bus: Bus) -> int:
        """Keep the attempts waiting on the bus; how many."""
        taken = bus.receive(NOTIFICATIONS_TOPIC, GROUP, "service", limit=256, visibility_s=60.0)
        if taken:
            with self.db.write() as conn:
                conn.executemany(
                    "INSERT OR IGNORE INTO notifications (message_id, event_id, recipient, t_s, "
                    "ok, detail) VALUES (?,?,?,?,?,?)",
                    [(d.message.message_id, str(a["event_id"]), str(a["recipient"]),
                      float(a["t_s"]), int(bool(a["ok"])), str(a["detail"]))
                     for d in taken for a in (d.message.payload,)],
                )  # fmt: skip
            bus.ack_many(taken)
        return len(taken)

    def run(self, bus: Bus, stop: threading.Event, idle_s: float = 0.5) -> None:
        """:meth:`step` until ``stop`` is set."""
        while not stop.is_set():
            if not self.step(bus):
                stop.wait(idle_s)

    def list(self, event_id: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The latest attempts (of one zone event), newest first."""
        where, args = ("WHERE event_id = ?", (event_id,)) if event_id else ("", ())
        rows = self.db.query(
            f"SELECT event_id, recipient, t_s, ok, detail FROM notifications {where} "
            "ORDER BY t_s DESC, rowid DESC LIMIT ?",
            (*args, limit),
        )
        keys = ("event_id", "recipient", "t_s", "ok", "detail")
        return [dict(zip(keys, (e, r, t, bool(ok), d), strict=True)) for e, r, t, ok, d in rows]
