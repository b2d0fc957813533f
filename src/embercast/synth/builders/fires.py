"""Builders of the fire classes: flaming, smouldering, electrical overheating, cooking oil."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from embercast.physics.growth import (
    growth_alpha,
    hrr_curve,
    hrr_smouldering,
    smoulder_front_radius,
)
from embercast.physics.heating import lumped_temperature
from embercast.physics.plume import fire_diameter
from embercast.scene.geometry import Room
from embercast.scene.objects import Box, Disc
from embercast.scene.render import StaticObject
from embercast.synth.builders.base import (
    add_people,
    combustion_products,
    f,
    hob_position,
    person_near,
    window,
)
from embercast.synth.fuels import FUELS, get_fuel
from embercast.synth.plan import FirePlan, FloatArray, ScenarioPlan, SmallFlame

DOOR = (0.9, 2.0)
"""Width and height of the door a fire's room may have open to the building [m]."""
O2_ENERGY = 13_100.0
"""Heat released per kg of oxygen consumed [kJ/kg] (Huggett's constant)."""


def oxygen_limited_energy(plan: ScenarioPlan) -> float:
    """Energy [kJ] a fire can release before the room air falls to 15 % O2, counting the oxygen
    brought in by ventilation over the scenario."""
    air_mass = 1.2 * (plan.room.volume + float(plan.flow.sum()))
    return O2_ENERGY * 0.23 * air_mass * (0.21 - 0.15) / 0.21


def set_fire_phases(
    plan: ScenarioPlan, hrr: FloatArray, t_ign: float, flaming_from: float | None = None
) -> None:
    """Label phases: normal before ``t_ign``; incipient until the fire reaches 10 % of its peak
    (and, for smouldering or pyrolysis, until ``flaming_from``); growth up to 95 % of the peak;
    developed while at the peak; decay after it."""
    t = plan.t
    peak = float(hrr.max())
    phase = np.zeros(t.size, np.int8)
    lit = t >= t_ign
    phase[lit] = 1
    if peak > 0:
        hot = np.flatnonzero(hrr >= 0.95 * peak)
        start = max(t_ign, flaming_from or t_ign)
        growth = lit & (t >= start) & (hrr >= 0.1 * peak)
        phase[growth] = 2
        phase[hot[0] : hot[-1] + 1] = np.where(
            lit[hot[0] : hot[-1] + 1], 3, phase[hot[0] : hot[-1] + 1]
        )
        phase[hot[-1] + 1 :] = np.where(
            lit[hot[-1] + 1 :] & (t[hot[-1] + 1 :] >= start), 4, phase[hot[-1] + 1 :]
        )
    plan.phase = phase
    plan.ignition_s = float(t_ign)


def fuel_package(
    plan: ScenarioPlan,
    xy: tuple[float, float],
    z: float,
    size: float,
    hrr: FloatArray,
    burn_temp: float,
) -> FloatArray:
    """The burning item itself: a box whose surface heats with the fire (char, embers); returns
    its surface temperature per second [°C]."""
    half = max(size, 0.1) / 2
    box = Box(
        lo=(xy[0] - half, xy[1] - half, max(z - 0.3, 0.0)),
        hi=(xy[0] + half, xy[1] + half, max(z, 0.05)),
    )
    peak = max(float(hrr.max()), 1e-6)
    temps = plan.room_temp + (burn_temp - plan.room_temp) * np.sqrt(np.clip(hrr / peak, 0, 1))
    plan.add_object(StaticObject(name="fuel", shape=box, emissivity=0.9), temps)
    return temps


def fire_position(room: Room, p: Mapping[str, Any]) -> tuple[tuple[float, float], float]:
    """Fire position (x, y) and height [m] from fractional room coordinates and ``fire_z``."""
    return (f(p, "fire_x_frac") * room.length, f(p, "fire_y_frac") * room.width), min(
        f(p, "fire_z"), room.height - 0.5
    )


def flaming_fire(plan: ScenarioPlan, p: dict[str, Any], rng: np.random.Generator) -> None:
    """t-squared flaming fire; a closed room limits its peak and energy by oxygen."""
    fuel = get_fuel(str(p["fuel"]))
    t_ign = round(f(p, "ignition_frac") * plan.t[-1])
    alpha = growth_alpha(str(p["growth"]))
    q_peak = f(p, "q_peak")
    if p["door_open"]:
        q_peak = min(q_peak, 1500.0 * DOOR[0] * DOOR[1] * math.sqrt(DOOR[1]))  # Kawagoe
        energy = (
            q_peak * f(p, "steady_s")
            + q_peak**1.5 / (3 * math.sqrt(alpha))
            + q_peak * f(p, "decay_s") / 2
        )
    else:
        limit = oxygen_limited_energy(plan)
        q_peak = min(q_peak, limit / 60.0)
        energy = min(
            q_peak * f(p, "steady_s")
            + q_peak**1.5 / (3 * math.sqrt(alpha))
            + q_peak * f(p, "decay_s") / 2,
            limit,
        )
    hrr = hrr_curve(plan.t, alpha, q_peak, t_ign, energy, f(p, "decay_s"))
    if p["door_open"]:
        plan.door = DOOR
    xy, z = fire_position(plan.room, p)
    plan.fires.append(FirePlan(xy=xy, z=z, hrr=hrr, fuel=fuel, flaming=hrr > 0))
    fuel_package(plan, xy, z, float(fire_diameter(hrr.max(), fuel.hrrpua)), hrr, 550.0)
    set_fire_phases(plan, hrr, t_ign)


