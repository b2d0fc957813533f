"""Commands sent to devices (DESIGN 4.7), in the service's state file.

A command moves along :data:`TRANSITIONS`: pending -> delivered -> acknowledged or failed, and a
pending or delivered command expires once its deadline [Unix s] has passed. Every read of a
command applies expiry first. A revoked device takes no commands, and its open commands fail.
Each operation is one transaction.
"""

from __future__ import annotations

import json
import logging
import math
import sqlite3
import uuid
from dataclasses import dataclass
from typing import Any, Literal, cast

from embercast.errors import InputError
from embercast.service.db import ServiceDB
from embercast.service.device_records import Conflict, NotFound, check, find, json_object, now_s

logger = logging.getLogger(__name__)

Status = Literal["pending", "delivered", "acknowledged", "failed", "expired"]
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "pending": ("delivered", "acknowledged", "failed", "expired"),
    "delivered": ("acknowledged", "failed", "expired"),
    "acknowledged": (),
    "failed": (),
    "expired": (),
}
"""The statuses a command may move to from each status; the last three are final."""
COMMAND_NAME_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"
MAX_TIMEOUT_S = 86_400.0
"""Longest time a command may wait for its acknowledgement [s]."""
_EXPIRED = "not acknowledged by its deadline"

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS commands (
        command_id TEXT PRIMARY KEY, device_id TEXT NOT NULL REFERENCES devices (device_id),
        name TEXT NOT NULL, args TEXT NOT NULL, status TEXT NOT NULL,
        created_s REAL NOT NULL, deadline_s REAL NOT NULL, delivered_s REAL, acked_s REAL,
        result TEXT, reason TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS commands_open ON commands (status, deadline_s)",
    "CREATE INDEX IF NOT EXISTS commands_of_device ON commands (device_id, created_s)",
)
_COMMAND = (
    "command_id, device_id, name, args, status, created_s, deadline_s, delivered_s, acked_s, "
    "result, reason"
)


@dataclass(frozen=True)
class Command:
    """A command to a device: creation, deadline, delivery and acknowledgement [Unix s]; the
    device's ``result`` and, when it failed or expired, the ``reason``."""

    command_id: str
    device_id: str
    name: str
    args: dict[str, Any]
    status: Status
    created_s: float
    deadline_s: float
    delivered_s: float | None
    acked_s: float | None
    result: dict[str, Any] | None
    reason: str | None


def _command(row: tuple[Any, ...]) -> Command:
    cid, dev, name, args, status, created, deadline, delivered, acked, result, reason = row
    return Command(
        cid, dev, name, json.loads(args), cast(Status, status), created, deadline, delivered,
        acked, None if result is None else json.loads(result), reason,
    )  # fmt: skip


def fail_open(conn: sqlite3.Connection, device_id: str) -> None:
    """Fail the pending and delivered commands of ``device_id``, revoked in the transaction
    ``conn``."""
    conn.execute(
        "UPDATE commands SET status = 'failed', reason = 'the device was revoked' "
        "WHERE device_id = ? AND status IN ('pending', 'delivered')",
        (device_id,),
    )


