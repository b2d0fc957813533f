"""What every feature extractor sees and offers.

A device's stream gives each extractor, at every SCD41 reading time t, a :class:`RowContext`:
the reading, F (the latest usable frame at or before t) and P (the latest usable frame at or
before t - 1 s). Extractors keep their own window state, take one context per ``update`` and
report their values with ``get``; ``names`` says what ``get`` returns, in order.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

FloatImage = NDArray[np.float32]
NAN = float("nan")


@dataclass(frozen=True)
class Frame:
    """A thermal frame: time [s], temperatures (120, 160) [°C], and whether it is an FFC repeat."""

    t_s: float
    celsius: FloatImage
    ffc: bool = False


@dataclass(frozen=True)
class Reading:
    """One SCD41 reading: time [s], CO2 [ppm], temperature [°C], relative humidity [%] (NaN when
    missing)."""

    t_s: float
    co2_ppm: float
    temperature_c: float
    humidity_pct: float


@dataclass(frozen=True)
class RowContext:
    """Inputs of one feature row: the reading at ``t_s``, frames F and P (None when missing) and
    the thermal status (``ok``, ``no_frame``, ``stale``, ``ffc``)."""

    t_s: float
    reading: Reading
    frame: Frame | None
    previous: Frame | None
    status: str


class Extractor(Protocol):
    """A streaming feature family: ``update`` with one row's context, then ``get`` its values."""

    names: tuple[str, ...]

    def update(self, ctx: RowContext) -> None: ...

    def get(self) -> tuple[float, ...]: ...


def ls_slope(times: NDArray[np.float64], values: NDArray[np.float64]) -> float:
    """Least-squares slope of ``values`` over ``times`` [unit/s]; 0 with fewer than 2 points.

    >>> ls_slope(np.array([0.0, 5.0, 10.0]), np.array([1.0, 2.0, 3.0]))
    0.2
    >>> ls_slope(np.array([3.0]), np.array([7.0]))
    0.0
    """
    if times.size < 2:
        return 0.0
    dt = times - times.mean()
    denom = float(dt @ dt)
    return 0.0 if denom == 0.0 else round(float(dt @ (values - values.mean())) / denom, 12)


class Window:
    """Values of the last ``span`` seconds, (t - span, t], NaN values kept out."""

    def __init__(self, span: float) -> None:
        self.span = span
        self._t: deque[float] = deque()
        self._v: deque[float] = deque()

    def push(self, t: float, value: float) -> None:
        """Add a value at ``t`` [s] and forget what fell out of the window."""
        if not np.isnan(value):
            self._t.append(t)
            self._v.append(value)
        while self._t and self._t[0] <= t - self.span:
            self._t.popleft()
            self._v.popleft()

    def slope(self) -> float:
        """Least-squares slope over the window [unit/s] (0 with fewer than 2 values)."""
        return ls_slope(np.fromiter(self._t, float), np.fromiter(self._v, float))

    def values(self) -> NDArray[np.float64]:
        """The window's values, oldest first."""
        return np.fromiter(self._v, float, len(self._v))

    def minimum(self) -> float:
        """Smallest value in the window (NaN when empty)."""
        return min(self._v) if self._v else NAN
