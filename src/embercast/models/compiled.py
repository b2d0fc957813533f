"""Scoring LightGBM detectors without library-call overhead, with the same probabilities as
``predict_proba`` (tested): each member's isotonic calibration as an interpolation table, and
the members' mean.

- :class:`RowScorer`, for the live service's one-reading-at-a-time path: each member's booster
  (or its compiled trees) called on a plain array.
- :class:`CompiledScorer`, for batch inference: each member's trees compiled to native code by
  lleaves (LLVM), which walks a row through them faster than LightGBM's own predictor
  (BENCHMARKS.md). A compiled booster is kept in ``compiled_dir`` (settings) under the hash of
  its model text and the host CPU, so each model compiles once per machine.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from functools import cache, partial
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from embercast.config import get_settings
from embercast.errors import InputError
from embercast.models.augment import evidence_columns
from embercast.models.base import FireDetector
from embercast.models.trees import GBMDetector

_Table = NDArray[np.float64] | None


def _members(
    detector: FireDetector, path: str, camera_less: bool = False
) -> list[tuple[Any, _Table, _Table]]:
    """Each member's LightGBM booster and its calibration table (thresholds in, probabilities
    out; None without a calibrator); with ``camera_less``, those of the members that score rows
    without a camera (none for a detector without them). ValueError for a detector that is not
    LightGBM."""
    if not isinstance(detector, GBMDetector):
        raise InputError(
            f"{path} supports LightGBM detectors (gbm, gas), not {type(detector).__name__}"
        )
    members: list[tuple[Any, _Table, _Table]] = []
    chosen = getattr(detector, "camera_less_members_", []) if camera_less else detector.members_
    for model, calibrator in chosen:
        if calibrator is None:
            members.append((model.booster_, None, None))
        else:
            x = np.asarray(calibrator.X_thresholds_, dtype=float)
            y = np.asarray(calibrator.y_thresholds_, dtype=float)
            members.append((model.booster_, x, y))
    return members


def _camera_columns(detector: FireDetector) -> tuple[list[int], list[int]]:
    """Positions, in the detector's feature order, of its SCD41 and its camera features (what
    the camera-less members read, and what is all missing when they score a row)."""
    names = list(detector.feature_names_in_)
    gas, thermal = evidence_columns(names)
    return [names.index(c) for c in gas], [names.index(c) for c in thermal]


def _sensor_columns(gas: list[int], thermal: list[int]) -> list[int]:
    """Positions of every SCD41 and camera feature of :func:`_camera_columns` (none when the
    detector reads no SCD41 feature: no row is then without a sensor)."""
    return gas + thermal if gas else []


def _no_sensor(x: NDArray[np.float64], sensors: list[int]) -> NDArray[np.bool_]:
    """Rows of ``x`` with none of the features at ``sensors`` (:func:`_sensor_columns`):
    scored 0, as the detector scores them
    (:func:`~embercast.models.augment.no_sensor_left`)."""
    if not sensors:
        return np.zeros(len(x), dtype=bool)
    return np.asarray(np.isnan(x[:, sensors]).all(axis=1), dtype=bool)


def _calibrated(raw: Any, cx: _Table, cy: _Table) -> Any:
    """Raw probabilities through a calibration table (isotonic regression clipped at its ends
    interpolates linearly between its thresholds, as ``np.interp`` does)."""
    return raw if cx is None or cy is None else np.interp(raw, cx, cy)


class RowScorer:
    """Fire probability of one feature row (values in ``features`` order).

    ``compiled`` scores each member through its trees compiled to native code
    (:func:`compiled_booster`, kept in ``directory``, default settings' ``compiled_dir``), faster
    per row than LightGBM's own predictor (BENCHMARKS.md); the first use of a model on a
    machine compiles it (seconds), later ones load it."""

    def __init__(
        self, detector: FireDetector, compiled: bool = False, directory: str | None = None
    ) -> None:
        self.features: tuple[str, ...] = tuple(detector.feature_names_in_)
        self.compiled = compiled

        def predictors(
            camera_less: bool,
        ) -> list[tuple[Callable[[NDArray[np.float64]], Any], _Table, _Table]]:
            return [
                (
                    partial(compiled_booster(booster, directory).predict, n_jobs=1)
                    if compiled
                    else partial(booster.predict, num_threads=1),
                    cx,
                    cy,
                )
                for booster, cx, cy in _members(detector, "fast single-row scoring", camera_less)
            ]

        self._members = predictors(False)
        self._camera_less = predictors(True)
        self._gas, self._thermal = _camera_columns(detector)
        self._sensors = _sensor_columns(self._gas, self._thermal)

    def score(self, row: NDArray[np.float64]) -> float:
        """Fire probability of one row (NaN allowed for missing features)."""
        x = self._check(np.asarray(row, dtype=np.float64).reshape(1, -1))
        if _no_sensor(x, self._sensors)[0]:
            return 0.0
        members = self._members
        if self._camera_less and np.isnan(x[0, self._thermal]).all():
            members, x = self._camera_less, x[:, self._gas]
        total = 0.0
        for predict, cx, cy in members:
            total += float(_calibrated(float(predict(x)[0]), cx, cy))
        return total / len(members)

    def score_rows(self, X: NDArray[np.float64]) -> NDArray[np.float64]:
        """Fire probability of each row of ``X``, each member called once for all of them: the
        same numbers as :meth:`score` row by row (rows without a camera go to the camera-less
        members)."""
        x = self._check(np.asarray(X, dtype=np.float64).reshape(len(X), -1))
        out = np.zeros(len(x))
        nothing = _no_sensor(x, self._sensors)
        blind: NDArray[np.bool_] = np.zeros(len(x), dtype=bool)
        if self._camera_less:
            blind = np.asarray(np.isnan(x[:, self._thermal]).all(axis=1)) & ~nothing
        for members, rows, take in ((self._members, ~blind & ~nothing, None),
                                    (self._camera_less, blind, self._gas)):  # fmt: skip
            if not rows.any():
                continue
            part = x[rows] if take is None else x[rows][:, take]
            total = np.zeros(len(part))
            for predict, cx, cy in members:
                total += _calibrated(np.asarray(predict(part), dtype=np.float64), cx, cy)
            out[rows] = total / len(members)
        return out

    def _check(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        if x.shape[1] != len(self.features):
            raise InputError(
                f"row has {x.shape[1]} features, but the scorer is expecting {len(self.features)}"
            )
        return x


_LOADED: dict[str, Any] = {}
"""Compiled boosters loaded in this process, by cache key."""


@cache
def _host_cpu() -> str:
    """The host CPU's name and features, which compiled code is specialised for."""
    import llvmlite.binding as llvm

    return f"{llvm.get_host_cpu_name()} {llvm.get_host_cpu_features().flatten()}"


def _compiled_file(text: str, directory: str | None) -> tuple[str, Path]:
    """The cache key of a booster's model ``text`` on this CPU, and its compiled file."""
    key = hashlib.sha256(f"{text}\n{_host_cpu()}".encode()).hexdigest()[:32]
    return key, Path(directory or get_settings().compiled_dir) / f"lightgbm-{key}.o"


def is_compiled(detector: FireDetector, directory: str | None = None) -> bool:
    """Whether every member of a LightGBM ``detector`` is compiled on this CPU already (loaded
    in this process, or kept in ``directory``, default settings' ``compiled_dir``); False for a
    detector that is not LightGBM."""
    if not isinstance(detector, GBMDetector):
        return False
    for booster, _, _ in _members(detector, "compiled scoring"):
        key, target = _compiled_file(booster.model_to_string(), directory)
        if key not in _LOADED and not target.is_file():
            return False
    return True


def compiled_booster(booster: Any, directory: str | None = None) -> Any:
    """A LightGBM ``booster`` compiled to native code (an ``lleaves.Model`` whose ``predict``
    gives what ``booster.predict`` gives), from ``directory`` (default: settings'
    ``compiled_dir``) when compiled there before on this CPU; compiled and kept there if not.
    The file appears whole or not at all (written aside, then renamed)."""
    import lleaves

    text = booster.model_to_string()
    key, target = _compiled_file(text, directory)
    if key in _LOADED:
        return _LOADED[key]
    folder = target.parent
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".compiling-") as tmp:
        model_file = Path(tmp) / "model.txt"
        model_file.write_text(text)
        model = lleaves.Model(model_file=str(model_file))
        if target.is_file():
            model.compile(cache=str(target))
        else:
            built = Path(tmp) / "model.o"
            model.compile(cache=str(built))
            os.replace(built, target)
    _LOADED[key] = model
    return model