class Commands:
    """The commands' part of :class:`~embercast.service.devices.DeviceStore`, which opens ``db``
    with :data:`SCHEMA`."""

    db: ServiceDB

    def send(
        self, device_id: str, name: str, args: dict[str, Any] | None = None,
        timeout_s: float = 60.0, now: float | None = None,
    ) -> Command:  # fmt: skip
        """A new pending command ``name`` with ``args`` to ``device_id``, to be acknowledged
        within ``timeout_s`` [s] (at most :data:`MAX_TIMEOUT_S`)."""
        check(COMMAND_NAME_PATTERN, name, "command name")
        if not (math.isfinite(timeout_s) and 0 < timeout_s <= MAX_TIMEOUT_S):
            raise InputError(f"a command's timeout is in (0, {MAX_TIMEOUT_S:g}] s, got {timeout_s}")
        text, now = json_object(args or {}, "the command's args"), now_s(now)
        command_id = str(uuid.uuid4())
        with self.db.write() as conn:
            find(conn, device_id, refuse="commands")
            conn.execute(
                "INSERT INTO commands (command_id, device_id, name, args, status, created_s, "
                "deadline_s) VALUES (?,?,?,?,'pending',?,?)",
                (command_id, device_id, name, text, now, now + timeout_s),
            )
            return self._command(conn, command_id, device_id, now)

    def commands(
        self, device_id: str, status: Status | None = None, now: float | None = None,
        limit: int = 1000,
    ) -> list[Command]:  # fmt: skip
        """The commands of ``device_id`` (with ``status`` if given), oldest first, after expiry."""
        with self.db.write() as conn:
            self._expire(conn, now_s(now))
            find(conn, device_id)
            rows = conn.execute(
                f"SELECT {_COMMAND} FROM commands WHERE device_id = ? AND (? IS NULL OR "
                "status = ?) ORDER BY created_s, rowid LIMIT ?",
                (device_id, status, status, limit),
            ).fetchall()
        return [_command(row) for row in rows]

    def pending(self, device_id: str, now: float | None = None) -> list[Command]:
        """What ``device_id`` should receive now: its pending commands, oldest first."""
        return self.commands(device_id, "pending", now)

    def command(
        self, command_id: str, device_id: str | None = None, now: float | None = None
    ) -> Command:
        """The command ``command_id`` (of ``device_id`` if given), after expiry; else NotFound."""
        with self.db.write() as conn:
            return self._command(conn, command_id, device_id, now_s(now))

    def mark_delivered(
        self, command_id: str, device_id: str | None = None, now: float | None = None
    ) -> Command:
        """Record that a pending command reached its device; Conflict from any other status."""
        now = now_s(now)
        return self._move(command_id, device_id, "delivered", now, {"delivered_s": now})

    def acknowledge(
        self, command_id: str, ok: bool, result: dict[str, Any] | None = None,
        device_id: str | None = None, now: float | None = None,
    ) -> Command:  # fmt: skip
        """The device's answer: acknowledged (``ok``) or failed, with its ``result``; Conflict
        for a command already answered, expired or failed."""
        text = None if result is None else json_object(result, "the command's result")
        now = now_s(now)
        to: Status = "acknowledged" if ok else "failed"
        sets = {"acked_s": now, "result": text, "reason": None if ok else "the device failed it"}
        return self._move(command_id, device_id, to, now, sets)

    def expire(self, now: float | None = None) -> int:
        """Move pending and delivered commands past their deadline to expired; how many."""
        with self.db.write() as conn:
            return self._expire(conn, now_s(now))

    # one transaction's steps

    def _expire(self, conn: sqlite3.Connection, now: float) -> int:
        expired: int = conn.execute(
            "UPDATE commands SET status = 'expired', reason = ? "
            "WHERE status IN ('pending', 'delivered') AND deadline_s < ?",
            (_EXPIRED, now),
        ).rowcount
        if expired:
            logger.info("%d command(s) expired", expired)
        return expired

    def _command(
        self, conn: sqlite3.Connection, command_id: str, device_id: str | None, now: float
    ) -> Command:
        self._expire(conn, now)
        row = conn.execute(
            f"SELECT {_COMMAND} FROM commands WHERE command_id = ? AND (? IS NULL OR "
            "device_id = ?)",
            (command_id, device_id, device_id),
        ).fetchone()
        if row is None:
            of = "" if device_id is None else f" for device {device_id!r}"
            raise NotFound(f"no command {command_id!r}{of}")
        return _command(row)

    def _move(
        self, command_id: str, device_id: str | None, to: Status, now: float,
        sets: dict[str, Any],
    ) -> Command:  # fmt: skip
        with self.db.write() as conn:
            command = self._command(conn, command_id, device_id, now)
            if to not in TRANSITIONS[command.status]:
                why = f" ({command.reason})" if command.reason else ""
                raise Conflict(
                    f"command {command_id} is {command.status}{why}: it cannot become {to} "
                    f"(a {command.status} command may become "
                    f"{' or '.join(TRANSITIONS[command.status]) or 'nothing more: it is final'})"
                )
            columns = "".join(f", {column} = ?" for column in sets)
            conn.execute(
                f"UPDATE commands SET status = ?{columns} WHERE command_id = ?",
                (to, *sets.values(), command_id),
            )
            logger.info("command %s of %s: %s", command_id, command.device_id, to)
            return self._command(conn, command_id, device_id, now)
