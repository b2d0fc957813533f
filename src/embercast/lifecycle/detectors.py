"""Which detector a reference names: a baseline (``rate_of_rise``), a registry reference
(``fire@champion``, ``fire/3``) or a model file (``runs/gbm.pkl``). The command line, the
pipeline and the service all resolve references here."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from embercast.errors import InputError
from embercast.lifecycle.registry import Registry, is_ref
from embercast.models.base import FireDetector
from embercast.models.factory import BASELINES, make_detector
from embercast.models.persistence import load_model

__all__ = ["load_detector", "load_detectors"]


def load_detector(ref: str) -> FireDetector:
    """The detector ``ref`` names: a baseline (unfitted), the registry's version behind a
    reference, or the model in a file. Raises ValueError (a registry or model-file error) when
    ``ref`` names nothing that can be loaded."""
    if ref in BASELINES:
        return make_detector(ref)
    if is_ref(ref):
        return Registry().load(ref)
    return load_model(ref)


def load_detectors(refs: Sequence[str]) -> dict[str, FireDetector]:
    """The detectors ``refs`` name, in order, each under its name in a report: a baseline's or a
    registry reference as given, a model file's stem (its path when the stem is another file's
    or a baseline's). ValueError for an unknown reference or a detector named twice.

    >>> list(load_detectors(["rate_of_rise", "co2_threshold"]))
    ['rate_of_rise', 'co2_threshold']
    """
    stems = [Path(r).stem for r in refs if r not in BASELINES and not is_ref(r)]
    detectors: dict[str, FireDetector] = {}
    for ref in refs:
        if ref in BASELINES or is_ref(ref):
            name = ref
        else:
            stem = Path(ref).stem
            name = stem if stems.count(stem) == 1 and stem not in BASELINES else ref
        if name in detectors:
            raise InputError(f"--model {ref!r} is given twice")
        detectors[name] = load_detector(ref)
    return detectors
