"""Builders of the non-fire classes: cooking, appliances, sun, people, candles, machines,
ventilation, steam, sensor faults and ordinary days."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from embercast.physics.heating import surface_response
from embercast.physics.species import M_H2O, gas_volume_rate
from embercast.physics.ventilation import air_change_flow, window_flow
from embercast.scene.objects import Box, Disc
from embercast.scene.render import StaticObject
from embercast.synth.builders.base import (
    add_people,
    combustion_products,
    cycle,
    f,
    hob_position,
    person_near,
    walkers,
    window,
)
from embercast.synth.fuels import FUELS
from embercast.synth.plan import Fault, FloatArray, ScenarioPlan, SmallFlame, WarmPlume


def _combustion(plan: ScenarioPlan, q: NDArray[np.floating[Any]], fuel_name: str) -> None:
    """Add the heat, CO2 and H2O of burning ``q`` [kW] of a fuel to the room."""
    plan.heat = plan.heat + q * (1 - FUELS[fuel_name].chi_rad)
    combustion_products(plan, q, fuel_name)


def _steam(
    plan: ScenarioPlan,
    on: FloatArray,
    g_s: float,
    xyz: tuple[float, float, float],
    temp: float,
    radius: float = 0.12,
    height: float = 0.5,
) -> None:
    """Steam: water vapour [g/s] while ``on`` and a warm visible plume."""
    plan.h2o_source = plan.h2o_source + gas_volume_rate(on * g_s / 1000.0, M_H2O)
    plume_temp = plan.room_temp + (temp - plan.room_temp) * surface_response(
        1.0, on.astype(float), 30.0
    )
    plan.plumes.append(
        WarmPlume(xyz=xyz, height=height, radius=radius, temp=plume_temp, emissivity=0.25)
    )


def _cooking_window(plan: ScenarioPlan, p: dict[str, Any]) -> FloatArray:
    start = f(p, "start_frac") * plan.t[-1]
    return window(plan.t, start, start + f(p, "cook_frac") * plan.t[-1]).astype(float)


def cooking_gas_stove(plan: ScenarioPlan, p: dict[str, Any], rng: np.random.Generator) -> None:
    """Gas burners with pans, a cook, steam and optionally a range hood."""
    t, hob = plan.t, hob_position(plan.room, p)
    on = _cooking_window(plan, p)
    plan.add_object(
        StaticObject(
            name="stove",
            shape=Box(
                lo=(hob[0] - 0.35, hob[1] - 0.3, 0.0), hi=(hob[0] + 0.35, hob[1] + 0.3, 0.88)
            ),
        ),
        plan.room_temp + 2.0 + 8.0 * on,
    )
    for k in range(int(p["burners"])):
        xyz = (hob[0] - 0.2 + 0.2 * k, hob[1] + (0.12 if k % 2 else -0.12), hob[2])
        _combustion(plan, on * f(p, "burner_kw"), "methane")
        plan.small_flames.append(
            SmallFlame(xyz=xyz, height=0.04, width=0.2, temp=1100.0, emissivity=0.03, on=on > 0)
        )
        pan_temp = plan.room_temp + (f(p, "pan_temp") - plan.room_temp) * surface_response(
            1.0, on, 120.0
        )
        plan.add_object(
            StaticObject(
                name="pan",
                shape=Disc(center=(xyz[0], xyz[1], xyz[2] + 0.08), radius=0.12),
                emissivity=0.6,
            ),
            pan_temp,
        )
    if f(p, "steam_g_s") > 0:
        _steam(plan, on, f(p, "steam_g_s"), (hob[0], hob[1], hob[2] + 0.15), 60.0)
    if p["hood"]:
        plan.flow = plan.flow + air_change_flow(on * f(p, "hood_ach"), plan.room.volume)
    add_people(plan, person_near(rng, t, hob[0], hob[1], plan.room), (on > 0)[:, None], met=1.8)


def cooking_electric(plan: ScenarioPlan, p: dict[str, Any], rng: np.random.Generator) -> None:
    """Electric or ceramic plates (visible hot), an oven, steam and a cook; no burner CO2."""
    t, hob = plan.t, hob_position(plan.room, p)
    on = _cooking_window(plan, p)
    plan.add_object(
        StaticObject(
            name="cooker",
            shape=Box(
                lo=(hob[0] - 0.35, hob[1] - 0.3, 0.0), hi=(hob[0] + 0.35, hob[1] + 0.3, 0.88)
            ),
        ),
        plan.room_temp + 2.0,
    )
    for k in range(int(p["plates"])):
        xyz = (hob[0] - 0.18 + 0.18 * k, hob[1] + (0.12 if k % 2 else -0.12), hob[2])
        temp = plan.room_temp + (f(p, "plate_temp") - plan.room_temp) * surface_response(
            1.0, on, 90.0
        )
        plan.add_object(
            StaticObject(name="plate", shape=Disc(center=xyz, radius=0.09), emissivity=0.9), temp
        )
        plan.heat = plan.heat + 0.8 * on
    if p["oven"]:
        door = plan.room_temp + (f(p, "oven_door_temp") - plan.room_temp) * surface_response(
            1.0, on, 300.0
        )
        plan.add_object(
            StaticObject(
                name="oven_door",
                shape=Box(
                    lo=(hob[0] - 0.3, hob[1] - 0.32, 0.1), hi=(hob[0] + 0.3, hob[1] - 0.3, 0.75)
                ),
            ),
            door,
        )
        plan.heat = plan.heat + 1.0 * on
    if f(p, "steam_g_s") > 0:
        _steam(plan, on, f(p, "steam_g_s"), (hob[0], hob[1], hob[2] + 0.15), 60.0)
    add_people(plan, person_near(rng, t, hob[0], hob[1], plan.room), (on > 0)[:, None], met=1.8)


def toaster(plan: ScenarioPlan, p: dict[str, Any], rng: np.random.Generator) -> None:
    """A toaster used ``cycles`` times; burnt toast releases a puff of CO2 and vapour."""
    t, room = plan.t, plan.room
    x, y = f(p, "x_frac") * room.length, f(p, "y_frac") * room.width
    on = np.zeros(t.size)
    gap = t[-1] / (int(p["cycles"]) + 1)
    for k in range(int(p["cycles"])):
        start = gap * (k + 0.5) + rng.uniform(0, gap * 0.3)
        on = np.maximum(on, window(t, start, start + f(p, "toast_s")))
        if p["burnt"] and k == int(p["cycles"]) - 1:
            char = window(t, start + f(p, "toast_s") - 60.0, start + f(p, "toast_s")) * 0.3  # [kW]
            _combustion(plan, char, "smoulder_cellulosic")
    temp = plan.room_temp + (f(p, "toaster_temp") - plan.room_temp) * surface_response(
        1.0, on, 40.0
    )
    plan.add_object(
        StaticObject(
            name="toaster",
            shape=Box(lo=(x - 0.15, y - 0.1, 0.9), hi=(x + 0.15, y + 0.1, 1.1)),
            emissivity=0.7,
        ),
        temp,
    )
    plan.heat = plan.heat + 0.8 * on
    add_people(plan, person_near(rng, t, x, y, room), (on > 0)[:, None])


def space_heater(plan: ScenarioPlan, p: dict[str, Any], rng: np.random.Generator) -> None:
    """A heater cycling on its thermostat: fan (60-120 °C grille), radiant bar (300-500 °C) or
    oil-filled (50-80 °C)."""
    t, room = plan.t, plan.room
    x, y = f(p, "x_frac") * room.length, f(p, "y_frac") * room.width
    kind, power = str(p["heater_type"]), f(p, "power_kw")
    on = cycle(t, f(p, "cycle_s"), rng.uniform(0.4, 0.8), rng.random()).astype(float)
    hot, tau, shape = {
        "fan": (
            60.0 + 35.0 * (power - 0.8),
            30.0,
            Box(lo=(x - 0.15, y - 0.1, 0.0), hi=(x + 0.15, y + 0.1, 0.35)),
        ),
        "radiant": (
            300.0 + 120.0 * (power - 0.8),
            60.0,
            Box(lo=(x - 0.3, y - 0.05, 0.2), hi=(x + 0.3, y + 0.05, 0.3)),
        ),
        "oil": (
            50.0 + 18.0 * (power - 0.8),
            600.0,
            Box(lo=(x - 0.3, y - 0.1, 0.05), hi=(x + 0.3, y + 0.1, 0.65)),
        ),
    }[kind]
    temp = plan.room_temp + (hot - plan.room_temp) * surface_response(1.0, on, tau)
    plan.add_object(StaticObject(name=f"heater_{kind}", shape=shape, emissivity=0.9), temp)
    plan.heat = plan.heat + power * on


def sunlight(plan: ScenarioPlan, p: dict[str, Any], rng: np.random.Generator) -> None:
    """A sun patch drifting across the floor; clouds modulate it."""
    t, room = plan.t, plan.room
    x0, y0 = rng.uniform(0.3, 0.7) * room.length, rng.uniform(0.3, 0.7) * room.width
    x = x0 + f(p, "speed") / 60.0 * t * rng.choice([-1.0, 1.0])
    level = np.ones(t.size)
    if p["clouds"]:
        knots = np.arange(0.0, t[-1] + 120.0, 60.0)
        level = np.interp(t, knots, rng.uniform(0.2, 1.0, knots.size))
    excess = f(p, "sun_excess") * surface_response(1.0, level, 120.0)
    plan.sun = np.stack(
        [x, np.full(t.size, y0), np.full(t.size, f(p, "patch_half")), excess], axis=1
    )
    plan.heat = plan.heat + 0.4 * level * f(p, "patch_half") ** 2


def occupancy(plan: ScenarioPlan, p: dict[str, Any], rng: np.random.Generator) -> None:
    """A crowd arriving over a few minutes, staying, then leaving."""
    t, n = plan.t, int(p["crowd"])
    arrive = f(p, "arrive_frac") * t[-1] + rng.uniform(0.0, 300.0, n)
    leave = arrive + f(p, "stay_frac") * t[-1] + rng.uniform(-120.0, 120.0, n)
    present = (t[:, None] >= arrive[None, :]) & (t[:, None] < leave[None, :])
    add_people(plan, walkers(rng, t, n, plan.room), present, met=f(p, "met"))


def candles_smoking(plan: ScenarioPlan, p: dict[str, Any], rng: np.random.Generator) -> None:
    """Candles (80 W paraffin flames) and smokers (glowing cigarette tips, smoke)."""
    t, room = plan.t, plan.room
    x, y = f(p, "x_frac") * room.length, f(p, "y_frac") * room.width
    candles, smokers = int(p["candles"]), int(p["smokers"])
    if candles + smokers == 0:
        candles = 1
    lit = window(t, rng.uniform(0.0, 0.3) * t[-1], t[-1] + 1)
    for k in range(candles):
        xyz = (x + 0.08 * k, y + rng.uniform(-0.1, 0.1), 0.75 + 0.1)
        plan.small_flames.append(
            SmallFlame(xyz=xyz, height=0.035, width=0.012, temp=1200.0, emissivity=0.15, on=lit)
        )
        plan.add_object(
            StaticObject(
                name="candle",
                shape=Disc(center=(xyz[0], xyz[1], 0.85), radius=0.03),
                emissivity=0.95,
            ),
            plan.room_temp + 15.0 * lit,
        )
        _combustion(plan, 0.08 * lit, "paraffin")
    for k in range(smokers):
        start = rng.uniform(0.05, 0.6) * t[-1]
        smoking = window(t, start, start + rng.uniform(300.0, 480.0))
        xy = person_near(rng, t, x + 0.5 * k, y, room)
        add_people(plan, xy, smoking[:, None])
        tip = (float(xy[0, 0, 0]) + 0.25, float(xy[0, 0, 1]), 1.1)
        plan.small_flames.append(
            SmallFlame(xyz=tip, height=0.01, width=0.008, temp=650.0, emissivity=0.9, on=smoking)
        )
        _combustion(plan, 0.02 * smoking, "smoulder_cellulosic")


def hot_machinery(plan: ScenarioPlan, p: dict[str, Any], rng: np.random.Generator) -> None:
    """Static machines at 45-120 °C (motors, compressors, servers), some cycling."""
    t, room = plan.t, plan.room
    for _ in range(int(p["machines"])):
        sx, sy, sz = rng.uniform(0.4, 1.5), rng.uniform(0.4, 1.2), rng.uniform(0.5, 1.8)
        x0 = rng.uniform(0.3, max(room.length - sx - 0.3, 0.4))
        y0 = rng.uniform(0.3, max(room.width - sy - 0.3, 0.4))
        on = (
            cycle(t, f(p, "cycle_s"), rng.uniform(0.3, 0.8), rng.random()).astype(float)
            if p["cycling"]
            else np.ones(t.size)
        )
        hot = f(p, "machine_temp") + rng.uniform(-10.0, 10.0)
        temp = plan.room_temp + (hot - plan.room_temp) * surface_response(
            1.0, on, 300.0, temp0=float(on[0])
        )
        box = Box(lo=(x0, y0, 0.0), hi=(min(x0 + sx, room.length), min(y0 + sy, room.width), sz))
        plan.add_object(StaticObject(name="machine", shape=box, emissivity=0.9), temp)
        plan.heat = plan.heat + rng.uniform(0.3, 2.0) * on


def hvac_window(plan: ScenarioPlan, p: dict[str, Any], rng: np.random.Generator) -> None:
    """A window opened to the outside (stack-driven exchange) and HVAC supply-air swings."""
    t, room = plan.t, plan.room
    opened = window(t, f(p, "window_open_frac") * t[-1], t[-1] + 1)
    close_at = rng.uniform(0.6, 1.2) * t[-1]
    opened &= t < close_at
    plan.window_open = opened
    plan.flow = plan.flow + np.where(
        opened, window_flow(f(p, "window_area"), 1.0, plan.room_temp, plan.outdoor_temp), 0.0
    )
    plan.supply_temp = np.where(opened, plan.outdoor_temp, plan.supply_temp)
    hvac = cycle(t, rng.uniform(400.0, 1200.0), rng.uniform(0.3, 0.7), rng.random())
    plan.hvac_on = plan.hvac_on | hvac
    plan.flow = plan.flow + air_change_flow(np.where(hvac, f(p, "hvac_ach"), 0.0), room.volume)
    plan.supply_temp = np.where(
        hvac & ~opened, plan.room_temp + f(p, "supply_offset"), plan.supply_temp
    )
    y0 = rng.uniform(0.3, max(room.width - 1.3, 0.4))
    pane = Box(lo=(room.length - 0.03, y0, 1.0), hi=(room.length, y0 + 1.0, 2.0))
    glass = np.where(opened, plan.outdoor_temp, (plan.room_temp + plan.outdoor_temp) / 2)
    plan.add_object(StaticObject(name="window", shape=pane, emissivity=0.84), glass)


def steam(plan: ScenarioPlan, p: dict[str, Any], rng: np.random.Generator) -> None:
    """Steam from a kettle (small, hot), shower (large, warm) or dishwasher (door burst)."""
    t, room = plan.t, plan.room
    x, y = f(p, "x_frac") * room.length, f(p, "y_frac") * room.width
    start = rng.uniform(0.1, 0.5) * t[-1]
    on = window(t, start, start + f(p, "steam_s")).astype(float)
    radius, height, z = {
        "kettle": (0.08, 0.4, 1.0),
        "shower": (0.5, 1.5, 0.5),
        "dishwasher": (0.3, 0.8, 0.8),
    }[str(p["source"])]
    _steam(plan, on, f(p, "steam_g_s"), (x, y, z), f(p, "plume_temp"), radius, height)
    plan.heat = (
        plan.heat + 2.0 * f(p, "steam_g_s") / 1000.0 * 2257.0 * 0.1 * on
    )  # sensible share [kW]


def sensor_fault(plan: ScenarioPlan, p: dict[str, Any], rng: np.random.Generator) -> None:
    """One sensor fault over a window of the scenario, on the ordinary background; it is the
    first device's (a second device in the room, when there is one, keeps measuring)."""
    start = f(p, "fault_start_frac") * plan.t[-1]
    end = min(start + f(p, "fault_len_frac") * plan.t[-1], plan.t[-1])
    plan.faults.append(
        Fault(kind=str(p["fault"]), start=start, end=end, magnitude=f(p, "drift_rate"))
    )


def normal_day(plan: ScenarioPlan, p: dict[str, Any], rng: np.random.Generator) -> None:
    """People coming and going on a daily rhythm; some sun."""
    t, n = plan.t, int(p["peak_people"])
    if n:
        arrive = rng.uniform(0.0, 0.5, n) * t[-1]
        leave = arrive + rng.uniform(0.2, 0.8, n) * t[-1]
        present = (t[:, None] >= arrive[None, :]) & (t[:, None] < leave[None, :])
        add_people(plan, walkers(rng, t, n, plan.room), present)
    if p["sun"]:
        sunlight(
            plan,
            {"speed": 0.1, "clouds": True, "patch_half": 0.6, "sun_excess": p["sun_excess"]},
            rng,
        )
