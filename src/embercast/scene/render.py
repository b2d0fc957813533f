"""Render the apparent (brightness) temperature a thermal camera sees, frame by frame.

The renderer is set up once per scenario and camera: the room's surfaces, their base temperatures
and texture, the weight maps of ceiling-jet and hot-layer heating, and the footprints of static
objects. Each frame then costs a few vectorised additions plus the moving objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import gaussian_filter

from embercast.physics.ceiling_jet import alpert_radial_factor
from embercast.physics.radiation import band_radiance, brightness_temperature
from embercast.scene.geometry import CameraPose, Room, room_hits
from embercast.scene.objects import (
    Box,
    Disc,
    Footprint,
    capsule_coverage,
    static_footprints,
)

SURFACE_EMISSIVITY = 0.93
"""Emissivity of painted walls, ceiling and floor [-]."""


@dataclass(frozen=True, kw_only=True)
class StaticObject:
    """A static object of the scene: its shape and emissivity [-]."""

    name: str
    shape: Box | Disc
    emissivity: float = 0.95


@dataclass(frozen=True, kw_only=True)
class Capsule:
    """A moving object for one frame: axis ends [m], radii [m], temperature [°C], emissivity [-].

    Capsules are seen as semi-transparent (flames, hot gas, and people, who are nearly opaque):
    what is behind shows through with weight 1 - emissivity (Kirchhoff, no reflection).
    """

    p0: tuple[float, float, float]
    p1: tuple[float, float, float]
    r0: float
    r1: float
    temp: float
    emissivity: float


@dataclass(kw_only=True)
class FrameState:
    """Everything that changes between frames.

    ``ambient`` room air temperature [°C]; ``jet`` surface ceiling-jet level Q^(2/3) after the
    surface lag [kW^(2/3)]; ``layer`` hot-layer excess of the upper surfaces [K]; ``sun`` floor
    patch (x, y, half-size [m], excess [K]) or None; ``objects`` temperature of each static object
    [°C]; ``capsules`` moving objects, drawn far to near.
    """

    ambient: float
    jet: float = 0.0
    layer: float = 0.0
    sun: tuple[float, float, float, float] | None = None
    objects: NDArray[np.float64] = field(default_factory=lambda: np.empty(0))
    capsules: list[Capsule] = field(default_factory=list)


class SceneRenderer:
    """Apparent-temperature renderer for one room, one camera and its static objects.

    Parameters
    ----------
    room, pose : geometry
    objects : static objects
    fire_xy : horizontal position of the fire axis [m], or None without a fire
    fire_height : ceiling height above the fuel [m]
    layer_depth : depth of the hot layer below the ceiling [m]
    texture_k : standard deviation of the surfaces' static temperature texture [K]
    rng : random generator for the texture
    """

    def __init__(
        self,
        room: Room,
        pose: CameraPose,
        objects: list[StaticObject],
        *,
        fire_xy: tuple[float, float] | None,
        fire_height: float,
        layer_depth: float,
        texture_k: float,
        rng: np.random.Generator,
    ) -> None:
        self.pose = pose
        hits = room_hits(room, pose)
        z = hits.point[..., 2]
        texture = gaussian_filter(rng.standard_normal(z.shape), sigma=6.0)
        texture *= texture_k / max(float(texture.std()), 1e-9)
        floor_cool = np.where(hits.surface == 0, -0.6, 0.0) + 0.4 * (z / room.height - 0.5)
        self._base = (texture + floor_cool).astype(np.float32).ravel()
        upper = np.clip(
            (z - (room.height - layer_depth)) / max(0.3 * layer_depth, 0.05) + 0.5, 0, 1
        )
        self._layer_w = (upper * np.where(hits.surface == 0, 0.0, 1.0)).astype(np.float32).ravel()
        if fire_xy is None:
            self._jet_w = np.zeros(z.size, np.float32)
        else:
            r = np.hypot(hits.point[..., 0] - fire_xy[0], hits.point[..., 1] - fire_xy[1])
            g = alpert_radial_factor(fire_height, r + (room.height - z))
            turn = np.clip(1.0 - (room.height - z) / (0.15 * room.height), 0.0, 1.0)
            self._jet_w = (
                (g * np.where(hits.surface == 1, 1.0, turn * (hits.surface != 0)))
                .astype(np.float32)
                .ravel()
            )
        floor = np.flatnonzero(hits.surface.ravel() == 0)
        self._floor_idx = floor
        self._floor_xy = hits.point.reshape(-1, 3)[floor, :2]
        self._objects = objects
        fps = static_footprints([o.shape for o in objects], room, pose)
        # far to near, sub-pixel discs last: they are composited over what the pixel shows
        order = sorted(range(len(fps)), key=lambda i: (fps[i].subpixel, -fps[i].depth))
        self._footprints: list[tuple[int, Footprint]] = [(i, fps[i]) for i in order]

    def render(self, state: FrameState) -> NDArray[np.float32]:
        """Apparent temperature [°C] of every pixel, shape (H, W), before the sensor model."""
        img = self._base + np.float32(state.ambient)
        if state.jet:
            img += np.float32(state.jet) * self._jet_w
        if state.layer:
            img += np.float32(state.layer) * self._layer_w
        if state.sun is not None:
            x, y, half, excess = state.sun
            xy = self._floor_xy
            inside = (np.abs(xy[:, 0] - x) < half) & (np.abs(xy[:, 1] - y) < half * 0.6)
            img[self._floor_idx[inside]] += np.float32(excess)
        amb_rad = float(band_radiance(state.ambient))
        for i, fp in self._footprints:
            if fp.index.size:
                self._blend(
                    img,
                    fp.index,
                    fp.coverage,
                    float(state.objects[i]),
                    self._objects[i].emissivity,
                    amb_rad,
                )
        for cap in state.capsules:
            idx, cov = capsule_coverage(
                self.pose, np.asarray(cap.p0), np.asarray(cap.p1), cap.r0, cap.r1
            )
            if idx.size:
                self._blend(img, idx, cov, cap.temp, cap.emissivity, None)
        out: NDArray[np.float32] = img.reshape(self.pose.height, self.pose.width)
        return out

    @staticmethod
    def _blend(
        img: NDArray[np.float32],
        index: NDArray[np.intp],
        coverage: NDArray[np.float32],
        temp: float,
        emissivity: float,
        amb_rad: float | None,
    ) -> None:
        """Mix an object's radiance into the pixels it covers (radiance is what adds up).

        An opaque surface (``amb_rad`` given) reflects the room's ambient radiance with weight
        1 - emissivity; a semi-transparent medium (``amb_rad`` None) lets the pixel's background
        through with that weight instead.
        """
        bg = band_radiance(img[index])
        behind = bg if amb_rad is None else amb_rad
        obj = emissivity * float(band_radiance(temp)) + (1.0 - emissivity) * behind
        img[index] = brightness_temperature(bg + coverage * (obj - bg)).astype(np.float32)
