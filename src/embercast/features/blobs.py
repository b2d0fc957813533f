"""Hot regions of F over time, and the flicker of hot pixels between P and F."""

from __future__ import annotations

import numpy as np

from embercast.features.base import NAN, RowContext, Window
from embercast.features.hot_area import HOT_C, hot_regions

FLICKER_C = 60.0
"""Pixels hotter than this in F or P count for the flicker [°C]."""


class HotBlobs:
    """``hot_blobs`` (8-connected regions above 40 °C) and ``hot_area_growth`` (least-squares
    slope of the hot-area share over the rows in (t - ``window_s``, t]) [%/s].

    >>> from embercast.features.base import Frame, Reading
    >>> img = np.zeros((120, 160), np.float32); img[5, 5] = 50.0; img[50, 50] = 50.0
    >>> hb = HotBlobs()
    >>> hb.update(RowContext(5.0, Reading(5.0, 420.0, 21.0, 40.0), Frame(5.0, img), None, "ok"))
    >>> hb.get()
    (2.0, 0.0)
    """

    names: tuple[str, ...] = ("hot_blobs", "hot_area_growth")

    def __init__(self, window_s: float = 30.0) -> None:
        self._window = Window(window_s)
        self._values: tuple[float, ...] = (NAN, NAN)

    def update(self, ctx: RowContext) -> None:
        if ctx.frame is None:
            self._window.push(ctx.t_s, NAN)
            self._values = (NAN, NAN)
            return
        img = ctx.frame.celsius
        _, count = hot_regions(img)
        self._window.push(ctx.t_s, 100.0 * float((img > HOT_C).mean()))
        self._values = (float(count), self._window.slope())

    def get(self) -> tuple[float, ...]:
        return self._values


class HotFlicker:
    """``hot_flicker``: mean |F - P| over the pixels hotter than 60 °C in F or P [K] (0 when
    there are none; NaN without F or P). Flames flicker at a few hertz; heaters and hobs do not.

    >>> from embercast.features.base import Frame, Reading
    >>> p = np.full((120, 160), 20.0, np.float32); p[0, :2] = 300.0
    >>> f = p.copy(); f[0, 1] = 200.0
    >>> hf = HotFlicker()
    >>> r = Reading(5.0, 420.0, 21.0, 40.0)
    >>> hf.update(RowContext(5.0, r, Frame(5.0, f), Frame(4.0, p), "ok"))
    >>> hf.get()
    (50.0,)
    """

    names: tuple[str, ...] = ("hot_flicker",)

    def __init__(self) -> None:
        self._value = NAN

    def update(self, ctx: RowContext) -> None:
        if ctx.frame is None or ctx.previous is None:
            self._value = NAN
            return
        f, p = ctx.frame.celsius, ctx.previous.celsius
        hot = (f > FLICKER_C) | (p > FLICKER_C)
        self._value = float(np.abs(f[hot] - p[hot]).mean()) if hot.any() else 0.0

    def get(self) -> tuple[float, ...]:
        return (self._value,)


class ThermalOk:
    """``thermal_ok``: 1 when F is usable, 0 when the camera is missing (a feature, so models
    can weigh the gas channels accordingly).

    >>> from embercast.features.base import Reading
    >>> t = ThermalOk()
    >>> t.update(RowContext(5.0, Reading(5.0, 420.0, 21.0, 40.0), None, None, "stale"))
    >>> t.get()
    (0.0,)
    """

    names: tuple[str, ...] = ("thermal_ok",)

    def __init__(self) -> None:
        self._value = 0.0

    def update(self, ctx: RowContext) -> None:
        self._value = 0.0 if ctx.frame is None else 1.0

    def get(self) -> tuple[float, ...]:
        return (self._value,)
