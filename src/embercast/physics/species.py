"""Combustion and occupant species: CO2 and H2O sources, humidity conversions.

References
----------
.. [1] Tewarson, A., "Generation of Heat and Gaseous, Liquid, and Solid Products in Fires",
   SFPE Handbook of Fire Protection Engineering, 5th ed., ch. 36, 2016.
.. [2] Persily, A., de Jonge, L., "Carbon dioxide generation rates for building occupants",
   Indoor Air 27 (2017) 868-879. :doi:`10.1111/ina.12383`
.. [3] Alduchov, O. A., Eskridge, R. E., "Improved Magnus form approximation of saturation vapor
   pressure", J. Appl. Meteorol. 35 (1996) 601-609.
   :doi:`10.1175/1520-0450(1996)035<0601:IMFAOS>2.0.CO;2`
.. [4] ASHRAE Handbook - Fundamentals (SI), 2013, ch. 18, Table 1 "Representative rates at
   which heat and moisture are given off by human beings in different states of activity"
   (adjusted for the usual mix of men, women and children; 24 °C room).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

R_GAS = 8.314
"""Universal gas constant [J/(mol K)]."""
P_ATM = 101_325.0
"""Standard atmospheric pressure [Pa]."""
M_CO2 = 0.04401
"""Molar mass of CO2 [kg/mol]."""
M_H2O = 0.01802
"""Molar mass of water [kg/mol]."""
M_AIR = 0.02897
"""Molar mass of dry air [kg/mol]."""


def species_mass_rate(
    q: ArrayLike, heat_of_combustion: float, yield_: float
) -> NDArray[np.float64]:
    """Mass generation rate of a combustion product [kg/s].

    Parameters
    ----------
    q : heat release rate [kW]
    heat_of_combustion : effective heat of combustion of the fuel [kJ/kg]
    yield_ : product yield [kg of product per kg of fuel burnt]

    Notes
    -----
    :math:`\\dot m_i = y_i \\dot Q / \\Delta H_c` [1]_.

    >>> round(float(species_mass_rate(20.0, 20_000.0, 1.5)), 6)
    0.0015
    """
    return yield_ * np.maximum(np.asarray(q, dtype=np.float64), 0.0) / heat_of_combustion


def gas_volume_rate(
    mass_rate: ArrayLike, molar_mass: float, temp: float = 20.0
) -> NDArray[np.float64]:
    """Volumetric rate [m^3/s] of a gas produced at ``mass_rate`` [kg/s], ideal gas at ``temp``
    [°C] and 1 atm, of molar mass ``molar_mass`` [kg/mol].

    >>> round(float(gas_volume_rate(0.0015, M_CO2)) * 1000, 3)
    0.82
    """
    return np.asarray(mass_rate, dtype=np.float64) / molar_mass * R_GAS * (temp + 273.15) / P_ATM


def occupant_co2_rate(n_people: ArrayLike, met: float = 1.2) -> NDArray[np.float64]:
    """CO2 exhaled by occupants [m^3/s].

    Parameters
    ----------
    n_people : number of adults
    met : activity level [met]; 1.0 seated quiet, 1.2 office work, 2-3 walking/cooking

    Notes
    -----
    About 0.0043 L/s per met for an adult of 70 kg [2]_.

    >>> round(float(occupant_co2_rate(1, 1.2)) * 1000, 4)
    0.0052
    """
    return np.asarray(n_people, dtype=np.float64) * 0.0043e-3 * met


MET_W = 58.15 * 1.8
"""Metabolic heat of an adult of 1.8 m^2 body surface at 1 met (58.15 W/m^2) [W]."""
H2O_LATENT_HEAT_SKIN = 2.43e6
"""Latent heat of evaporation of water at skin temperature (about 30 °C) [J/kg]."""
_OCCUPANT_TOTAL_W = (95.0, 115.0, 130.0, 145.0, 220.0, 250.0, 295.0, 425.0)
_OCCUPANT_SENSIBLE_W = (65.0, 70.0, 75.0, 75.0, 80.0, 90.0, 110.0, 170.0)
"""Adjusted total and sensible heat per person [W] from seated at a theatre to heavy work [4]_
(the latent heat is the rest)."""


def occupant_heat(met: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Sensible and latent heat given off by one occupant [W] at activity ``met`` [met].

    The total is the metabolic rate, ``met`` x 58.15 W/m^2 x 1.8 m^2; it splits into sensible
    heat (convection and radiation, which warms the room) and latent heat (water breathed out
    and evaporated from the skin) as ASHRAE tabulates by activity [4]_, interpolated in the
    total: the sensible part barely grows with activity, so a more active person adds mostly
    moisture (55 W latent of 130 W in office work, 160 of 250 W dancing). Below the table's
    lightest activity (95 W, seated at a theatre) the split keeps that activity's proportions.

    >>> [round(float(x)) for x in occupant_heat(1.2)]
    [74, 52]
    >>> [round(float(x)) for x in occupant_heat(2.5)]
    [95, 166]
    """
    total = np.asarray(met, dtype=np.float64) * MET_W
    sensible = np.interp(total, _OCCUPANT_TOTAL_W, _OCCUPANT_SENSIBLE_W)
    sensible = np.minimum(sensible, total * _OCCUPANT_SENSIBLE_W[0] / _OCCUPANT_TOTAL_W[0])
    return sensible, total - sensible


