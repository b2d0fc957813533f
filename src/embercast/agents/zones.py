"""The zone agent: devices' predictions in, zone states and events out.

It reads the ``risk`` topic (one message per scored reading: device, zone, time, probability,
heat evidence, SCD41 fault, the data-quality trouble), runs each zone's
:class:`~embercast.alarm.zone.ZoneMachine` at the served model's operating point, and for every
event of a zone: appends it to the audit log, saves the zone's snapshot, and publishes it on the
``alarms`` topic (message id = event id, so a retry publishes nothing twice). Operators act on
zones through :meth:`ZoneAgent.act` (acknowledge, silence, reset, isolate, end the isolation,
walk test), recorded with who did it.

Time: a zone's clock is its devices' time (the latest reading's timestamp), advanced by the
wall-clock time since that reading arrived; its timers and operators' actions run on it, so a
device decision's debounce and the zone's timers share one time base whatever the devices'
clocks (replays of recorded data included). State lives in one SQLite file: zone snapshots (latch,
acknowledgement, timers, isolation survive a restart) and the append-only audit log.
"""

from __future__ import annotations

import json
import logging
import math
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from embercast.alarm.decision import AlarmParams
from embercast.alarm.device_quality import QUALITY_TROUBLES
from embercast.alarm.zone import (
    ZoneEvent,
    ZoneMachine,
    ZoneParams,
    ZoneSchedule,
    event_message,
)
from embercast.bus.base import Bus
from embercast.dataset.episodes import CAUSES, VERDICTS
from embercast.errors import EmbercastError, InputError
from embercast.store.wal import WalFile

logger = logging.getLogger(__name__)

RISK_TOPIC = "risk"
CO2_KEYS = ("co2_ppm", "co2_rate_ppm_s")
"""Keys of a risk message's CO2 [ppm] and 60-s CO2 rate [ppm/s]: the CO2 path's inputs."""
ALARMS_TOPIC = "alarms"
GROUP = "zones"

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS zone_states (
        zone TEXT PRIMARY KEY,
        snapshot TEXT NOT NULL,
        changed_s REAL NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS zone_audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id TEXT NOT NULL UNIQUE,
        zone TEXT NOT NULL,
        t REAL NOT NULL,
        kind TEXT NOT NULL,
        previous TEXT NOT NULL,
        state TEXT NOT NULL,
        who TEXT NOT NULL,
        detail TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS zone_audit_zone ON zone_audit (zone, id)",
    """CREATE TABLE IF NOT EXISTS zone_views (
        zone TEXT PRIMARY KEY,
        view TEXT NOT NULL,
        changed_s REAL NOT NULL
    )""",
)
"""``zone_views``: each zone as operators see it, kept by a zone agent in a process of its own
(:meth:`ZoneAgent.record_views`) for the service to read."""

ACTIONS: tuple[str, ...] = (
    "acknowledge", "silence", "reset", "isolate", "end_isolation", "walk_test", "end_walk_test",
)  # fmt: skip
"""What an operator may do to a zone."""


FEEDBACK_TOPIC = "feedback"


class ZoneStoreError(EmbercastError, OSError):
    """The zones' state file cannot be opened or written."""


@dataclass(frozen=True)
class ZoneView:
    """A zone as operators see it: its state (``normal``, ``fault``, ``supervisory``,
    ``pre_alarm``, ``alarm`` or ``isolated``) and what holds it."""

    zone: str
    state: str
    sounding: bool
    latched: bool
    acknowledged: bool
    silenced_until: float | None
    isolated_until: float | None
    walk_test_until: float | None
    devices: list[str]
    alarm_devices: list[str]
    troubles: dict[str, list[str]]
    supervisory: dict[str, list[str]]


