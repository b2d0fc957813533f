"""Heat evidence from a device's own SCD41 temperature: a fixed-temperature heat alarm, and a
device lost in a steep rise.

A fire under a ceiling device can heat it past the SCD41's operating range (-10 to 60 °C) within
a minute or two of a fast growth; the device then reports nothing, and a detector fed only
missing readings cannot see the fire that silenced it. Heat detectors have long answered the
first half of this: a fixed-temperature element responds at 54-65 °C (EN 54-5 class A1; UL 521's
ordinary rating is 57 °C) and a rate-of-rise element at 15 °F (8.3 K) per minute (UL 521) [1]_.
So the alarm decision takes two kinds of heat evidence beside the fire probability:

- **hot**: the device's temperature at or above ``fixed_c`` (57 °C);
- **lost in heat**: its readings stop (NaN) within ``lost_within_s`` of a reading that was at or
  above ``lost_c`` (50 °C) or rising at ``rate_k_per_min`` (8.3 K/min) or more over the last
  ``rate_window_s``. It holds while the readings stay missing; a dropout in a room at its usual
  temperature is a sensor fault, not heat, and raises nothing here.

.. [1] UL 521, Standard for Heat Detectors for Fire Protective Signaling Systems; EN 54-5:2017,
   Fire detection and fire alarm systems, Part 5: Heat detectors, Point heat detectors.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from embercast.errors import InputError


@dataclass(frozen=True, kw_only=True)
class HeatParams:
    """Thresholds of the heat evidence: temperatures [°C], rate [K/min], times [s]."""

    fixed_c: float = 57.0
    lost_c: float = 50.0
    rate_k_per_min: float = 8.3
    rate_window_s: float = 60.0
    lost_within_s: float = 60.0

    def __post_init__(self) -> None:
        if not self.lost_c <= self.fixed_c:
            raise InputError(f"lost_c ({self.lost_c}) must not exceed fixed_c ({self.fixed_c})")
        if self.rate_k_per_min <= 0 or self.rate_window_s <= 0 or self.lost_within_s <= 0:
            raise InputError("rate_k_per_min, rate_window_s and lost_within_s must be > 0")


class HeatWatch:
    """The heat evidence of one device, one reading at a time.

    ``update(t, temperature_c)`` takes the device's SCD41 temperature at ``t`` [s] (NaN when
    the reading is missing) and returns whether there is heat evidence now; ``get()`` says which
    (``"hot"``, ``"lost in heat"``) or None.

    >>> w = HeatWatch()
    >>> [w.update(t, c) for t, c in [(0, 22.0), (30, 30.0), (60, 42.0), (65, math.nan)]]
    [False, False, False, True]
    >>> w.get()
    'lost in heat'
    >>> quiet = HeatWatch()
    >>> [quiet.update(t, c) for t, c in [(0, 22.0), (30, 22.1), (35, math.nan)]]
    [False, False, False]
    """

    def __init__(self, params: HeatParams | None = None) -> None:
        self.params = params or HeatParams()
        self._recent: deque[tuple[float, float]] = deque()
        self._evidence_t: float | None = None  # last reading that was warm or rising steeply
        self._last_t: float | None = None  # last valid reading
        self._state: str | None = None

    def update(self, t: float, temperature_c: float) -> bool:
        """Take one reading; return whether there is heat evidence at ``t``."""
        if self._last_t is not None and t < self._last_t:
            raise InputError(f"reading at t={t} s is older than t={self._last_t} s")
        prm = self.params
        if math.isnan(temperature_c):
            if self._state == "lost in heat":
                return True
            lost = (
                self._evidence_t is not None
                and self._last_t is not None
                and self._last_t - self._evidence_t <= prm.lost_within_s
            )
            self._state = "lost in heat" if lost else None
            return lost
        self._last_t = t
        self._recent.append((t, temperature_c))
        while self._recent and self._recent[0][0] < t - prm.rate_window_s:
            self._recent.popleft()
        t0, c0 = self._recent[0]
        span = t - t0
        rising = span >= prm.rate_window_s / 2 and (temperature_c - c0) / span * 60.0 >= (
            prm.rate_k_per_min
        )
        if temperature_c >= prm.lost_c or rising:
            self._evidence_t = t
        self._state = "hot" if temperature_c >= prm.fixed_c else None
        return self._state is not None

    def get(self) -> str | None:
        """The heat evidence at the last update: ``"hot"``, ``"lost in heat"`` or None."""
        return self._state
