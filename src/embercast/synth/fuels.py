"""Fuel properties as data (effective heat of combustion, product yields, burning behaviour).

Values are typical well-ventilated figures from Tewarson's tables [1]_ and the SFPE handbook's
heat-release chapters [2]_; ``kappa`` is the flame's 8-14 µm absorption coefficient (sooty fuels
radiate more) [3]_.

References
----------
.. [1] Tewarson, A., "Generation of Heat and Gaseous, Liquid, and Solid Products in Fires", SFPE
   Handbook of Fire Protection Engineering, 5th ed., ch. 36, 2016.
.. [2] Babrauskas, V., "Heat Release Rates", ibid., ch. 26.
.. [3] de Ris, J., "Fire radiation - a review", Proc. Combustion Institute 17 (1979) 1003-1016.
"""

from __future__ import annotations

from dataclasses import dataclass

from embercast.errors import InputError


@dataclass(frozen=True, kw_only=True)
class Fuel:
    """Combustion properties of one fuel.

    ``heat_of_combustion`` [kJ/kg], ``co2_yield`` and ``h2o_yield`` [kg/kg], ``hrrpua`` burning
    rate per area [kW/m^2], ``chi_rad`` radiative share [-], ``kappa`` flame absorption [1/m].
    """

    heat_of_combustion: float
    co2_yield: float
    h2o_yield: float
    hrrpua: float
    chi_rad: float
    kappa: float


FUELS: dict[str, Fuel] = {
    "wood": Fuel(
        heat_of_combustion=12_400,
        co2_yield=1.27,
        h2o_yield=0.55,
        hrrpua=500,
        chi_rad=0.30,
        kappa=1.0,
    ),
    "polyurethane_foam": Fuel(
        heat_of_combustion=19_000,
        co2_yield=1.50,
        h2o_yield=0.60,
        hrrpua=400,
        chi_rad=0.40,
        kappa=3.0,
    ),
    "paper_cardboard": Fuel(
        heat_of_combustion=13_000,
        co2_yield=1.20,
        h2o_yield=0.46,  # cellulose C6H10O5: 5 H2O per 6 CO2 (0.41 kg/kg), and its moisture
        hrrpua=250,
        chi_rad=0.25,
        kappa=0.8,
    ),
    "plastics": Fuel(
        heat_of_combustion=38_000,
        co2_yield=2.76,
        h2o_yield=1.00,
        hrrpua=800,
        chi_rad=0.40,
        kappa=3.5,
    ),
    "textiles": Fuel(
        heat_of_combustion=15_000,
        co2_yield=1.50,
        h2o_yield=0.60,
        hrrpua=300,
        chi_rad=0.30,
        kappa=1.5,
    ),
    "heptane": Fuel(
        heat_of_combustion=44_600,
        co2_yield=3.07,
        h2o_yield=1.40,
        hrrpua=1500,
        chi_rad=0.35,
        kappa=2.0,
    ),
    "cooking_oil": Fuel(
        heat_of_combustion=36_000,
        co2_yield=2.60,
        h2o_yield=1.10,
        hrrpua=1200,
        chi_rad=0.35,
        kappa=2.5,
    ),
    "pvc_cable": Fuel(
        heat_of_combustion=5_700,  # PVC's chemical heat of combustion [1]_
        co2_yield=0.46,
        h2o_yield=0.094,  # (C2H3Cl)n: one H in three leaves as HCl, 1 H2O per 2 CO2
        hrrpua=250,
        chi_rad=0.35,
        kappa=3.0,
    ),
    "smoulder_cellulosic": Fuel(
        heat_of_combustion=10_000,
        co2_yield=0.80,
        h2o_yield=0.40,
        hrrpua=20,
        chi_rad=0.05,
        kappa=0.1,
    ),
    "methane": Fuel(
        heat_of_combustion=50_000,
        co2_yield=2.74,
        h2o_yield=2.25,
        hrrpua=1000,
        chi_rad=0.15,
        kappa=0.1,
    ),
    "paraffin": Fuel(
        heat_of_combustion=43_000,
        co2_yield=3.10,
        h2o_yield=1.30,
        hrrpua=1000,
        chi_rad=0.25,
        kappa=1.5,
    ),
    # the FAA cargo-compartment tests' resin fire as their FDS validation inputs give it
    # (firemodels/fds, Validation/FAA_Cargo_Compartments): 21 MJ/kg, 55 % radiated, soot 0.125
    # and CO 0.065 kg/kg of a CH12.2 surrogate, whose CO2 yield this is; the surrogate's
    # hydrogen only balances its heat, so water is a polymer's, one H2O per CO2
    "faa_resin": Fuel(
        heat_of_combustion=21_000,
        co2_yield=1.25,
        h2o_yield=0.51,
        hrrpua=336,
        chi_rad=0.55,
        kappa=3.0,
    ),
}
"""Fuel table; keys are the ``fuel`` parameter values of the scenario catalogue."""


def get_fuel(name: str) -> Fuel:
    """Return the properties of fuel ``name``; raise ValueError naming ``FUELS`` if unknown."""
    try:
        return FUELS[name]
    except KeyError:
        raise InputError(
            f"invalid fuel {name!r} for FUELS; choose one of {sorted(FUELS)}"
        ) from None
