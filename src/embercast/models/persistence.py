"""A trained detector as a file: the pickled estimator beside a JSON description.

(The MLflow registry, with aliases and promotion gates, stores the same estimators.)
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

from embercast.errors import InputError
from embercast.models.base import FireDetector

FORMAT = "embercast-model/1"


def save_model(detector: FireDetector, path: str, meta: dict[str, Any]) -> None:
    """Write ``path`` (pickle) and ``path.json`` (what it is and what it was trained on)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_bytes(pickle.dumps(detector))
    tmp.replace(target)
    info = {"format": FORMAT, "class": type(detector).__name__,
            "params": detector.get_params(), **meta}  # fmt: skip
    target.with_name(target.name + ".json").write_text(json.dumps(info, indent=2, default=str))


def load_model(path: str) -> FireDetector:
    """Read a detector written by :func:`save_model`; ValueError for a missing or foreign file."""
    target = Path(path)
    info_path = target.with_name(target.name + ".json")
    if not target.is_file() or not info_path.is_file():
        raise InputError(f"no saved model at {path!r} (expected {target.name} and its .json)")
    try:
        info = json.loads(info_path.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(f"{info_path} is not a model description: {exc}") from None
    if info.get("format") != FORMAT:
        raise InputError(f"{path!r} is not an embercast model (format {info.get('format')!r})")
    try:
        detector = pickle.loads(target.read_bytes())
    except Exception as exc:  # a truncated or foreign pickle
        raise InputError(f"{path!r} cannot be loaded: {exc}") from None
    if not isinstance(detector, FireDetector):
        raise InputError(f"{path!r} holds a {type(detector).__name__}, not a fire detector")
    return detector
