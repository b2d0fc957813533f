"""Agents in processes of their own, on the service's bus: ``embercast agent drift`` (the
service, ``learning_drift_in_service = false``, takes the drifts it publishes as its own),
``embercast agent learning`` (``learning_in_service = false``: verdicts become episodes there),
``embercast agent shadow`` (``learning_shadow_in_service = false``: the service shows its
comparison and promotions) and ``embercast agent monitoring`` (``monitoring_in_service =
false``: its silences reach the service's zones)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from embercast.agents.drift import EVENTS_TOPIC
from embercast.agents.zones import RISK_TOPIC, risk_message
from embercast.bus import open_bus


def _service_without(
    monkeypatch: pytest.MonkeyPatch, setting: str, **more: str
) -> tuple[Any, Any, set[str]]:
    """Settings, the opened service state and its agents' names, with ``setting`` false (and
    the EMBERCAST_* settings ``more``)."""
    from embercast.config import get_settings
    from embercast.service.state import ServiceState

    monkeypatch.setenv(setting, "false")
    for name, value in more.items():
        monkeypatch.setenv(f"EMBERCAST_{name}", value)
    get_settings.cache_clear()
    settings = get_settings()
    state = ServiceState.open(settings)
    assert state.agents is not None
    return settings, state, {h.name for h in state.agents.health()}


def _agent(name: str, log: Path) -> subprocess.Popen[bytes]:
    """``embercast agent NAME`` in a process of its own (its stderr to ``log``)."""
    return subprocess.Popen(
        [sys.executable, "-m", "embercast.cli", "agent", name, "--for", "120"],
        stdout=subprocess.DEVNULL, stderr=log.open("ab"), env=dict(os.environ),
    )  # fmt: skip


def test_a_drift_agent_process_finds_a_drift_the_service_then_shows(
    service_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from embercast.service.live_model import ModelHolder

    settings, state, running = _service_without(monkeypatch, "EMBERCAST_LEARNING_DRIFT_IN_SERVICE")
    models = ModelHolder(settings.model_ref)
    assert models.refresh() and models.current is not None
    names = models.current.features
    assert "learning-view" in running and "drift" not in running  # the service only follows
    rng = np.random.default_rng(3)
    messages = []
    for k in range(3000):  # the first input's mean moves from 1 to 3 halfway
        x = list(rng.normal(1.0, 0.05, len(names)))
        x[0] += 2.0 if k >= 1500 else 0.0
        prediction = {"t_s": 1.8e9 + k, "p_fire": float(rng.beta(1, 30))}
        messages.append(risk_message(f"d{k % 20}", "z", prediction, x))
    state.bus.publish_many(RISK_TOPIC, messages)
    log = tmp_path / "drift.log"
    agent = _agent("drift", log)
    counted: list[str] = []
    shown = state.drift
    shown.counted = counted.append
    stop = threading.Event()
    follower = threading.Thread(target=state.learning_view.run, args=(state.bus, stop, 0.05))
    follower.start()
    try:
        deadline = time.monotonic() + 90
        while not shown.found and time.monotonic() < deadline:
            assert agent.poll() is None, log.read_text()
            time.sleep(0.1)
        assert "agent_down:drift" not in state.self_check.conditions()  # it is present
    finally:
        stop.set()
        follower.join(timeout=30)
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(timeout=60) == 0, log.read_text()
        after = state.self_check.conditions()  # it stopped: nobody watches drift
        state.db.close()
        state.bus.close()
    assert after["agent_down:drift"] == "no `embercast agent drift` process is running"
    assert [d.signal for d in shown.found] == [names[0]] == counted
    assert 1500 < shown.found[0].seen < 1800 and shown.found[0].after > shown.found[0].before
    assert "agent drift: 1 drifts" in log.read_text()
    with open_bus(str(service_env / "bus.sqlite")) as bus:  # what the agent published
        events = [m.payload for m in bus.read(EVENTS_TOPIC, 0.0)]
    assert [(e["kind"], e["signal"]) for e in events] == [("drift", names[0])]


def test_a_learning_agent_process_turns_a_verdict_into_episodes(
    service_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from embercast.dataset.episodes import read_episodes
    from embercast.features.base import Reading
    from embercast.service.ingest_log import IngestLog
    from embercast.service.messages import Message
    from embercast.service.state import episodes_location

    settings, state, running = _service_without(monkeypatch, "EMBERCAST_LEARNING_IN_SERVICE")
    assert "learning" not in running
    t0 = 1_800_000_000.0
    log = IngestLog(str(service_env / "ingest"))  # what the service stored of d1
    frame = np.full((120, 160), 29_500, np.uint16)
    stored = []
    for k in range(240):
        t = t0 + 5.0 * k
        stored.append(Message("d1", "thermal", t, t, frame=frame))
        reading = Reading(t, 450.0 + max(0.0, k - 120) * 4.0, 22.0, 40.0)
        stored.append(Message("d1", "scd41", t, t, reading=reading))
    log.append(stored).result(timeout=30)
    log.close()
    verdict = {"feedback_id": "z:alarm:1:feedback:1", "alarm_id": "z:alarm:1", "zone": "z",
               "devices": ["d1"], "verdict": "false_alarm", "cause": "candles", "who": "ops",
               "alarm_t": t0 + 900.0, "t": t0 + 960.0}  # fmt: skip
    state.bus.publish("feedback", verdict, message_id=verdict["feedback_id"])
    out = tmp_path / "learning.log"
    agent = _agent("learning", out)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert agent.poll() is None, out.read_text()
            stats = [s for s in state.bus.stats() if s.topic == "feedback"]
            if stats and stats[0].handled == 1:
                break
            time.sleep(0.2)
    finally:
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(timeout=60) == 0, out.read_text()
        state.db.close()
        state.bus.close()
    found = read_episodes(episodes_location(settings))
    (fact,) = found.facts.values()
    # learning_before_s (900) before the alarm, to the verdict
    assert (fact["device_id"], fact["window"]) == ("d1", [t0, t0 + 960.0])
    assert "agent learning: 1 episodes written" in out.read_text()


def test_a_shadow_agent_process_promotes_a_challenger_the_service_then_shows(
    service_env: Path, features: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow.parquet as pq

    from embercast.lifecycle.registry import Registry
    from embercast.service.overview import learning_summary

    settings, state, running = _service_without(
        monkeypatch, "EMBERCAST_LEARNING_SHADOW_IN_SERVICE",
        LEARNING_AUTO_PROMOTE="true", LEARNING_SHADOW_HOURS="0.05", LEARNING_SHADOW_SAVE_S="1",
    )  # fmt: skip
    assert "learning-view" in running and not {"shadow", "steward"} & running
    registry = Registry(settings.mlflow_uri)  # the champion again, as the challenger
    first = registry.training_run("fire/1")
    metrics = {k: v for k, v in registry.versions("fire")[0]["metrics"].items() if v is not None}
    registry.log_training(registry.load("fire/1"), params=first["params"], metrics=metrics,
                          tags=first["tags"], register="fire")  # fmt: skip
    assert registry.resolve("fire@challenger") == ("fire", 2)
    assert state.refresh_model() and state.models.current is not None
    names = list(state.models.current.features)
    rows = pq.read_table(features / "features").to_pandas()[names].to_numpy(float)
    quiet = rows[state.models.current.score(rows) < 0.05][:40]
    messages = [risk_message(f"d{i}", "z", {"t_s": 1.8e9 + 5 * k, "p_fire": 0.01}, list(x))
                for k in range(30) for i, x in enumerate(quiet)]  # fmt: skip
    state.bus.publish_many(RISK_TOPIC, messages)  # 1.6 device-hours, no alarm
    log = tmp_path / "shadow.log"
    agent = _agent("shadow", log)
    stop = threading.Event()
    view = state.learning_view
    follower = threading.Thread(target=view.run, args=(state.bus, stop, 0.05))
    follower.start()
    try:
        deadline = time.monotonic() + 90
        while not (state.steward.actions and view.shadow) and time.monotonic() < deadline:
            assert agent.poll() is None, log.read_text()
            time.sleep(0.1)
        shown = learning_summary(state)
    finally:
        stop.set()
        follower.join(timeout=30)
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(timeout=60) == 0, log.read_text()
        state.db.close()
        state.bus.close()
    (action,) = shown["steward"]["actions"]
    assert (action["action"], action["model"], action["done"]) == ("promote", "fire/2", True)
    assert registry.resolve("fire@champion") == ("fire", 2)
    comparison = shown["shadow"]  # the comparison the agent published
    assert comparison["other_model"] == "fire/2" and comparison["device_hours"] > 0.05
    assert comparison["served"]["onsets"] == comparison["other"]["onsets"] == 0
    assert "agent shadow: 1 steward actions" in log.read_text()
    assert (service_env / "shadow.json").exists()  # the tallies, in its service_home


def test_a_monitoring_agent_process_reports_a_silent_device_to_the_zones(
    service_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from embercast.agents.monitoring import EVENTS_TOPIC as DEVICE_EVENTS
    from embercast.agents.monitoring import take_reports

    settings, state, running = _service_without(
        monkeypatch, "EMBERCAST_MONITORING_IN_SERVICE", MONITORING_SILENT_S="1"
    )
    assert "silences" in running and "monitoring" not in running
    assert state.refresh_model()  # the zones' operating point
    zones = state.zones
    messages = [risk_message("h1", "hall", {"t_s": 1.8e9 + 0.1 * k, "p_fire": 0.01}, [])
                for k in range(20)]  # fmt: skip
    for message, _, _ in messages:
        zones.handle(message)
    log = tmp_path / "monitoring.log"
    agent = _agent("monitoring", log)
    stop = threading.Event()
    relay = threading.Thread(target=take_reports, args=(zones, state.bus, stop, 0.05))
    relay.start()
    try:
        state.bus.publish_many(RISK_TOPIC, messages)  # then nothing: silent after 1 s
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert agent.poll() is None, log.read_text()
            (hall,) = zones.zones()
            if hall.state == "fault":
                break
            time.sleep(0.1)
    finally:
        stop.set()
        relay.join(timeout=30)
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(timeout=60) == 0, log.read_text()
        bus_file = str(service_env / "bus.sqlite")
        state.db.close()
        state.bus.close()
    assert (hall.state, hall.troubles) == ("fault", {"h1": ["silent"]})
    assert "agent monitoring: 1 devices, 1 silent" in log.read_text()
    with open_bus(bus_file) as bus:
        (event,) = [m.payload for m in bus.read(DEVICE_EVENTS, 0.0)]
    assert (event["kind"], event["zone"], event["device_id"]) == ("silent", "hall", "h1")
