"""Ground truth of the air and surfaces: the compartment zone, and what reaches each sensor.

Composes the physics functions on a plan's 1-s grid; no sensor effects here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from embercast.physics.ceiling_jet import alpert_excess_temperature, jet_equivalent_hrr
from embercast.physics.compartment import layer_temperature, smoke_layer, zone_concentration
from embercast.physics.heating import surface_response
from embercast.physics.species import (
    M_CO2,
    M_H2O,
    gas_volume_rate,
    h2o_ppm_from_rh,
    jet_species_per_kelvin,
    relative_humidity,
    species_mass_rate,
)
from embercast.physics.transport import delayed, transport_delay
from embercast.synth.plan import Device, FloatArray, ScenarioPlan

STOICHIOMETRIC_CO2 = 150_000.0
"""Highest CO2 fraction combustion in air can produce (all oxygen turned into products) [ppm]."""
CEILINGS: dict[str, tuple[float, float]] = {
    "gypsum_board": (0.59, 145.0),
    "timber": (0.55, 158.0),
    "concrete": (0.22, 274.0),
}
"""Share of the gas excess temperature a ceiling's surface reaches [-] and the time constant it
approaches it with [s], by ceiling material: the lumped response fitted over 30-900 s to the
surface of a semi-infinite solid under a convective step,
:math:`1 - e^{\\beta^2} \\mathrm{erfc}(\\beta)`, :math:`\\beta = h \\sqrt{t / k \\rho c}`, with
h = 15 W/(m^2 K) (the zone's loss coefficient) and k [W/(m K)], rho [kg/m^3], c [J/(kg K)] of
paper-faced gypsum board (0.17, 700, 1090), softwood (0.14, 500, 2500) and concrete (1.7,
2300, 880) (Incropera and DeWitt, Fundamentals of Heat and Mass Transfer, 6th ed., sec. 5.7 and
table A.3). A concrete ceiling stays about three times cooler than a board one."""


@dataclass(frozen=True)
class ZoneTruth:
    """The sensor zone: heat release [kW], temperature [°C], CO2 and H2O [ppm]; and the surface
    heating levels the renderer uses (ceiling-jet Q^(2/3) of the fires' jet-equivalent heat release
    [kW^(2/3)], layer excess [K])."""

    hrr: FloatArray
    temp: FloatArray
    co2: FloatArray
    h2o: FloatArray
    jet_surface: FloatArray
    layer_surface: FloatArray


@dataclass(frozen=True)
class SensorTruth:
    """Air at one sensor: temperature [°C], CO2 [ppm], relative humidity [%]."""

    temp: FloatArray
    co2: FloatArray
    rh: FloatArray


def zone_truth(plan: ScenarioPlan) -> ZoneTruth:
    """Energy and species balance of the sensor zone over the scenario.

    The gases of weak, cool sources (occupants, a burner) mix through the whole room, and their
    heat warms the zone under the ceiling (``mix_fraction`` of the room). The fires' heat and
    products fill a smoke layer that grows from the sensors' depth by what the plume entrains,
    up to ``mix_fraction`` of the room (:func:`~embercast.physics.compartment.smoke_layer`),
    with an open door's buoyant exchange; its excess adds to the zone's air.
    """
    room = plan.room
    floor = room.length * room.width
    volume = room.volume * plan.mix_fraction
    area = floor + 2 * (room.length + room.width) * plan.layer_depth
    hrr = np.zeros(plan.n)
    jet_hrr = np.zeros(plan.n)
    fire_conv = np.zeros(plan.n)
    co2_src = np.zeros(plan.n)
    h2o_src = np.zeros(plan.n)
    for fire in plan.fires:
        hrr += fire.hrr
        jet_hrr += jet_equivalent_hrr(fire.hrr, fire.fuel.chi_rad)
        fire_conv += (1.0 - fire.fuel.chi_rad) * fire.hrr
        hc = fire.fuel.heat_of_combustion
        co2_src += gas_volume_rate(species_mass_rate(fire.hrr, hc, fire.fuel.co2_yield), M_CO2)
        h2o_src += gas_volume_rate(species_mass_rate(fire.hrr, hc, fire.fuel.h2o_yield), M_H2O)
    temp = layer_temperature(
        1.0, plan.heat, volume, area, plan.flow, plan.room_temp, temp_supply=plan.supply_temp
    )
    co2 = zone_concentration(
        1.0, plan.co2_source, room.volume, plan.flow, plan.outdoor_co2, plan.initial_co2
    )
    outdoor_h2o = h2o_ppm_from_rh(plan.outdoor_rh, plan.outdoor_temp)
    h2o0 = float(h2o_ppm_from_rh(plan.room_rh, plan.room_temp[0]))
    h2o = zone_concentration(1.0, plan.h2o_source, room.volume, plan.flow, outdoor_h2o, h2o0)
    if plan.fires and np.any(fire_conv > 0):
        layer = smoke_layer(
            1.0,
            fire_conv,
            (co2_src, h2o_src),
            floor,
            room.height,
            volume,
            plan.flow,
            plan.room_temp,
            fuel_z=min(fire.z for fire in plan.fires),
            perimeter=2 * (room.length + room.width),
            door=plan.door,
        )
        temp = temp + layer.excess_temp
        co2 = co2 + layer.excess[0]
        h2o = h2o + layer.excess[1]
    share, tau = CEILINGS[plan.ceiling]
    jet = surface_response(1.0, share * jet_hrr ** (2.0 / 3.0), tau)
    surface = surface_response(1.0, share * np.maximum(temp - plan.room_temp, 0.0), tau)
    return ZoneTruth(hrr=hrr, temp=temp, co2=co2, h2o=h2o, jet_surface=jet, layer_surface=surface)


def sensor_truth(plan: ScenarioPlan, zone: ZoneTruth, device: Device) -> SensorTruth:
    """Air at a device under the ceiling: the zone plus each fire's delayed ceiling jet (driven by
    its convective heat release, :func:`~embercast.physics.ceiling_jet.jet_equivalent_hrr`), whose
    species excess follows its temperature excess (plume similarity)."""
    temp = zone.temp.copy()
    co2 = zone.co2.copy()
    h2o = zone.h2o.copy()
    x, y, _ = device.pose.position
    for fire in plan.fires:
        if not np.any(fire.hrr > 0):
            continue
        height = max(plan.room.height - fire.z, 0.3)
        r = float(np.hypot(fire.xy[0] - x, fire.xy[1] - y))
        q_jet = jet_equivalent_hrr(fire.hrr, fire.fuel.chi_rad)
        q_seen = delayed(plan.t, q_jet, transport_delay(q_jet, height, r))
        excess = alpert_excess_temperature(q_seen, height, r)
        chi_c = 1.0 - fire.fuel.chi_rad
        hc = fire.fuel.heat_of_combustion
        temp += excess
        co2 += excess * jet_species_per_kelvin(hc, fire.fuel.co2_yield, chi_c)
        h2o += excess * jet_species_per_kelvin(hc, fire.fuel.h2o_yield, chi_c, M_H2O)
    return SensorTruth(
        temp=temp, co2=np.minimum(co2, STOICHIOMETRIC_CO2), rh=relative_humidity(h2o, temp)
    )
