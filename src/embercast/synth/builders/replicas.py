"""Builder of the replica classes: a plan rebuilt as one of the FAA cargo-compartment tests
(:mod:`embercast.synth.replicas`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from embercast.physics.species import h2o_ppm_from_rh
from embercast.physics.ventilation import air_change_flow
from embercast.scene.geometry import Room
from embercast.synth.builders.base import f
from embercast.synth.builders.fires import fuel_package, set_fire_phases
from embercast.synth.fuels import FUELS
from embercast.synth.plan import FirePlan, ScenarioPlan
from embercast.synth.replicas import FAA_FUEL, FAA_PAN_Z, FAA_TESTS, faa_hrr, probe_device


def faa_replica(plan: ScenarioPlan, p: dict[str, Any], rng: np.random.Generator) -> None:
    """Rebuild the plan as FAA test ``faa_test``: the compartment as a box of its ceiling's
    extent holding its volume (the zone is the real volume's share of the box), no occupants,
    furniture or HVAC, the test's ventilation, the tests' resin fire at its place from
    :data:`FAA_IGNITION_S`, and one device at each gas probe (``{scenario}-d{k}`` in the order
    of :attr:`FaaTest.probes`)."""
    test = FAA_TESTS[str(p["faa_test"])]
    c = test.compartment
    room = Room(length=c.length, width=c.width, height=c.height)
    plan.room = room
    prefix = plan.devices[0].device_id.rsplit("-d", 1)[0]
    plan.devices = [
        probe_device(f"{prefix}-d{k}", probe.xyz, test.fire_xy)
        for k, probe in enumerate(test.probes)
    ]
    plan.mix_fraction = c.volume / room.volume
    plan.flow = air_change_flow(np.full(plan.n, c.ach), c.volume)
    plan.supply_temp = plan.room_temp.copy()
    plan.hvac_on = np.zeros(plan.n, bool)
    h2o_in = float(h2o_ppm_from_rh(plan.room_rh, plan.room_temp[0]))
    h2o_out = h2o_ppm_from_rh(plan.outdoor_rh, plan.outdoor_temp)
    plan.h2o_source = plan.flow * (h2o_in - h2o_out) / 1e6
    hrr = faa_hrr(plan.t, f(p, "ignition_s"))
    fuel = FUELS[FAA_FUEL]
    plan.fires = [FirePlan(xy=test.fire_xy, z=FAA_PAN_Z, hrr=hrr, fuel=fuel, flaming=hrr > 0)]
    fuel_package(plan, test.fire_xy, FAA_PAN_Z, 0.1, hrr, 550.0)
    set_fire_phases(plan, hrr, f(p, "ignition_s"))
