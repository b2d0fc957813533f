"""Names of the detectors the CLI knows: baselines and trainable models."""

from __future__ import annotations

from collections.abc import Callable

from embercast.errors import InputError
from embercast.models.base import FireDetector
from embercast.models.baselines import CO2Threshold, HotspotThreshold, RateOfRiseHeat, ReferenceRF
from embercast.models.ensemble import EnsembleDetector
from embercast.models.trees import GasModel, GBMDetector, RandomForestDetector

BASELINES: dict[str, Callable[[], FireDetector]] = {
    "rate_of_rise": RateOfRiseHeat,
    "co2_threshold": CO2Threshold,
    "hotspot": HotspotThreshold,
    "reference_rf": ReferenceRF,
}
"""Baseline detectors (DESIGN 4.4), fitted on the training split when evaluated."""
MODELS: dict[str, Callable[[], FireDetector]] = {
    "rf": RandomForestDetector,
    "gbm": GBMDetector,
    "gas": GasModel,
    "ensemble": EnsembleDetector,
    "gru": lambda: _sequence_net("gru"),
    "lstm": lambda: _sequence_net("lstm"),
}
"""Trainable models."""


def _sequence_net(cell: str) -> FireDetector:
    from embercast.models.sequence import SequenceNet  # PyTorch loads only when asked for

    return SequenceNet(cell=cell)


def make_detector(name: str) -> FireDetector:
    """A fresh detector by name; ValueError naming BASELINES and MODELS if unknown."""
    factory = BASELINES.get(name) or MODELS.get(name)
    if factory is None:
        raise InputError(
            f"unknown model {name!r}: a baseline ({', '.join(BASELINES)}), a model "
            f"({', '.join(MODELS)}) or a saved model file"
        )
    return factory()
