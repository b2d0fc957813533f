"""Scenario builders: turn a scenario's parameters into a
:class:`~embercast.synth.plan.ScenarioPlan`.

``build_plan(spec)`` makes the common background (room, devices, ventilation, occupants,
furniture) and then calls the class's builder from :data:`BUILDERS`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from embercast.errors import InputError
from embercast.synth.builders import fires, nuisances, replicas
from embercast.synth.builders.base import base_plan
from embercast.synth.plan import ScenarioPlan
from embercast.synth.scenarios import SCENARIO_CLASSES, ScenarioSpec

Builder = Callable[[ScenarioPlan, dict[str, object], np.random.Generator], None]

BUILDERS: dict[str, Builder] = {
    "flaming_fire": fires.flaming_fire,
    "smouldering": fires.smouldering,
    "electrical_overheat": fires.electrical_overheat,
    "cooking_oil_fire": fires.cooking_oil_fire,
    "cooking_gas_stove": nuisances.cooking_gas_stove,
    "cooking_electric": nuisances.cooking_electric,
    "toaster": nuisances.toaster,
    "space_heater": nuisances.space_heater,
    "sunlight": nuisances.sunlight,
    "occupancy": nuisances.occupancy,
    "candles_smoking": nuisances.candles_smoking,
    "hot_machinery": nuisances.hot_machinery,
    "hvac_window": nuisances.hvac_window,
    "steam": nuisances.steam,
    "sensor_fault": nuisances.sensor_fault,
    "normal_day": nuisances.normal_day,
    "faa_b707_replica": replicas.faa_replica,
    "faa_dc10_replica": replicas.faa_replica,
}
"""Builder of each scenario class; the keys equal those of SCENARIO_CLASSES."""

assert set(BUILDERS) == set(SCENARIO_CLASSES), "every catalogue class needs a builder"


def build_plan(spec: ScenarioSpec) -> ScenarioPlan:
    """The full plan of a scenario: common background, then the class's sources."""
    try:
        builder = BUILDERS[spec.scenario_class]
    except KeyError:
        raise InputError(f"invalid scenario class {spec.scenario_class!r} for BUILDERS") from None
    plan, rng = base_plan(spec)
    builder(plan, dict(spec.params), rng)
    return plan
