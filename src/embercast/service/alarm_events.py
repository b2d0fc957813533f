"""The log of what happens to alarms (DESIGN 4.5, 4.7), in the service's state file.

``alarm_events`` is append-only (triggers refuse updates and deletes). Each entry names its
alarm, its kind, when it happened [Unix s], the reading behind it (device time [s], fire
probability, risk level) and who did it: :data:`SYSTEM` for what the service does by itself
(``raised``, ``update`` when the peak risk level rises, ``cleared``); operators' actions
(acknowledge, silence, reset) are further kinds with their key as actor.
"""

from __future__ import annotations

import json
import math
import sqlite3
from dataclasses import dataclass
from typing import Any

from embercast.service.db import ServiceDB
from embercast.service.device_stream import Prediction

SYSTEM = "system"
"""The actor of the events the service makes by itself."""

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS alarm_events (
        event_id INTEGER PRIMARY KEY AUTOINCREMENT,
        alarm_id TEXT NOT NULL REFERENCES alarms (alarm_id), kind TEXT NOT NULL,
        at_s REAL NOT NULL, t_s REAL, p_fire REAL, risk TEXT, actor TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '{}'
    )""",
    "CREATE INDEX IF NOT EXISTS alarm_events_of ON alarm_events (alarm_id, event_id)",
    "CREATE TRIGGER IF NOT EXISTS alarm_events_no_update BEFORE UPDATE ON alarm_events "
    "BEGIN SELECT RAISE(ABORT, 'alarm_events is append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS alarm_events_no_delete BEFORE DELETE ON alarm_events "
    "BEGIN SELECT RAISE(ABORT, 'alarm_events is append-only'); END",
)
_EVENT = "event_id, alarm_id, kind, at_s, t_s, p_fire, risk, actor, detail"


@dataclass(frozen=True)
class AlarmEvent:
    """One entry of an alarm's log: ``raised``, ``update`` (the peak risk level rose) or
    ``cleared`` so far; when [Unix s], the reading's device time [s], probability and risk
    level, who did it, and details."""

    event_id: int
    alarm_id: str
    kind: str
    at_s: float
    t_s: float | None
    p_fire: float | None
    risk: str | None
    actor: str
    detail: dict[str, Any]


def stored_p(p: float | None) -> float | None:
    """The probability ``p`` as stored: a float, or None for none or NaN.

    >>> stored_p(float("nan")) is None, stored_p(0.25)
    (True, 0.25)
    """
    return None if p is None or math.isnan(p) else float(p)


def append(
    conn: sqlite3.Connection, alarm_id: str, kind: str, at_s: float,
    prediction: Prediction | None, detail: dict[str, Any], actor: str = SYSTEM,
) -> None:  # fmt: skip
    """Log the event ``kind`` of alarm ``alarm_id`` at ``at_s`` [Unix s], with the reading
    ``prediction`` (if any), within the transaction ``conn``."""
    t, p, risk = (None, None, None) if prediction is None else (
        prediction.t_s, stored_p(prediction.p_fire), prediction.risk)  # fmt: skip
    conn.execute(
        "INSERT INTO alarm_events (alarm_id, kind, at_s, t_s, p_fire, risk, actor, detail) "
        "VALUES (?,?,?,?,?,?,?,?)",
        (alarm_id, kind, at_s, t, p, risk, actor, json.dumps(detail, allow_nan=False)),
    )


def events_of(db: ServiceDB, alarm_id: str) -> list[AlarmEvent]:
    """The events of alarm ``alarm_id`` in ``db``, in the order they happened."""
    rows = db.query(
        f"SELECT {_EVENT} FROM alarm_events WHERE alarm_id = ? ORDER BY event_id", (alarm_id,)
    )
    return [
        AlarmEvent(event, alarm, kind, at, t, p, risk, actor, json.loads(detail))
        for event, alarm, kind, at, t, p, risk, actor, detail in rows
    ]
