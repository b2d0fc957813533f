"""Alarms of the live service (DESIGN 4.5, 4.7), in the service's state file.

An alarm is one episode of a device's alarm decision being on: :class:`AlarmRecorder`, the
hub's sink, opens it on the reading that raised the decision (``onset``), raises its peak while
the decision holds and clears it once the decision turns off. A device has at most one active
alarm (a partial unique index holds it). What happens to an alarm goes to ``alarm_events``, an
append-only log (triggers refuse updates and deletes) with who did it: ``system`` for the
events of this module (``raised``, ``update`` when the peak risk level rises, ``cleared``);
operators' actions (acknowledge, silence, reset) are further kinds with their key as actor.
Each operation is one transaction.

The start-up replay rebuilds the streams with the sink off, so after a restart
:meth:`AlarmRecorder.reconcile` makes the table agree with each replayed decision.
"""

from __future__ import annotations

import builtins
import json
import logging
import math
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from embercast.alarm.decision import AlarmParams
from embercast.alarm.risk import RISK_LEVELS
from embercast.errors import EmbercastError, InputError
from embercast.service.db import ServiceDB
from embercast.service.device_stream import Prediction
from embercast.service.devices import DeviceStore, NotFound
from embercast.service.hub import Sink
from embercast.service.live_model import ModelHolder
from embercast.service.metrics import ServiceMetrics

logger = logging.getLogger(__name__)

AlarmState = Literal["active", "cleared"]
Cause = Literal["model", "slow", "heat"]
SYSTEM = "system"
"""The actor of the events the service makes by itself."""
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
_ALARM = (
    "alarm_id, device_id, zone, state, started_t, started_s, cleared_t, cleared_s, peak_p, "
    "peak_risk, cause"
)
_EVENT = "event_id, alarm_id, kind, at_s, t_s, p_fire, risk, actor, detail"


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


class Streams(Protocol):
    """What :meth:`AlarmRecorder.reconcile` reads of the devices' streams (a
    :class:`~embercast.service.hub.StreamHub`)."""

    def devices(self) -> list[str]: ...

    def latest(self, device_id: str) -> Prediction | None: ...

    def history(self, device_id: str) -> list[Prediction]: ...


def cause_of(prediction: Prediction, params: AlarmParams | None = None) -> Cause:
    """What raised the alarm of the reading ``prediction``: ``heat`` with heat evidence, else
    ``model`` when p is at or above ``params.threshold`` (or without params), else ``slow``.

    >>> p = Prediction(60.0, 0.62, "medium", True, True, None, False, "ok")
    >>> cause_of(p, AlarmParams(threshold=0.9, slow_threshold=0.6))
    'slow'
    """
    if prediction.heat is not None:
        return "heat"
    slow = params is not None and not prediction.p_fire >= params.threshold
    return "slow" if slow else "model"


def chained(*sinks: Sink | None) -> Sink:
    """One sink calling each of ``sinks`` in turn; one that fails is logged, the rest still
    run."""
    found = [s for s in sinks if s is not None]

    def sink(device_id: str, prediction: Prediction) -> None:
        for each in found:
            try:
                each(device_id, prediction)
            except Exception:
                logger.exception("a prediction sink failed on %s at t=%s", device_id,
                                 prediction.t_s)  # fmt: skip

    return sink


def _num(p: float | None) -> float | None:
    return None if p is None or math.isnan(p) else float(p)


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
        p = _num(prediction.p_fire)
        with self.db.write() as conn:
            try:
                conn.execute(
                    f"INSERT INTO alarms ({_ALARM}) VALUES (?,?,?,'active',?,?,NULL,NULL,?,?,?)",
                    (alarm_id, device_id, zone, prediction.t_s, now, p, prediction.risk, cause),
                )
            except sqlite3.IntegrityError:
                raise AlarmConflict(f"device {device_id!r} has an active alarm already") from None
            self._event(
                conn, alarm_id, "raised", now, prediction, {"cause": cause, **(detail or {})}
            )
        logger.warning("alarm %s raised by %s (zone %s, %s, p=%s)", alarm_id, device_id, zone,
                       cause, p)  # fmt: skip
        return self.get(alarm_id)

    def peak(self, alarm_id: str, prediction: Prediction, now: float | None = None) -> bool:
        """Raise the active alarm's peak to ``prediction``'s probability if higher; whether its
        risk level rose (an ``update`` event is logged)."""
        p = _num(prediction.p_fire)
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
                self._event(conn, alarm_id, "update", now, prediction, {"from": alarm.peak_risk})
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
            self._event(conn, alarm_id, "cleared", now, prediction, {"reason": reason})
        logger.info("alarm %s cleared: %s", alarm_id, reason)
        return self.get(alarm_id)

    def get(self, alarm_id: str) -> Alarm:
        """The alarm ``alarm_id``; AlarmNotFound if there is none."""
        with self.db.write() as conn:
            return self._alarm(conn, alarm_id)

    def events(self, alarm_id: str) -> builtins.list[AlarmEvent]:
        """The events of alarm ``alarm_id``, in the order they happened."""
        self.get(alarm_id)
        rows = self.db.query(
            f"SELECT {_EVENT} FROM alarm_events WHERE alarm_id = ? ORDER BY event_id", (alarm_id,)
        )
        return [
            AlarmEvent(event, alarm, kind, at, t, p, risk, actor, json.loads(detail))
            for event, alarm, kind, at, t, p, risk, actor, detail in rows
        ]

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

    def _event(
        self, conn: sqlite3.Connection, alarm_id: str, kind: str, at_s: float,
        prediction: Prediction | None, detail: dict[str, Any], actor: str = SYSTEM,
    ) -> None:  # fmt: skip
        t, p, risk = (None, None, None) if prediction is None else (
            prediction.t_s, _num(prediction.p_fire), prediction.risk)  # fmt: skip
        conn.execute(
            "INSERT INTO alarm_events (alarm_id, kind, at_s, t_s, p_fire, risk, actor, detail) "
            "VALUES (?,?,?,?,?,?,?,?)",
            (alarm_id, kind, at_s, t, p, risk, actor, json.dumps(detail, allow_nan=False)),
        )


