"""Objects of a thermal scene and their image footprint.

Static objects (boxes, horizontal discs, wall rectangles) have a fixed footprint computed once per
camera with 2x2 supersampling (a disc smaller than a few pixels keeps its true projected area, so
a glowing ember a fraction of a pixel wide still adds its share of radiance); moving ones (people,
flames, plumes) are drawn every frame as tapered capsules projected into the image.
"""

from __future__ import annotations

import math
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
    """Horizontal disc facing up (hob ring, pan, candle top): ``center`` [m], ``radius`` [m];
    an annulus when ``inner`` [m] > 0 (the band a spreading smoulder front has reached)."""

    center: Vec3
    radius: float
    inner: float = 0.0


@dataclass(frozen=True)
class Footprint:
    """Pixels an object covers: flat indices, coverage share in 0..1 and depth [m].

    ``subpixel`` marks a disc drawn area-preserving (:func:`small_disc`): it is composited over
    whatever the pixel shows, so it is drawn after the sampled objects.
    """

    index: NDArray[np.intp]
    coverage: NDArray[np.float32]
    depth: float
    subpixel: bool = False


def hit_range(
    shape: Box | Disc, origin: NDArray[np.float64], dirs: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Range [m] along each unit ray ``dirs`` (..., 3) from ``origin`` to where it first meets
    ``shape`` (inf where it misses)."""
    if isinstance(shape, Box):
        t_near, t_far = box_entry_exit(origin, dirs, np.asarray(shape.lo), np.asarray(shape.hi))
        hit = (t_near <= t_far) & (t_far > 0)
        return np.where(hit, np.maximum(t_near, 0.0), np.inf)
    cz = shape.center[2]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (cz - origin[2]) / dirs[..., 2]
    p = origin + dirs * t[..., None]
    r2 = (p[..., 0] - shape.center[0]) ** 2 + (p[..., 1] - shape.center[1]) ** 2
    inside = (r2 <= shape.radius**2) & (r2 >= shape.inner**2)
    return np.where((t > 0) & inside, t, np.inf)


def static_footprints(
    shapes: list[Box | Disc], room: Room, pose: CameraPose, supersample: int = 2
) -> list[Footprint]:
    """Image footprints of static objects, each sub-pixel ray showing only the nearest surface
    it meets (a z-buffer): objects hide each other and are hidden by the room's walls. An ember
    on top of the item it burns stays visible; an item behind a sofa does not.

    Sub-pixel discs (projected area below :data:`SMALL_DISC_PX`) keep their true area
    (:func:`small_disc`), drawn when nothing is nearer along the ray to their centre; they take
    no part in the sampled z-buffer (they are composited over the pixel, so the item under an
    ember keeps its rays and the ember's share is not taken twice).
    """
    s = supersample
    dirs = pose.rays(s)
    origin = np.asarray(pose.position, dtype=np.float64)
    wall = room_hits(room, pose, s).distance
    h, w = pose.height, pose.width
    pixel_wall = wall.reshape(h, s, w, s).min(axis=(1, 3))
    small: dict[int, Footprint] = {}
    for k, shape in enumerate(shapes):
        if isinstance(shape, Disc):
            others = [x for j, x in enumerate(shapes) if j != k]
            fp = small_disc(shape, pose, pixel_wall, others)
            if fp is not None:
                small[k] = fp
    ranges = [
        np.full(wall.shape, np.inf) if k in small else np.where(r < wall, r, np.inf)
        for k, r in ((k, hit_range(x, origin, dirs)) for k, x in enumerate(shapes))
    ]
    nearest = np.argmin(np.stack(ranges), axis=0) if ranges else None
    result: list[Footprint] = []
    for k, t_hit in enumerate(ranges):
        if k in small:
            result.append(small[k])
            continue
        seen = np.isfinite(t_hit) & (nearest == k)
        cover = seen.reshape(h, s, w, s).mean(axis=(1, 3)).astype(np.float32).ravel()
        index = np.flatnonzero(cover > 0)
        depth = float(t_hit[seen].mean()) if seen.any() else float("inf")
        result.append(Footprint(index=index, coverage=cover[index], depth=depth))
    return result


def footprint(shape: Box | Disc, room: Room, pose: CameraPose, supersample: int = 2) -> Footprint:
    """Image footprint of one static object alone in the room (hidden only by the walls)."""
    return static_footprints([shape], room, pose, supersample)[0]


SMALL_DISC_PX = 1.0
"""A disc whose projected area is below this [px^2] is drawn area-preserving, not sampled."""


def small_disc(
    shape: Disc,
    pose: CameraPose,
    wall: NDArray[np.float64],
    others: list[Box | Disc] | None = None,
) -> Footprint | None:
    """Footprint of a disc smaller than :data:`SMALL_DISC_PX`, spread bilinearly over the pixels
    around its projected centre so that the coverage sums to its projected area [px^2]
    (point-sampling would draw it whole or not at all); None for a larger disc.

    A small planar patch of area A [m^2] at range d [m], seen at angle theta from its normal and
    at depth z [m] along the view axis, covers A cos(theta) f^2 d / z^3 pixels (f: focal length
    [px]; pinhole projection). ``wall`` is the range to the room's surfaces per pixel [m]: a disc
    behind a wall, or behind one of ``others`` along the ray to its centre, is not drawn.

    >>> from embercast.scene.geometry import CameraPose
    >>> pose = CameraPose(position=(0.0, 0.0, 3.0), yaw=45.0, pitch=35.0)
    >>> walls = np.full((pose.height, pose.width), 50.0)
    >>> fp = small_disc(Disc(center=(3.0, 3.0, 0.5), radius=0.02), pose, walls)
    >>> round(float(fp.coverage.sum()), 3), len(fp.index) <= 4
    (0.576, True)
    >>> small_disc(Disc(center=(3.0, 3.0, 0.5), radius=0.1), pose, walls) is None
    True
    """
    center = np.asarray(shape.center, dtype=np.float64)
    rel = center - np.asarray(pose.position, dtype=np.float64)
    rng = float(np.linalg.norm(rel))
    col, row, depth = (float(v[0]) for v in pose.project(center[None, :]))
    if rng <= 0.0 or depth <= 1e-3:
        return None
    cos_theta = abs(rel[2]) / rng
    disc_area = math.pi * (shape.radius**2 - shape.inner**2)  # [m^2]
    area = disc_area * cos_theta * pose.focal_px**2 * rng / depth**3
    if area >= SMALL_DISC_PX:
        return None
    empty = Footprint(np.empty(0, np.intp), np.empty(0, np.float32), float("inf"))
    ray = rel / rng
    origin = np.asarray(pose.position, dtype=np.float64)
    if any(float(hit_range(x, origin, ray)) < rng - 1e-3 for x in others or ()):
        return empty
    x, y = col - 0.5, row - 0.5  # pixel centres sit at +0.5
    x0, y0 = math.floor(x), math.floor(y)
    fx, fy = x - x0, y - y0
    index, coverage = [], []
    for dy, wy in ((0, 1.0 - fy), (1, fy)):
        for dx, wx in ((0, 1.0 - fx), (1, fx)):
            r, c = y0 + dy, x0 + dx
            share = wx * wy * area
            if share > 0 and 0 <= r < pose.height and 0 <= c < pose.width and rng < wall[r, c]:
                index.append(r * pose.width + c)
                coverage.append(min(share, 1.0))
    if not index:
        return empty
    return Footprint(
        index=np.asarray(index, np.intp),
        coverage=np.asarray(coverage, np.float32),
        depth=rng,
        subpixel=True,
    )


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
    # pixel centres: a row of columns and a column of rows, broadcast (no full grids)
    cc = np.arange(c_lo, c_hi + 1) + 0.5
    rr = (np.arange(r_lo, r_hi + 1) + 0.5)[:, None]
    axis = np.array([col[1] - col[0], row[1] - row[0]])
    length2 = float(axis @ axis)
    c0, r0_px, a_c, a_r = float(col[0]), float(row[0]), float(axis[0]), float(axis[1])
    s = np.clip(((cc - c0) * a_c + (rr - r0_px) * a_r) / max(length2, 1e-9), 0.0, 1.0)
    dist = np.hypot(cc - (c0 + s * a_c), rr - (r0_px + s * a_r))
    radius = rad[0] + s * (rad[1] - rad[0])
    # area-preserving soft edge: thinner than a pixel, the capsule is drawn one pixel wide at a
    # reduced share, 2 r of its body (1 px^2 per px of length) and 3 r^2 of its end cones (pi/3
    # px^2), so that it keeps its projected area 2 r L + pi r^2
    end = (s <= 0.0) | (s >= 1.0)
    share = np.where(radius >= 0.5, 1.0, np.where(end, 3.0 * radius**2, 2.0 * radius))
    cover = np.clip(np.maximum(radius, 0.5) - dist + 0.5, 0.0, 1.0) * share
    rows, cols = np.nonzero(cover > 0.0)
    index = ((rows + r_lo) * pose.width + (cols + c_lo)).astype(np.intp)
    return index, cover[rows, cols].astype(np.float32)
