"""The learning agent: verdicts on the bus become episodes from the ingest log's window, once per
verdict and device whatever the redeliveries; a device with nothing recorded is skipped; the
retraining asks for more of the classes like the false alarms' causes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from embercast.agents.learning import LearningAgent
from embercast.bus import open_bus
from embercast.dataset.episodes import CAUSES, read_episodes
from embercast.features.base import Reading
from embercast.lifecycle.retrain import CAUSE_CLASSES, fooled_classes
from embercast.service.ingest_log import IngestLog
from embercast.service.messages import Message
from embercast.synth.scenarios import SCENARIO_CLASSES

T0 = 1_800_000_000.0


def _log(root: Path) -> IngestLog:
    """A log of device d1: a reading every 5 s for 20 min (CO2 rising after 10 min) with a
    frame at each, and one reading of d2 (no frame)."""
    log = IngestLog(str(root))
    frame = np.full((120, 160), 29_500, np.uint16)
    messages = []
    for k in range(240):
        t = T0 + 5.0 * k
        co2 = 450.0 + max(0.0, k - 120) * 4.0
        messages.append(Message("d1", "thermal", t, t, frame=frame))
        messages.append(Message("d1", "scd41", t, t, reading=Reading(t, co2, 22.0, 40.0)))
    t = T0 + 700.0
    messages.append(Message("d2", "scd41", t, t, reading=Reading(t, 450.0, 22.0, 40.0)))
    log.append(messages).result(timeout=30)
    log.append(messages[:10]).result(timeout=30)  # a device that sent twice: kept once
    return log


def test_the_ingest_logs_window_of_one_device(tmp_path: Path) -> None:
    log = _log(tmp_path / "ingest")
    try:
        readings, frames = log.window("d1", T0 + 100.0, T0 + 200.0)
        assert readings["ts"].to_pylist() == [T0 + t for t in range(100, 201, 5)]
        assert frames.num_rows == readings.num_rows
        assert set(readings["device_id"].to_pylist()) == {"d1"}
        assert log.window("d3", T0, T0 + 1e6)[0].num_rows == 0
    finally:
        log.close()


def test_verdicts_become_episodes_once(tmp_path: Path) -> None:
    log = _log(tmp_path / "ingest")
    episodes = str(tmp_path / "episodes")
    agent = LearningAgent(episodes, log.window, lambda: "standard18", before_s=300.0,
                          after_s=120.0)  # fmt: skip
    verdict = {"feedback_id": "z:alarm:1:feedback:1", "alarm_id": "z:alarm:1", "zone": "z",
               "devices": ["d1", "d2", "d9"], "verdict": "false_alarm", "cause": "candles",
               "who": "ops", "alarm_t": T0 + 900.0, "t": T0 + 960.0}  # fmt: skip
    try:
        with open_bus(str(tmp_path / "bus.sqlite")) as bus:
            bus.publish("feedback", verdict, message_id=verdict["feedback_id"])
            assert agent.step(bus) == 1
            bus.publish("feedback", {**verdict, "feedback_id": "z:alarm:1:feedback:2"})
            bus.publish("feedback", {"verdict": "fire"}, message_id="broken")
            assert agent.step(bus) == 2
            (stats,) = [s for s in bus.stats() if s.topic == "feedback"]
            assert stats.handled == 2 and stats.waiting + stats.leased == 1  # broken: retried
        found = read_episodes(episodes)
        # d1 and d2 (one reading, no frame: still its row) of each verdict; d9: nothing
        assert sorted(f["device_id"] for f in found.facts.values()) == ["d1", "d1", "d2", "d2"]
        assert agent.skipped == 2  # d9 sent nothing, in either verdict
        d1 = [f for f in found.facts.values() if f["device_id"] == "d1"][0]
        # from 300 s before the alarm to the verdict (60 s after: sooner than after_s)
        assert d1["window"] == [T0 + 600.0, T0 + 960.0] and d1["rows"] == 73
        assert agent.handle(verdict) == []  # handled before: nothing written again
    finally:
        log.close()


def test_every_cause_asks_for_classes_the_generator_has() -> None:
    assert set(CAUSE_CLASSES) == set(CAUSES)
    for classes in CAUSE_CLASSES.values():
        assert all(c in SCENARIO_CLASSES and not SCENARIO_CLASSES[c].is_fire for c in classes)
    assert fooled_classes(["toaster", "cooking", "toaster"]) == [
        "cooking_gas_stove", "cooking_electric", "toaster",
    ]  # fmt: skip
    every = fooled_classes(["other"])
    assert "steam" in every and "flaming_fire" not in every and "normal_day" in every


@pytest.mark.parametrize("verdict", [{}, {"feedback_id": "x", "verdict": "fire"}])
def test_a_message_that_is_not_a_verdict_is_refused(verdict: dict[str, object]) -> None:
    from embercast.errors import InputError

    agent = LearningAgent("unused", lambda *_: (None, None), lambda: "standard18")  # type: ignore[arg-type, return-value]
    with pytest.raises(InputError, match="not a verdict"):
        agent.handle(verdict)
