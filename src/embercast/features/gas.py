"""Channels followed over rows: value, change, least-squares slope, rise above the window's
minimum. A channel is any number a row's context gives (a reading, or a statistic of F)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from embercast.features.base import NAN, RowContext, Window, ls_slope
from embercast.physics.species import h2o_ppm_from_rh

Channel = Callable[[RowContext], float]


def co2(ctx: RowContext) -> float:
    """SCD41 CO2 of the row [ppm]."""
    return ctx.reading.co2_ppm


def scd41_temperature(ctx: RowContext) -> float:
    """SCD41 temperature of the row [°C]."""
    return ctx.reading.temperature_c


def scd41_humidity(ctx: RowContext) -> float:
    """SCD41 relative humidity of the row [%]."""
    return ctx.reading.humidity_pct


def scd41_water(ctx: RowContext) -> float:
    """Water vapour at the SCD41 [ppm by volume], from its relative humidity and temperature
    (:func:`embercast.physics.species.h2o_ppm_from_rh`).

    >>> from embercast.features.base import Reading
    >>> round(scd41_water(RowContext(5.0, Reading(5.0, 420.0, 20.0, 50.0), None, None, "")))
    11515
    """
    return float(h2o_ppm_from_rh(ctx.reading.humidity_pct, ctx.reading.temperature_c))


def frame_max(ctx: RowContext) -> float:
    """Hottest pixel of F [°C] (NaN without F)."""
    return NAN if ctx.frame is None else float(ctx.frame.celsius.max())


class Trend:
    """``{prefix}_val``, ``{prefix}_delta`` and ``{prefix}_vel`` of one channel: the value at t,
    its change from the previous row (0 on a device's first row; NaN when either is missing) and
    its least-squares slope over the rows in (t - ``window_s``, t] (0 with fewer than 2) [unit/s].

    >>> from embercast.features.base import Reading
    >>> gas = Trend("gas", co2, 60.0)
    >>> for t, c in [(5.0, 400.0), (10.0, 410.0), (15.0, 430.0)]:
    ...     gas.update(RowContext(t, Reading(t, c, 21.0, 40.0), None, None, "no_frame"))
    >>> gas.get()
    (430.0, 20.0, 3.0)
    """

    def __init__(self, prefix: str, channel: Channel, window_s: float) -> None:
        self.names: tuple[str, ...] = (f"{prefix}_val", f"{prefix}_delta", f"{prefix}_vel")
        self.channel = channel
        self._window = Window(window_s)
        self._previous: float | None = None
        self._values: tuple[float, ...] = (NAN, NAN, NAN)

    def update(self, ctx: RowContext) -> None:
        value = float(self.channel(ctx))
        delta = 0.0 if self._previous is None else value - self._previous
        self._previous = value
        self._window.push(ctx.t_s, value)
        missing = np.isnan(value)
        self._values = (value, NAN if missing else delta, NAN if missing else self._window.slope())

    def get(self) -> tuple[float, ...]:
        return self._values


class Slope:
    """``name``: least-squares slope of a channel over the rows in (t - ``window_s``, t]
    [unit/s]; NaN when the channel is missing at t.

    >>> from embercast.features.base import Reading
    >>> s = Slope("gas_vel_300", co2, 300.0)
    >>> for t in (5.0, 10.0, 15.0):
    ...     s.update(RowContext(t, Reading(t, 2 * t, 21.0, 40.0), None, None, "no_frame"))
    >>> s.get()
    (2.0,)
    """

    def __init__(self, name: str, channel: Channel, window_s: float) -> None:
        self.names: tuple[str, ...] = (name,)
        self.channel = channel
        self._window = Window(window_s)
        self._value = NAN

    def update(self, ctx: RowContext) -> None:
        value = float(self.channel(ctx))
        self._window.push(ctx.t_s, value)
        self._value = NAN if np.isnan(value) else self._window.slope()

    def get(self) -> tuple[float, ...]:
        return (self._value,)


class Rise:
    """``name``: the channel's value at t minus its minimum over (t - ``window_s``, t] [unit];
    NaN when the channel is missing at t.

    >>> from embercast.features.base import Reading
    >>> r = Rise("gas_rise_600", co2, 600.0)
    >>> for t, c in [(5.0, 450.0), (10.0, 420.0), (15.0, 500.0)]:
    ...     r.update(RowContext(t, Reading(t, c, 21.0, 40.0), None, None, "no_frame"))
    >>> r.get()
    (80.0,)
    """

    def __init__(self, name: str, channel: Channel, window_s: float) -> None:
        self.names: tuple[str, ...] = (name,)
        self.channel = channel
        self._window = Window(window_s)
        self._value = NAN

    def update(self, ctx: RowContext) -> None:
        value = float(self.channel(ctx))
        self._window.push(ctx.t_s, value)
        self._value = NAN if np.isnan(value) else value - self._window.minimum()

    def get(self) -> tuple[float, ...]:
        return (self._value,)


class SlopeAgainst:
    """``name``: least-squares slope of channel ``y`` against channel ``x`` over the rows in
    (t - ``window_s``, t] where both are present [unit of y per unit of x]; NaN when either is
    missing at t or ``x`` spans less than ``min_span`` in the window (too little change to tell
    a ratio from sensor noise).

    With ``y`` water vapour and ``x`` CO2 (both ppm) it is the molar water-to-CO2 ratio of what
    is adding them to the room: the zone's dilution and ventilation act on both alike, so the
    ratio of their changes is the ratio of their sources. People give off 5 to 6 molecules of
    water per CO2 sitting or at office work, more when active (77 g/h of water against
    0.005 L/s of CO2 at 1.2 met: :func:`embercast.physics.species.occupant_h2o_rate`), a gas
    flame about 2 (methane), burning or smouldering wood, paper and foam about 1 (fuel yields,
    :mod:`embercast.synth.fuels`).

    >>> from embercast.features.base import Reading
    >>> s = SlopeAgainst("h2o_per_co2_600", scd41_water, co2, 600.0, min_span=100.0)
    >>> for t, c, rh in [(5.0, 500.0, 40.0), (10.0, 600.0, 41.0), (15.0, 700.0, 42.0)]:
    ...     s.update(RowContext(t, Reading(t, c, 20.0, rh), None, None, "no_frame"))
    >>> round(s.get()[0], 2)  # +1 % RH at 20 °C is +230 ppm of water per +100 ppm of CO2
    2.3
    """

    def __init__(
        self, name: str, y: Channel, x: Channel, window_s: float, *, min_span: float
    ) -> None:
        self.names: tuple[str, ...] = (name,)
        self.channels: tuple[Channel, ...] = (y, x)
        self.min_span = min_span
        self._x = Window(window_s)
        self._y = Window(window_s)
        self._value = NAN

    def update(self, ctx: RowContext) -> None:
        y_channel, x_channel = self.channels
        y, x = float(y_channel(ctx)), float(x_channel(ctx))
        missing = bool(np.isnan(x) or np.isnan(y))
        self._x.push(ctx.t_s, NAN if missing else x)
        self._y.push(ctx.t_s, NAN if missing else y)
        xs = self._x.values()
        if missing or xs.max() - xs.min() < self.min_span:
            self._value = NAN
        else:
            self._value = ls_slope(xs, self._y.values())

    def get(self) -> tuple[float, ...]:
        return (self._value,)
