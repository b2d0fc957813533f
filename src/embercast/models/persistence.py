"""A trained detector as a file: the pickled estimator beside a JSON description that records
its SHA-256.

Loading checks the file against the recorded SHA-256 before unpickling it, so a model file
replaced or changed after it was saved (by mistake, or by someone who can write the file but
not its description) is refused instead of run. It does not protect against someone who can
rewrite both: a pickle runs code when loaded, so load models only from a store you trust
(docs/MODELS.md, "Model files and the registry").
"""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path
from typing import Any

from embercast.errors import InputError
from embercast.models.base import FireDetector

FORMAT = "embercast-model/1"


def save_model(detector: FireDetector, path: str, meta: dict[str, Any]) -> None:
    """Write ``path`` (pickle) and ``path.json`` (what it is, what it was trained on, and the
    SHA-256 of the pickle); the description is written last."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    data = pickle.dumps(detector)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(target)
    info = {"format": FORMAT, "class": type(detector).__name__,
            "params": detector.get_params(), **meta,
            "sha256": hashlib.sha256(data).hexdigest()}  # fmt: skip
    described = target.with_name(target.name + ".json")
    tmp = described.with_name(f".{described.name}.tmp")
    tmp.write_text(json.dumps(info, indent=2, default=str))
    tmp.replace(described)


def verified_unpickle(data: bytes, expected: str | None, what: str) -> FireDetector:
    """The detector pickled in ``data`` once its SHA-256 equals ``expected``; InputError when
    there is no recorded hash, the hash differs (nothing is unpickled then), or ``data`` holds
    something else."""
    if not expected:
        raise InputError(f"{what} has no recorded SHA-256, so it is not loaded; save it again")
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise InputError(
            f"{what} does not match its recorded SHA-256 (recorded {expected[:12]}..., "
            f"found {actual[:12]}...): it changed after it was saved, so it is not loaded"
        )
    try:
        detector = pickle.loads(data)
    except Exception as exc:  # a truncated or foreign pickle
        raise InputError(f"{what} cannot be loaded: {exc}") from None
    if not isinstance(detector, FireDetector):
        raise InputError(f"{what} holds a {type(detector).__name__}, not a fire detector")
    return detector


def load_model(path: str) -> FireDetector:
    """Read a detector written by :func:`save_model`, verified against its recorded SHA-256;
    InputError for a missing, foreign or changed file."""
    target = Path(path)
    info_path = target.with_name(target.name + ".json")
    if not target.is_file() or not info_path.is_file():
        raise InputError(f"no saved model at {path!r} (expected {target.name} and its .json)")
    try:
        info = json.loads(info_path.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(f"{info_path} is not a model description: {exc}") from None
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        found = info.get("format") if isinstance(info, dict) else None
        raise InputError(f"{path!r} is not an embercast model (format {found!r})")
    return verified_unpickle(target.read_bytes(), info.get("sha256"), repr(path))
