"""The drift watch: a feature whose mean moves is found, once per cooldown, and published on
``model_events``; steady signals are not; another model's features start the detectors afresh."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from embercast.agents.drift import SCORE, DriftWatch
from embercast.agents.zones import risk_message
from embercast.bus import open_bus

NAMES = ("co2_rate", "temp_rate", "hot_area")


def _messages(n: int, shift_at: int, seed: int = 0) -> list[tuple[dict[str, object], str, str]]:
    """Predictions of 20 devices in turn: steady features and probability, but ``hot_area``
    (m^2) rises from 0.10 to 0.30 after message ``shift_at``."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        hot = (0.30 if k >= shift_at else 0.10) + rng.normal(0, 0.03)
        x = [rng.normal(1.0, 0.3), rng.normal(0.0, 0.05), hot]
        prediction = {"t_s": 1.8e9 + k, "p_fire": float(rng.beta(1, 30))}
        out.append(risk_message(f"d{k % 20}", "z", prediction, x))
    return out


def test_a_moving_feature_is_found_once_and_published(tmp_path: Path) -> None:
    counted: list[str] = []
    watch = DriftWatch(lambda: NAMES, cooldown_s=3600.0, counted=counted.append)
    with open_bus(str(tmp_path / "bus.sqlite")) as bus:
        bus.publish_many("risk", _messages(3000, 1500))
        while watch.step(bus):
            pass
        events = bus.receive("model_events", "test", "c", limit=100)
    assert [d.signal for d in watch.found] == ["hot_area"] == counted
    (drift,) = watch.found
    assert 1500 < drift.seen < 1700  # noticed soon after the change
    assert drift.before < 0.15 and drift.after > drift.before
    assert [e.message.payload["signal"] for e in events] == ["hot_area"]
    assert events[0].message.payload["kind"] == "drift"


def test_steady_signals_give_no_drift_and_a_new_model_starts_afresh() -> None:
    names: list[tuple[str, ...]] = [NAMES]
    watch = DriftWatch(lambda: names[0])
    for payload, _, _ in _messages(3000, 10**9, seed=1):
        watch.handle(payload)
    assert watch.found == []
    names[0] = ("co2_rate",)  # another model: one feature, x of another length is not read
    for payload, _, _ in _messages(200, 0, seed=2):
        watch.handle(payload)
    assert set(watch._detectors) == {"co2_rate", SCORE}
    assert watch._seen["co2_rate"] == 0 and watch._seen[SCORE] == 200
