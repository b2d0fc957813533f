"""Objects of a thermal scene and their image footprint.

Static objects (boxes, horizontal discs, wall rectangles) have a fixed footprint computed once per
camera with 2x2 supersampling; moving ones (people, flames, plumes) are drawn every frame as
tapered capsules projected into the image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from embercast.scene.geometry import CameraPose, Room, box_entry_exit, room_hits

Vec3 = tuple[float, float, float]


@dataclass(frozen=True, kw_only=True)
class Box:
    """Axis-aligned box (appliance, machine, heater, furniture): corners ``lo``, ``hi`` [m]."""

    lo: Vec3
    hi: Vec3


@dataclass(frozen=True, kw_only=True)
class Disc:
    """Horizontal disc facing up (hob ring, pan, candle top): ``center`` [m], ``radius`` [m]."""

    center: Vec3
    radius: float


@dataclass(frozen=True)
class Footprint:
    """Pixels an object covers: flat indices, coverage share in 0..1 and depth [m]."""

    index: NDArray[np.intp]
    coverage: NDArray[np.float32]
    depth: float


def footprint(shape: Box | Disc, room: Room, pose: CameraPose, supersample: int = 2) -> Footprint:
    """Image footprint of a static object, occluded by the room's walls (not by other objects)."""
    s = supersample
    dirs = pose.rays(s)
    origin = np.asarray(pose.position, dtype=np.float64)
    wall = room_hits(room, pose, s).distance
    if isinstance(shape, Box):
        t_near, t_far = box_entry_exit(origin, dirs, np.asarray(shape.lo), np.asarray(shape.hi))
        hit = (t_near <= t_far) & (t_far > 0) & (t_near < wall)
        t_hit = np.where(hit, np.maximum(t_near, 0.0), np.inf)
    else:
        cz = shape.center[2]
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (cz - origin[2]) / dirs[..., 2]
        p = origin + dirs * t[..., None]
        r2 = (p[..., 0] - shape.center[0]) ** 2 + (p[..., 1] - shape.center[1]) ** 2
        hit = (t > 0) & (r2 <= shape.radius**2) & (t < wall)
        t_hit = np.where(hit, t, np.inf)
    h, w = pose.height, pose.width
    cover = hit.reshape(h, s, w, s).mean(axis=(1, 3)).astype(np.float32).ravel()
    index = np.flatnonzero(cover > 0)
    finite = t_hit[np.isfinite(t_hit)]
    depth = float(finite.mean()) if finite.size else float("inf")
    return Footprint(index=index, coverage=cover[index], depth=depth)


def capsule_coverage(
    pose: CameraPose,
    p0: NDArray[np.float64],
    p1: NDArray[np.float64],
    r0: float,
    r1: float,
) -> tuple[NDArray[np.intp], NDArray[np.float32]]:
    """Image footprint of a tapered capsule from ``p0`` (radius ``r0``) to ``p1`` (radius ``r1``)
    [m], projected through the pinhole: flat pixel indices and coverage in 0..1.

    The silhouette is the set of pixels within the projected radius of the projected axis, with a
    one-pixel soft edge, which keeps sub-pixel objects (a candle flame) at their true share.
    """
    col, row, depth = pose.project(np.stack([p0, p1]))
    if np.all(depth <= 1e-3):
        return np.empty(0, np.intp), np.empty(0, np.float32)
    rad = np.array([r0, r1]) / depth * pose.focal_px
    pad = float(rad.max()) + 1.5
    c_lo, c_hi = (
        int(max(np.floor(col.min() - pad), 0)),
        int(min(np.ceil(col.max() + pad), pose.width - 1)),
    )
    r_lo, r_hi = (
        int(max(np.floor(row.min() - pad), 0)),
        int(min(np.ceil(row.max() + pad), pose.height - 1)),
    )
    if c_lo > c_hi or r_lo > r_hi:
        return np.empty(0, np.intp), np.empty(0, np.float32)
    cc, rr = np.meshgrid(np.arange(c_lo, c_hi + 1) + 0.5, np.arange(r_lo, r_hi + 1) + 0.5)
    axis = np.array([col[1] - col[0], row[1] - row[0]])
    length2 = float(axis @ axis)
    s = np.clip(((cc - col[0]) * axis[0] + (rr - row[0]) * axis[1]) / max(length2, 1e-9), 0.0, 1.0)
    dist = np.hypot(cc - (col[0] + s * axis[0]), rr - (row[0] + s * axis[1]))
    radius = rad[0] + s * (rad[1] - rad[0])
    # area-preserving soft edge: thinner than a pixel, the capsule is drawn one pixel wide at a
    # reduced share, 2 r of its body (1 px^2 per px of length) and 3 r^2 of its end cones (pi/3
    # px^2), so that it keeps its projected area 2 r L + pi r^2
    end = (s <= 0.0) | (s >= 1.0)
    share = np.where(radius >= 0.5, 1.0, np.where(end, 3.0 * radius**2, 2.0 * radius))
    cover = np.clip(np.maximum(radius, 0.5) - dist + 0.5, 0.0, 1.0) * share
    keep = cover > 0.0
    index = (rr[keep].astype(np.intp)) * pose.width + cc[keep].astype(np.intp)
    return index, cover[keep].astype(np.float32)
