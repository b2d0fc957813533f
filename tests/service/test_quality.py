"""A device's data quality in the live path: the settings reach every device stream, a camera
with stuck pixels and a clock an hour behind give predictions that carry the trouble, and its
zone shows that trouble (never fire) and restores once the data are good again."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from embercast.features.base import Reading
from embercast.sensors.datasheets import LEPTON35

NOW = 1_800_000_000.0
DEV = "cam-7"


def test_stuck_pixels_and_a_skewed_clock_are_zone_trouble_that_restores(
    service_env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from embercast.agents.zones import ZoneAgent, risk_message
    from embercast.config import get_settings
    from embercast.service.messages import Message
    from embercast.service.state import ServiceState

    monkeypatch.setenv("EMBERCAST_MONITORING_CLOCK_SKEW_S", "300")
    monkeypatch.setenv("EMBERCAST_MONITORING_DEAD_PIXELS", "8")
    get_settings.cache_clear()
    state = ServiceState.open(get_settings())
    try:
        assert state.refresh_model()
        hub = state.hub
        assert hub.quality is not None
        assert (hub.quality.clock_skew_s, hub.quality.dead_pixels) == (300.0, 8)
        model = state.models.current
        assert model is not None
        zones = ZoneAgent(str(tmp_path / "zones.sqlite"), lambda: model.params)
        rng = np.random.default_rng(3)
        sigma = 100.0 * LEPTON35.netd_k * 0.8
        stuck = np.rint(rng.normal(29_465, sigma, 8)).astype(np.uint16)

        def second(t: float, behind_s: float, dead: bool) -> list[str]:
            """The device's frames at t - 1 and t and its reading at t, received at t +
            behind_s on the service's clock; the trouble of the reading's prediction."""
            out = []
            for at in (t - 1.0, t):
                frame = np.rint(rng.normal(29_465, sigma, (120, 160))).astype(np.uint16)
                if dead:
                    frame[60, 10:18] = stuck
                out.append(Message(DEV, "thermal", at, at + behind_s, frame=frame))
            reading = Reading(t, 640.0 + rng.normal(0, 5), 21.5, 40.0)
            out.append(Message(DEV, "scd41", t, t + behind_s, reading=reading))
            (made,) = hub.add(out)
            assert not made.alarm
            zones.handle(risk_message(DEV, "garage", made.as_dict(), made.inputs)[0])
            return list(made.troubles)

        found = [second(NOW + 5 * k, 0.4, False) for k in range(12)]
        assert found == [[]] * 12
        (view,) = zones.zones()
        assert view.state == "normal"
        found = [second(NOW + 60 + 5 * k, 3600.0, True) for k in range(12)]
        assert found[-1] == ["dead_pixels", "clock_skew"]
        (view,) = zones.zones()
        assert view.state == "fault" and view.troubles == {DEV: ["clock_skew", "dead_pixels"]}
        audit = [(e["kind"], e["detail"].get("reason")) for e in zones.audit("garage")]
        assert ("trouble", "dead_pixels") in audit and ("trouble", "clock_skew") in audit
        found = [second(NOW + 3720 + 5 * k, 0.4, False) for k in range(12)]
        assert found[-1] == []
        (view,) = zones.zones()
        assert view.state == "normal" and view.troubles == {}
        audit = [(e["kind"], e["detail"].get("reason")) for e in zones.audit("garage")]
        assert ("trouble_cleared", "dead_pixels") in audit
        assert ("trouble_cleared", "clock_skew") in audit
        assert "alarm" not in {e["kind"] for e in zones.audit("garage")}
        zones.close()
    finally:
        state.db.close()
