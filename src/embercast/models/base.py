"""The contract every fire detector follows (scikit-learn's): hyperparameters only in
``__init__``, ``fit`` returns self, learned state ends in ``_``, parameter constraints declared as
data and checked at fit time, ``NotFittedError`` before fit, clear errors for wrong features.

Detectors take a feature table (a pandas DataFrame whose columns are feature names) and use the
columns they need by name, so the order of the columns has no effect. A plain array is accepted
when it has exactly the columns the detector was fitted on, in that order.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from embercast.errors import InputError

__all__ = ["FireDetector", "NotFittedError", "is_fitted"]


class FireDetector(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Base of every detector: binary fire / no fire from named features.

    Subclasses set ``features`` (or override :meth:`_features`), implement ``_fit`` and
    ``_proba`` (fire probability per row), and may set ``decision_threshold``.
    """

    features: ClassVar[tuple[str, ...]] = ()
    decision_threshold: ClassVar[float] = 0.5
    baseline: ClassVar[bool] = False
    """A baseline (DESIGN 4.4): what the detection goals measure models against."""
    learns_from_fires: ClassVar[bool] = True
    """Whether fitting needs fire rows as well as non-fire rows (a rule that learns its
    threshold from non-fire rows alone does not)."""
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {}

    def _features(self) -> tuple[str, ...]:
        return self.features

    def _frame(self, X: Any, *, fitting: bool) -> pd.DataFrame:
        name = type(self).__name__
        if isinstance(X, pd.DataFrame):
            wanted = list(self._features()) if fitting else list(self.feature_names_in_)
            missing = [c for c in wanted if c not in X.columns]
            if missing:
                raise InputError(f"X lacks the features {missing} that {name} needs")
            frame = X[wanted]
        else:
            arr = np.asarray(X, dtype=float)
            if arr.ndim != 2:
                raise InputError(f"X must be 2-D (rows x features), got shape {arr.shape}")
            expected = list(self._features()) if fitting else list(self.feature_names_in_)
            if arr.shape[1] != len(expected):
                raise InputError(
                    f"X has {arr.shape[1]} features, but {name} is expecting {len(expected)} "
                    f"features as input ({', '.join(expected)})"
                )
            frame = pd.DataFrame(arr, columns=expected)
        bad = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
        if bad:
            raise InputError(f"features {bad} of X are not numeric")
        return frame.astype(float)

    def _prepare_fit(self, X: Any, y: Any) -> tuple[pd.DataFrame, NDArray[np.int_]]:
        """Check parameters and inputs, record the fitted features; (features, labels)."""
        self._validate_params()
        frame = self._frame(X, fitting=True)
        target = np.asarray(y).astype(int).ravel()
        if target.shape[0] != len(frame):
            raise InputError(f"X has {len(frame)} rows but y has {target.shape[0]}")
        labels = set(np.unique(target).tolist())
        if not labels <= {0, 1}:
            raise InputError("y must hold 0 (no fire) and 1 (fire) only")
        if self.learns_from_fires and labels != {0, 1}:
            held = (
                "fire rows only" if labels == {1} else "no-fire rows only" if labels else "nothing"
            )
            raise InputError(
                f"{type(self).__name__} learns from fire and no-fire rows, but its training "
                f"rows hold {held}: train on more scenarios (or another split) so that both "
                "kinds are among them"
            )
        self.feature_names_in_ = np.asarray(frame.columns, dtype=object)
        self.n_features_in_ = len(frame.columns)
        self.classes_ = np.array([0, 1])
        return frame, target

    def fit(self, X: Any, y: Any, groups: Any = None) -> FireDetector:
        """Fit on feature rows ``X`` and labels ``y`` (0/1). ``groups`` (scenario ids) keeps
        any internal split by scenario. Returns self."""
        frame, target = self._prepare_fit(X, y)
        self._fit(frame, target, None if groups is None else np.asarray(groups))
        return self

    def _prepare_predict(self, X: Any) -> pd.DataFrame:
        check_is_fitted(self, "feature_names_in_")
        return self._frame(X, fitting=False)

    def predict_proba(self, X: Any) -> NDArray[np.float64]:
        """(n, 2) probabilities of no fire and fire."""
        p = self._proba(self._prepare_predict(X))
        return _two_columns(p)

    def predict(self, X: Any) -> NDArray[np.int_]:
        """1 where the fire probability reaches ``decision_threshold``."""
        return (self.predict_proba(X)[:, 1] >= self.decision_threshold).astype(int)

    def _fit(self, X: pd.DataFrame, y: NDArray[np.int_], groups: NDArray[Any] | None) -> None:
        raise NotImplementedError

    def _proba(self, X: pd.DataFrame) -> NDArray[np.float64]:
        raise NotImplementedError


def is_fitted(detector: FireDetector) -> bool:
    """Whether ``detector`` has been fitted (it knows its features, ``feature_names_in_``)."""
    try:
        check_is_fitted(detector, "feature_names_in_")
    except NotFittedError:
        return False
    return True


def _two_columns(p: Any) -> NDArray[np.float64]:
    """(n, 2) [no fire, fire] from fire probabilities, clipped to 0..1."""
    fire = np.clip(np.asarray(p, dtype=float), 0.0, 1.0)
    return np.column_stack([1.0 - fire, fire])
