"""Pure physics functions with units and references (fire, plume, ceiling jet, compartment, species,
ventilation, transport, heating, radiation). Scalars or arrays in, no globals, no I/O.

Glossary of names and units used throughout (units live in docstrings, not in names)::

    q, hrr          heat release rate                       [kW]
    alpha           t-squared growth coefficient            [kW/s^2]
    t               time                                    [s]
    z, h, r, d      height, ceiling height, radius, diameter [m]
    temp_*          temperature                             [°C] unless a docstring says [K]
    co2             CO2 volume fraction                     [ppm]
    ach             air changes per hour                    [1/h]
    volume          room volume                             [m^3]
"""