def occupant_h2o_rate(n_people: ArrayLike, met: float = 1.2) -> NDArray[np.float64]:
    """Water vapour given off by occupants [kg/s]: their latent heat (:func:`occupant_heat`)
    over the latent heat of evaporation at the skin.

    About 77 g/h for office work (1.2 met), 250 g/h at 2.5 met: per mole of CO2 breathed out
    (:func:`occupant_co2_rate`) 5.5 moles of water at 1.2 met and 8.5 at 2.5, where the fuels
    of ``synth/fuels.py`` give 0.9-1.2 and methane 2.

    >>> round(float(occupant_h2o_rate(1, 1.2)) * 3.6e6)
    77
    """
    _, latent = occupant_heat(met)
    return np.asarray(n_people, dtype=np.float64) * latent / H2O_LATENT_HEAT_SKIN


def saturation_vapour_pressure(temp: ArrayLike) -> NDArray[np.float64]:
    """Saturation vapour pressure over water [Pa] at ``temp`` [°C] (Magnus form [3]_).

    :math:`e_s = 610.94 \\exp(17.625 T / (T + 243.04))`.

    >>> round(float(saturation_vapour_pressure(20.0)))
    2333
    """
    t = np.asarray(temp, dtype=np.float64)
    return 610.94 * np.exp(17.625 * t / (t + 243.04))


def relative_humidity(h2o_ppm: ArrayLike, temp: ArrayLike) -> NDArray[np.float64]:
    """Relative humidity [%] of air holding ``h2o_ppm`` [ppm by volume] of water vapour at
    ``temp`` [°C] and 1 atm; may exceed 100 (supersaturation) and is clipped by the sensor.

    >>> round(float(relative_humidity(11_515, 20.0)), 1)
    50.0
    """
    e = np.asarray(h2o_ppm, dtype=np.float64) * 1e-6 * P_ATM
    return 100.0 * e / saturation_vapour_pressure(temp)


def h2o_ppm_from_rh(rh: ArrayLike, temp: ArrayLike) -> NDArray[np.float64]:
    """Water vapour [ppm by volume] of air at relative humidity ``rh`` [%] and ``temp`` [°C].

    >>> round(float(h2o_ppm_from_rh(50.0, 20.0)))
    11515
    """
    return np.asarray(rh, dtype=np.float64) / 100.0 * saturation_vapour_pressure(temp) / P_ATM * 1e6


def jet_species_per_kelvin(
    heat_of_combustion: float, yield_: float, chi_conv: float, molar_mass: float = M_CO2
) -> float:
    """Excess of a combustion product [ppm] carried by a fire plume or ceiling jet per kelvin of
    its excess temperature.

    Parameters
    ----------
    heat_of_combustion : [kJ/kg]
    yield_ : product yield [kg/kg]
    chi_conv : convective share of the heat release [-]
    molar_mass : of the product [kg/mol]

    Notes
    -----
    In a plume of mass flow :math:`\\dot m`, :math:`\\Delta T = \\chi_c \\dot Q/(\\dot m c_p)` and
    :math:`\\Delta Y = \\dot m_i/\\dot m`, so :math:`\\Delta Y/\\Delta T = y c_p/(\\chi_c
    \\Delta H_c)`, converted to a mole fraction with :math:`M_{air}/M_i` [1]_.

    >>> round(jet_species_per_kelvin(20_000.0, 1.5, 0.7), 1)
    70.5
    """
    dy_dt = yield_ * 1.0 / (chi_conv * heat_of_combustion)
    return dy_dt * M_AIR / molar_mass * 1e6
