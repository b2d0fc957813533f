"""The zone state machine: a fire panel's logic above the devices' alarm decisions (DESIGN 4.5).

A zone holds one :class:`~embercast.alarm.decision.AlarmDecision` per device, each at the model's
operating point, and derives the zone's state from them and from the conditions its devices
report, by priority: ``ALARM`` > ``PRE_ALARM`` > ``SUPERVISORY`` > ``FAULT`` (trouble) >
``NORMAL``; ``ISOLATED`` (disabled by an operator until a time) shows above all and raises
nothing.

- **Alarm.** A device's decision turning on raises ``ALARM``, which *latches*: only an explicit
  :meth:`ZoneMachine.reset` clears it, and a reset is refused while any device's decision is still
  on. A second device in alarm is an escalation (an ``escalated`` event).
- **Confirmation** (``confirm_devices = 2``, "double knock"): one device's decision gives
  ``PRE_ALARM``; a second device, or the first still on after ``confirm_timeout_s``, gives
  ``ALARM`` (a zone of one device alarms at once).
- **Positive alarm sequence** (NFPA 72, 23.8.5.4.1): a single device's alarm first starts the
  sequence (``PRE_ALARM``): unacknowledged within ``pas_acknowledge_s`` (15 s) it becomes
  ``ALARM``; acknowledged, the staff have ``pas_investigate_s`` (180 s) to reset, after which
  it becomes ``ALARM`` if the cause persists. A second device's alarm skips the sequence.
- **Pre-alarm.** A device whose probability is at or above ``pre_alarm_p`` without its decision
  on gives ``PRE_ALARM`` (not latched).
- **Acknowledge, silence, reset** are distinct: acknowledging stops reminders (every
  ``reminder_s`` until then); silencing stops the sounder for at most ``silence_max_s``
  (10 min), after which it sounds again; reset clears the latch.
- **A device that falls silent** is trouble, unless it fell silent in the middle of a steep rise
  (its decision on, heat evidence, or its probability up by ``steep_rise_p`` within
  ``steep_rise_window_s``): heat destroys sensors, so that silence raises ``ALARM``.
- **Isolation and walk test** expire by themselves; during a walk test a device's alarm is an
  event (the device was tested), not an alarm.
- **Schedules**: :class:`ZoneSchedule` picks the parameters by local time (a kitchen manned by
  day with the positive alarm sequence, unmanned at night without).

Every transition and action is an event (:class:`ZoneEvent`) with who did it, taken with
:meth:`ZoneMachine.drain` for the audit log; :meth:`ZoneMachine.snapshot` and
:meth:`ZoneMachine.restore` carry the zone's own state (latch, acknowledgement, timers, isolation)
across a restart, while the devices' decisions are rebuilt from their streams. Time is passed in
[s since the epoch]; nothing here reads a clock.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from embercast.alarm.decision import AlarmDecision, AlarmParams
from embercast.errors import InputError


class ZoneState(StrEnum):
    """What a zone shows."""

    NORMAL = "normal"
    FAULT = "fault"
    SUPERVISORY = "supervisory"
    PRE_ALARM = "pre_alarm"
    ALARM = "alarm"
    ISOLATED = "isolated"


PRIORITY: dict[ZoneState, int] = {
    ZoneState.NORMAL: 0,
    ZoneState.FAULT: 1,
    ZoneState.SUPERVISORY: 2,
    ZoneState.PRE_ALARM: 3,
    ZoneState.ALARM: 4,
}
"""Which condition shows when several hold (isolation shows above all)."""


@dataclass(frozen=True, kw_only=True)
class ZoneParams:
    """A zone's parameters (see the module docstring); times [s], probabilities [0-1]."""

    pre_alarm_p: float = 0.5
    confirm_devices: int = 1
    confirm_timeout_s: float = 120.0
    positive_alarm_sequence: bool = False
    pas_acknowledge_s: float = 15.0
    pas_investigate_s: float = 180.0
    silence_max_s: float = 600.0
    reminder_s: float = 300.0
    steep_rise_p: float = 0.3
    steep_rise_window_s: float = 60.0

    def __post_init__(self) -> None:
        if not 0.0 < self.pre_alarm_p <= 1.0:
            raise InputError(f"pre_alarm_p must be in (0, 1], got {self.pre_alarm_p}")
        if self.confirm_devices not in (1, 2):
            raise InputError(f"confirm_devices must be 1 or 2, got {self.confirm_devices}")
        if not 0 < self.silence_max_s <= 600.0:
            raise InputError(f"silence_max_s must be in (0, 600] s, got {self.silence_max_s}")
        if not 0 < self.pas_acknowledge_s <= 15.0 or not 0 < self.pas_investigate_s <= 180.0:
            raise InputError(
                "the positive alarm sequence allows at most 15 s to acknowledge and 180 s to "
                f"investigate, got {self.pas_acknowledge_s} s and {self.pas_investigate_s} s"
            )
        for name in ("confirm_timeout_s", "reminder_s", "steep_rise_window_s"):
            if getattr(self, name) <= 0:
                raise InputError(f"{name} must be > 0 s, got {getattr(self, name)}")