SMOULDER_MAX_KW = 3.0
"""Upper bound of a smouldering heat release rate [kW] (about 18 g/min of fuel at 10 MJ/kg)."""
SMOULDER_ITEM_SIZE = 0.6
"""Side of the smouldering item [m]: its front stops spreading at half of it."""
SMOULDER_RINGS = 6
"""Most rings drawn for the spreading front (a ring lights when the front passes its middle)."""


def smouldering(plan: ScenarioPlan, p: dict[str, Any], rng: np.random.Generator) -> None:
    """Smouldering whose front spreads outward at ``spread_mm_min`` (the burning area, heat
    release and glowing spot grow with it); it may turn into flaming after ``transition_after_s``.
    """
    t_on = round(f(p, "ignition_frac") * plan.t[-1])
    q0 = f(p, "q_smoulder")
    ramp = hrr_smouldering(plan.t, 1.0, t_on, f(p, "ramp_s"))  # 0 -> 1
    r0 = 0.03 + 0.07 * float(np.clip(q0 / 1.5, 0, 1))
    radius = smoulder_front_radius(
        plan.t, r0, f(p, "spread_mm_min") / 60_000.0, t_on, SMOULDER_ITEM_SIZE / 2
    )
    q_s = np.minimum(q0 * ramp * (radius / r0) ** 2, SMOULDER_MAX_KW)
    xy, z = fire_position(plan.room, p)
    t_flame = t_on + f(p, "transition_after_s")
    flaming_from: float | None = None
    q_f = np.zeros_like(q_s)
    if p["transition"] and t_flame < plan.t[-1] - 60:
        fuel = get_fuel(str(p["flaming_fuel"]))
        alpha = growth_alpha(str(p["growth"]))
        q_peak = min(f(p, "q_peak"), oxygen_limited_energy(plan) / 60.0)
        q_f = hrr_curve(
            plan.t, alpha, q_peak, t_flame, min(q_peak * 600, oxygen_limited_energy(plan)), 300.0
        )
        q_s = np.where(plan.t >= t_flame, 0.0, q_s)
        plan.fires.append(FirePlan(xy=xy, z=z, hrr=q_f, fuel=fuel, flaming=q_f > 0))
        flaming_from = t_flame
    plan.fires.append(
        FirePlan(
            xy=xy, z=z, hrr=q_s, fuel=FUELS["smoulder_cellulosic"], flaming=np.zeros(plan.n, bool)
        )
    )
    surface = fuel_package(plan, xy, z, SMOULDER_ITEM_SIZE, q_s + q_f, 80.0)
    glow = plan.room_temp + (f(p, "glow_temp") - plan.room_temp) * np.where(q_s > 0, ramp, 0.0)
    glow = np.maximum(glow, np.where(q_f > 0, 600.0, 0.0))
    reached = float(radius[-1])
    rings = min(SMOULDER_RINGS, math.ceil((reached - r0) / 0.01))
    edges = [0.0, r0] + ([] if rings <= 0 else list(np.linspace(r0, reached, rings + 1)[1:]))
    for inner, outer in zip(edges[:-1], edges[1:], strict=True):
        lit = radius >= (inner + outer) / 2 if inner > 0 else np.ones(plan.n, bool)
        plan.add_object(
            StaticObject(
                name="smoulder",
                shape=Disc(center=(xy[0], xy[1], z + 0.01), radius=outer, inner=inner),
                emissivity=0.95,
            ),
            np.where(lit, glow, surface),
        )
    set_fire_phases(
        plan, q_s + q_f, t_on, flaming_from if flaming_from is not None else plan.t[-1] + 1
    )


def _first_crossing(temp: FloatArray, level: float) -> int | None:
    idx = np.flatnonzero(temp >= level)
    return int(idx[0]) if idx.size else None


