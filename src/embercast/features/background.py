"""New hot objects: F against a slowly learned background, so static hot machinery, a radiator or
a warm window fade into the background while something that newly heats up stands out."""

from __future__ import annotations

from collections import deque

import numpy as np
from numpy.typing import NDArray

from embercast.features.base import NAN, RowContext
from embercast.features.hot_area import hot_regions

NEW_EXCESS_K = 8.0
"""A pixel this much above its background is new-hot [K] (when also above NEW_MIN_C)."""
NEW_MIN_C = 35.0
"""New-hot pixels are also above this temperature [°C]."""


class NewHotObject:
    """``newhot_area_pct`` (share of new-hot pixels) [%], ``newhot_max_excess`` (largest F minus
    background) [K], ``newhot_blobs`` (8-connected new-hot regions), ``newhot_age_s`` (how
    long new-hot pixels have been present without a break [s]; 0 without any) and
    ``newhot_onsets_1800`` (how many such stretches began in the last ``onset_window_s``, 30 min).
    A smouldering item stays new-hot for many minutes and never switches off; a toaster or a
    passing person stays a few minutes, and a heater, hob or machine on its thermostat comes
    and goes.

    The background B follows F as an exponential mean with time constant ``tau_s`` (``tau_hot_s``
    on pixels that are new-hot now, so a growing fire is not absorbed quickly); it starts as the
    device's first frame. A static object hot from the start is in B from the start.

    >>> from embercast.features.base import Frame, Reading
    >>> nh = NewHotObject()
    >>> room = np.full((120, 160), 21.0, np.float32); room[5:10, 5:10] = 90.0  # a hot machine
    >>> ctx = lambda t, img: RowContext(t, Reading(t, 420.0, 21.0, 40.0), Frame(t, img), None, "ok")
    >>> nh.update(ctx(5.0, room)); nh.get()
    (0.0, 0.0, 0.0, 0.0, 0.0)
    >>> fire = room.copy(); fire[60:62, 80:82] = 200.0
    >>> nh.update(ctx(10.0, fire)); [round(v, 3) for v in nh.get()]
    [0.021, 179.0, 1.0, 0.0, 1.0]
    >>> nh.update(ctx(15.0, fire)); nh.get()[3:]
    (5.0, 1.0)
    >>> nh.update(ctx(20.0, room)); nh.update(ctx(25.0, fire)); nh.get()[3:]  # off, on again
    (0.0, 2.0)
    """

    names: tuple[str, ...] = (
        "newhot_area_pct",
        "newhot_max_excess",
        "newhot_blobs",
        "newhot_age_s",
        "newhot_onsets_1800",
    )

    def __init__(
        self, tau_s: float = 600.0, tau_hot_s: float = 3600.0, onset_window_s: float = 1800.0
    ) -> None:
        self.tau_s, self.tau_hot_s, self.onset_window_s = tau_s, tau_hot_s, onset_window_s
        self._onsets: deque[float] = deque()
        self._background: NDArray[np.float32] | None = None
        self._t: float | None = None
        self._since: float | None = None
        self._values: tuple[float, ...] = (NAN,) * 5

    def update(self, ctx: RowContext) -> None:
        if ctx.frame is None:
            self._values = (NAN,) * 5
            return
        img = ctx.frame.celsius.astype(np.float32)
        if self._background is None or self._t is None:
            self._background = img.copy()
            self._t = ctx.t_s
        excess = img - self._background
        new = (excess > NEW_EXCESS_K) & (img > NEW_MIN_C)
        _, blobs = hot_regions(np.where(new, 1.0, 0.0), 0.5) if new.any() else (None, 0)
        if blobs == 0:
            self._since = None
        elif self._since is None:
            self._since = ctx.t_s
            self._onsets.append(ctx.t_s)
        while self._onsets and self._onsets[0] <= ctx.t_s - self.onset_window_s:
            self._onsets.popleft()
        age = 0.0 if self._since is None else ctx.t_s - self._since
        self._values = (
            100.0 * float(new.mean()),
            float(max(excess.max(), 0.0)),
            float(blobs),
            age,
            float(len(self._onsets)),
        )
        dt = max(ctx.t_s - self._t, 0.0)
        rate = np.where(new, 1.0 - np.exp(-dt / self.tau_hot_s), 1.0 - np.exp(-dt / self.tau_s))
        self._background += (rate * excess).astype(np.float32)
        self._t = ctx.t_s

    def get(self) -> tuple[float, ...]:
        return self._values
