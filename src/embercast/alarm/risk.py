"""Risk levels: names for ranges of a calibrated fire probability (DESIGN 4.5)."""

from __future__ import annotations

import math

RISK_LEVELS: tuple[tuple[str, float], ...] = (
    ("none", 0.0),
    ("low", 0.3),
    ("medium", 0.5),
    ("high", 0.7),
    ("critical", 0.9),
)
"""Risk level names and the probability at which each starts (DESIGN 4.5)."""


def risk_level(p: float, levels: tuple[tuple[str, float], ...] = RISK_LEVELS) -> str:
    """The risk level of a calibrated fire probability ``p`` (NaN: ``none``).

    >>> [risk_level(p) for p in (0.1, 0.3, 0.55, 0.7, 0.95)]
    ['none', 'low', 'medium', 'high', 'critical']
    """
    name = levels[0][0]
    if math.isnan(p):
        return name
    for level, start in levels:
        if p >= start:
            name = level
    return name
