"""The alarm decision of one zone: risk level, debounce and hysteresis (DESIGN 4.5).

The same object decides in the live alarm state machine and in offline evaluation, so the
time-to-detect and false-alarm figures of an evaluation are what the service would do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

RISK_LEVELS: tuple[tuple[str, float], ...] = (
    ("none", 0.0),
    ("low", 0.3),
    ("medium", 0.5),
    ("high", 0.7),
    ("critical", 0.9),
)
"""Risk level names and the probability at which each starts (DESIGN 4.5)."""


def risk_level(p: float, levels: tuple[tuple[str, float], ...] = RISK_LEVELS) -> str:
    """The risk level of a calibrated fire probability ``p`` (NaN: ``none``).

    >>> [risk_level(p) for p in (0.1, 0.3, 0.55, 0.7, 0.95)]
    ['none', 'low', 'medium', 'high', 'critical']
    """
    name = levels[0][0]
    if math.isnan(p):
        return name
    for level, start in levels:
        if p >= start:
            name = level
    return name


@dataclass(frozen=True, kw_only=True)
class AlarmParams:
    """Decision parameters: alarm when p >= ``threshold`` for ``delay_on_s`` [s]; clear when
    p < ``clear_threshold`` for ``delay_off_s`` [s]."""

    threshold: float = 0.7
    clear_threshold: float = 0.5
    delay_on_s: float = 10.0
    delay_off_s: float = 60.0

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"alarm threshold must be in (0, 1], got {self.threshold}")
        if not 0.0 <= self.clear_threshold <= self.threshold:
            raise ValueError(
                f"clear_threshold must be in [0, threshold={self.threshold}], "
                f"got {self.clear_threshold}"
            )
        if self.delay_on_s < 0 or self.delay_off_s < 0:
            raise ValueError("alarm delays must be >= 0 s")


class AlarmDecision:
    """Debounced alarm decision over a stream of (time, probability).

    ``update(t, p)`` takes one probability; ``active`` says whether the alarm is on and
    ``onset`` is True exactly on the update that raised it. A NaN probability keeps the state.

    >>> d = AlarmDecision(AlarmParams(threshold=0.7, delay_on_s=10.0))
    >>> [d.update(t, p) for t, p in [(0, 0.8), (5, 0.9), (10, 0.9), (15, 0.2)]]
    [False, False, True, True]
    """

    def __init__(self, params: AlarmParams | None = None) -> None:
        self.params = params or AlarmParams()
        self._above_since: float | None = None
        self._below_since: float | None = None
        self.active = False
        self.onset = False

    def update(self, t: float, p: float) -> bool:
        """Take the probability ``p`` at time ``t`` [s]; return whether the alarm is on."""
        self.onset = False
        if math.isnan(p):
            return self.active
        prm = self.params
        if not self.active:
            if p >= prm.threshold:
                self._above_since = t if self._above_since is None else self._above_since
                if t - self._above_since >= prm.delay_on_s:
                    self.active, self.onset = True, True
                    self._below_since = None
            else:
                self._above_since = None
        else:
            if p < prm.clear_threshold:
                self._below_since = t if self._below_since is None else self._below_since
                if t - self._below_since >= prm.delay_off_s:
                    self.active = False
                    self._above_since = None
            else:
                self._below_since = None
        return self.active
