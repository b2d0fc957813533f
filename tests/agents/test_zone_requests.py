"""The zones in an agent of their own, seen from the service: views and audit log read from
the agent's state file, actions and verdicts asked on the bus and answered by the agent; a
request nobody answers is refused."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from embercast.agents.zone_requests import (
    REPLIES_TOPIC,
    RemoteZones,
    ZonesUnavailable,
    run_zone_agent,
)
from embercast.agents.zones import RISK_TOPIC, ZoneAgent, risk_message
from embercast.alarm.decision import AlarmParams
from embercast.bus import Bus, open_bus
from embercast.errors import InputError

RULE = AlarmParams(threshold=0.9, delay_on_s=10.0)


@pytest.fixture
def bus(tmp_path: Path) -> Iterator[Bus]:
    with open_bus(str(tmp_path / "bus.sqlite")) as opened:
        yield opened


def _until(check: Any, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.02)


def test_the_service_reads_the_agents_zones_and_asks_it_to_act(tmp_path: Path, bus: Bus) -> None:
    path = str(tmp_path / "zones.sqlite")
    agent = ZoneAgent(path, lambda: RULE, bus)
    remote = RemoteZones(path, bus, timeout_s=10.0)
    stop = threading.Event()
    loops = [threading.Thread(target=run_zone_agent, args=(agent, bus, stop, 0.01)),
             threading.Thread(target=remote.run, args=(stop, 0.01))]  # fmt: skip
    for loop in loops:
        loop.start()
    try:
        fire = [risk_message("k1", "kitchen", {"t_s": 1.8e9 + k, "p_fire": 0.99})
                for k in range(30)]  # fmt: skip
        quiet = [risk_message("h1", "hall", {"t_s": 1.8e9 + k, "p_fire": 0.01})
                 for k in range(30)]  # fmt: skip
        bus.publish_many(RISK_TOPIC, fire + quiet)
        _until(lambda: {v.zone: v.state for v in remote.zones()}.get("kitchen") == "alarm")
        assert remote.zones() == agent.zones()  # what the agent holds, as it wrote it
        done, events = remote.act("kitchen", "reset", "ops")  # the fire persists
        assert not done and [e.kind for e in events] == ["reset_refused"]
        assert events[0].detail["reason"] == "the cause persists"
        done, events = remote.act("kitchen", "acknowledge", "ops")
        assert done and "acknowledged" in [e.kind for e in events]
        (kitchen,) = [v for v in remote.zones() if v.zone == "kitchen"]
        assert kitchen.acknowledged  # the view was written before the answer
        verdict = remote.feedback("kitchen", "false_alarm", "ops", "cooking")
        assert verdict["alarm_id"].startswith("kitchen:alarm:") and verdict["who"] == "ops"
        assert [(e["kind"], e["who"]) for e in remote.audit("kitchen")[:3]] == [
            ("feedback", "ops"), ("acknowledged", "ops"), ("reset_refused", "ops"),
        ]  # fmt: skip
        with pytest.raises(InputError, match="no zone 'attic' has reported yet"):
            remote.act("attic", "reset", "ops")  # refused by the agent
        with pytest.raises(InputError, match="needs a cause"):
            remote.feedback("hall", "false_alarm", "ops")
        with pytest.raises(InputError, match="unknown zone action 'extinguish'"):
            remote.act("kitchen", "extinguish", "ops")  # refused before asking
    finally:
        stop.set()
        for loop in loops:
            loop.join(timeout=30)
        agent.close()
        remote.close()


def test_a_request_nobody_answers_is_refused(tmp_path: Path, bus: Bus) -> None:
    remote = RemoteZones(str(tmp_path / "zones.sqlite"), bus, timeout_s=0.3)
    with pytest.raises(ZonesUnavailable, match="no zone agent answered within 0.3 s"):
        remote.act("kitchen", "acknowledge", "ops")
    late = {"request_id": "gone", "done": True, "events": [], "feedback": None, "error": None}
    bus.publish(REPLIES_TOPIC, late, key="gone")  # an answer after the service gave up
    assert remote.step() == 1 and remote.step() == 0  # taken and dropped
    remote.close()


def test_the_agent_apart_takes_a_prediction_as_it_comes(tmp_path: Path, bus: Bus) -> None:
    """With 10 s between rounds that find nothing, the agent still takes a fire at once: such a
    round is followed by one that waits on the bus for a prediction, not by a sleep."""
    agent = ZoneAgent(str(tmp_path / "zones.sqlite"), lambda: RULE, bus)
    stop = threading.Event()
    loop = threading.Thread(target=run_zone_agent, args=(agent, bus, stop, 10.0))
    loop.start()

    def fire(*times: float) -> None:
        bus.publish_many(RISK_TOPIC, [risk_message("k1", "kitchen",
                                                   {"t_s": 1.8e9 + t, "p_fire": 0.95})
                                      for t in times])  # fmt: skip

    try:
        time.sleep(0.5)  # a round found nothing
        fire(0, 5, 10)
        _until(lambda: any(v.state == "alarm" for v in agent.zones()), timeout_s=5.0)
    finally:
        stop.set()
        fire(15)  # ends the wait of the round under way
        loop.join(timeout=15)
        agent.close()
