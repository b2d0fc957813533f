"""Devices, their twins and the commands sent to them (DESIGN 4.6-4.7), in the service's state file.

A device is registered once in a zone; its id is never reused, even after it is revoked. Its
twin holds two JSON objects, each with a version that every accepted write bumps by one (0
before the first): ``reported`` (what the device says it is; a report replaces it) and
``desired`` (what operators want of it; a JSON merge patch, RFC 7396, where a null deletes a
key). A write naming a version other than the current one raises :class:`StaleVersion`, so two
writers that read the same version cannot both win.

A command moves along :data:`TRANSITIONS`: pending -> delivered -> acknowledged or failed, and a
pending or delivered command expires once its deadline [Unix s] has passed. Every read of a
command applies expiry first. A revoked device takes no reports, desires or commands, and its
open commands fail. Each operation is one transaction: nothing is ever half-written.
"""

from __future__ import annotations

import builtins
import json
import logging
import math
import re
import sqlite3
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, cast

from embercast.errors import EmbercastError, InputError
from embercast.service.db import ServiceDB

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
DEVICE_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,128}$"
ZONE_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"
COMMAND_NAME_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"
MAX_TIMEOUT_S = 86_400.0
"""Longest time a command may wait for its acknowledgement [s]."""
MAX_JSON_BYTES = 65_536
"""Largest reported state, desired state, command arguments or result, as JSON [bytes]."""
_EXPIRED = "not acknowledged by its deadline"

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS devices (
        device_id TEXT PRIMARY KEY, name TEXT NOT NULL, zone TEXT NOT NULL,
        created_s REAL NOT NULL, revoked_s REAL
    )""",
    """CREATE TABLE IF NOT EXISTS twins (
        device_id TEXT PRIMARY KEY REFERENCES devices (device_id),
        reported TEXT NOT NULL DEFAULT '{}', reported_version INTEGER NOT NULL DEFAULT 0,
        reported_s REAL,
        desired TEXT NOT NULL DEFAULT '{}', desired_version INTEGER NOT NULL DEFAULT 0,
        desired_s REAL
    )""",
    """CREATE TABLE IF NOT EXISTS commands (
        command_id TEXT PRIMARY KEY, device_id TEXT NOT NULL REFERENCES devices (device_id),
        name TEXT NOT NULL, args TEXT NOT NULL, status TEXT NOT NULL,
        created_s REAL NOT NULL, deadline_s REAL NOT NULL, delivered_s REAL, acked_s REAL,
        result TEXT, reason TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS commands_open ON commands (status, deadline_s)",
    "CREATE INDEX IF NOT EXISTS commands_of_device ON commands (device_id, created_s)",
)
_DEVICE = "device_id, name, zone, created_s, revoked_s"
_TWIN = "device_id, reported, reported_version, reported_s, desired, desired_version, desired_s"
_COMMAND = (
    "command_id, device_id, name, args, status, created_s, deadline_s, delivered_s, acked_s, "
    "result, reason"
)


class NotFound(EmbercastError, LookupError):
    """No such device, or no such command (for that device)."""


class Conflict(InputError):
    """A duplicate device, a revoked device, or a command transition that is not allowed."""


class StaleVersion(EmbercastError):
    """A twin write named version ``given`` of its ``side`` (reported or desired); the current
    one is ``current``."""

    def __init__(self, device_id: str, side: str, given: int, current: int) -> None:
        super().__init__(
            f"the {side} state of device {device_id!r} is at version {current}, not {given}: "
            "read the twin again and retry with its version"
        )
        self.given, self.current = given, current


@dataclass(frozen=True)
class Device:
    """A registered device: its id, display name, zone, registration and revocation [Unix s]."""

    device_id: str
    name: str
    zone: str
    created_s: float
    revoked_s: float | None = None


@dataclass(frozen=True)
class Twin:
    """A device's twin: the state it reported and the state desired of it, each with its
    version (0 before the first write) and the time of its last write [Unix s]."""

    device_id: str
    reported: dict[str, Any]
    reported_version: int
    reported_s: float | None
    desired: dict[str, Any]
    desired_version: int
    desired_s: float | None


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


def merge_patch(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """``target`` with ``patch`` merged as a JSON merge patch (RFC 7396); a new object.

    >>> merge_patch({"a": 1, "b": {"c": 2, "d": 3}}, {"a": None, "b": {"c": 4}, "e": 5})
    {'b': {'c': 4, 'd': 3}, 'e': 5}
    """
    out = dict(target)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict):
            base = out.get(key)
            out[key] = merge_patch(base if isinstance(base, dict) else {}, value)
        else:
            out[key] = value
    return out


def _check(pattern: str, value: str, what: str) -> str:
    if not isinstance(value, str) or re.fullmatch(pattern, value) is None:
        raise InputError(f"{what} {value!r} does not match {pattern}")
    return value


