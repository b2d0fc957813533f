"""The monitoring agent: a device that falls silent is trouble in its zone, or an alarm when it
fell silent in a steep rise; its next reading ends the silence."""

from __future__ import annotations

from pathlib import Path

from embercast.agents.monitoring import DeviceWatch, told
from embercast.agents.zones import ZoneAgent
from embercast.alarm.decision import AlarmParams

RULE = AlarmParams(threshold=0.9, delay_on_s=10.0)


def _feed(watch: DeviceWatch, zones: ZoneAgent, device: str, zone: str,
          points: list[tuple[float, float]], wall0: float) -> None:  # fmt: skip
    for t, p in points:
        message = {"device_id": device, "zone": zone, "t_s": t, "p_fire": p}
        zones.handle(message)
        watch.handle(message, arrived=wall0 + t)


def test_a_silent_device_is_trouble_and_one_silent_in_a_rise_an_alarm(tmp_path: Path) -> None:
    zones = ZoneAgent(str(tmp_path / "zones.sqlite"), lambda: RULE)
    watch = DeviceWatch(told(zones), silent_periods=6.0, silent_min_s=60.0)
    wall0 = 1_000_000.0
    _feed(watch, zones, "h1", "hall", [(float(t), 0.05) for t in range(0, 100, 5)], wall0)
    _feed(watch, zones, "a1", "attic", [(80.0, 0.05), (85.0, 0.2), (90.0, 0.45), (95.0, 0.6)],
          wall0)  # fmt: skip
    assert watch.check(wall0 + 120.0) == []  # 25 s since their last readings (limit 60 s)
    assert sorted(watch.check(wall0 + 170.0)) == ["a1", "h1"]
    assert watch.check(wall0 + 500.0) == []  # each silence reported once
    states = {v.zone: v for v in zones.zones()}
    assert states["hall"].state == "fault" and states["hall"].troubles == {"h1": ["silent"]}
    assert states["attic"].state == "alarm"  # silent in a steep rise: heat destroys sensors
    _feed(watch, zones, "h1", "hall", [(300.0, 0.05)], wall0)  # it reports again
    assert {v.zone: v.state for v in zones.zones()}["hall"] == "normal"
    assert not watch.devices["h1"].silent
