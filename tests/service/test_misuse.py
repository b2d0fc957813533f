"""Misuse: repeated authentication failures from one address and a device's message burst are
security events of the zone ``system`` (published once when they begin and once when they end,
never fire, not on the public /readyz); ordinary traffic is none."""

from __future__ import annotations

import json
from typing import Any

import pytest

from embercast.errors import InputError
from embercast.service.misuse import MisuseWatch


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_limits_over_a_sliding_window() -> None:
    clock = Clock()
    watch = MisuseWatch(auth_failures=5, burst_messages=10, clock=clock)
    for _ in range(4):
        watch.auth_failed("10.0.0.9")
    for _ in range(10):
        watch.message("cam-1")  # at the limit: not beyond it
    watch.auth_failed(None)
    assert watch.conditions() == {}
    watch.auth_failed("10.0.0.9")
    watch.message("cam-1")
    assert watch.conditions() == {
        "security:auth_failures:10.0.0.9": "5 failed authentications in 60 s",
        "security:message_burst:cam-1": "more than 10 messages in 60 s",
    }
    clock.now += 61.0
    assert watch.conditions() == {}
    with pytest.raises(InputError, match="auth_failures and burst_messages >= 1"):
        MisuseWatch(burst_messages=0)


def _security(state: Any, group: str) -> list[tuple[str, str]]:
    found = state.bus.receive("alarms", group, "c", limit=1000)
    events = [d.message.payload for d in found]
    return [(e["kind"], e["detail"]["condition"]) for e in events
            if e["kind"].startswith("security")]  # fmt: skip


def test_guessed_keys_and_a_device_in_a_loop_are_security_events_that_end(served: Any) -> None:
    client, state = served.client, served.client.app.state.service
    clock = Clock()
    state.misuse.clock = clock
    for _ in range(3):  # a few mistakes are no event
        assert client.get("/v1/devices", headers={"X-API-Key": "emb_guess"}).status_code == 401
    state.self_check.check()
    assert _security(state, "t0") == []
    for _ in range(20):
        client.get("/v1/alarms", headers={"Authorization": "Bearer emb_guess"})
    reading = json.dumps({"ts": 1.8e9, "co2_ppm": 600.0, "temperature_c": 21.0,
                          "humidity_pct": 40.0}).encode()  # fmt: skip
    for _ in range(601):  # an unregistered device in a loop: every payload dead-lettered
        state.ingest.submit("http", "loop-1", "scd41", reading)
    state.self_check.check()
    begun = [("security_event", "security:auth_failures:testclient"),
             ("security_event", "security:message_burst:loop-1")]  # fmt: skip
    assert sorted(_security(state, "t1")) == begun
    ready = client.get("/readyz").json()
    assert not any(k.startswith("security") for k in ready.get("troubles", {}))
    assert all(e[0] == "security_event" for e in _security(state, "t2"))  # nothing fire
    clock.now += 61.0
    state.self_check.check()
    ended = [(k + "_cleared", c) for k, c in begun]
    assert sorted(_security(state, "t3")) == sorted(begun + ended)
