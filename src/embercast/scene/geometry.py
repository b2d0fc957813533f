"""Room and camera geometry: pixel rays, where each ray meets the room, projection of points.

Coordinates: x along the room's length, y along its width, z up, origin at a floor corner [m].
Image: row 0 at the top, column 0 at the left, pinhole camera.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from embercast.errors import InputError
from embercast.sensors.datasheets import LEPTON35

SURFACES: tuple[str, ...] = ("floor", "ceiling", "wall_x0", "wall_x1", "wall_y0", "wall_y1")
"""Surface ids of the room box, in the order of :attr:`RoomHits.surface`."""


@dataclass(frozen=True, kw_only=True)
class Room:
    """A box-shaped room.

    Attributes: ``length`` (x), ``width`` (y), ``height`` (z) [m].
    """

    length: float
    width: float
    height: float

    def __post_init__(self) -> None:
        for name in ("length", "width", "height"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0.5):
                raise InputError(
                    f"invalid room: {name} must be a finite length > 0.5 m, got {value!r}"
                )

    @property
    def volume(self) -> float:
        """Room volume [m^3]."""
        return self.length * self.width * self.height

    @property
    def surface_area(self) -> float:
        """Area of floor, ceiling and walls [m^2]."""
        lw = self.length * self.width
        return 2 * lw + 2 * self.height * (self.length + self.width)


@dataclass(frozen=True, kw_only=True)
class CameraPose:
    """Position and orientation of a camera in a room.

    ``position`` [m]; ``yaw`` [deg] heading in the x-y plane (0 = +x, 90 = +y); ``pitch`` [deg]
    downward tilt (positive looks down); ``hfov`` horizontal field of view [deg].
    """

    position: tuple[float, float, float]
    yaw: float
    pitch: float
    hfov: float = 57.0
    width: int = LEPTON35.width_px
    height: int = LEPTON35.height_px

    @cached_property
    def focal_px(self) -> float:
        """Focal length [px]: half the image width over tan(hfov / 2)."""
        return (self.width / 2) / math.tan(math.radians(self.hfov) / 2)

    @cached_property
    def basis(self) -> NDArray[np.float64]:
        """Rows: camera right, down and forward unit vectors in room coordinates."""
        yaw, pitch = math.radians(self.yaw), math.radians(self.pitch)
        fwd = np.array(
            [math.cos(pitch) * math.cos(yaw), math.cos(pitch) * math.sin(yaw), -math.sin(pitch)]
        )
        right = np.array([math.sin(yaw), -math.cos(yaw), 0.0])
        down = np.cross(fwd, right)
        return np.stack([right, down, fwd])

    def rays(self, supersample: int = 1) -> NDArray[np.float64]:
        """Unit ray directions of every (sub-)pixel, shape (H*s, W*s, 3)."""
        s = supersample
        cols = (np.arange(self.width * s) + 0.5) / s - self.width / 2
        rows = (np.arange(self.height * s) + 0.5) / s - self.height / 2
        u, v = np.meshgrid(cols, rows)
        cam = np.stack([u, v, np.full_like(u, self.focal_px)], axis=-1)
        world = cam @ self.basis
        return np.asarray(world / np.linalg.norm(world, axis=-1, keepdims=True), dtype=np.float64)

    def project(
        self, points: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """Image column, row [px] and depth along the view axis [m] of points (N, 3)."""
        rel = np.asarray(points, dtype=np.float64) - np.asarray(self.position)
        cam = rel @ self.basis.T
        depth = np.maximum(cam[:, 2], 1e-3)
        col = cam[:, 0] / depth * self.focal_px + self.width / 2
        row = cam[:, 1] / depth * self.focal_px + self.height / 2
        return col, row, depth

    def sees(self, points: NDArray[np.float64]) -> NDArray[np.bool_]:
        """Whether each point (N, 3) [m] is in front of the camera and projects inside the
        frame: its field of view, not counting what objects in the room hide.

        >>> pose = CameraPose(position=(0.0, 0.0, 2.5), yaw=45.0, pitch=30.0)
        >>> pose.sees(np.array([[2.0, 2.0, 0.5], [0.1, 3.0, 0.5], [-1.0, -1.0, 0.5]])).tolist()
        [True, False, False]
        """
        rel = np.asarray(points, dtype=np.float64) - np.asarray(self.position)
        col, row, _ = self.project(points)
        ahead = rel @ self.basis[2] > 0.0
        return np.asarray(
            ahead & (col >= 0) & (col < self.width) & (row >= 0) & (row < self.height), dtype=bool
        )


@dataclass(frozen=True)
class RoomHits:
    """Where each pixel's ray meets the room: point (H, W, 3) [m], surface id (H, W), range [m]."""

    point: NDArray[np.float64]
    surface: NDArray[np.int8]
    distance: NDArray[np.float64]


def box_entry_exit(
    origin: NDArray[np.float64],
    dirs: NDArray[np.float64],
    lo: NDArray[np.float64],
    hi: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Slab test: ray parameters where rays ``origin + t dirs`` enter and leave the box lo..hi."""
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / dirs
        t1 = (lo - origin) * inv
        t2 = (hi - origin) * inv
    t_near = np.nanmax(np.minimum(t1, t2), axis=-1)
    t_far = np.nanmin(np.maximum(t1, t2), axis=-1)
    return t_near, t_far


def room_hits(room: Room, pose: CameraPose, supersample: int = 1) -> RoomHits:
    """Intersect every pixel ray with the inside of the room box."""
    origin = np.asarray(pose.position, dtype=np.float64)
    dirs = pose.rays(supersample)
    hi = np.array([room.length, room.width, room.height])
    with np.errstate(divide="ignore", invalid="ignore"):
        t_axis = np.where(
            dirs > 0, (hi - origin) / dirs, np.where(dirs < 0, -origin / dirs, np.inf)
        )
    axis = np.argmin(t_axis, axis=-1)
    dist = np.take_along_axis(t_axis, axis[..., None], axis=-1)[..., 0]
    point = origin + dirs * dist[..., None]
    positive = np.take_along_axis(dirs, axis[..., None], axis=-1)[..., 0] > 0
    # axis 2 -> floor (0) / ceiling (1); axis 0 -> wall_x0 (2) / wall_x1 (3); axis 1 -> 4 / 5
    surface = np.where(axis == 2, 0, np.where(axis == 0, 2, 4)) + positive.astype(np.int64)
    return RoomHits(point=point, surface=surface.astype(np.int8), distance=dist)