def _json(value: Any, what: str) -> str:
    """``value`` (a JSON object) as compact JSON; InputError naming ``what`` otherwise."""
    if not isinstance(value, dict):
        raise InputError(f"{what} must be a JSON object, got {type(value).__name__}")
    try:
        text = json.dumps(value, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise InputError(f"{what}: not plain JSON ({exc})") from None
    if len(text.encode()) > MAX_JSON_BYTES:
        raise InputError(f"{what} takes {len(text.encode())} bytes; at most {MAX_JSON_BYTES}")
    return text


def _now(now: float | None) -> float:
    return time.time() if now is None else float(now)


def _command(row: tuple[Any, ...]) -> Command:
    cid, dev, name, args, status, created, deadline, delivered, acked, result, reason = row
    return Command(
        cid, dev, name, json.loads(args), cast(Status, status), created, deadline, delivered,
        acked, None if result is None else json.loads(result), reason,
    )  # fmt: skip


class DeviceStore:
    """Devices, twins and commands in the service's state file (``db``)."""

    def __init__(self, db: ServiceDB) -> None:
        self.db = db
        db.ensure(SCHEMA)

    def register(
        self, device_id: str, zone: str, name: str = "", now: float | None = None
    ) -> Device:
        """Register ``device_id`` in ``zone`` (display ``name``, default its id) with an empty
        twin; Conflict if the id was ever registered, InputError for a malformed id or zone."""
        _check(DEVICE_ID_PATTERN, device_id, "device id")
        _check(ZONE_PATTERN, zone, "zone")
        if len(name) > 128:
            raise InputError(f"a device's name has at most 128 characters, got {len(name)}")
        device = Device(device_id, name.strip() or device_id, zone, _now(now))
        with self.db.write() as conn:
            found = conn.execute(
                "SELECT revoked_s FROM devices WHERE device_id = ?", (device_id,)
            ).fetchone()
            if found is not None:
                gone = "" if found[0] is None else " (revoked; a device id is never reused)"
                raise Conflict(f"device {device_id!r} is already registered{gone}")
            conn.execute(
                f"INSERT INTO devices ({_DEVICE}) VALUES (?,?,?,?,NULL)",
                (device_id, device.name, zone, device.created_s),
            )
            conn.execute("INSERT INTO twins (device_id) VALUES (?)", (device_id,))
        logger.info("registered device %s in zone %s", device_id, zone)
        return device

    def get(self, device_id: str) -> Device:
        """The device ``device_id`` (revoked or not); NotFound if it was never registered."""
        rows = self.db.query(f"SELECT {_DEVICE} FROM devices WHERE device_id = ?", (device_id,))
        if not rows:
            raise NotFound(f"no device {device_id!r} is registered")
        return Device(*rows[0])

    def list(self, zone: str | None = None, include_revoked: bool = False) -> builtins.list[Device]:
        """The devices (of ``zone`` if given; revoked ones only with ``include_revoked``), by id."""
        rows = self.db.query(
            f"SELECT {_DEVICE} FROM devices WHERE (? IS NULL OR zone = ?) "
            "AND (? OR revoked_s IS NULL) ORDER BY device_id",
            (zone, zone, include_revoked),
        )
        return [Device(*row) for row in rows]

    def revoke(self, device_id: str, now: float | None = None) -> Device:
        """Revoke ``device_id`` (again: no change): its open commands fail; NotFound if unknown."""
        now = _now(now)
        with self.db.write() as conn:
            self._device(conn, device_id)
            changed = conn.execute(
                "UPDATE devices SET revoked_s = ? WHERE device_id = ? AND revoked_s IS NULL",
                (now, device_id),
            ).rowcount
            if changed:
                conn.execute(
                    "UPDATE commands SET status = 'failed', reason = 'the device was revoked' "
                    "WHERE device_id = ? AND status IN ('pending', 'delivered')",
                    (device_id,),
                )
        if changed:
            logger.info("revoked device %s", device_id)
        return self.get(device_id)

    def twin(self, device_id: str) -> Twin:
        """The twin of ``device_id``; NotFound if unknown."""
        with self.db.write() as conn:
            return self._twin(conn, device_id)

    def report(
        self,
        device_id: str,
        state: dict[str, Any],
        expected_version: int | None = None,
        now: float | None = None,
    ) -> Twin:
        """Replace the reported state by ``state`` and bump its version; StaleVersion if
        ``expected_version`` is given and is not the current one."""
        text = _json(state, "the reported state")
        return self._write(device_id, "reported", lambda _: text, expected_version, _now(now))

    def desire(
        self, device_id: str, patch: dict[str, Any], if_match: int | None, now: float | None = None
    ) -> Twin:
        """Merge ``patch`` into the desired state (RFC 7396: a null deletes its key) and bump
        its version; StaleVersion unless ``if_match`` is the current version (None: any)."""
        _json(patch, "the desired state's patch")

        def merged(before: dict[str, Any]) -> str:
            return _json(merge_patch(before, patch), "the desired state")

        return self._write(device_id, "desired", merged, if_match, _now(now))

    def send(
        self,
        device_id: str,
        name: str,
        args: dict[str, Any] | None = None,
        timeout_s: float = 60.0,
        now: float | None = None,
    ) -> Command:
        """A new pending command ``name`` with ``args`` to ``device_id``, to be acknowledged
        within ``timeout_s`` [s] (at most :data:`MAX_TIMEOUT_S`)."""
        _check(COMMAND_NAME_PATTERN, name, "command name")
        if not (math.isfinite(timeout_s) and 0 < timeout_s <= MAX_TIMEOUT_S):
            raise InputError(f"a command's timeout is in (0, {MAX_TIMEOUT_S:g}] s, got {timeout_s}")
        text, now = _json(args or {}, "the command's args"), _now(now)
        command_id = str(uuid.uuid4())
        with self.db.write() as conn:
            self._device(conn, device_id, refuse="commands")
            conn.execute(
                "INSERT INTO commands (command_id, device_id, name, args, status, created_s, "
                "deadline_s) VALUES (?,?,?,?,'pending',?,?)",
                (command_id, device_id, name, text, now, now + timeout_s),
            )
            return self._command(conn, command_id, device_id, now)

    def commands(
        self,
        device_id: str,
        status: Status | None = None,
        now: float | None = None,
        limit: int = 1000,
    ) -> builtins.list[Command]:
        """The commands of ``device_id`` (with ``status`` if given), oldest first, after expiry."""
        with self.db.write() as conn:
            self._expire(conn, _now(now))
            self._device(conn, device_id)
            rows = conn.execute(
                f"SELECT {_COMMAND} FROM commands WHERE device_id = ? AND (? IS NULL OR "
                "status = ?) ORDER BY created_s, rowid LIMIT ?",
                (device_id, status, status, limit),
            ).fetchall()
        return [_command(row) for row in rows]

    def pending(self, device_id: str, now: float | None = None) -> builtins.list[Command]:
        """What ``device_id`` should receive now: its pending commands, oldest first."""
        return self.commands(device_id, "pending", now)

    def command(
        self, command_id: str, device_id: str | None = None, now: float | None = None
    ) -> Command:
        """The command ``command_id`` (of ``device_id`` if given), after expiry; else NotFound."""
        with self.db.write() as conn:
            return self._command(conn, command_id, device_id, _now(now))

    def mark_delivered(
        self, command_id: str, device_id: str | None = None, now: float | None = None
    ) -> Command:
        """Record that a pending command reached its device; Conflict from any other status."""
        now = _now(now)
        return self._move(command_id, device_id, "delivered", now, {"delivered_s": now})

    def acknowledge(
        self,
        command_id: str,
        ok: bool,
        result: dict[str, Any] | None = None,
        device_id: str | None = None,
        now: float | None = None,
    ) -> Command:
        """The device's answer: acknowledged (``ok``) or failed, with its ``result``; Conflict
        for a command already answered, expired or failed."""
        text = None if result is None else _json(result, "the command's result")
        now = _now(now)
        to: Status = "acknowledged" if ok else "failed"
        sets = {"acked_s": now, "result": text, "reason": None if ok else "the device failed it"}
        return self._move(command_id, device_id, to, now, sets)

    def expire(self, now: float | None = None) -> int:
        """Move pending and delivered commands past their deadline to expired; how many."""
        with self.db.write() as conn:
            return self._expire(conn, _now(now))

    # one transaction's steps

    def _device(self, conn: sqlite3.Connection, device_id: str, refuse: str = "") -> Device:
        row = conn.execute(
            f"SELECT {_DEVICE} FROM devices WHERE device_id = ?", (device_id,)
        ).fetchone()
        if row is None:
            raise NotFound(f"no device {device_id!r} is registered")
        device = Device(*row)
        if refuse and device.revoked_s is not None:
            raise Conflict(f"device {device_id!r} is revoked: it takes no {refuse}")
        return device

    def _twin(self, conn: sqlite3.Connection, device_id: str) -> Twin:
        self._device(conn, device_id)
        row = conn.execute(
            f"SELECT {_TWIN} FROM twins WHERE device_id = ?", (device_id,)
        ).fetchone()
        dev, reported, r_version, r_s, desired, d_version, d_s = row
        return Twin(dev, json.loads(reported), r_version, r_s, json.loads(desired), d_version, d_s)

    def _write(
        self,
        device_id: str,
        side: Literal["reported", "desired"],
        new: Callable[[dict[str, Any]], str],
        given: int | None,
        now: float,
    ) -> Twin:
        with self.db.write() as conn:
            self._device(conn, device_id, refuse=f"{side} state")
            twin = self._twin(conn, device_id)
            current = twin.reported_version if side == "reported" else twin.desired_version
            if given is not None and given != current:
                raise StaleVersion(device_id, side, given, current)
            text = new(twin.reported if side == "reported" else twin.desired)
            conn.execute(
                f"UPDATE twins SET {side} = ?, {side}_version = ?, {side}_s = ? "
                "WHERE device_id = ?",
                (text, current + 1, now, device_id),
            )
            return self._twin(conn, device_id)

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
        self,
        command_id: str,
        device_id: str | None,
        to: Status,
        now: float,
        sets: dict[str, Any],
    ) -> Command:
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
