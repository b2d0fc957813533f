"""The thermal film of one device: scene state at a frame's time, rendering, the Lepton model,
flat-field corrections and camera faults."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from embercast.physics.plume import (
    fire_diameter,
    flame_height,
    plume_centreline_excess_temperature,
    puffing_frequency,
)
from embercast.physics.radiation import flame_emissivity
from embercast.scene.render import Capsule, FrameState, SceneRenderer
from embercast.sensors.lepton import (
    LeptonCamera,
    LeptonDevice,
    ffc_source_index,
    frame_index_at_or_before,
    frame_time,
)
from embercast.synth.ground_truth import ZoneTruth
from embercast.synth.plan import Device, ScenarioPlan

FLAME_TEMP = 900.0
"""Mean temperature of the luminous flame body [°C]."""
PERSON_HEIGHT = 1.65
"""Height of a standing person [m]."""
FFC_STORM_PERIOD = 8.0
"""Interval between forced flat-field corrections during an FFC-storm fault [s]."""


@dataclass(frozen=True)
class FilmFrame:
    """One output frame: raw counts, gain, whether it is a frozen (FFC) repeat."""

    index: int
    t_s: float
    counts: np.ndarray
    gain: str
    ffc: bool


class DeviceFilm:
    """Renders the frames of one device in increasing frame-index order."""

    def __init__(
        self, plan: ScenarioPlan, zone: ZoneTruth, device: Device, lepton: LeptonDevice, seed: int
    ) -> None:
        self.plan, self.zone, self.device, self.lepton, self.seed = plan, zone, device, lepton, seed
        rng = np.random.default_rng([seed, 2])
        fire_xy = plan.fires[0].xy if plan.fires else None
        fire_h = plan.room.height - plan.fires[0].z if plan.fires else plan.room.height
        self.renderer = SceneRenderer(
            plan.room,
            device.pose,
            plan.objects,
            fire_xy=fire_xy,
            fire_height=fire_h,
            layer_depth=plan.layer_depth,
            texture_k=float(rng.uniform(0.2, 0.6)),
            rng=rng,
        )
        self.camera = LeptonCamera(lepton, seed=seed)
        self.people_temp = rng.uniform(
            28.0, 33.0, size=plan.people_xy.shape[1] if plan.people_xy.size else 0
        )
        self.flicker_phase = rng.uniform(
            0, 2 * np.pi, size=len(plan.fires) + len(plan.small_flames)
        )
        faults = plan.device_faults(device)
        self.dropouts = [(f.start, f.end) for f in faults if f.kind == "camera_dropout"]
        self.storms = [(f.start, f.end) for f in faults if f.kind == "ffc_storm"]
        self._last: FilmFrame | None = None

    def available(self, t_s: float) -> bool:
        """Whether the camera delivers frames at ``t_s`` [s] (no dropout fault)."""
        return not any(a <= t_s < b for a, b in self.dropouts)

    def source(self, index: int) -> tuple[int, bool]:
        """Frame index whose scene an output frame shows, and whether it is an FFC repeat."""
        t = frame_time(index)
        for a, b in self.storms:
            if a <= t < b and (t - a) % FFC_STORM_PERIOD < 1.0:
                start = a + (t - a) // FFC_STORM_PERIOD * FFC_STORM_PERIOD
                return frame_index_at_or_before(start), True
        return ffc_source_index(self.lepton, index)

    def state(self, t_s: float) -> FrameState:
        """Scene state at time ``t_s`` [s] (slow quantities at the nearest second)."""
        plan = self.plan
        i = min(int(round(t_s)), plan.n - 1)
        ambient = float(plan.room_temp[i])
        caps: list[tuple[float, Capsule]] = []
        cam = np.asarray(self.device.pose.position)
        for k, fire in enumerate(plan.fires):
            q = float(fire.hrr[i])
            if q <= 0 or not fire.flaming[i]:
                continue
            d = float(fire_diameter(q, fire.fuel.hrrpua))
            wobble = 1.0 + 0.3 * np.sin(
                2 * np.pi * float(puffing_frequency(d)) * t_s + self.flicker_phase[k]
            )
            length = max(float(flame_height(q, d)) * wobble, 0.3 * d)
            eps = float(flame_emissivity(d, fire.fuel.kappa))
            x, y, z = fire.xy[0], fire.xy[1], fire.z
            top = min(z + length, plan.room.height)
            caps.append(
                (
                    0.0,
                    Capsule(
                        p0=(x, y, z),
                        p1=(x, y, top),
                        r0=d / 2,
                        r1=d / 8,
                        temp=FLAME_TEMP,
                        emissivity=eps,
                    ),
                )
            )
            if top < plan.room.height - 0.1:
                mid = (top + plan.room.height) / 2
                excess = float(
                    plume_centreline_excess_temperature(
                        q * (1 - fire.fuel.chi_rad), mid - z, 0.0, ambient
                    )
                )
                caps.append(
                    (
                        0.0,
                        Capsule(
                            p0=(x, y, top),
                            p1=(x, y, plan.room.height),
                            r0=d / 3,
                            r1=d / 2,
                            temp=ambient + excess,
                            emissivity=0.05,
                        ),
                    )
                )
        for k, flame in enumerate(plan.small_flames):
            if flame.on[i]:
                wob = 1.0 + 0.2 * np.sin(
                    2 * np.pi * 8.0 * t_s + self.flicker_phase[len(plan.fires) + k]
                )
                x, y, z = flame.xyz
                caps.append(
                    (
                        0.0,
                        Capsule(
                            p0=(x, y, z),
                            p1=(x, y, z + flame.height * wob),
                            r0=flame.width / 2,
                            r1=flame.width / 4,
                            temp=flame.temp,
                            emissivity=flame.emissivity,
                        ),
                    )
                )
        for plume in plan.plumes:
            if plume.temp[i] > ambient + 0.5:
                x, y, z = plume.xyz
                caps.append(
                    (
                        0.0,
                        Capsule(
                            p0=(x, y, z),
                            p1=(x, y, z + plume.height),
                            r0=plume.radius,
                            r1=plume.radius * 1.5,
                            temp=float(plume.temp[i]),
                            emissivity=plume.emissivity,
                        ),
                    )
                )
        if plan.people_xy.size:
            for k in np.flatnonzero(plan.people_present[i]).tolist():
                x, y = plan.people_xy[i, k]
                caps.append(
                    (
                        0.0,
                        Capsule(
                            p0=(x, y, 0.1),
                            p1=(x, y, PERSON_HEIGHT),
                            r0=0.2,
                            r1=0.17,
                            temp=float(self.people_temp[k]),
                            emissivity=0.97,
                        ),
                    )
                )
        ordered = sorted(
            ((-float(np.linalg.norm(np.asarray(c.p0) - cam)), c) for _, c in caps),
            key=lambda pair: pair[0],
        )
        return FrameState(
            ambient=ambient,
            jet=float(self.zone.jet_surface[i]),
            layer=float(self.zone.layer_surface[i]),
            sun=None if plan.sun is None else tuple(float(v) for v in plan.sun[i]),  # type: ignore[arg-type]
            objects=plan.object_temps[:, i] if plan.object_temps.size else np.empty(0),
            capsules=[c for _, c in ordered],
        )

    def frame(self, index: int) -> FilmFrame:
        """Render output frame ``index`` (indices must not decrease between calls). A frozen
        frame repeats the last frame the camera delivered before the freeze."""
        src, frozen = self.source(index)
        last = self._last
        if last is None or src > last.index:
            apparent = self.renderer.render(self.state(frame_time(src)))
            out = self.camera.observe(apparent, src)
            last = self._last = FilmFrame(
                index=src, t_s=frame_time(src), counts=out.counts, gain=out.gain, ffc=False
            )
        return FilmFrame(
            index=index, t_s=frame_time(index), counts=last.counts, gain=last.gain, ffc=frozen
        )
