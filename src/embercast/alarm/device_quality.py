"""Data quality of one device's camera and clock: trouble signals, never fire.

A fire panel reports a detector that needs service as trouble; so does embercast for what a
device's own data show is wrong with it, beside the SCD41 checks of
:mod:`embercast.alarm.scd41_health` and the silence of :mod:`embercast.agents.monitoring`:

- **scd41_dropout**: readings arriving without a CO2 value for ``dropout_s`` or longer (the
  sensor missed its measurements: an I2C or power fault). The fire decision treats them as
  absent meanwhile; this is the signal that the sensor needs service.
- **ffc_storm**: more flat-field corrections than the camera makes when healthy. The Lepton 3.5
  runs one every 150-300 s [1]_ (``LEPTON35.ffc_interval_*``), so a window of ``ffc_window_s``
  holds at most ``ffc_window_s / ffc_interval_min_s + 1`` of them; more is a shutter fault, a
  camera reset loop or a device resending its FFC frames. An FFC is counted when a frame flagged
  FFC follows one that was not.
- **dead_pixels**: at least ``dead_pixels`` pixels that repeat their exact value over
  ``stuck_frames`` consecutive frames (FFC frames left out) while the rest of the frame changes.
  A live pixel's temporal noise (below the 50 mK NETD) is several steps of the 0.01 K output
  resolution [1]_, so repeating one value ten times is a stuck or dead pixel, not a still scene.
  Pixels at or above the high-gain ceiling (140 °C) are left out (a saturated output is constant
  by design), and so are frames in which most pixels repeat (a still synthetic or resent frame
  says nothing about single pixels).
- **clock_skew**: the device's timestamps more than ``clock_skew_s`` from the service's clock
  when they arrive (the median of the last ``clock_window`` messages, so one late message from a
  device's buffer does not count). Off when ``clock_skew_s`` is None: replays and simulators
  send device time that runs apart from the wall clock on purpose.

Each holds while its evidence does and clears by itself (unlike an SCD41 FAULT, which waits for
service), the way a panel's trouble restores.

.. [1] Teledyne FLIR, "FLIR Lepton Engineering Datasheet" (FFC, NETD, TLinear resolution);
   :data:`embercast.sensors.datasheets.LEPTON35`.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from embercast.errors import InputError
from embercast.sensors.datasheets import LEPTON35

QUALITY_TROUBLES = ("scd41_dropout", "ffc_storm", "dead_pixels", "clock_skew")
"""The trouble a device's data quality may raise, in the order :meth:`DeviceQuality.get` lists
them."""
_CEILING_CK = round((LEPTON35.high_gain_max_c + 273.15) * 100.0)
"""The high-gain ceiling in raw TLinear output [centikelvin]."""


@dataclass(frozen=True, kw_only=True)
class QualityParams:
    """Thresholds of the data-quality checks: times [s], counts [frames, pixels, messages]."""

    dropout_s: float = 60.0
    ffc_window_s: float = 2 * LEPTON35.ffc_interval_max_s
    stuck_frames: int = 10
    dead_pixels: int = 16
    clock_skew_s: float | None = None
    clock_window: int = 12

    def __post_init__(self) -> None:
        if (
            min(self.dropout_s, self.ffc_window_s) <= 0
            or min(self.stuck_frames - 1, self.dead_pixels) < 1
        ):
            raise InputError(
                "dropout_s and ffc_window_s must be > 0, stuck_frames >= 2 and dead_pixels >= 1"
            )
        if self.clock_skew_s is not None and self.clock_skew_s <= 0:
            raise InputError(f"clock_skew_s must be > 0 or None (off), not {self.clock_skew_s}")
        if self.clock_window < 1:
            raise InputError(f"clock_window must be >= 1, not {self.clock_window}")

    @property
    def ffc_max(self) -> int:
        """The most FFCs a healthy camera makes in ``ffc_window_s``."""
        return int(self.ffc_window_s // LEPTON35.ffc_interval_min_s) + 1


class DeviceQuality:
    """The data-quality trouble of one device, message by message.

    ``update_reading(t, co2_ppm)`` takes a reading's time [s] and CO2 [ppm] (NaN: none),
    ``update_frame(t, frame, ffc)`` a frame (raw uint16 centikelvin or °C) at ``t`` [s],
    ``update_clock(t, received_s)`` any message's device time against the service's clock [s];
    ``get()`` the trouble now, a tuple of :data:`QUALITY_TROUBLES` names.

    >>> q = DeviceQuality()
    >>> for k in range(12):  # a scene that changes, with four pixels stuck
    ...     f = np.full((120, 160), 29_500 + k, np.uint16); f[0, :20] = 29_400
    ...     q.update_frame(5.0 * k, f, ffc=False)
    >>> q.get(), q.stuck
    (('dead_pixels',), 20)
    """

    def __init__(self, params: QualityParams | None = None) -> None:
        self.params = params or QualityParams()
        self._ffc_starts: deque[float] = deque()
        self._last_ffc = False
        self._prev: NDArray[np.generic] | None = None
        self._runs: NDArray[np.int32] | None = None
        self.stuck = 0
        """Pixels repeating their value over ``stuck_frames`` frames (after the last frame)."""
        self._offsets: deque[float] = deque(maxlen=self.params.clock_window)
        self._missing_since: float | None = None
        self._missing_s = 0.0

    def update_reading(self, t_s: float, co2_ppm: float) -> None:
        """Take a reading at ``t_s`` [s] with its CO2 [ppm] (NaN when the sensor gave none)."""
        if math.isfinite(co2_ppm):
            self._missing_since, self._missing_s = None, 0.0
            return
        if self._missing_since is None:
            self._missing_since = t_s
        self._missing_s = t_s - self._missing_since

    def update_frame(self, t_s: float, frame: NDArray[np.generic], ffc: bool) -> None:
        """Take the frame at ``t_s`` [s] (its FFC flag; frames in time order)."""
        if ffc and not self._last_ffc:
            self._ffc_starts.append(t_s)
        self._last_ffc = ffc
        while self._ffc_starts and self._ffc_starts[0] < t_s - self.params.ffc_window_s:
            self._ffc_starts.popleft()
        if ffc:
            return
        if self._prev is None or self._prev.shape != frame.shape or self._runs is None:
            self._prev, self._runs = frame.copy(), np.zeros(frame.shape, np.int32)
            return
        same = frame == self._prev
        if np.count_nonzero(same) * 2 > same.size:  # most of the frame repeats: not pixels
            self._runs[:] = 0
            self.stuck = 0
        else:
            ceiling = _CEILING_CK if frame.dtype == np.uint16 else LEPTON35.high_gain_max_c
            same &= np.less(frame, ceiling)
            self._runs += 1  # in place: a frame costs tens of microseconds
            self._runs[~same] = 0
            self.stuck = int(np.count_nonzero(self._runs >= self.params.stuck_frames - 1))
        self._prev = frame.copy()

    def update_clock(self, t_s: float, received_s: float) -> None:
        """Take a message's device time ``t_s`` and when the service received it [Unix s]."""
        if math.isfinite(t_s) and math.isfinite(received_s):
            self._offsets.append(t_s - received_s)

    def get(self) -> tuple[str, ...]:
        """The trouble now (names of :data:`QUALITY_TROUBLES`, in their order)."""
        found = set()
        if self._missing_since is not None and self._missing_s >= self.params.dropout_s:
            found.add("scd41_dropout")
        if len(self._ffc_starts) > self.params.ffc_max:
            found.add("ffc_storm")
        if self.stuck >= self.params.dead_pixels:
            found.add("dead_pixels")
        limit = self.params.clock_skew_s
        if limit is not None and self._offsets:
            if abs(statistics.median(self._offsets)) > limit:
                found.add("clock_skew")
        return tuple(name for name in QUALITY_TROUBLES if name in found)
