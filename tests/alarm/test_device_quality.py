"""Data-quality trouble of one device: FFC storms against the Lepton's own FFC rhythm, dead
pixels against its temporal noise, clock skew against the service's clock; each clears when its
evidence goes."""

from __future__ import annotations

import numpy as np
import pytest

from embercast.alarm.device_quality import DeviceQuality, QualityParams
from embercast.errors import InputError
from embercast.sensors.datasheets import LEPTON35

ROOM_CK = 29_465  # 21.5 °C in centikelvin


def noisy(rng: np.random.Generator, level: float = ROOM_CK) -> np.ndarray:
    """A frame of a still room with the Lepton's temporal noise (below its NETD) at its 0.01 K
    resolution."""
    sigma_ck = 100.0 * LEPTON35.netd_k * 0.8
    return np.rint(rng.normal(level, sigma_ck, (120, 160))).astype(np.uint16)


def frames_every(q: DeviceQuality, rng: np.random.Generator, start: float, stop: float,
                 ffc_every: float | None = None) -> None:  # fmt: skip
    """Frames at t - 1 and t for readings every 5 s (as devices send them); an FFC frame pair
    every ``ffc_every`` s."""
    for t in np.arange(start, stop, 5.0):
        ffc = ffc_every is not None and (t % ffc_every) < 5.0
        for at in (t - 1.0, t):
            q.update_frame(float(at), noisy(rng), ffc=ffc and at == t)


def test_a_healthy_cameras_ffc_rhythm_is_no_storm_a_faster_one_is_and_it_clears(
    rng: np.random.Generator,
) -> None:
    q = DeviceQuality()
    frames_every(q, rng, 0.0, 1800.0, ffc_every=LEPTON35.ffc_interval_min_s)  # the fastest
    assert q.get() == ()
    frames_every(q, rng, 1800.0, 2400.0, ffc_every=60.0)  # a shutter firing every minute
    assert q.get() == ("ffc_storm",)
    frames_every(q, rng, 2400.0, 3600.0, ffc_every=LEPTON35.ffc_interval_s)
    assert q.get() == ()


def test_stuck_pixels_are_dead_pixels_noise_saturation_and_still_frames_are_not(
    rng: np.random.Generator,
) -> None:
    q = DeviceQuality()
    for k in range(60):  # a minute of a still room: every pixel's noise moves it
        q.update_frame(float(k), noisy(rng), ffc=False)
    assert q.get() == () and q.stuck == 0
    hot = QualityParams().dead_pixels
    for k in range(60, 120):  # a fire saturating the high-gain output: constant, not dead
        frame = noisy(rng)
        frame[40:60, 40:60] = round((LEPTON35.high_gain_max_c + 273.15) * 100.0)
        q.update_frame(float(k), frame, ffc=False)
    assert q.get() == ()
    dead = noisy(rng)[:1, :hot]
    for k in range(120, 130):  # a column of pixels stuck at one value
        frame = noisy(rng)
        frame[:1, :hot] = dead
        q.update_frame(float(k), frame, ffc=False)
    assert q.get() == ("dead_pixels",) and q.stuck == hot
    q.update_frame(130.0, np.full((120, 160), ROOM_CK, np.uint16), ffc=True)  # FFC: skipped
    assert q.get() == ("dead_pixels",)
    still = np.full((120, 160), ROOM_CK, np.uint16)
    for k in range(131, 145):  # a resent still frame: most pixels repeat, none is judged
        q.update_frame(float(k), still, ffc=False)
    assert q.get() == ()
    one_fewer = noisy(rng)[:1, : hot - 1]
    for k in range(145, 160):
        frame = noisy(rng)
        frame[:1, : hot - 1] = one_fewer
        q.update_frame(float(k), frame, ffc=False)
    assert q.get() == () and q.stuck == hot - 1


def test_clock_skew_is_off_by_default_and_a_single_late_message_is_no_skew() -> None:
    assert QualityParams().clock_skew_s is None
    off = DeviceQuality()
    off.update_clock(100.0, 1.8e9)
    assert off.get() == ()
    q = DeviceQuality(QualityParams(clock_skew_s=300.0))
    now = 1.8e9
    for k in range(12):
        q.update_clock(now + 5 * k, now + 5 * k + 0.3)
    q.update_clock(now - 3600.0, now + 60.5)  # one reading from the device's buffer
    assert q.get() == ()
    for k in range(12):  # the device's clock now an hour behind
        q.update_clock(now + 100 + 5 * k - 3600.0, now + 100 + 5 * k)
    assert q.get() == ("clock_skew",)
    for k in range(12):  # set right
        q.update_clock(now + 200 + 5 * k, now + 200 + 5 * k)
    assert q.get() == ()


def test_bad_thresholds_are_refused() -> None:
    with pytest.raises(InputError, match="clock_skew_s must be > 0 or None"):
        QualityParams(clock_skew_s=0.0)
    with pytest.raises(InputError, match="stuck_frames >= 2"):
        QualityParams(stuck_frames=1)


def test_a_minute_of_readings_without_co2_is_an_scd41_dropout_until_one_comes() -> None:
    q = DeviceQuality()
    nan = float("nan")
    for t, co2 in [(0.0, 650.0), (5.0, nan), (10.0, 655.0)]:  # one missed measurement
        q.update_reading(t, co2)
    assert q.get() == ()
    for t in np.arange(15.0, 75.0, 5.0):  # 55 s without
        q.update_reading(float(t), nan)
    assert q.get() == ()
    q.update_reading(75.0, nan)
    assert q.get() == ("scd41_dropout",)
    q.update_reading(80.0, 660.0)
    assert q.get() == ()
