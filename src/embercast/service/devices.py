"""The device registry (DESIGN 4.6-4.7) and :class:`DeviceStore`, the one object through which
the service reaches devices, their twins and their commands, in the service's state file.

A device is registered once in a zone, with an empty twin; its id is never reused, even after
it is revoked. A revoked device takes no reports, desires or commands, and its open commands
fail. The twins' operations come from :class:`~embercast.service.twins.Twins`, the commands'
from :class:`~embercast.service.commands.Commands`; the records and errors all three share are
in :mod:`~embercast.service.device_records`. Each operation is one transaction: nothing is ever
half-written.
"""

from __future__ import annotations

import builtins
import logging
import threading

from embercast.errors import InputError
from embercast.service.commands import SCHEMA as COMMANDS_SCHEMA
from embercast.service.commands import Commands, fail_open
from embercast.service.db import ServiceDB
from embercast.service.device_records import (
    DEVICE_COLUMNS,
    DEVICE_ID_PATTERN,
    ZONE_PATTERN,
    Conflict,
    Device,
    NotFound,
    check,
    find,
    now_s,
)
from embercast.service.twins import SCHEMA as TWINS_SCHEMA
from embercast.service.twins import Twins, create_twin

logger = logging.getLogger(__name__)

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS devices (
        device_id TEXT PRIMARY KEY, name TEXT NOT NULL, zone TEXT NOT NULL,
        created_s REAL NOT NULL, revoked_s REAL
    )""",
    *TWINS_SCHEMA,
    *COMMANDS_SCHEMA,
)
"""The registry's ``devices`` table, then the twins' and the commands' tables that refer to it."""


class DeviceStore(Twins, Commands):
    """Devices, twins and commands in the service's state file (``db``): the registry's
    operations here, the twins' and the commands' from their parts."""

    def __init__(self, db: ServiceDB) -> None:
        self.db = db
        db.ensure(SCHEMA)
        self._may_send: set[str] = set()
        """Devices seen registered and not revoked (asked on every message: kept in memory;
        a device leaves it when revoked, and revocation is final)."""
        self._sending = threading.Lock()

    def refusal(self, device_id: str) -> str | None:
        """Why ``device_id`` may not send: ``unknown_device`` (never registered) or
        ``revoked_device``; None for a registered device."""
        if device_id in self._may_send:
            return None
        with self._sending:  # not added back by a look-up that a revocation overtook
            try:
                device = self.get(device_id)
            except NotFound:
                return "unknown_device"
            if device.revoked_s is not None:
                return "revoked_device"
            self._may_send.add(device_id)
        return None

    def register(
        self, device_id: str, zone: str, name: str = "", now: float | None = None
    ) -> Device:
        """Register ``device_id`` in ``zone`` (display ``name``, default its id) with an empty
        twin; Conflict if the id was ever registered, InputError for a malformed id or zone."""
        check(DEVICE_ID_PATTERN, device_id, "device id")
        check(ZONE_PATTERN, zone, "zone")
        if len(name) > 128:
            raise InputError(f"a device's name has at most 128 characters, got {len(name)}")
        device = Device(device_id, name.strip() or device_id, zone, now_s(now))
        with self.db.write() as conn:
            found = conn.execute(
                "SELECT revoked_s FROM devices WHERE device_id = ?", (device_id,)
            ).fetchone()
            if found is not None:
                gone = "" if found[0] is None else " (revoked; a device id is never reused)"
                raise Conflict(f"device {device_id!r} is already registered{gone}")
            conn.execute(
                f"INSERT INTO devices ({DEVICE_COLUMNS}) VALUES (?,?,?,?,NULL)",
                (device_id, device.name, zone, device.created_s),
            )
            create_twin(conn, device_id)
        logger.info("registered device %s in zone %s", device_id, zone)
        return device

    def get(self, device_id: str) -> Device:
        """The device ``device_id`` (revoked or not); NotFound if it was never registered."""
        rows = self.db.query(
            f"SELECT {DEVICE_COLUMNS} FROM devices WHERE device_id = ?", (device_id,)
        )
        if not rows:
            raise NotFound(f"no device {device_id!r} is registered")
        return Device(*rows[0])

    def zone_of(self, device_id: str) -> str | None:
        """The zone of ``device_id`` (None when it was never registered)."""
        rows = self.db.query("SELECT zone FROM devices WHERE device_id = ?", (device_id,))
        return str(rows[0][0]) if rows else None

    def list(self, zone: str | None = None, include_revoked: bool = False) -> builtins.list[Device]:
        """The devices (of ``zone`` if given; revoked ones only with ``include_revoked``), by id."""
        rows = self.db.query(
            f"SELECT {DEVICE_COLUMNS} FROM devices WHERE (? IS NULL OR zone = ?) "
            "AND (? OR revoked_s IS NULL) ORDER BY device_id",
            (zone, zone, include_revoked),
        )
        return [Device(*row) for row in rows]

    def revoke(self, device_id: str, now: float | None = None) -> Device:
        """Revoke ``device_id`` (again: no change): its open commands fail; NotFound if unknown."""
        now = now_s(now)
        with self._sending, self.db.write() as conn:
            find(conn, device_id)
            changed = conn.execute(
                "UPDATE devices SET revoked_s = ? WHERE device_id = ? AND revoked_s IS NULL",
                (now, device_id),
            ).rowcount
            if changed:
                fail_open(conn, device_id)
            self._may_send.discard(device_id)
        if changed:
            logger.info("revoked device %s", device_id)
        return self.get(device_id)
