"""Alarms of the live service (DESIGN 4.5, 4.7), in the service's state file.

An alarm is one episode of a device's alarm decision being on: opened on the reading that
raised the decision, its peak raised while the decision holds, cleared once the decision turns
off (:class:`~embercast.service.alarm_recorder.AlarmRecorder` does this, as the hub's sink). A
device has at most one active alarm (a partial unique index holds it). :class:`AlarmStore`
logs what happens to an alarm in :mod:`~embercast.service.alarm_events`: ``raised``, ``update``
when the peak risk level rises, ``cleared``. Each operation is one transaction.
"""

from __future__ import annotations

import builtins
import logging
import sqlite3
import time
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from embercast.alarm.risk import RISK_LEVELS
from embercast.errors import EmbercastError, InputError
from embercast.service.alarm_events import SCHEMA as EVENTS_SCHEMA
from embercast.service.alarm_events import AlarmEvent, append, events_of, stored_p
from embercast.service.db import ServiceDB
from embercast.service.device_stream import Prediction

logger = logging.getLogger(__name__)

AlarmState = Literal["active", "cleared"]
Cause = Literal["model", "slow", "co2", "heat"]
_RANK = {name: i for i, (name, _) in enumerate(RISK_LEVELS)}

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS alarms (
        alarm_id TEXT PRIMARY KEY, device_id TEXT NOT NULL, zone TEXT,
        state TEXT NOT NULL CHECK (state IN ('active', 'cleared')),
        started_t REAL NOT NULL, started_s REAL NOT NULL, cleared_t REAL, cleared_s REAL,
        peak_p REAL, peak_risk TEXT NOT NULL, cause TEXT NOT NULL
    )""",
    "CREATE UNIQUE INDEX IF NOT EXISTS alarms_one_active ON alarms (device_id) "
    "WHERE state = 'active'",
    "CREATE INDEX IF NOT EXISTS alarms_started ON alarms (started_s)",
    *EVENTS_SCHEMA,
)
"""The ``alarms`` table, then the ``alarm_events`` log that refers to it."""
_ALARM = (
    "alarm_id, device_id, zone, state, started_t, started_s, cleared_t, cleared_s, peak_p, "
    "peak_risk, cause"
)


class AlarmNotFound(EmbercastError, LookupError):
    """No alarm has this id."""


class AlarmConflict(InputError):
    """A second active alarm for a device, or a change to an alarm already cleared."""


@dataclass(frozen=True)
class Alarm:
    """An alarm: its device and zone (None: the device is not registered), ``active`` or
    ``cleared``, start and clearance in device time [s] and Unix time [s], the highest fire
    probability and risk level seen while it was on, and what raised it (``model``: the
    probability held above the threshold; ``slow``: the slow path's mean; ``heat``: heat
    evidence)."""

    alarm_id: str
    device_id: str
    zone: str | None
    state: AlarmState
    started_t: float
    started_s: float
    cleared_t: float | None
    cleared_s: float | None
    peak_p: float | None
    peak_risk: str
    cause: Cause


class AlarmStore:
    """Alarms and their events in the service's state file (``db``)."""

    def __init__(self, db: ServiceDB) -> None:
        self.db = db
        db.ensure(SCHEMA)

    def open(
        self, device_id: str, zone: str | None, prediction: Prediction, cause: Cause,
        detail: dict[str, Any] | None = None, now: float | None = None,
    ) -> Alarm:  # fmt: skip
        """A new active alarm of ``device_id`` raised by ``prediction``; AlarmConflict when the
        device has one already."""
        now, alarm_id = time.time() if now is None else now, str(uuid.uuid4())
        p = stored_p(prediction.p_fire)
        with self.db.write() as conn:
            try:
                conn.execute(
                    f"INSERT INTO alarms ({_ALARM}) VALUES (?,?,?,'active',?,?,NULL,NULL,?,?,?)",
                    (alarm_id, device_id, zone, prediction.t_s, now, p, prediction.risk, cause),
                )
            except sqlite3.IntegrityError:
                raise AlarmConflict(f"device {device_id!r} has an active alarm already") from None
            append(conn, alarm_id, "raised", now, prediction, {"cause": cause, **(detail or {})})
        logger.warning("alarm %s raised by %s (zone %s, %s, p=%s)", alarm_id, device_id, zone,
                       cause, p)  # fmt: skip
        return self.get(alarm_id)

    def peak(self, alarm_id: str, prediction: Prediction, now: float | None = None) -> bool:
        """Raise the active alarm's peak to ``prediction``'s probability if higher; whether its
        risk level rose (an ``update`` event is logged)."""
        p = stored_p(prediction.p_fire)
        with self.db.write() as conn:
            alarm = self._alarm(conn, alarm_id, change=True)
            if p is None or (alarm.peak_p is not None and p <= alarm.peak_p):
                return False
            rose = _RANK[prediction.risk] > _RANK[alarm.peak_risk]
            risk = prediction.risk if rose else alarm.peak_risk
            conn.execute("UPDATE alarms SET peak_p = ?, peak_risk = ? WHERE alarm_id = ?",
                         (p, risk, alarm_id))  # fmt: skip
            if rose:
                now = time.time() if now is None else now
                append(conn, alarm_id, "update", now, prediction, {"from": alarm.peak_risk})
            return rose

    def clear(
        self, alarm_id: str, prediction: Prediction, reason: str, now: float | None = None
    ) -> Alarm:
        """Clear the active alarm at ``prediction``'s time, saying why."""
        now = time.time() if now is None else now
        with self.db.write() as conn:
            self._alarm(conn, alarm_id, change=True)
            conn.execute(
                "UPDATE alarms SET state = 'cleared', cleared_t = ?, cleared_s = ? "
                "WHERE alarm_id = ?",
                (prediction.t_s, now, alarm_id),
            )
            append(conn, alarm_id, "cleared", now, prediction, {"reason": reason})
        logger.info("alarm %s cleared: %s", alarm_id, reason)
        return self.get(alarm_id)

    def get(self, alarm_id: str) -> Alarm:
        """The alarm ``alarm_id``; AlarmNotFound if there is none."""
        with self.db.write() as conn:
            return self._alarm(conn, alarm_id)

    def events(self, alarm_id: str) -> builtins.list[AlarmEvent]:
        """The events of alarm ``alarm_id``, in the order they happened."""
        self.get(alarm_id)
        return events_of(self.db, alarm_id)

    def list(
        self, state: AlarmState | None = None, zone: str | None = None,
        device_id: str | None = None, since: float | None = None, limit: int | None = 100,
    ) -> builtins.list[Alarm]:  # fmt: skip
        """Alarms (in ``state``, of ``zone``, of ``device_id``, started at or after ``since``
        [Unix s], when given), newest first, at most ``limit`` (None: all)."""
        rows = self.db.query(
            f"SELECT {_ALARM} FROM alarms WHERE (?1 IS NULL OR state = ?1) AND (?2 IS NULL OR "
            "zone = ?2) AND (?3 IS NULL OR device_id = ?3) AND (?4 IS NULL OR started_s >= ?4) "
            "ORDER BY started_s DESC, rowid DESC LIMIT ?5",
            (state, zone, device_id, since, -1 if limit is None else limit),
        )
        return [Alarm(*row) for row in rows]

    def _alarm(self, conn: sqlite3.Connection, alarm_id: str, change: bool = False) -> Alarm:
        row = conn.execute(
            f"SELECT {_ALARM} FROM alarms WHERE alarm_id = ?", (alarm_id,)
        ).fetchone()
        if row is None:
            raise AlarmNotFound(f"no alarm {alarm_id!r}")
        alarm = Alarm(*row)
        if change and alarm.state != "active":
            raise AlarmConflict(f"alarm {alarm_id} is {alarm.state}: it cannot change")
        return alarm