class CompiledScorer:
    """Fire probabilities of a table of feature rows from a LightGBM detector whose trees are
    compiled to native code (:func:`compiled_booster`); the same columns are required and
    checked as by the detector's ``predict_proba``. One thread by default, as the detectors'
    own scoring (parallelism comes from the workers that score parts). Pickles as the detector
    and compiles (or loads) again where it is unpickled, so it can travel to Dask workers."""

    def __init__(
        self, detector: FireDetector, directory: str | None = None, threads: int = 1
    ) -> None:
        self.detector = detector
        self.directory = directory
        self.threads = threads
        self._compile()

    def _compile(self) -> None:
        """Compile (or load) each member's booster; ValueError for a detector not LightGBM."""
        self._members, self._camera_less = (
            [
                (compiled_booster(booster, self.directory), cx, cy)
                for booster, cx, cy in _members(self.detector, "compiled batch scoring", less)
            ]
            for less in (False, True)
        )
        self._gas, self._thermal = _camera_columns(self.detector)
        self._sensors = _sensor_columns(self._gas, self._thermal)

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in ("_members", "_camera_less")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._compile()

    def score(self, X: Any) -> NDArray[np.float64]:
        """Fire probability of each row of ``X`` (a DataFrame with the detector's features, or
        an array of them in its order) [-]."""
        frame = self.detector._prepare_predict(X)
        values = np.ascontiguousarray(frame.to_numpy(dtype=np.float64))
        nothing = _no_sensor(values, self._sensors)
        missing = (
            np.isnan(values[:, self._thermal]).all(axis=1) & ~nothing
            if self._camera_less
            else np.zeros(len(values), dtype=bool)
        )
        p = np.zeros(len(values), dtype=np.float64)
        for members, rows in ((self._members, ~missing & ~nothing), (self._camera_less, missing)):
            if not rows.any():
                continue
            part = values[rows]
            if members is self._camera_less:
                part = np.ascontiguousarray(part[:, self._gas])
            total = np.zeros(len(part), dtype=np.float64)
            for model, cx, cy in members:
                total += _calibrated(model.predict(part, n_jobs=self.threads), cx, cy)
            p[rows] = total / len(members)
        return np.clip(p, 0.0, 1.0)
