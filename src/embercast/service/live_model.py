"""The model the service scores with, and following its registry alias.

:class:`ModelHolder` loads ``model_ref`` (settings; default ``fire@champion``) through the one
verified path (:func:`embercast.lifecycle.detectors.load_detector`: a registry version's SHA-256
is checked before it is unpickled) with its alarm operating point (``alarm_``, chosen when it was
trained). :meth:`ModelHolder.refresh` asks the registry where the alias points and, when it has
moved, loads the new version beside the old one and swaps them in one assignment: a request
takes :attr:`ModelHolder.current` once and is scored by one model from start to end, and none
waits for or is dropped by a swap.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from embercast.alarm.decision import AlarmParams
from embercast.errors import InputError
from embercast.lifecycle.detectors import load_detector
from embercast.lifecycle.registry import Registry, is_ref, parse_ref
from embercast.models.base import FireDetector, is_fitted
from embercast.models.compiled import RowScorer
from embercast.models.trees import GBMDetector

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LiveModel:
    """A loaded detector with what the service reports about it."""

    ref: str
    name: str
    version: int | None
    detector: FireDetector = field(repr=False)
    params: AlarmParams
    features: tuple[str, ...]
    feature_set: str
    loaded_s: float
    scorer: RowScorer | None = field(default=None, repr=False)

    def score(self, X: NDArray[np.float64]) -> NDArray[np.float64]:
        """Fire probability of each row of ``X`` (columns in :attr:`features` order, NaN for
        missing): through the row scorer when the detector has one, else ``predict_proba``
        (the same probabilities)."""
        x = np.asarray(X, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != len(self.features):
            raise InputError(
                f"rows have {x.shape[-1] if x.ndim else 0} features; the model "
                f"{self.describe()} expects {len(self.features)}"
            )
        if self.scorer is not None and len(x) == 1:
            return np.array([self.scorer.score(x[0])])
        if self.scorer is not None:
            return self.scorer.score_rows(x)
        frame = pd.DataFrame(x, columns=list(self.features))
        return np.asarray(self.detector.predict_proba(frame)[:, 1], dtype=np.float64)

    def describe(self) -> str:
        """``name/version`` for a registry model, the file otherwise."""
        return f"{self.name}/{self.version}" if self.version is not None else self.name

    def summary(self) -> dict[str, Any]:
        """What ``/v1/models/current`` and predictions report about the model."""
        return {
            "ref": self.ref,
            "name": self.name,
            "version": self.version,
            "feature_set": self.feature_set,
            "features": list(self.features),
            "operating_point": {
                "threshold": self.params.threshold,
                "clear_threshold": self.params.clear_threshold,
                "delay_on_s": self.params.delay_on_s,
                "delay_off_s": self.params.delay_off_s,
                "slow_threshold": self.params.slow_threshold,
                "slow_window_s": self.params.slow_window_s,
                **self.params.co2_path(),
                "rule": self.params.describe(),
            },
        }


def load_live_model(ref: str) -> LiveModel:
    """Load ``ref`` (a registry reference or a model file) for serving; InputError when it
    names nothing loadable or an unfitted model."""
    name: str
    version: int | None
    if is_ref(ref):
        registry = Registry()
        name, version = registry.resolve(ref)
        detector = registry.load(f"{name}/{version}")
    else:
        name, version = ref, None
        detector = load_detector(ref)
    if not is_fitted(detector):
        raise InputError(f"the model {ref!r} is not fitted: the service scores trained models")
    params = getattr(detector, "alarm_", None)
    if not isinstance(params, AlarmParams):
        logger.warning("%s has no alarm operating point; the default one is used", ref)
        params = AlarmParams()
    scorer = RowScorer(detector) if isinstance(detector, GBMDetector) else None
    feature_set = str(detector.get_params().get("feature_set", "extended"))
    return LiveModel(
        ref, name, version, detector, params, tuple(detector.feature_names_in_), feature_set,
        time.time(), scorer,
    )  # fmt: skip


class ModelHolder:
    """The model being served, swapped when the registry alias behind ``ref`` moves."""

    def __init__(self, ref: str, model: LiveModel | None = None) -> None:
        self.ref = ref
        self.current: LiveModel | None = model
        self.error: str | None = None
        """Why the last load failed (None after a success)."""
        self._lock = threading.Lock()

    def refresh(self) -> bool:
        """Load the model when none is loaded or the alias points to another version; whether
        the model changed. A failure keeps the model being served and is kept in ``error``."""
        with self._lock:
            try:
                current = self.current
                if current is not None and (current.version is None or not self._moves()):
                    return False
                if current is not None:
                    name, version = Registry().resolve(self.ref)
                    if (name, version) == (current.name, current.version):
                        return False
                model = load_live_model(self.ref)
            except Exception as exc:  # keep serving the model there is
                self.error = f"{type(exc).__name__}: {exc}"
                logger.error("cannot load the model %s: %s", self.ref, self.error)
                return False
            self.error = None
            self.current = model
            logger.info("serving %s (%s)", model.describe(), self.ref)
            return True

    def follow(
        self,
        stop: threading.Event,
        period_s: float,
        on_change: Callable[[LiveModel], None] | None = None,
    ) -> None:
        """:meth:`refresh` every ``period_s`` [s] until ``stop`` is set, handing each new model
        to ``on_change``; a failure is logged and the model being served stays."""
        while not stop.wait(period_s):
            try:
                if self.refresh() and on_change is not None and self.current is not None:
                    on_change(self.current)
            except Exception:
                logger.exception("could not follow the model %s", self.ref)

    def _moves(self) -> bool:
        """Whether ``ref`` can point elsewhere later (an alias, not a fixed version)."""
        return is_ref(self.ref) and parse_ref(self.ref)[1] is not None