@dataclass(frozen=True)
class ScheduleEntry:
    """``params`` apply on ``days`` (0 = Monday) from ``start`` to ``end`` (minutes after local
    midnight; an entry with ``end <= start`` runs past midnight into the next day)."""

    days: frozenset[int]
    start: int
    end: int
    params: ZoneParams

    def covers(self, weekday: int, minute: int) -> bool:
        if self.start < self.end:
            return weekday in self.days and self.start <= minute < self.end
        return (weekday in self.days and minute >= self.start) or (
            (weekday - 1) % 7 in self.days and minute < self.end
        )


@dataclass(frozen=True)
class ZoneSchedule:
    """Parameter sets by local time in ``tz``: the first entry that covers a time, else
    ``default``."""

    default: ZoneParams
    entries: tuple[ScheduleEntry, ...] = ()
    tz: str = "UTC"

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise InputError(f"unknown time zone {self.tz!r}") from None

    def at(self, t: float) -> ZoneParams:
        """The parameters in force at ``t`` [s since the epoch]."""
        local = datetime.fromtimestamp(t, UTC).astimezone(ZoneInfo(self.tz))
        minute = local.hour * 60 + local.minute
        for entry in self.entries:
            if entry.covers(local.weekday(), minute):
                return entry.params
        return self.default


@dataclass(frozen=True)
class ZoneEvent:
    """One transition or action: when [s], the zone, what (``kind``), the state before and
    after, who (an operator, or ``system``) and details."""

    t: float
    zone: str
    kind: str
    previous: ZoneState
    state: ZoneState
    who: str = "system"
    detail: dict[str, Any] = field(default_factory=dict)


def event_message(event: ZoneEvent) -> dict[str, Any]:
    """A zone event as a bus message, with an id stable across retries (zone, kind, time)."""
    return {
        "event_id": f"{event.zone}:{event.kind}:{round(event.t * 1000)}",
        "zone": event.zone,
        "kind": event.kind,
        "t": event.t,
        "previous": event.previous.value,
        "state": event.state.value,
        "who": event.who,
        "detail": event.detail,
    }


@dataclass
class _Device:
    decision: AlarmDecision
    recent: deque[tuple[float, float]] = field(default_factory=deque)
    heat: bool = False
    silent: bool = False


SYSTEM = "system"