class AlarmRecorder:
    """The hub's sink that keeps ``store`` in step with each device's alarm decision.

    ``zone_of(device_id)`` names a device's zone (None: unknown), ``params()`` the served
    model's operating point (to tell ``model`` from ``slow``), and ``on_raised(alarm)`` hears of
    every alarm raised. The active alarms are read back from ``store`` at construction.
    """

    def __init__(
        self, store: AlarmStore, zone_of: Callable[[str], str | None] | None = None,
        params: Callable[[], AlarmParams | None] | None = None,
        on_raised: Callable[[Alarm], None] | None = None,
    ) -> None:  # fmt: skip
        self.store = store
        self._zone_of, self._params, self._on_raised = zone_of, params, on_raised
        self._lock = threading.Lock()
        active = store.list("active", limit=None)
        self._open = {a.device_id: (a.alarm_id, a.peak_p) for a in active}
        self._seen: dict[str, float] = {}
        """Device time [s] of the last prediction seen of each device."""

    def active(self, device_id: str) -> str | None:
        """The id of ``device_id``'s active alarm, or None."""
        with self._lock:
            found = self._open.get(device_id)
            return None if found is None else found[0]

    def update(self, device_id: str, prediction: Prediction) -> None:
        """Take one prediction of ``device_id``: open, raise the peak of, or clear its alarm."""
        with self._lock:
            self._seen[device_id] = prediction.t_s
            if prediction.alarm:
                if device_id not in self._open:
                    self._raise(device_id, prediction, {})
                self._peak(device_id, prediction)
            elif device_id in self._open:
                self._clear(device_id, prediction, "the alarm decision turned off")

    def reconcile(self, hub: Streams) -> int:
        """Make the active alarms agree with the streams ``hub`` rebuilt at start (the replay
        runs without the sink); the number of alarms opened or cleared. An alarm whose device's
        replayed decision is off is cleared; a device whose decision is on gets an alarm from
        its last onset in the history. A device with no replayed prediction keeps its alarm
        until its next prediction."""
        with self._lock:
            devices = set(self._open) | set(hub.devices())
        latest = {d: hub.latest(d) for d in sorted(devices)}
        changed = 0
        with self._lock:
            for device_id, last in latest.items():
                if last is None or self._seen.get(device_id, -math.inf) >= last.t_s:
                    continue  # nothing replayed, or news since: the sink has dealt with it
                if last.alarm and device_id not in self._open:
                    history = [p for p in hub.history(device_id) if p.t_s <= last.t_s]
                    onsets = [i for i, p in enumerate(history) if p.onset]
                    since = history[onsets[-1] :] if onsets else [last]
                    reason = "after a restart the replayed decision is on"
                    self._raise(device_id, since[0], {"reason": reason})
                    for p in since:
                        self._peak(device_id, p)
                    changed += 1
                elif not last.alarm and device_id in self._open:
                    self._clear(device_id, last, "after a restart the replayed decision is off")
                    changed += 1
        if changed:
            logger.info("reconciled %d alarm(s) with the replayed streams", changed)
        return changed

    def _raise(self, device_id: str, onset: Prediction, detail: dict[str, Any]) -> None:
        if not onset.onset:
            detail = {**detail, "note": "the decision was already on"}
        params = self._params() if self._params is not None else None
        zone = self._zone_of(device_id) if self._zone_of is not None else None
        alarm = self.store.open(device_id, zone, onset, cause_of(onset, params), detail)
        self._open[device_id] = (alarm.alarm_id, alarm.peak_p)
        if self._on_raised is not None:
            self._on_raised(alarm)

    def _peak(self, device_id: str, prediction: Prediction) -> None:
        alarm_id, peak = self._open[device_id]
        p = _num(prediction.p_fire)
        if p is not None and (peak is None or p > peak):
            self.store.peak(alarm_id, prediction)
            self._open[device_id] = (alarm_id, p)

    def _clear(self, device_id: str, prediction: Prediction, reason: str) -> None:
        self.store.clear(self._open[device_id][0], prediction, reason)
        del self._open[device_id]


def service_recorder(
    store: AlarmStore, devices: DeviceStore, models: ModelHolder, metrics: ServiceMetrics
) -> AlarmRecorder:
    """The recorder of one service: zones from ``devices``, the operating point of the model
    ``models`` serves, and ``embercast_alarms_raised`` counted by zone."""

    def zone_of(device_id: str) -> str | None:
        try:
            return devices.get(device_id).zone
        except NotFound:
            return None

    def params() -> AlarmParams | None:
        model = models.current
        return None if model is None else model.params

    def raised(alarm: Alarm) -> None:
        metrics.alarms_raised.labels(alarm.zone or "").inc()

    return AlarmRecorder(store, zone_of, params, raised)
