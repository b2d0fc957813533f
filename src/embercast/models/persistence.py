"""A trained detector as a file: the serialized estimator beside a JSON description that
records its format and SHA-256.

Two formats, chosen by the file's extension:

* ``.skops`` (skops.io): no code runs when it is loaded; only the types of
  :data:`TRUSTED_MODULES` (scikit-learn, LightGBM, whose boosters keep their own text model, and
  embercast's detectors) are rebuilt, and a file that names any other type is refused.
  Every tree model and baseline fits; the temporal networks (PyTorch) do not.
* anything else (``.pkl``): pickle, which runs code when loaded.

Loading checks the file against the recorded SHA-256 before reading it, so a model file
replaced or changed after it was saved (by mistake, or by someone who can write the file but
not its description) is refused instead of run. It does not protect against someone who can
rewrite both; with pickle that means running their code, with skops only rebuilding trusted
types (docs/MODELS.md, "Model files and the registry").
"""

from __future__ import annotations

import hashlib
import json
import pickle
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

from embercast.errors import InputError
from embercast.models.base import FireDetector

FORMAT = "embercast-model/1"
Serialization = Literal["skops", "pickle"]
TRUSTED_MODULES: tuple[str, ...] = (
    "collections.OrderedDict",
    "sklearn.",
    "lightgbm.",
    "embercast.models.",
    "embercast.alarm.decision.AlarmParams",
)
"""Types (by prefix) a ``.skops`` model file may hold beyond those skops trusts itself (numpy
arrays, plain containers); a file naming any other type is refused. A trained detector carries
its alarm operating point (``AlarmParams``, a frozen record of numbers)."""


_ARRAY_API_SHIMS = tuple(
    f"sklearn.externals.array_api_compat.{library}" for library in ("torch", "dask", "cupy")
)
"""scikit-learn's array-API shims for other libraries, each of which imports its library."""


def _skops() -> ModuleType:
    """``skops.io``, imported without PyTorch and Dask.

    skops lists scikit-learn's estimators when it is first imported
    (``sklearn.utils.all_estimators``), whose package walk imports every sub-package, the
    array-API shims of :data:`_ARRAY_API_SHIMS` among them, and so PyTorch and Dask, which every
    process that loads a model would then pay for when it starts and when it stops. The shims
    hold no estimator and the walk passes over a package it cannot import, so they are kept out
    while skops is first imported, then allowed again.
    """
    if "skops.io" in sys.modules:
        return sys.modules["skops.io"]
    kept_out = [name for name in _ARRAY_API_SHIMS if name not in sys.modules]
    for name in kept_out:
        sys.modules[name] = None  # type: ignore[assignment]  # import raises ImportError
    try:
        import skops.io  # noqa: F401
    finally:
        for name in kept_out:
            del sys.modules[name]
    return sys.modules["skops.io"]


def serialization_for(path: str) -> Serialization:
    """``skops`` for a ``.skops`` file, else ``pickle``."""
    return "skops" if path.endswith(".skops") else "pickle"


def dumps_detector(detector: FireDetector, serialization: Serialization) -> bytes:
    """``detector`` as bytes; InputError when skops cannot hold it (a PyTorch network)."""
    if serialization == "pickle":
        return pickle.dumps(detector)
    sio = _skops()

    try:
        data = bytes(sio.dumps(detector))
    except Exception as exc:  # skops names the type it cannot hold
        raise InputError(
            f"a {type(detector).__name__} cannot be saved as .skops ({exc}); save it as .pkl"
        ) from None
    trusted_types(data, f"a {type(detector).__name__} saved as .skops")  # loadable again
    return data


def save_model(detector: FireDetector, path: str, meta: dict[str, Any]) -> None:
    """Write ``path`` (skops for ``.skops``, else pickle) and ``path.json`` (what it is, what it
    was trained on, its serialization and SHA-256); the description is written last."""
    target = Path(path)
    serialization = serialization_for(path)
    data = dumps_detector(detector, serialization)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(target)
    info = {"format": FORMAT, "class": type(detector).__name__,
            "params": detector.get_params(), **meta, "serialization": serialization,
            "sha256": hashlib.sha256(data).hexdigest()}  # fmt: skip
    described = target.with_name(target.name + ".json")
    tmp = described.with_name(f".{described.name}.tmp")
    tmp.write_text(json.dumps(info, indent=2, default=str))
    tmp.replace(described)


def verified_load(
    data: bytes, expected: str | None, what: str, serialization: Serialization
) -> FireDetector:
    """The detector in ``data`` once its SHA-256 equals ``expected``: read with skops (trusted
    types only) or unpickled; InputError when there is no recorded hash, the hash differs
    (nothing is read then), a skops file names an untrusted type, or ``data`` holds something
    else."""
    _check_digest(data, expected, what)
    if serialization == "pickle":
        return _unpickle(data, what)
    sio = _skops()

    types = trusted_types(data, what)
    try:
        detector = sio.loads(data, trusted=types)
    except Exception as exc:
        raise InputError(f"{what} cannot be loaded: {exc}") from None
    return _detector(detector, what)


def trusted_types(data: bytes, what: str) -> list[str]:
    """The types a skops file names beyond skops' own trusted ones, all in
    :data:`TRUSTED_MODULES`; InputError naming the others, or for data that is not skops."""
    sio = _skops()

    try:
        types = [str(t) for t in sio.get_untrusted_types(data=data)]
    except Exception as exc:  # not a skops file
        raise InputError(f"{what} cannot be loaded: {exc}") from None
    foreign = [t for t in types if not t.startswith(TRUSTED_MODULES)]
    if foreign:
        raise InputError(f"{what} holds types that are not trusted, so it is not loaded: {foreign}")
    return types


def _check_digest(data: bytes, expected: str | None, what: str) -> None:
    if not expected:
        raise InputError(f"{what} has no recorded SHA-256, so it is not loaded; save it again")
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise InputError(
            f"{what} does not match its recorded SHA-256 (recorded {expected[:12]}..., "
            f"found {actual[:12]}...): it changed after it was saved, so it is not loaded"
        )


def _detector(obj: object, what: str) -> FireDetector:
    if not isinstance(obj, FireDetector):
        raise InputError(f"{what} holds a {type(obj).__name__}, not a fire detector")
    return obj


def _unpickle(data: bytes, what: str) -> FireDetector:
    try:
        detector = pickle.loads(data)
    except Exception as exc:  # a truncated or foreign pickle
        raise InputError(f"{what} cannot be loaded: {exc}") from None
    return _detector(detector, what)


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
    serialization = info.get("serialization", "pickle")
    if serialization not in ("skops", "pickle"):
        raise InputError(f"{info_path}: unknown serialization {serialization!r}")
    return verified_load(target.read_bytes(), info.get("sha256"), repr(path), serialization)