def electrical_overheat(plan: ScenarioPlan, p: dict[str, Any], rng: np.random.Generator) -> None:
    """A connection heats (lumped), pyrolyses from ``pyrolysis_c`` (ignition) and flames from
    ``flaming_c``. Fault power is raised until flaming starts before 80 % of the scenario."""
    t = plan.t
    t_fault = f(p, "fault_start_frac") * t[-1]
    power = f(p, "power_max")
    for _ in range(12):
        ramp = np.clip((t - t_fault) / f(p, "ramp_s"), 0.0, 1.0) * power
        temp = lumped_temperature(
            1.0,
            ramp,
            f(p, "conductance"),
            f(p, "heat_capacity"),
            plan.room_temp,
            float(plan.room_temp[0]),
        )
        k_flame = _first_crossing(temp, f(p, "flaming_c"))
        if k_flame is not None and k_flame < 0.8 * t.size:
            break
        power *= 1.5
    k_pyro = _first_crossing(temp, f(p, "pyrolysis_c")) or int(0.5 * t.size)
    k_flame = k_flame if k_flame is not None else int(0.8 * t.size)
    fuel = FUELS["pvc_cable"]
    q_pyro = 0.15 * np.clip(
        (temp - f(p, "pyrolysis_c")) / (f(p, "flaming_c") - f(p, "pyrolysis_c")), 0, 1
    )
    q_pyro = np.where(t < t[k_flame], q_pyro, 0.0)
    q_peak = f(p, "q_peak")
    q_f = hrr_curve(
        t, growth_alpha(str(p["growth"])), q_peak, float(t[k_flame]), q_peak * 400, 300.0
    )
    xy, z = fire_position(plan.room, p)
    plan.fires.append(FirePlan(xy=xy, z=z, hrr=q_pyro, fuel=fuel, flaming=np.zeros(t.size, bool)))
    plan.fires.append(FirePlan(xy=xy, z=z, hrr=q_f, fuel=fuel, flaming=q_f > 0))
    box = Box(lo=(xy[0] - 0.06, xy[1] - 0.04, z), hi=(xy[0] + 0.06, xy[1] + 0.04, z + 0.06))
    plan.add_object(
        StaticObject(name="connection", shape=box, emissivity=0.85),
        np.maximum(temp, np.where(q_f > 0, 500.0, 0.0)),
    )
    set_fire_phases(plan, q_pyro + q_f, float(t[k_pyro]), float(t[k_flame]))


def cooking_oil_fire(plan: ScenarioPlan, p: dict[str, Any], rng: np.random.Generator) -> None:
    """A pan of oil heats on a burner until autoignition, then burns as an ultra-fast fire."""
    t, room = plan.t, plan.room
    hob = hob_position(room, p)
    gas = p["burner_type"] == "gas"
    eff = 0.4 if gas else 0.7
    capacity = f(p, "oil_mass") * 2000.0 + 1.2 * 460.0  # oil + steel pan [J/K]
    on = t >= 30.0
    power = np.where(on, f(p, "burner_kw") * 1000.0 * eff, 0.0)
    for _ in range(12):
        oil = lumped_temperature(
            1.0, power, f(p, "loss_conductance"), capacity, plan.room_temp, float(plan.room_temp[0])
        )
        k_ign = _first_crossing(oil, f(p, "autoignition_c"))
        if k_ign is not None and k_ign < 0.75 * t.size:
            break
        power = power * 1.3
    k_ign = k_ign if k_ign is not None else int(0.75 * t.size)
    area = math.pi * f(p, "pan_radius") ** 2
    fuel = FUELS["cooking_oil"]
    hrr = hrr_curve(
        t,
        growth_alpha("ultra_fast"),
        fuel.hrrpua * area,
        float(t[k_ign]),
        f(p, "oil_mass") * fuel.heat_of_combustion,
        120.0,
    )
    plan.fires.append(FirePlan(xy=(hob[0], hob[1]), z=hob[2], hrr=hrr, fuel=fuel, flaming=hrr > 0))
    oil_vis = np.where(t >= t[k_ign], np.maximum(oil, 400.0), oil)
    plan.add_object(
        StaticObject(
            name="stove",
            shape=Box(lo=(hob[0] - 0.3, hob[1] - 0.3, 0.0), hi=(hob[0] + 0.3, hob[1] + 0.3, 0.88)),
        ),
        plan.room_temp + 3.0,
    )
    plan.add_object(
        StaticObject(name="pan", shape=Disc(center=hob, radius=f(p, "pan_radius")), emissivity=0.9),
        oil_vis,
    )
    burner_kw = power / 1000.0 / eff
    plan.heat = plan.heat + burner_kw * (1 - eff) * 0.8
    if gas:
        combustion_products(plan, burner_kw, "methane")
        plan.small_flames.append(
            SmallFlame(
                xyz=(hob[0], hob[1], hob[2] - 0.03),
                height=0.04,
                width=0.22,
                temp=1100.0,
                emissivity=0.03,
                on=on,
            )
        )

    cook = window(t, 0.0, f(p, "cook_leaves_s"))[:, None]
    add_people(plan, person_near(rng, t, hob[0], hob[1], room), cook, met=1.8)
    set_fire_phases(plan, hrr, float(t[k_ign]))
