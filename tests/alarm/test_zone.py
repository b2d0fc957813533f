"""The zone state machine: latching, reset refused while the cause persists, acknowledge /
silence / reset, positive alarm sequence, confirmation by a second device, escalation, a device
silent in a steep rise, isolation, walk test, schedules, snapshots; and, with Hypothesis'
rule-based state machine and an injected clock, its invariants under any sequence of inputs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from embercast.alarm.decision import AlarmParams
from embercast.alarm.zone import (
    ScheduleEntry,
    ZoneMachine,
    ZoneParams,
    ZoneSchedule,
    ZoneState,
)
from embercast.errors import InputError

ALARM = AlarmParams(threshold=0.9, clear_threshold=0.5, delay_on_s=10.0, delay_off_s=30.0)
T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC).timestamp()  # a Monday, noon


def feed(zone: ZoneMachine, device: str, t0: float, t1: float, p: float, step: float = 5.0) -> None:
    t = t0
    while t <= t1:
        zone.update(device, t, p)
        t += step


def kinds(zone: ZoneMachine) -> list[str]:
    return [e.kind for e in zone.drain() if e.kind != "state"]


def test_an_alarm_latches_and_a_reset_is_refused_while_the_cause_persists() -> None:
    zone = ZoneMachine("kitchen", ALARM)
    feed(zone, "k1", T0, T0 + 5, 0.95)
    assert zone.get() is ZoneState.PRE_ALARM  # p above pre_alarm_p, decision not yet on
    zone.update("k1", T0 + 10, 0.95)
    assert zone.get() is ZoneState.ALARM and zone.sounding
    assert not zone.reset(T0 + 12, "ops")
    refused = [e for e in zone.drain() if e.kind == "reset_refused"]
    assert refused[0].detail == {"reason": "the cause persists", "devices": ["k1"]}
    assert refused[0].who == "ops"
    feed(zone, "k1", T0 + 15, T0 + 60, 0.1)  # the decision clears after 30 s below 0.5
    assert zone.get() is ZoneState.ALARM  # latched
    assert zone.reset(T0 + 61, "ops")
    assert zone.get() is ZoneState.NORMAL and not zone.sounding


def test_acknowledge_silence_and_reset_are_distinct() -> None:
    zone = ZoneMachine("hall", ALARM)
    feed(zone, "h1", T0, T0 + 10, 0.95)
    zone.drain()
    zone.tick(T0 + 310)
    assert kinds(zone) == ["reminder"]  # every reminder_s until acknowledged
    assert zone.acknowledge(T0 + 311, "ops")
    zone.tick(T0 + 1000)
    assert kinds(zone) == ["acknowledged"]  # no more reminders
    assert zone.sounding  # acknowledged, still sounding
    with pytest.raises(InputError, match=r"a silence lasts \(0, 600\] s, not 900 s"):
        zone.silence(T0 + 1001, "ops", 900)
    assert zone.silence(T0 + 1001, "ops")
    assert not zone.sounding and zone.get() is ZoneState.ALARM
    zone.tick(T0 + 1601)
    assert zone.sounding  # 10 minutes later it sounds again
    zone.tick(T0 + 2500)
    assert kinds(zone) == ["silenced", "resounded"]  # the timer fired once


def test_the_positive_alarm_sequence() -> None:
    pas = ZoneParams(positive_alarm_sequence=True)
    # not acknowledged within 15 s: ALARM
    zone = ZoneMachine("kitchen", ALARM, pas)
    feed(zone, "k1", T0, T0 + 10, 0.95)
    assert zone.get() is ZoneState.PRE_ALARM and not zone.sounding
    zone.tick(T0 + 26)
    assert zone.get() is ZoneState.ALARM
    assert "pas_expired" in kinds(zone)
    # acknowledged, the cause gone and reset within 180 s: no alarm
    zone = ZoneMachine("kitchen", ALARM, pas)
    feed(zone, "k1", T0, T0 + 10, 0.95)
    assert zone.acknowledge(T0 + 20, "cook")
    feed(zone, "k1", T0 + 15, T0 + 60, 0.1)
    assert zone.reset(T0 + 61, "cook")
    zone.tick(T0 + 400)
    assert zone.get() is ZoneState.NORMAL
    assert "alarm" not in kinds(zone)
    # acknowledged, the cause persisting past 180 s: ALARM
    zone = ZoneMachine("kitchen", ALARM, pas)
    feed(zone, "k1", T0, T0 + 10, 0.95)
    zone.acknowledge(T0 + 12, "cook")
    feed(zone, "k1", T0 + 15, T0 + 200, 0.95)
    assert zone.get() is ZoneState.ALARM
    # a second device skips the sequence
    zone = ZoneMachine("kitchen", ALARM, pas)
    feed(zone, "k1", T0, T0 + 10, 0.95)
    feed(zone, "k2", T0, T0 + 10, 0.95)
    assert zone.get() is ZoneState.ALARM and zone.escalated


def test_a_second_device_confirms_or_the_first_holds_past_the_timeout() -> None:
    double = ZoneParams(confirm_devices=2, confirm_timeout_s=120.0)
    zone = ZoneMachine("store", ALARM, double)
    zone.update("s2", T0, 0.0)  # a zone of two devices
    feed(zone, "s1", T0, T0 + 10, 0.95)
    assert zone.get() is ZoneState.PRE_ALARM
    feed(zone, "s2", T0 + 5, T0 + 15, 0.95)
    assert zone.get() is ZoneState.ALARM
    assert {"awaiting_confirmation", "alarm", "escalated"} <= set(kinds(zone))
    zone = ZoneMachine("store", ALARM, double)
    zone.update("s2", T0, 0.0)
    feed(zone, "s1", T0, T0 + 125, 0.95)
    assert zone.get() is ZoneState.PRE_ALARM
    feed(zone, "s1", T0 + 130, T0 + 135, 0.95)
    assert zone.get() is ZoneState.ALARM
    zone = ZoneMachine("store", ALARM, double)  # one device only: no one to confirm
    feed(zone, "s1", T0, T0 + 10, 0.95)
    assert zone.get() is ZoneState.ALARM


def test_a_device_silent_in_a_steep_rise_raises_the_alarm_else_trouble() -> None:
    zone = ZoneMachine("attic", ALARM)
    for i, p in enumerate((0.05, 0.2, 0.45, 0.6)):  # rising fast, decision not on yet
        zone.update("a1", T0 + 5 * i, p)
    zone.silent("a1", T0 + 40)
    assert zone.get() is ZoneState.ALARM
    assert any(e.detail.get("cause") == "silent in a steep rise" for e in zone.drain())
    zone = ZoneMachine("attic", ALARM)
    feed(zone, "a1", T0, T0 + 30, 0.05)
    zone.silent("a1", T0 + 40)
    assert zone.get() is ZoneState.FAULT
    zone.update("a1", T0 + 60, 0.05)  # it reports again
    assert zone.get() is ZoneState.NORMAL
    assert kinds(zone) == ["trouble", "trouble_cleared"]


def test_priority_alarm_over_supervisory_over_trouble() -> None:
    zone = ZoneMachine("lab", ALARM)
    zone.trouble("l1", "scd41_fault", True, T0)
    assert zone.get() is ZoneState.FAULT
    zone.supervise("l2", "co2_unhealthy", True, T0 + 1)
    assert zone.get() is ZoneState.SUPERVISORY
    feed(zone, "l3", T0 + 2, T0 + 12, 0.95)
    assert zone.get() is ZoneState.ALARM
    feed(zone, "l3", T0 + 15, T0 + 60, 0.1)
    zone.reset(T0 + 61, "ops")
    assert zone.get() is ZoneState.SUPERVISORY
    zone.supervise("l2", "co2_unhealthy", False, T0 + 62)
    zone.trouble("l1", "scd41_fault", False, T0 + 63)
    assert zone.get() is ZoneState.NORMAL


def test_isolation_and_walk_test_expire_and_raise_nothing() -> None:
    zone = ZoneMachine("workshop", ALARM)
    assert zone.isolate(T0, "tech", until=T0 + 600)
    feed(zone, "w1", T0, T0 + 60, 0.95)
    assert zone.get() is ZoneState.ISOLATED and not zone.latched
    feed(zone, "w1", T0 + 65, T0 + 700, 0.95)  # the isolation ends; the fire is still there
    assert zone.get() is ZoneState.ALARM
    assert not zone.isolate(T0 + 701, "tech", until=T0 + 900)  # in alarm: refused
    zone = ZoneMachine("workshop", ALARM)
    zone.walk_test(T0, "tech", until=T0 + 300)
    feed(zone, "w1", T0, T0 + 20, 0.95)
    assert zone.get() is ZoneState.NORMAL and not zone.latched
    assert "walk_test_device" in kinds(zone)
    feed(zone, "w1", T0 + 25, T0 + 100, 0.1)
    zone.tick(T0 + 301)
    assert zone.walk_test_until is None and zone.get() is ZoneState.NORMAL


def test_parameter_sets_follow_the_schedule() -> None:
    manned = ZoneParams(positive_alarm_sequence=True)
    days = ScheduleEntry(frozenset(range(5)), 8 * 60, 18 * 60, manned)
    schedule = ZoneSchedule(default=ZoneParams(), entries=(days,), tz="Europe/Berlin")
    assert schedule.at(T0) is manned  # Monday 13:00 in Berlin
    assert schedule.at(T0 + 6 * 3600) == ZoneParams()  # 19:00
    assert schedule.at(T0 + 5 * 86400) == ZoneParams()  # Saturday
    night = ScheduleEntry(frozenset({0}), 22 * 60, 6 * 60, manned)  # Monday 22:00 - Tue 6:00
    assert night.covers(1, 5 * 60) and not night.covers(2, 5 * 60) and night.covers(0, 23 * 60)
    zone = ZoneMachine("kitchen", ALARM, schedule)
    feed(zone, "k1", T0, T0 + 10, 0.95)
    assert zone.get() is ZoneState.PRE_ALARM  # manned now: the sequence runs
    with pytest.raises(InputError, match="unknown time zone 'Mars/Olympus'"):
        ZoneSchedule(default=ZoneParams(), tz="Mars/Olympus")


def test_a_snapshot_carries_the_latch_and_timers_across_a_restart() -> None:
    zone = ZoneMachine("hall", ALARM)
    feed(zone, "h1", T0, T0 + 10, 0.95)
    zone.silence(T0 + 20, "ops", 60)
    zone.trouble("h2", "camera_down", True, T0 + 21)
    again = ZoneMachine("hall", ALARM)
    again.restore(zone.snapshot())
    assert again.get() is ZoneState.ALARM and again.latched and not again.sounding
    assert again.troubles == {"h2": {"camera_down"}}
    again.tick(T0 + 81)
    assert again.sounding and [e.kind for e in again.drain()] == ["resounded"]
    assert again.reset(T0 + 82, "ops")  # the device's decision starts anew: nothing holds it
    assert again.get() is ZoneState.FAULT


def test_bad_parameters_are_named() -> None:
    with pytest.raises(InputError, match="silence_max_s must be in"):
        ZoneParams(silence_max_s=900)
    with pytest.raises(InputError, match="at most 15 s to acknowledge and 180 s"):
        ZoneParams(pas_acknowledge_s=30)
    with pytest.raises(InputError, match="confirm_devices must be 1 or 2"):
        ZoneParams(confirm_devices=3)


class ZoneRules(RuleBasedStateMachine):
    """Any sequence of readings, conditions, actions and time steps on a zone of three devices,
    positive alarm sequence on or off; the invariants hold after every step."""

    def __init__(self) -> None:
        super().__init__()
        self.t = T0
        self.zone: ZoneMachine | None = None
        self.states: list[ZoneState] = []
        self.events: list = []

    @precondition(lambda self: self.zone is None)
    @rule(pas=st.booleans(), confirm=st.sampled_from([1, 2]))
    def start(self, pas: bool, confirm: int) -> None:
        self.zone = ZoneMachine("z", ALARM, ZoneParams(positive_alarm_sequence=pas,
                                                       confirm_devices=confirm))  # fmt: skip
        self.states = [self.zone.get()]

    def _after(self) -> None:
        assert self.zone is not None
        new = self.zone.drain()
        self.events += new
        self.states.append(self.zone.get())

    @precondition(lambda self: self.zone is not None)
    @rule(device=st.sampled_from(["a", "b", "c"]), p=st.sampled_from([0.0, 0.3, 0.6, 0.95]),
          dt=st.sampled_from([0.0, 1.0, 5.0, 30.0]), heat=st.booleans())  # fmt: skip
    def reading(self, device: str, p: float, dt: float, heat: bool) -> None:
        assert self.zone is not None
        self.t += dt
        self.zone.update(device, self.t, p, heat and p > 0.5)
        self._after()

    @precondition(lambda self: self.zone is not None)
    @rule(device=st.sampled_from(["a", "b"]), on=st.booleans(), trouble=st.booleans())
    def condition(self, device: str, on: bool, trouble: bool) -> None:
        assert self.zone is not None
        if trouble:
            self.zone.trouble(device, "scd41_fault", on, self.t)
        else:
            self.zone.supervise(device, "co2_unhealthy", on, self.t)
        self._after()

    @precondition(lambda self: self.zone is not None)
    @rule(device=st.sampled_from(["a", "b", "c"]))
    def silent(self, device: str) -> None:
        assert self.zone is not None
        self.zone.silent(device, self.t)
        self._after()

    @precondition(lambda self: self.zone is not None)
    @rule(action=st.sampled_from(["acknowledge", "silence", "reset", "isolate", "end_isolation"]))
    def operator(self, action: str) -> None:
        assert self.zone is not None
        was_latched = self.zone.latched
        active = any(d.decision.active for d in self.zone.devices.values())
        if action == "isolate":
            self.zone.isolate(self.t, "ops", self.t + 120)
        elif action == "silence":
            self.zone.silence(self.t, "ops", 60)
        else:
            done = getattr(self.zone, action)(self.t, "ops")
            if action == "reset" and active:
                assert not done  # refused while the cause persists
            if action == "reset" and done:
                assert was_latched or self.events  # something was latched or in sequence
        self._after()

    @precondition(lambda self: self.zone is not None)
    @rule(dt=st.sampled_from([1.0, 14.0, 16.0, 179.0, 181.0, 301.0, 601.0]))
    def wait(self, dt: float) -> None:
        assert self.zone is not None
        self.t += dt
        self.zone.tick(self.t)
        self._after()

    @invariant()
    def no_alarm_is_cleared_without_a_reset(self) -> None:
        for i, e in enumerate(self.events):
            if e.kind == "state" and e.previous is ZoneState.ALARM:
                assert self.events[i - 1].kind == "reset", self.events[max(0, i - 3) : i + 1]

    @invariant()
    def every_transition_is_recorded(self) -> None:
        if self.zone is None:
            return
        changes = [e for e in self.events if e.kind == "state"]
        shown = [self.states[0]] + [e.state for e in changes]
        assert shown[-1] is self.zone.get()
        assert all(a.state is b.previous for a, b in zip(changes, changes[1:], strict=False))

    @invariant()
    def timers_fire_once(self) -> None:
        fired = [(e.kind, e.t) for e in self.events if e.kind in ("resounded", "pas_expired")]
        assert len(fired) == len(set(fired))
        for kind in ("resounded",):
            silences = [e for e in self.events if e.kind == "silenced"]
            assert len([e for e in self.events if e.kind == kind]) <= len(silences)

    @invariant()
    def sounding_means_alarm(self) -> None:
        if self.zone is not None and self.zone.sounding:
            assert self.zone.get() is ZoneState.ALARM and self.zone.latched


TestZoneRules = ZoneRules.TestCase
TestZoneRules.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
