"""The common background of every scenario and small helpers the class builders share."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from embercast.physics.species import (
    M_CO2,
    M_H2O,
    gas_volume_rate,
    h2o_ppm_from_rh,
    occupant_co2_rate,
    occupant_h2o_rate,
    occupant_heat,
    species_mass_rate,
)
from embercast.physics.ventilation import air_change_flow
from embercast.scene.geometry import CameraPose, Room
from embercast.scene.objects import Box
from embercast.scene.render import StaticObject
from embercast.synth.fuels import FUELS
from embercast.synth.plan import Device, FloatArray, ScenarioPlan
from embercast.synth.scenarios import ScenarioSpec

CAMERA_INSET = 0.15
"""Distance of a device from the walls of its corner [m]."""


def f(p: Mapping[str, Any], key: str) -> float:
    """A numeric parameter as float."""
    return float(p[key])


def walkers(rng: np.random.Generator, t: FloatArray, n: int, room: Room) -> FloatArray:
    """Positions (n_t, n, 2) [m] of ``n`` people walking between random waypoints with pauses."""
    out = np.empty((t.size, n, 2))
    margin = 0.4
    for k in range(n):
        times = np.cumsum(rng.uniform(10.0, 90.0, size=int(t[-1] / 10) + 2)) - 30.0
        xs = rng.uniform(margin, room.length - margin, times.size)
        ys = rng.uniform(margin, room.width - margin, times.size)
        hold = rng.random(times.size) < 0.5  # stand still for a leg half of the time
        xs[1:][hold[1:]] = xs[:-1][hold[1:]]
        ys[1:][hold[1:]] = ys[:-1][hold[1:]]
        out[:, k, 0] = np.interp(t, times, xs)
        out[:, k, 1] = np.interp(t, times, ys)
    return out


def cycle(t: FloatArray, period: float, duty: float, phase: float) -> NDArray[np.bool_]:
    """On/off cycling (thermostat, compressor): on for ``duty`` of each ``period`` [s]."""
    return np.asarray(((t / period + phase) % 1.0) < duty)


def window(t: FloatArray, start: float, end: float) -> NDArray[np.bool_]:
    """True for ``start`` <= t < ``end`` [s]."""
    return np.asarray((t >= start) & (t < end))


def add_people(
    plan: ScenarioPlan, xy: FloatArray, present: NDArray[np.bool_], met: float = 1.2
) -> None:
    """Add occupants (positions (n_t, n, 2) and presence (n_t, n)) at activity ``met`` [met]
    with their sensible heat, CO2 and water vapour (:mod:`embercast.physics.species`)."""
    count = present.sum(axis=1)
    plan.people_xy = (
        xy if plan.people_xy.size == 0 else np.concatenate([plan.people_xy, xy], axis=1)
    )
    plan.people_present = (
        present
        if plan.people_present.size == 0
        else np.concatenate([plan.people_present, present], axis=1)
    )
    plan.occupancy = (plan.occupancy + count).astype(np.int16)
    plan.heat = plan.heat + occupant_heat(met)[0] / 1000.0 * count
    plan.co2_source = plan.co2_source + occupant_co2_rate(count, met)
    plan.h2o_source = plan.h2o_source + gas_volume_rate(occupant_h2o_rate(count, met), M_H2O)


def combustion_products(plan: ScenarioPlan, q: NDArray[np.floating[Any]], fuel_name: str) -> None:
    """Add the CO2 and water vapour of burning ``q`` [kW] of a fuel (a burner, a candle, a
    smouldering char: not a fire, whose products the fire model carries) to the room, at the
    fuel's yields per kg burnt (:mod:`embercast.synth.fuels`; methane gives 2 mol of water per
    mol of CO2). The heat is the caller's: how much of it reaches the air depends on what the
    flame heats."""
    fuel = FUELS[fuel_name]
    plan.co2_source = plan.co2_source + gas_volume_rate(
        species_mass_rate(q, fuel.heat_of_combustion, fuel.co2_yield), M_CO2
    )
    plan.h2o_source = plan.h2o_source + gas_volume_rate(
        species_mass_rate(q, fuel.heat_of_combustion, fuel.h2o_yield), M_H2O
    )


def person_near(
    rng: np.random.Generator, t: FloatArray, x: float, y: float, room: Room
) -> FloatArray:
    """Positions (n_t, 1, 2) of one person shuffling within half a metre of (x, y) [m]."""
    jitter = np.cumsum(rng.normal(0.0, 0.02, size=(t.size, 2)), axis=0)
    jitter = np.clip(jitter, -0.5, 0.5)
    px = np.clip(x + jitter[:, 0], 0.3, room.length - 0.3)
    py = np.clip(y - 0.6 + jitter[:, 1], 0.3, room.width - 0.3)
    return np.stack([px, py], axis=-1)[:, None, :]


def scenario_room(p: Mapping[str, Any]) -> Room:
    """The room of a scenario from its ``room_length``, ``room_width``, ``room_height`` [m]."""
    return Room(length=f(p, "room_length"), width=f(p, "room_width"), height=f(p, "room_height"))


def device_poses(room: Room, p: Mapping[str, Any]) -> list[CameraPose]:
    """Camera poses of a scenario's devices: one in a ceiling corner looking along the room's
    diagonal (turned by ``camera_yaw_offset`` [deg], tilted down by ``camera_pitch`` [deg]), and
    with ``second_device`` a second one in the opposite corner."""
    z_cam = room.height - 0.12
    yaw = math.degrees(math.atan2(room.width / 2 - CAMERA_INSET, room.length / 2 - CAMERA_INSET))
    offset, pitch = f(p, "camera_yaw_offset"), f(p, "camera_pitch")
    corner = (CAMERA_INSET, CAMERA_INSET, z_cam)
    poses = [CameraPose(position=corner, yaw=yaw + offset, pitch=pitch)]
    if p["second_device"]:
        poses.append(
            CameraPose(
                position=(room.length - CAMERA_INSET, room.width - CAMERA_INSET, z_cam),
                yaw=yaw + 180.0 - offset,
                pitch=pitch,
            )
        )
    return poses


def hob_position(room: Room, p: Mapping[str, Any]) -> tuple[float, float, float]:
    """Centre of the hob [m] from its fractional room coordinates (worktop height 0.9 m)."""
    return (f(p, "hob_x_frac") * room.length, f(p, "hob_y_frac") * room.width, 0.9)


FURNITURE = "furniture"
"""Name of the static objects that furnish a room."""
FURNITURE_CLEARANCE = 0.4
"""Least distance in plan [m] from a piece of furniture to the scenario's source
(:func:`source_xy`): the burning item, hob or appliance stands beside furniture, never inside a
box that would hide it whole (the burning item is drawn by the class's builder)."""
FURNITURE_TRIES = 10
"""Places drawn for a piece of furniture before it is left out of a room too small for it."""


def source_xy(room: Room, p: Mapping[str, Any]) -> tuple[float, float] | None:
    """Position in plan [m] of a scenario's source from its fractional room coordinates: the
    fire (``fire_x_frac``, ``fire_y_frac``), the hob (``hob_x_frac``, ``hob_y_frac``) or the
    appliance (``x_frac``, ``y_frac``); None for a class without one (crowds, sunlight, ...).

    >>> source_xy(Room(length=5.0, width=4.0, height=2.7), {"hob_x_frac": 0.5, "hob_y_frac": 0.9})
    (2.5, 3.6)
    """
    for kx, ky in (
        ("fire_x_frac", "fire_y_frac"),
        ("hob_x_frac", "hob_y_frac"),
        ("x_frac", "y_frac"),
    ):
        if kx in p and ky in p:
            return f(p, kx) * room.length, f(p, ky) * room.width
    return None


def furniture_boxes(plan: ScenarioPlan) -> list[Box]:
    """The furniture of a scenario's room (what may stand between a camera and a fire)."""
    return [o.shape for o in plan.objects if o.name == FURNITURE and isinstance(o.shape, Box)]


def plan_distance(box: Box, xy: tuple[float, float]) -> float:
    """Distance in plan [m] from the point ``xy`` to the footprint of ``box`` (0 inside it).

    >>> round(plan_distance(Box(lo=(1.0, 1.0, 0.0), hi=(2.0, 2.0, 1.0)), (2.3, 2.4)), 6)
    0.5
    """
    dx = max(box.lo[0] - xy[0], 0.0, xy[0] - box.hi[0])
    dy = max(box.lo[1] - xy[1], 0.0, xy[1] - box.hi[1])
    return math.hypot(dx, dy)


def base_plan(spec: ScenarioSpec) -> tuple[ScenarioPlan, np.random.Generator]:
    """Room, devices, ventilation, background occupants and furniture of a scenario."""
    p: dict[str, Any] = dict(spec.params)
    rng = np.random.default_rng([spec.seed, 1])
    t = np.arange(0.0, f(p, "duration_s") + 1.0, 1.0)
    room = scenario_room(p)
    devices = [
        Device(device_id=f"{spec.scenario_id}-d{k}", pose=pose)
        for k, pose in enumerate(device_poses(room, p))
    ]
    n = t.size
    room_temp = f(p, "room_temp") + 0.3 * np.sin(2 * np.pi * t / 3600.0 + rng.uniform(0, 2 * np.pi))
    flow = air_change_flow(np.full(n, f(p, "ach")), room.volume)
    supply = room_temp.copy()
    hvac_on = np.zeros(n, bool)
    if p["hvac"]:
        hvac_on = cycle(t, rng.uniform(600.0, 1500.0), rng.uniform(0.3, 0.7), rng.random())
        flow = flow + air_change_flow(np.where(hvac_on, rng.uniform(1.0, 3.0), 0.0), room.volume)
        supply = np.where(hvac_on, room_temp + rng.uniform(-2.0, 2.0), supply)
    plan = ScenarioPlan(
        t=t,
        room=room,
        devices=devices,
        room_temp=room_temp,
        supply_temp=supply,
        outdoor_temp=np.full(n, f(p, "outdoor_temp")),
        outdoor_rh=np.full(n, f(p, "outdoor_rh")),
        room_rh=f(p, "room_rh"),
        outdoor_co2=f(p, "outdoor_co2"),
        initial_co2=f(p, "outdoor_co2") + f(p, "initial_co2_excess"),
        flow=flow,
        mix_fraction=f(p, "mix_fraction"),
        layer_depth=f(p, "layer_depth_frac") * room.height,
        ceiling=str(p["ceiling"]),
        heat=np.zeros(n),
        co2_source=np.zeros(n),
        h2o_source=np.zeros(n),
        occupancy=np.zeros(n, np.int16),
        hvac_on=hvac_on,
        window_open=np.zeros(n, bool),
        phase=np.zeros(n, np.int8),
    )
    # the building (moisture buffering of materials, HVAC drying or humidifying, people
    # elsewhere) holds the initial humidity against the background ventilation: a source or a
    # sink, so humidity moves only with this scenario's own sources
    h2o_in = float(h2o_ppm_from_rh(plan.room_rh, room_temp[0]))
    h2o_out = h2o_ppm_from_rh(plan.outdoor_rh, plan.outdoor_temp)
    plan.h2o_source = flow * (h2o_in - h2o_out) / 1e6
    people = int(p["people"])
    if people:
        add_people(plan, walkers(rng, t, people, room), np.ones((n, people), bool))
    source = source_xy(room, p)
    for _ in range(int(p["furniture"])):
        for _try in range(FURNITURE_TRIES):
            sx, sy, sz = rng.uniform(0.4, 1.6), rng.uniform(0.4, 1.0), rng.uniform(0.4, 1.8)
            x0 = rng.uniform(0.5, max(room.length - sx, 0.6))
            y0 = rng.uniform(0.5, max(room.width - sy, 0.6))
            box = Box(
                lo=(x0, y0, 0.0), hi=(min(x0 + sx, room.length), min(y0 + sy, room.width), sz)
            )
            if source is None or plan_distance(box, source) >= FURNITURE_CLEARANCE:
                break
        else:
            continue  # no room for this piece beside the source: left out
        plan.add_object(StaticObject(name=FURNITURE, shape=box), room_temp + rng.uniform(-0.8, 0.8))
    return plan, rng
