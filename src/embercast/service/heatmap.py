"""A thermal frame as a PNG heat map, with numpy and zlib only.

Temperatures map to an inferno-like colour scale (black, purple, red, orange, pale yellow) over
a range that spans at least :data:`SPAN_C` and stretches to the frame's own coldest and hottest
pixels, so a room at rest stays dark and even, and a hot spot stands out in bright colours.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np
from numpy.typing import NDArray

SPAN_C = (10.0, 60.0)
"""The smallest range the colour scale covers [°C]."""
_STOPS = np.array([0.0, 0.25, 0.5, 0.75, 1.0])
_COLOURS = np.array(
    [(0, 0, 4), (87, 16, 110), (188, 55, 84), (249, 142, 9), (252, 255, 164)], dtype=np.float64
)
COLOURMAP: NDArray[np.uint8] = (
    np.stack(
        [np.interp(np.linspace(0.0, 1.0, 256), _STOPS, _COLOURS[:, c]) for c in range(3)], axis=1
    )
    .round()
    .astype(np.uint8)
)
"""256 RGB colours from cold to hot."""


def celsius(frame: NDArray[np.uint16]) -> NDArray[np.float64]:
    """A raw frame [cK] in degrees Celsius [°C]."""
    return np.asarray(frame, dtype=np.float64) / 100.0 - 273.15


def colour_range(temperatures: NDArray[np.float64]) -> tuple[float, float]:
    """The range of the colour scale for ``temperatures`` [°C]: :data:`SPAN_C` widened to
    their minimum and maximum.

    >>> colour_range(np.array([21.0, 24.5]))
    (10.0, 60.0)
    >>> colour_range(np.array([5.0, 320.0]))
    (5.0, 320.0)
    """
    return (
        min(SPAN_C[0], float(temperatures.min())),
        max(SPAN_C[1], float(temperatures.max())),
    )


def heat_rgb(frame: NDArray[np.uint16]) -> NDArray[np.uint8]:
    """The colours of a raw frame [cK], an (H, W, 3) array of RGB bytes."""
    c = celsius(frame)
    lo, hi = colour_range(c)
    index = np.clip((c - lo) / (hi - lo) * 255.0, 0.0, 255.0).astype(np.uint8)
    rgb: NDArray[np.uint8] = COLOURMAP[index]
    return rgb


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_rgb(rgb: NDArray[np.uint8]) -> bytes:
    """An (H, W, 3) array of RGB bytes as a PNG file (8 bits per channel, no filter).

    >>> png_rgb(np.zeros((2, 3, 3), np.uint8))[:8]
    b'\\x89PNG\\r\\n\\x1a\\n'
    """
    height, width, _ = rgb.shape
    rows = np.concatenate([np.zeros((height, 1), np.uint8), rgb.reshape(height, -1)], axis=1)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(np.ascontiguousarray(rows).tobytes(), 6))
        + _chunk(b"IEND", b"")
    )


def heat_png(frame: NDArray[np.uint16]) -> bytes:
    """A raw frame [cK] as a PNG heat map of its own size (160 x 120 for a Lepton 3.5)."""
    return png_rgb(heat_rgb(frame))
