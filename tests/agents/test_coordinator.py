"""The coordinator restarts a crashed agent and stops them all."""

from __future__ import annotations

import threading
import time

from embercast.agents.coordinator import Coordinator


def test_a_crashed_agent_is_restarted_and_all_stop() -> None:
    runs = {"flaky": 0, "steady": 0}

    def flaky(stop: threading.Event) -> None:
        runs["flaky"] += 1
        if runs["flaky"] < 3:
            raise RuntimeError(f"crash {runs['flaky']}")
        stop.wait()

    def steady(stop: threading.Event) -> None:
        runs["steady"] += 1
        stop.wait()

    coordinator = Coordinator({"flaky": flaky, "steady": steady}, restart_s=0.05)
    coordinator.start()
    deadline = time.monotonic() + 5
    while runs["flaky"] < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)
    flaky_health, steady_health = coordinator.health()
    assert (flaky_health.restarts, flaky_health.last_error) == (2, "RuntimeError: crash 2")
    assert flaky_health.running and steady_health.running and steady_health.restarts == 0
    coordinator.stop()
    assert not any(h.running for h in coordinator.health())
    assert runs == {"flaky": 3, "steady": 1}
