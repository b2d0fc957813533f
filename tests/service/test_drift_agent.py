"""``embercast agent drift``: the drift watch in a process of its own, on the service's bus;
the service (``learning_drift_in_service = false``) takes the drifts it publishes as its own."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from embercast.agents.drift import EVENTS_TOPIC
from embercast.agents.zones import RISK_TOPIC, risk_message
from embercast.bus import open_bus


def test_a_drift_agent_process_finds_a_drift_the_service_then_shows(
    service_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from embercast.config import get_settings
    from embercast.service.live_model import ModelHolder
    from embercast.service.state import ServiceState

    monkeypatch.setenv("EMBERCAST_LEARNING_DRIFT_IN_SERVICE", "false")
    get_settings.cache_clear()
    settings = get_settings()
    models = ModelHolder(settings.model_ref)
    assert models.refresh() and models.current is not None
    names = models.current.features
    state = ServiceState.open(settings)
    assert state.agents is not None
    running = {h.name for h in state.agents.health()}
    assert "drift-view" in running and "drift" not in running  # the service only follows
    rng = np.random.default_rng(3)
    messages = []
    for k in range(3000):  # the first input's mean moves from 1 to 3 halfway
        x = list(rng.normal(1.0, 0.05, len(names)))
        x[0] += 2.0 if k >= 1500 else 0.0
        prediction = {"t_s": 1.8e9 + k, "p_fire": float(rng.beta(1, 30))}
        messages.append(risk_message(f"d{k % 20}", "z", prediction, x))
    state.bus.publish_many(RISK_TOPIC, messages)
    log = tmp_path / "drift.log"
    agent = subprocess.Popen(
        [sys.executable, "-m", "embercast.cli", "agent", "drift", "--for", "120"],
        stdout=subprocess.DEVNULL, stderr=log.open("ab"), env=dict(os.environ),
    )  # fmt: skip
    counted: list[str] = []
    shown = state.drift
    shown.counted = counted.append
    stop = threading.Event()
    follower = threading.Thread(target=shown.follow, args=(state.bus, stop, 0.05))
    follower.start()
    try:
        deadline = time.monotonic() + 90
        while not shown.found and time.monotonic() < deadline:
            assert agent.poll() is None, log.read_text()
            time.sleep(0.1)
    finally:
        stop.set()
        follower.join(timeout=30)
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(timeout=60) == 0, log.read_text()
        state.db.close()
        state.bus.close()
    assert [d.signal for d in shown.found] == [names[0]] == counted
    assert 1500 < shown.found[0].seen < 1800 and shown.found[0].after > shown.found[0].before
    assert "agent drift: 1 drifts" in log.read_text()
    with open_bus(str(service_env / "bus.sqlite")) as bus:  # what the agent published
        events = [m.payload for m in bus.read(EVENTS_TOPIC, 0.0)]
    assert [(e["kind"], e["signal"]) for e in events] == [("drift", names[0])]
