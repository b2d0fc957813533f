"""The alarm decision of one zone: debounce and hysteresis (DESIGN 4.5).

Four paths raise the alarm. The fast path: p at or above ``threshold`` for ``delay_on_s``. The
slow-confirmation path (optional): the mean of p over the last ``slow_window_s`` at or above
``slow_threshold``. The heat path: the device's own temperature past a heat detector's fixed
point, or its readings lost in a steep rise (:mod:`embercast.alarm.heat`). The CO2 path
(optional): the device's CO2 past a CO2 detector's level or 60-s rate (:func:`co2_evidence`)
for ``co2_delay_s`` while p is at or above ``co2_gate``: a CO2 rise as fast as a fire's that
the model does not rule out, as a multi-criteria detector keeps its single-criterion alarm and
lets the other criteria veto it. A smouldering fire
seen by a few glowing pixels can give a probability that
wavers around the threshold for many minutes and never holds it for the debounce delay; a
sustained high mean confirms it, while a short nuisance burst does not move a 5- or 10-min mean.

The same object decides in the live alarm state machine and in offline evaluation, so the
time-to-detect and false-alarm figures of an evaluation are what the service would do.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from embercast.errors import InputError


@dataclass(frozen=True, kw_only=True)
class AlarmParams:
    """Decision parameters: alarm when p >= ``threshold`` for ``delay_on_s`` [s], or (when
    ``slow_threshold`` is set) when the mean p over the last ``slow_window_s`` [s] is >=
    ``slow_threshold``; clear when p < ``clear_threshold`` for ``delay_off_s`` [s]."""

    threshold: float = 0.7
    clear_threshold: float = 0.5
    delay_on_s: float = 10.0
    delay_off_s: float = 60.0
    slow_threshold: float | None = None
    slow_window_s: float = 600.0
    co2_gate: float | None = None
    co2_level_ppm: float = math.inf
    co2_rate_ppm_s: float = math.inf
    co2_delay_s: float = 10.0

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold <= 1.0:
            raise InputError(f"alarm threshold must be in (0, 1], got {self.threshold}")
        if not 0.0 <= self.clear_threshold <= self.threshold:
            raise InputError(
                f"clear_threshold must be in [0, threshold={self.threshold}], "
                f"got {self.clear_threshold}"
            )
        if self.delay_on_s < 0 or self.delay_off_s < 0:
            raise InputError("alarm delays must be >= 0 s")
        if self.slow_threshold is not None and not 0.0 < self.slow_threshold <= 1.0:
            raise InputError(f"slow_threshold must be in (0, 1] or None, got {self.slow_threshold}")
        if self.slow_window_s <= 0:
            raise InputError(f"slow_window_s must be > 0 s, got {self.slow_window_s}")
        if self.co2_gate is not None and not 0.0 <= self.co2_gate <= 1.0:
            raise InputError(f"co2_gate must be in [0, 1] or None, got {self.co2_gate}")
        if not (self.co2_level_ppm > 0 and self.co2_rate_ppm_s > 0 and self.co2_delay_s >= 0):
            raise InputError("co2_level_ppm and co2_rate_ppm_s must be > 0, co2_delay_s >= 0 s")

    def co2_path(self) -> dict[str, float | None]:
        """The CO2 path as reported (all None without one).

        >>> AlarmParams(co2_gate=0.2, co2_level_ppm=2200.0, co2_rate_ppm_s=2.1).co2_path()
        {'co2_gate': 0.2, 'co2_level_ppm': 2200.0, 'co2_rate_ppm_s': 2.1, 'co2_delay_s': 10.0}
        >>> set(AlarmParams().co2_path().values())
        {None}
        """
        on = self.co2_gate is not None
        return {
            "co2_gate": self.co2_gate,
            "co2_level_ppm": self.co2_level_ppm if on else None,
            "co2_rate_ppm_s": self.co2_rate_ppm_s if on else None,
            "co2_delay_s": self.co2_delay_s if on else None,
        }

    def describe(self) -> str:
        """The rule in words.

        >>> AlarmParams(threshold=0.95, slow_threshold=0.6, slow_window_s=300.0).describe()
        'p >= 0.95 for 10 s, or a 300-s mean p >= 0.6; clear below 0.5 for 60 s'
        >>> AlarmParams(co2_gate=0.2, co2_level_ppm=1500.0, co2_rate_ppm_s=2.5).describe()[19:]
        'or CO2 >= 1500 ppm or >= 2.5 ppm/s with p >= 0.2 for 10 s; clear below 0.5 for 60 s'
        """
        paths = (
            f", or a {self.slow_window_s:.0f}-s mean p >= {self.slow_threshold:g}"
            if self.slow_threshold is not None
            else ""
        )
        if self.co2_gate is not None:
            paths += (
                f", or CO2 >= {self.co2_level_ppm:.0f} ppm or >= {self.co2_rate_ppm_s:.3g} ppm/s"
                f" with p >= {self.co2_gate:g} for {self.co2_delay_s:.0f} s"
            )
        return (
            f"p >= {self.threshold:g} for {self.delay_on_s:.0f} s{paths}; "
            f"clear below {self.clear_threshold:g} for {self.delay_off_s:.0f} s"
        )


def alarm_point(
    threshold: float, delay_on_s: float, base: AlarmParams | None = None
) -> AlarmParams:
    """The fast path alone at ``threshold`` and ``delay_on_s`` [s], clearing as ``base`` does
    (below its clear threshold, or below ``threshold`` when that is lower, for its
    ``delay_off_s``; default :class:`AlarmParams`).

    >>> alarm_point(0.4, 20.0).describe()
    'p >= 0.4 for 20 s; clear below 0.4 for 60 s'
    """
    base = base or AlarmParams()
    return AlarmParams(
        threshold=threshold,
        clear_threshold=min(base.clear_threshold, threshold),
        delay_on_s=delay_on_s,
        delay_off_s=base.delay_off_s,
    )


def co2_evidence(params: AlarmParams, co2_ppm: float, rate_ppm_s: float) -> bool:
    """Whether a device's CO2 [ppm] or its 60-s rate of rise [ppm/s] is at or past the CO2
    path's level or rate (False for a missing value, and always without a CO2 path).

    >>> on = AlarmParams(co2_gate=0.2, co2_level_ppm=1500.0, co2_rate_ppm_s=2.5)
    >>> [co2_evidence(on, c, r) for c, r in [(900.0, 3.0), (1600.0, math.nan), (900.0, 1.0)]]
    [True, True, False]
    >>> co2_evidence(AlarmParams(), 5000.0, 50.0)
    False
    """
    if params.co2_gate is None:
        return False
    return bool(co2_ppm >= params.co2_level_ppm or rate_ppm_s >= params.co2_rate_ppm_s)


class AlarmDecision:
    """Debounced alarm decision over a stream of (time, probability).

    ``update(t, p)`` takes one probability; ``active`` says whether the alarm is on and
    ``onset`` is True exactly on the update that raised it. A NaN probability keeps the state
    and does not enter the slow path's mean. The slow path waits until it has watched a whole
    window (since the start or since the alarm last cleared) and averages the readings of the
    last ``slow_window_s``.

    >>> d = AlarmDecision(AlarmParams(threshold=0.7, delay_on_s=10.0))
    >>> [d.update(t, p) for t, p in [(0, 0.8), (5, 0.9), (10, 0.9), (15, 0.2)]]
    [False, False, True, True]
    """

    def __init__(self, params: AlarmParams | None = None) -> None:
        self.params = params or AlarmParams()
        self._above_since: float | None = None
        self._below_since: float | None = None
        self._recent: deque[tuple[float, float]] = deque()
        self._recent_sum = 0.0
        self._watch_since: float | None = None
        self._co2_since: float | None = None
        self.active = False
        self.onset = False
        self.slow_onset = False
        """True when the alarm that is on was raised by the slow-confirmation path."""
        self.co2_onset = False
        """True when the alarm that is on was raised by the CO2 path."""

    def _slow_confirmed(self, t: float, p: float) -> bool:
        """Add (t, p) to the slow window; whether a whole window is watched and its mean p is at
        or above ``slow_threshold`` (always False without a slow path)."""
        level = self.params.slow_threshold
        if level is None:
            return False
        window = self.params.slow_window_s
        self._watch_since = t if self._watch_since is None else self._watch_since
        self._recent.append((t, p))
        self._recent_sum += p
        while self._recent and self._recent[0][0] <= t - window:
            self._recent_sum -= self._recent.popleft()[1]
        watched = t - self._watch_since >= window
        return watched and self._recent_sum / len(self._recent) >= level

    def update(
        self,
        t: float,
        p: float,
        heat: bool = False,
        co2_ppm: float = math.nan,
        co2_rate_ppm_s: float = math.nan,
    ) -> bool:
        """Take the probability ``p`` at time ``t`` [s], whether the device gives heat
        evidence (:class:`~embercast.alarm.heat.HeatWatch`: hot, or lost in heat) and its CO2
        [ppm] and 60-s CO2 rate [ppm/s] (NaN: none); return whether the alarm is on. Heat
        evidence raises the alarm at once and holds it; CO2 evidence (:func:`co2_evidence`)
        with p at or above ``co2_gate`` raises it after ``co2_delay_s`` and holds it; once they
        are gone the alarm clears as it would from p.

        >>> prm = AlarmParams(threshold=0.9, co2_gate=0.2, co2_level_ppm=1500.0)
        >>> d = AlarmDecision(prm)
        >>> [d.update(t, 0.3, co2_ppm=1600.0) for t in (0, 5, 10)]
        [False, False, True]
        >>> d.co2_onset, AlarmDecision(prm).update(0, 0.1, co2_ppm=1600.0)
        (True, False)
        """
        self.onset = False
        if heat:
            if not self.active:
                self.active, self.onset, self.slow_onset, self.co2_onset = True, True, False, False
            self._below_since = None
            return True
        if math.isnan(p):
            return self.active
        prm = self.params
        slow = self._slow_confirmed(t, p)
        gated = (
            prm.co2_gate is not None
            and p >= prm.co2_gate
            and co2_evidence(prm, co2_ppm, co2_rate_ppm_s)
        )
        self._co2_since = (t if self._co2_since is None else self._co2_since) if gated else None
        if not self.active:
            if p >= prm.threshold:
                self._above_since = t if self._above_since is None else self._above_since
            else:
                self._above_since = None
            fast = self._above_since is not None and t - self._above_since >= prm.delay_on_s
            by_co2 = self._co2_since is not None and t - self._co2_since >= prm.co2_delay_s
            if fast or slow or by_co2:
                self.active, self.onset = True, True
                self.slow_onset, self.co2_onset = slow and not fast, by_co2 and not (fast or slow)
                self._below_since = None
        elif gated:
            self._below_since = None
        else:
            if p < prm.clear_threshold:
                self._below_since = t if self._below_since is None else self._below_since
                if t - self._below_since >= prm.delay_off_s:
                    self.active, self.slow_onset, self.co2_onset = False, False, False
                    self._above_since = None
                    self._recent.clear()
                    self._recent_sum = 0.0
                    self._watch_since = None
            else:
                self._below_since = None
        return self.active
