"""Device twins (DESIGN 4.6), in the service's state file.

A twin holds two JSON objects, each with a version that every accepted write bumps by one (0
before the first): ``reported`` (what the device says it is; a report replaces it) and
``desired`` (what operators want of it; a JSON merge patch, RFC 7396, where a null deletes a
key). A write naming a version other than the current one raises :class:`StaleVersion` (the
API's If-Match), so two writers that read the same version cannot both win. A revoked device
takes no reports or desires. Each write is one transaction.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from embercast.errors import EmbercastError
from embercast.service.db import ServiceDB
from embercast.service.device_records import find, json_object, now_s

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS twins (
        device_id TEXT PRIMARY KEY REFERENCES devices (device_id),
        reported TEXT NOT NULL DEFAULT '{}', reported_version INTEGER NOT NULL DEFAULT 0,
        reported_s REAL,
        desired TEXT NOT NULL DEFAULT '{}', desired_version INTEGER NOT NULL DEFAULT 0,
        desired_s REAL
    )""",
)
_TWIN = "device_id, reported, reported_version, reported_s, desired, desired_version, desired_s"


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


def create_twin(conn: sqlite3.Connection, device_id: str) -> None:
    """Give the device ``device_id``, just registered in the transaction ``conn``, an empty
    twin (both states ``{}`` at version 0)."""
    conn.execute("INSERT INTO twins (device_id) VALUES (?)", (device_id,))


class Twins:
    """The twins' part of :class:`~embercast.service.devices.DeviceStore`, which opens ``db``
    with :data:`SCHEMA`."""

    db: ServiceDB

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
        text = json_object(state, "the reported state")
        return self._write(device_id, "reported", lambda _: text, expected_version, now_s(now))

    def desire(
        self, device_id: str, patch: dict[str, Any], if_match: int | None, now: float | None = None
    ) -> Twin:
        """Merge ``patch`` into the desired state (RFC 7396: a null deletes its key) and bump
        its version; StaleVersion unless ``if_match`` is the current version (None: any)."""
        json_object(patch, "the desired state's patch")

        def merged(before: dict[str, Any]) -> str:
            return json_object(merge_patch(before, patch), "the desired state")

        return self._write(device_id, "desired", merged, if_match, now_s(now))

    # one transaction's steps

    def _twin(self, conn: sqlite3.Connection, device_id: str) -> Twin:
        find(conn, device_id)
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
            find(conn, device_id, refuse=f"{side} state")
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