class ZoneAgent:
    """Zones of the devices whose predictions reach it; state in the SQLite file ``path``.

    ``alarm`` gives the served model's operating point (None: no model yet, predictions wait),
    ``params`` each zone's parameters (default: the defaults), ``bus`` takes the zone events.
    """

    def __init__(
        self,
        path: str,
        alarm: Callable[[], AlarmParams | None],
        bus: Bus | None = None,
        params: Callable[[str], ZoneParams | ZoneSchedule] = lambda _zone: ZoneParams(),
    ) -> None:
        self.path = path
        self.alarm = alarm
        self.bus = bus
        self.params = params
        self._machines: dict[str, ZoneMachine] = {}
        self._alarm_ids: dict[str, str] = {}
        """Zone -> the id of its latched alarm (the event that raised it)."""
        self._clocks: dict[str, tuple[float, float]] = {}
        """Zone -> (its latest device time [s], the wall-clock time it arrived [s])."""
        self._operating: AlarmParams | None = None
        self._recorded: dict[str, str] = {}
        """Zone -> its view as last written to ``zone_views``."""
        self._file = WalFile(path, "the zones' state", ZoneStoreError, schema=SCHEMA)
        self._conn, self._lock, self._write = self._file.conn, self._file.lock, self._file.write

    # ------------------------------------------------------------------ machines
    def _machine(self, zone: str) -> ZoneMachine | None:
        """The zone's machine (restored from its snapshot the first time), at the current
        operating point; None while no model serves."""
        operating = self.alarm()
        if operating is None:
            return None
        if operating != self._operating:  # a new model: its devices' decisions start anew
            self._operating = operating
            for machine in self._machines.values():
                machine.alarm = operating
                machine.devices.clear()
        known = self._machines.get(zone)
        if known is not None:
            return known
        machine = ZoneMachine(zone, operating, self.params(zone))
        row = self._conn.execute(
            "SELECT snapshot FROM zone_states WHERE zone = ?", (zone,)
        ).fetchone()
        if row is not None:
            machine.restore(json.loads(row[0]))
            if math.isfinite(machine.now):
                self._clocks[zone] = (machine.now, time.time())
            last = self._conn.execute(
                "SELECT event_id FROM zone_audit WHERE zone = ? AND kind IN ('alarm', 'reset') "
                "ORDER BY id DESC LIMIT 1",
                (zone,),
            ).fetchone()
            if machine.latched and last is not None and ":alarm:" in last[0]:
                self._alarm_ids[zone] = last[0]
        self._machines[zone] = machine
        return machine

    def now(self, zone: str) -> float:
        """The zone's clock (see the module docstring) [s]; the wall clock before any reading."""
        device_t, arrived = self._clocks.get(zone, (time.time(), time.time()))
        return device_t + max(0.0, time.time() - arrived)

    def _commit(self, *machines: ZoneMachine) -> list[ZoneEvent]:
        """Record the machines' new events and snapshots in one transaction, then publish the
        events."""
        events: list[ZoneEvent] = []
        messages: list[dict[str, Any]] = []
        changed: list[ZoneMachine] = []
        for machine in dict.fromkeys(machines):
            drained = machine.drain()
            if drained:
                changed.append(machine)
            for e in drained:  # each carries the id of its alarm (the raising event's)
                message = event_message(e)
                if e.kind == "alarm":
                    self._alarm_ids[machine.name] = message["event_id"]
                message["alarm_id"] = self._alarm_ids.get(machine.name)
                if e.kind == "reset":
                    self._alarm_ids.pop(machine.name, None)
                messages.append(message)
            events += drained
        if not events:
            return events
        with self._write() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO zone_audit (event_id, zone, t, kind, previous, state, "
                "who, detail) VALUES (?,?,?,?,?,?,?,?)",
                [(m["event_id"], m["zone"], m["t"], m["kind"], m["previous"], m["state"],
                  m["who"], json.dumps(m["detail"], default=str)) for m in messages],
            )  # fmt: skip
            conn.executemany(
                "INSERT INTO zone_states (zone, snapshot, changed_s) VALUES (?,?,?) "
                "ON CONFLICT (zone) DO UPDATE SET snapshot = excluded.snapshot, "
                "changed_s = excluded.changed_s",
                [(m.name, json.dumps(m.snapshot()), time.time()) for m in changed],
            )
        if self.bus is not None:
            self.bus.publish_many(ALARMS_TOPIC, [(m, m["zone"], m["event_id"]) for m in messages])
        for e in events:
            if e.kind != "state":
                logger.info("zone %s: %s by %s %s", e.zone, e.kind, e.who, e.detail or "")
        return events

    # ------------------------------------------------------------------ inputs
    def _apply(self, risk: dict[str, Any]) -> ZoneMachine | None:
        """Run one prediction through its zone's machine (not yet committed)."""
        zone = risk.get("zone") or f"device:{risk['device_id']}"
        device, t = str(risk["device_id"]), float(risk["t_s"])
        p = float("nan") if risk.get("p_fire") is None else float(risk["p_fire"])
        machine = self._machine(zone)
        if machine is None:
            return None
        if t >= self._clocks.get(zone, (-math.inf, 0.0))[0]:
            self._clocks[zone] = (t, time.time())
        co2 = (math.nan if risk.get(k) is None else float(risk[k]) for k in CO2_KEYS)
        machine.update(device, t, p, bool(risk.get("heat")), *co2)
        held, found = machine.troubles.get(device, set()), set(risk.get("troubles") or ())
        wanted = {"scd41_fault": bool(risk.get("sensor_fault"))}
        wanted |= {reason: reason in found for reason in QUALITY_TROUBLES}  # the data quality
        for reason, on in wanted.items():  # raised and cleared on a change only
            if on != (reason in held):
                machine.trouble(device, reason, on, t)
        return machine

    def handle(self, risk: dict[str, Any]) -> list[ZoneEvent]:
        """Take one prediction (a ``risk`` message); the zone events it caused."""
        with self._lock:
            machine = self._apply(risk)
            return [] if machine is None else self._commit(machine)

    def handle_many(self, risks: list[dict[str, Any]]) -> list[int]:
        """Take many predictions, committing what they caused at once; the indices of those
        that could not be taken (malformed)."""
        failed: list[int] = []
        touched: list[ZoneMachine] = []
        with self._lock:
            for i, risk in enumerate(risks):
                try:
                    machine = self._apply(risk)
                except (KeyError, TypeError, ValueError):
                    logger.exception("prediction %d of the batch not taken", i)
                    failed.append(i)
                    continue
                if machine is not None:
                    touched.append(machine)
            self._commit(*touched)
        return failed

    def silent(self, zone: str, device: str, t: float) -> list[ZoneEvent]:
        """A device of ``zone`` stopped reporting at ``t``."""
        with self._lock:
            machine = self._machine(zone)
            if machine is None:
                return []
            machine.silent(device, t)
            return self._commit(machine)

    def tick(self, now: float | None = None) -> list[ZoneEvent]:
        """Run every zone's timers up to ``now`` [s] (default: each zone's clock)."""
        events: list[ZoneEvent] = []
        with self._lock:
            for zone, machine in list(self._machines.items()):
                machine.tick(self.now(zone) if now is None else now)
                events += self._commit(machine)
        return events

    def act(
        self, zone: str, action: str, who: str, *, seconds: float | None = None,
        now: float | None = None,
    ) -> tuple[bool, list[ZoneEvent]]:  # fmt: skip
        """Do ``action`` to ``zone`` as ``who`` (``seconds``: a silence's length, an isolation's
        or walk test's duration); whether it was done (a refusal is recorded with its reason)
        and the events."""
        if action not in ACTIONS:
            raise InputError(f"unknown zone action {action!r}; one of {', '.join(ACTIONS)}")
        with self._lock:
            at = self.now(zone) if now is None else now
            if zone not in self._machines and not self._known(zone):
                raise InputError(f"no zone {zone!r} has reported yet")
            machine = self._machine(zone)
            if machine is None:
                raise InputError("no model serves yet: zones have no state")
            machine.tick(at)
            if action in ("isolate", "walk_test") and (seconds is None or seconds <= 0):
                raise InputError(f"{action} needs a duration in seconds")
            if action == "acknowledge":
                done = machine.acknowledge(at, who)
            elif action == "silence":
                done = machine.silence(at, who, seconds)
            elif action == "reset":
                done = machine.reset(at, who)
            elif action == "isolate":
                done = machine.isolate(at, who, at + float(seconds or 0))
            elif action == "end_isolation":
                done = machine.end_isolation(at, who)
            elif action == "walk_test":
                machine.walk_test(at, who, at + float(seconds or 0))
                done = True
            else:
                machine.walk_test(at, who, None)
                done = True
            return done, self._commit(machine)

    def feedback(
        self, zone: str, verdict: str, who: str, cause: str | None = None, *,
        now: float | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """An operator's verdict on the zone's latest alarm (``false_alarm`` with a cause from
        :data:`CAUSES`, or ``fire``): recorded in the audit log and published on the
        ``feedback`` topic for learning; the feedback message. InputError when the zone had no
        alarm or the verdict or cause is not known."""
        if verdict not in VERDICTS:
            raise InputError(f"unknown verdict {verdict!r}; one of {', '.join(VERDICTS)}")
        if verdict == "false_alarm" and cause not in CAUSES:
            raise InputError(f"a false alarm needs a cause, one of {', '.join(CAUSES)}")
        with self._lock:
            if zone not in self._machines and not self._known(zone):
                raise InputError(f"no zone {zone!r} has reported yet")
            row = self._conn.execute(
                "SELECT event_id, t, detail FROM zone_audit WHERE zone = ? AND kind = 'alarm' "
                "ORDER BY id DESC LIMIT 1",
                (zone,),
            ).fetchone()
            if row is None:
                raise InputError(f"zone {zone!r} has had no alarm to give a verdict on")
            machine = self._machine(zone)
            if machine is None:
                raise InputError("no model serves yet: zones have no state")
            at = self.now(zone) if now is None else now
            alarm_id, alarm_t, detail = row[0], float(row[1]), json.loads(row[2])
            devices = sorted(set(detail.get("devices", [])) | machine.alarm_devices)
            message = {
                "feedback_id": f"{alarm_id}:feedback:{round(at * 1000)}", "zone": zone,
                "alarm_id": alarm_id, "alarm_t": alarm_t, "devices": devices,
                "verdict": verdict, "cause": cause if verdict == "false_alarm" else None,
                "who": who, "t": at,
            }  # fmt: skip
            machine.note(at, "feedback", who, alarm_id=alarm_id, verdict=verdict,
                         cause=message["cause"])  # fmt: skip
            self._commit(machine)
        if self.bus is not None:
            self.bus.publish(FEEDBACK_TOPIC, message, key=zone,
                             message_id=str(message["feedback_id"]))  # fmt: skip
        logger.info("feedback on %s: %s (%s) by %s", alarm_id, verdict, cause, who)
        return message

    def _known(self, zone: str) -> bool:
        row = self._conn.execute("SELECT 1 FROM zone_states WHERE zone = ?", (zone,)).fetchone()
        return row is not None

    # ------------------------------------------------------------------ views
    def zones(self) -> list[ZoneView]:
        """Every zone that has reported, by name."""
        with self._lock:
            names = {r[0] for r in self._conn.execute("SELECT zone FROM zone_states")}
            views = []
            for name in sorted(names | set(self._machines)):
                machine = self._machine(name)
                if machine is not None:
                    views.append(self._view(machine))
            return views

    def _view(self, m: ZoneMachine) -> ZoneView:
        return ZoneView(
            m.name, m.state.value, m.sounding, m.latched, m.acknowledged, m.silenced_until,
            m.isolated_until, m.walk_test_until, sorted(m.devices), sorted(m.alarm_devices),
            {d: sorted(r) for d, r in m.troubles.items() if r},
            {d: sorted(r) for d, r in m.supervisory.items() if r},
        )  # fmt: skip

    def audit(self, zone: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        """The audit log (of one zone), newest first."""
        with self._lock:
            return read_audit(self._conn, zone, limit)

    def record_views(self) -> int:
        """Write the zones whose view changed since the last call to ``zone_views`` (for a
        service that reads them: :class:`~embercast.agents.zone_requests.RemoteZones`); how
        many."""
        with self._lock:
            changed = [(v.zone, json.dumps(asdict(v))) for v in self.zones()]
            changed = [(z, doc) for z, doc in changed if self._recorded.get(z) != doc]
            if changed:
                with self._write() as conn:
                    conn.executemany(
                        "INSERT INTO zone_views (zone, view, changed_s) VALUES (?,?,?) "
                        "ON CONFLICT (zone) DO UPDATE SET view = excluded.view, "
                        "changed_s = excluded.changed_s",
                        [(z, doc, time.time()) for z, doc in changed],
                    )
                self._recorded.update(changed)
            return len(changed)

    # ------------------------------------------------------------------ on the bus
    def step(self, bus: Bus, consumer: str = "zones-1", wait_s: float = 0.0) -> int:
        """Take the predictions waiting on the bus (waiting up to ``wait_s`` [s] for one when
        there is none), then run the timers; how many taken."""
        taken = bus.receive(RISK_TOPIC, GROUP, consumer, limit=512, visibility_s=60.0,
                            wait_s=wait_s)  # fmt: skip
        if taken:
            failed = set(self.handle_many([d.message.payload for d in taken]))
            for i in sorted(failed):
                bus.fail(taken[i], "a malformed prediction")
            bus.ack_many([d for i, d in enumerate(taken) if i not in failed])
        self.tick()
        return len(taken)

    def run(self, bus: Bus, stop: threading.Event, idle_s: float = 0.1) -> None:
        """:meth:`step` until ``stop`` is set; a prediction is taken as soon as the bus has it
        (published in this process) or within ``idle_s`` [s], and the timers run at least every
        ``idle_s``."""
        while not stop.is_set():
            self.step(bus, wait_s=idle_s)

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def read_audit(conn: sqlite3.Connection, zone: str | None, limit: int) -> list[dict[str, Any]]:
    """The audit log of a zones' state file (of one zone), newest first."""
    where, args = ("WHERE zone = ?", (zone,)) if zone else ("", ())
    rows = conn.execute(
        f"SELECT event_id, zone, t, kind, previous, state, who, detail FROM zone_audit "
        f"{where} ORDER BY id DESC LIMIT ?",
        (*args, limit),
    ).fetchall()
    keys = ("event_id", "zone", "t", "kind", "previous", "state", "who", "detail")
    return [dict(zip(keys, (*r[:7], json.loads(r[7])), strict=True)) for r in rows]


def risk_message(
    device_id: str, zone: str | None, prediction: dict[str, Any],
    inputs: Sequence[float] = (),
) -> tuple[dict[str, Any], str, str]:  # fmt: skip
    """A scored reading as a ``risk`` message: (payload, key, message id); ``inputs`` the
    model's input row (``x``: null where missing), which the drift watch and shadow scoring
    read."""
    p = prediction.get("p_fire")
    payload = {
        "device_id": device_id,
        "zone": zone,
        "t_s": prediction["t_s"],
        "p_fire": None if p is None or (isinstance(p, float) and math.isnan(p)) else p,
        "risk": prediction.get("risk"),
        "heat": bool(prediction.get("heat")),
        "heat_kind": prediction.get("heat"),
        "alarm": bool(prediction.get("alarm")),
        "onset": bool(prediction.get("onset")),
        "sensor_fault": bool(prediction.get("sensor_fault")),
        "thermal_status": prediction.get("thermal_status", "ok"),
        "troubles": [str(t) for t in prediction.get("troubles") or ()],
        **{key: prediction.get(key) for key in CO2_KEYS},
        "x": [None if math.isnan(v) else v for v in inputs],
    }
    return payload, device_id, f"{device_id}:{prediction['t_s']!r}"
