"""What the device modules share (DESIGN 4.6-4.7): the :class:`Device` record and its lookup in a
transaction, the errors :class:`NotFound` and :class:`Conflict`, and the checks of ids, names,
JSON objects (at most :data:`MAX_JSON_BYTES` [bytes]) and times [Unix s].

The registry (:mod:`~embercast.service.devices`), the twins (:mod:`~embercast.service.twins`)
and the commands (:mod:`~embercast.service.commands`) build on these.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from embercast.errors import EmbercastError, InputError

DEVICE_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,128}$"
ZONE_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"
MAX_JSON_BYTES = 65_536
"""Largest reported state, desired state, command arguments or result, as JSON [bytes]."""
DEVICE_COLUMNS = "device_id, name, zone, created_s, revoked_s"
"""The columns of the ``devices`` table, in the order of :class:`Device`'s fields."""


class NotFound(EmbercastError, LookupError):
    """No such device, or no such command (for that device)."""


class Conflict(InputError):
    """A duplicate device, a revoked device, or a command transition that is not allowed."""


@dataclass(frozen=True)
class Device:
    """A registered device: its id, display name, zone, registration and revocation [Unix s]."""

    device_id: str
    name: str
    zone: str
    created_s: float
    revoked_s: float | None = None


def check(pattern: str, value: str, what: str) -> str:
    """``value`` if it is a string matching ``pattern``; InputError naming ``what`` otherwise."""
    if not isinstance(value, str) or re.fullmatch(pattern, value) is None:
        raise InputError(f"{what} {value!r} does not match {pattern}")
    return value


def json_object(value: Any, what: str) -> str:
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


def now_s(now: float | None) -> float:
    """``now`` [Unix s], or the current time when it is None."""
    return time.time() if now is None else float(now)


def find(conn: sqlite3.Connection, device_id: str, refuse: str = "") -> Device:
    """The device ``device_id`` within the transaction ``conn``; NotFound if it was never
    registered, Conflict if it is revoked and ``refuse`` names what it would take."""
    row = conn.execute(
        f"SELECT {DEVICE_COLUMNS} FROM devices WHERE device_id = ?", (device_id,)
    ).fetchone()
    if row is None:
        raise NotFound(f"no device {device_id!r} is registered")
    device = Device(*row)
    if refuse and device.revoked_s is not None:
        raise Conflict(f"device {device_id!r} is revoked: it takes no {refuse}")
    return device
