"""Share of hot pixels and of the largest hot region in F."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from embercast.features.base import NAN, RowContext

HOT_C = 40.0
"""A pixel above this is hot [°C] (DESIGN 4.2)."""
EIGHT = np.ones((3, 3), dtype=bool)
"""8-connectivity."""


def hot_regions(img: np.ndarray, threshold: float = HOT_C) -> tuple[np.ndarray, int]:
    """Labels of the 8-connected regions of pixels above ``threshold`` [°C], and their count."""
    labels, count = ndimage.label(img > threshold, structure=EIGHT)
    return labels, int(count)


def hot_area_pct(ctx: RowContext) -> float:
    """100 x share of the pixels of F above :data:`HOT_C` [%] (NaN without F)."""
    return NAN if ctx.frame is None else 100.0 * float(np.mean(ctx.frame.celsius > HOT_C))


class HotArea:
    """``t_hot_area_pct``: 100 x share of pixels above 40 °C; ``t_hot_largest_blob_pct``: 100 x
    pixels of the largest 8-connected hot region / all pixels [%].

    >>> from embercast.features.base import Frame, Reading
    >>> img = np.zeros((120, 160), np.float32); img[10:13, 10:13] = 50.0; img[50, 50] = 60.0
    >>> ha = HotArea()
    >>> ha.update(RowContext(5.0, Reading(5.0, 420.0, 21.0, 40.0), Frame(5.0, img), None, "ok"))
    >>> [round(v, 5) for v in ha.get()]
    [0.05208, 0.04688]
    """

    names: tuple[str, ...] = ("t_hot_area_pct", "t_hot_largest_blob_pct")

    def __init__(self) -> None:
        self._values: tuple[float, ...] = (NAN, NAN)

    def update(self, ctx: RowContext) -> None:
        if ctx.frame is None:
            self._values = (NAN, NAN)
            return
        img = ctx.frame.celsius
        hot = img > HOT_C
        n_hot = int(hot.sum())
        largest = 0
        if n_hot:
            labels, _ = hot_regions(img)
            largest = int(np.bincount(labels.ravel())[1:].max())
        self._values = (100.0 * n_hot / img.size, 100.0 * largest / img.size)

    def get(self) -> tuple[float, ...]:
        return self._values