class ZoneMachine:
    """The state machine of zone ``name``; its devices' decisions at ``alarm`` (the model's
    operating point), its own rules from ``params`` (fixed, or a :class:`ZoneSchedule`)."""

    def __init__(
        self, name: str, alarm: AlarmParams, params: ZoneParams | ZoneSchedule | None = None
    ) -> None:
        self.name = name
        self.alarm = alarm
        self.schedule = params if isinstance(params, ZoneSchedule) else None
        self._fixed = params if isinstance(params, ZoneParams) else ZoneParams()
        self.devices: dict[str, _Device] = {}
        self.troubles: dict[str, set[str]] = {}
        """Device -> its trouble conditions (``silent``, ``scd41_fault``, ...)."""
        self.supervisory: dict[str, set[str]] = {}
        """Device -> its supervisory conditions (``co2_unhealthy``, ...)."""
        self.state = ZoneState.NORMAL
        self.latched = False
        self.alarm_devices: set[str] = set()
        self.escalated = False
        self.acknowledged = False
        self.silenced_until: float | None = None
        self.next_reminder: float | None = None
        self.pas_phase: str | None = None
        """None, ``acknowledge`` or ``investigate`` while a positive alarm sequence runs."""
        self.pas_deadline: float | None = None
        self.confirm_since: float | None = None
        self.isolated_until: float | None = None
        self.walk_test_until: float | None = None
        self.now = -math.inf
        self._events: list[ZoneEvent] = []

    # ------------------------------------------------------------------ inputs
    def params(self, t: float | None = None) -> ZoneParams:
        """The zone's parameters at ``t`` (default: the last time seen)."""
        when = self.now if t is None else t
        if self.schedule is None:
            return self._fixed
        return self.schedule.at(when) if math.isfinite(when) else self.schedule.default

    def _device(self, device: str) -> _Device:
        if device not in self.devices:
            self.devices[device] = _Device(AlarmDecision(self.alarm))
        return self.devices[device]

    def update(
        self,
        device: str,
        t: float,
        p: float,
        heat: bool = False,
        co2_ppm: float = math.nan,
        co2_rate_ppm_s: float = math.nan,
    ) -> ZoneState:
        """Take a device's probability ``p`` at ``t`` [s], its heat evidence and its CO2 [ppm]
        and 60-s CO2 rate [ppm/s] (the CO2 path of its decision); the zone's state after it
        (timers up to ``t`` run first)."""
        self.tick(t)
        d = self._device(device)
        was_on = d.decision.active
        d.decision.update(t, p, heat, co2_ppm, co2_rate_ppm_s)
        d.heat = heat
        if d.silent:
            d.silent = False
            self._condition(self.troubles, device, "silent", False, t)
        if not math.isnan(p):
            d.recent.append((t, p))
        window = self.params(t).steep_rise_window_s
        while d.recent and d.recent[0][0] < t - window:
            d.recent.popleft()
        if d.decision.onset and not was_on and self.walk_test_until is not None:
            self._event(t, "walk_test_device", device=device)
        self._evaluate(t)
        return self.state

    def silent(self, device: str, t: float) -> ZoneState:
        """``device`` stopped reporting at ``t``: trouble, or ``ALARM`` if it fell silent in a
        steep rise."""
        self.tick(t)
        d = self._device(device)
        rise = (max(p for _, p in d.recent) - d.recent[0][1] if d.recent else 0.0) >= self.params(
            t
        ).steep_rise_p
        d.silent = True
        if d.decision.active or d.heat or rise:
            if self.walk_test_until is None and self.isolated_until is None:
                self._raise(t, {device}, cause="silent in a steep rise")
        self._condition(self.troubles, device, "silent", True, t)
        self._evaluate(t)
        return self.state

    def trouble(self, device: str, reason: str, active: bool, t: float) -> ZoneState:
        """A device's trouble condition (``scd41_fault``, ``camera_down``, ...) begins or
        ends."""
        self.tick(t)
        self._condition(self.troubles, device, reason, active, t)
        self._evaluate(t)
        return self.state

    def supervise(self, device: str, reason: str, active: bool, t: float) -> ZoneState:
        """A device's supervisory condition (``co2_unhealthy``: not fire) begins or ends."""
        self.tick(t)
        self._condition(self.supervisory, device, reason, active, t)
        self._evaluate(t)
        return self.state

    def _condition(
        self, table: dict[str, set[str]], device: str, reason: str, active: bool, t: float
    ) -> None:
        held = table.setdefault(device, set())
        kind = "trouble" if table is self.troubles else "supervisory"
        if active and reason not in held:
            held.add(reason)
            self._event(t, kind, device=device, reason=reason)
        elif not active and reason in held:
            held.discard(reason)
            self._event(t, f"{kind}_cleared", device=device, reason=reason)

    # ------------------------------------------------------------------ actions
    def acknowledge(self, t: float, who: str) -> bool:
        """An operator acknowledges what the zone shows (stops reminders; in a positive alarm
        sequence, starts the investigation time). False when there is nothing to acknowledge."""
        self.tick(t)
        if self.state in (ZoneState.NORMAL, ZoneState.ISOLATED) or self.acknowledged:
            self._event(t, "acknowledge_refused", who, reason="nothing to acknowledge")
            return False
        self.acknowledged = True
        self.next_reminder = None
        self._event(t, "acknowledged", who)
        if self.pas_phase == "acknowledge":
            self.pas_phase = "investigate"
            self.pas_deadline = t + self.params(t).pas_investigate_s
            self._event(t, "pas_investigating", who, until=self.pas_deadline)
        return True

    def silence(self, t: float, who: str, seconds: float | None = None) -> bool:
        """Silence the sounder of a zone in ``ALARM`` for ``seconds`` (at most, and by default,
        ``silence_max_s``); it sounds again after. False when nothing sounds."""
        self.tick(t)
        limit = self.params(t).silence_max_s
        length = limit if seconds is None else seconds
        if not 0 < length <= limit:
            raise InputError(f"a silence lasts (0, {limit:g}] s, not {length:g} s")
        if not self.sounding:
            self._event(t, "silence_refused", who, reason="nothing sounds")
            return False
        self.silenced_until = t + length
        self._event(t, "silenced", who, until=self.silenced_until)
        return True

    def reset(self, t: float, who: str) -> bool:
        """Clear the latched alarm (or end a positive alarm sequence); refused, with the
        devices that hold it, while any device's decision is on."""
        self.tick(t)
        if not self.latched and self.pas_phase is None:
            self._event(t, "reset_refused", who, reason="nothing latched")
            return False
        holding = sorted(d for d, s in self.devices.items() if s.decision.active)
        if holding:
            self._event(t, "reset_refused", who, reason="the cause persists", devices=holding)
            return False
        self.latched = self.escalated = self.acknowledged = False
        self.alarm_devices = set()
        self.silenced_until = self.next_reminder = None
        self.pas_phase = self.pas_deadline = self.confirm_since = None
        self._event(t, "reset", who)
        self._evaluate(t)
        return True

    def isolate(self, t: float, who: str, until: float) -> bool:
        """Disable the zone until ``until`` [s] (maintenance); refused while it is in alarm
        (reset it first)."""
        self.tick(t)
        if until <= t:
            raise InputError(f"an isolation must end after it starts ({until} <= {t})")
        if self.latched or self.pas_phase is not None:
            self._event(t, "isolate_refused", who, reason="the zone is in alarm")
            return False
        self.isolated_until = until
        self._event(t, "isolated", who, until=until)
        self._evaluate(t)
        return True

    def end_isolation(self, t: float, who: str) -> bool:
        """Enable the zone again before its isolation expires."""
        self.tick(t)
        if self.isolated_until is None:
            return False
        self.isolated_until = None
        self._event(t, "deisolated", who)
        self._evaluate(t)
        return True

    def walk_test(self, t: float, who: str, until: float | None) -> None:
        """Start a walk test until ``until`` [s] (devices' alarms are events, not alarms), or
        end it (``None``)."""
        self.tick(t)
        if until is not None and until <= t:
            raise InputError(f"a walk test must end after it starts ({until} <= {t})")
        if until is not None and self.latched:
            raise InputError("reset the zone's alarm before a walk test")
        self.walk_test_until = until
        self._event(t, "walk_test" if until is not None else "walk_test_ended", who, until=until)
        self._evaluate(t)

    # ------------------------------------------------------------------ timers
    def tick(self, t: float) -> ZoneState:
        """Run the timers that are due at ``t`` [s] (each fires once), in time order."""
        if t < self.now:
            return self.state  # late input: the timers have run past it already
        self.now = t
        while True:
            due = [(at, name) for name, at in self._timers().items() if at is not None and at <= t]
            if not due:
                break
            at, name = min(due)
            self._fire(name, at)
        return self.state

    def _timers(self) -> dict[str, float | None]:
        return {
            "isolation": self.isolated_until,
            "walk_test": self.walk_test_until,
            "silence": self.silenced_until,
            "reminder": self.next_reminder,
            "pas": self.pas_deadline,
            "confirm": (
                self.confirm_since + self.params(self.confirm_since).confirm_timeout_s
                if self.confirm_since is not None
                else None
            ),
        }

    def _fire(self, name: str, at: float) -> None:
        if name == "isolation":
            self.isolated_until = None
            self._event(at, "isolation_expired")
        elif name == "walk_test":
            self.walk_test_until = None
            self._event(at, "walk_test_ended")
        elif name == "silence":
            self.silenced_until = None
            self._event(at, "resounded")
        elif name == "reminder":  # one reminder however many were missed (after a restart)
            self._event(at, "reminder")
            self.next_reminder = max(at, self.now) + self.params(at).reminder_s
        elif name == "pas":
            phase, self.pas_deadline = self.pas_phase, None
            holding = {d for d, s in self.devices.items() if s.decision.active}
            if phase == "acknowledge" or holding:
                self._event(at, "pas_expired", phase=phase)
                self.pas_phase = None
                self._raise(at, holding or set(self.alarm_devices), cause="positive alarm sequence")
            else:
                self.pas_phase = None
                self.alarm_devices = set()
                self._event(at, "pas_cleared")
        elif name == "confirm":
            self.confirm_since = None
            holding = {d for d, s in self.devices.items() if s.decision.active}
            if holding:
                self._raise(at, holding, cause="not confirmed in time, still on")
        self._evaluate(at)

    # ------------------------------------------------------------------ the state
    def _raise(self, t: float, devices: set[str], cause: str) -> None:
        if not self.latched:
            self.latched = True
            self.acknowledged = False
            self.pas_phase = self.pas_deadline = self.confirm_since = None
            self.next_reminder = t + self.params(t).reminder_s
            self._event(t, "alarm", devices=sorted(devices), cause=cause)
        self.alarm_devices |= devices

    def _evaluate(self, t: float) -> None:
        prm = self.params(t)
        active = {d for d, s in self.devices.items() if s.decision.active}
        fire = ZoneState.NORMAL
        isolated = self.isolated_until is not None
        if not isolated and self.walk_test_until is None:
            if self.latched:
                self.alarm_devices |= active
            elif active:
                fire = self._start(t, prm, active)
            if not self.latched and self.pas_phase is not None:
                fire = ZoneState.PRE_ALARM
            if self.latched:
                fire = ZoneState.ALARM
                if len(self.alarm_devices) >= 2 and not self.escalated:
                    self.escalated = True
                    self._event(t, "escalated", devices=sorted(self.alarm_devices))
            elif fire is ZoneState.NORMAL and any(
                s.recent and s.recent[-1][1] >= prm.pre_alarm_p for s in self.devices.values()
            ):
                fire = ZoneState.PRE_ALARM
        if not active and not self.latched:
            self.confirm_since = None
        states = [fire]
        if any(self.supervisory.values()):
            states.append(ZoneState.SUPERVISORY)
        if any(self.troubles.values()):
            states.append(ZoneState.FAULT)
        shown = ZoneState.ISOLATED if isolated else max(states, key=PRIORITY.__getitem__)
        if shown is not self.state:
            if PRIORITY.get(shown, 5) > PRIORITY.get(self.state, 5):
                self.acknowledged = False  # something new to acknowledge
            previous, self.state = self.state, shown
            self._events.append(ZoneEvent(t, self.name, "state", previous, shown))

    def _start(self, t: float, prm: ZoneParams, active: set[str]) -> ZoneState:
        """The fire condition when devices' decisions are on and nothing is latched yet."""
        if len(active) >= 2:
            self._raise(t, active, cause="two devices")
            return ZoneState.ALARM
        if prm.positive_alarm_sequence:
            if self.pas_phase is None:
                self.pas_phase, self.pas_deadline = "acknowledge", t + prm.pas_acknowledge_s
                self.alarm_devices = set(active)
                self.acknowledged = False
                self._event(t, "pas_started", devices=sorted(active), until=self.pas_deadline)
            return ZoneState.PRE_ALARM
        if prm.confirm_devices == 2 and len(self.devices) >= 2:
            if self.confirm_since is None:
                self.confirm_since = t
                self._event(t, "awaiting_confirmation", devices=sorted(active))
            return ZoneState.PRE_ALARM
        self._raise(t, active, cause="device alarm")
        return ZoneState.ALARM

    @property
    def sounding(self) -> bool:
        """Whether the zone's alarm sounds now (``ALARM`` and not silenced)."""
        return self.state is ZoneState.ALARM and self.silenced_until is None

    def get(self) -> ZoneState:
        """The zone's state."""
        return self.state

    def note(self, t: float, kind: str, who: str, **detail: Any) -> None:
        """Record something about the zone that changes nothing in it (an operator's verdict on
        an alarm) as an event for the audit log."""
        self._event(t, kind, who, **detail)

    def _event(self, t: float, kind: str, who: str = SYSTEM, **detail: Any) -> None:
        self._events.append(ZoneEvent(t, self.name, kind, self.state, self.state, who, detail))

    def drain(self) -> list[ZoneEvent]:
        """The events since the last drain, in order (for the audit log)."""
        events, self._events = self._events, []
        return events

    # ------------------------------------------------------------------ persistence
    _KEPT = (
        "state", "latched", "escalated", "acknowledged", "silenced_until", "next_reminder",
        "pas_phase", "pas_deadline", "confirm_since", "isolated_until", "walk_test_until", "now",
    )  # fmt: skip

    def snapshot(self) -> dict[str, Any]:
        """The zone's own state as JSON-able values (the devices' decisions are rebuilt from
        their streams)."""
        doc: dict[str, Any] = {name: getattr(self, name) for name in self._KEPT}
        doc["state"] = self.state.value
        doc["alarm_devices"] = sorted(self.alarm_devices)
        doc["troubles"] = {d: sorted(r) for d, r in self.troubles.items() if r}
        doc["supervisory"] = {d: sorted(r) for d, r in self.supervisory.items() if r}
        doc["now"] = None if not math.isfinite(self.now) else self.now
        return doc

    def restore(self, doc: dict[str, Any]) -> None:
        """Take back a :meth:`snapshot` (after a restart, before any input)."""
        for name in self._KEPT:
            setattr(self, name, doc[name])
        self.state = ZoneState(doc["state"])
        self.now = -math.inf if doc["now"] is None else float(doc["now"])
        self.alarm_devices = set(doc["alarm_devices"])
        self.troubles = {d: set(r) for d, r in doc["troubles"].items()}
        self.supervisory = {d: set(r) for d, r in doc["supervisory"].items()}
