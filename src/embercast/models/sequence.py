"""Temporal detectors: a GRU or an LSTM (PyTorch, CPU) over the last rows of each device stream.

Each row is scored from the window of its device's last ``window`` feature rows (the stream's
first row repeated before it starts), so the model sees how the features evolve, as a person
watching the trend would. Features are standardised with training statistics; a missing value
becomes 0 (the mean) with a missing-thermal indicator channel beside it. Probabilities are
calibrated (isotonic) on scenarios held out of the network's training.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from numpy.typing import NDArray
from sklearn.utils._param_validation import Interval, StrOptions

from embercast.features.sets import FEATURE_SETS, feature_names
from embercast.models.base import FireDetector, _two_columns
from embercast.models.calibration import calibrated, fit_isotonic, held_out_rows

STREAM_KEYS = ("scenario_id", "device_id", "t_s")


class _Net(torch.nn.Module):
    """A one-layer GRU or LSTM and a linear head on its last step (a fire logit)."""

    def __init__(self, cell: str, n_inputs: int, hidden: int) -> None:
        super().__init__()
        rnn = torch.nn.GRU if cell == "gru" else torch.nn.LSTM
        self.rnn = rnn(n_inputs, hidden, batch_first=True)
        self.head = torch.nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)
        logit: torch.Tensor = self.head(out[:, -1, :]).squeeze(-1)
        return logit


def windows(
    values: NDArray[np.float32], streams: NDArray[np.int64], window: int
) -> NDArray[np.float32]:
    """(n, window, f) windows of rows ending at each row, within its stream (rows sorted by
    stream then time); before a stream's first row, that row is repeated.

    >>> v = np.arange(4, dtype=np.float32)[:, None]
    >>> windows(v, np.array([0, 0, 1, 1]), 2)[:, :, 0].tolist()
    [[0.0, 0.0], [0.0, 1.0], [2.0, 2.0], [2.0, 3.0]]
    """
    n = len(values)
    idx = np.arange(n)[:, None] - np.arange(window - 1, -1, -1)[None, :]
    start = np.zeros(n, dtype=np.int64)
    change = np.flatnonzero(np.r_[True, streams[1:] != streams[:-1]])
    start[change] = change
    start = np.maximum.accumulate(start)
    idx = np.maximum(idx, start[:, None])
    out: NDArray[np.float32] = values[idx]
    return out


class SequenceNet(FireDetector):
    """GRU (``cell="gru"``) or LSTM (``cell="lstm"``) over windows of ``window`` rows."""

    decision_threshold: ClassVar[float] = 0.7
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "cell": [StrOptions({"gru", "lstm"})],
        "feature_set": [StrOptions(set(FEATURE_SETS))],
        "window": [Interval(Integral, 1, None, closed="left")],
        "hidden": [Interval(Integral, 1, None, closed="left")],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, 1, closed="right")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "calibration_fraction": [Interval(Real, 0, 1, closed="neither")],
        "random_state": [Interval(Integral, 0, None, closed="left")],
    }

    def __init__(
        self,
        cell: str = "gru",
        feature_set: str = "extended",
        window: int = 12,
        hidden: int = 32,
        epochs: int = 8,
        learning_rate: float = 0.003,
        batch_size: int = 256,
        calibration_fraction: float = 0.25,
        random_state: int = 0,
    ) -> None:
        self.cell = cell
        self.feature_set = feature_set
        self.window = window
        self.hidden = hidden
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.calibration_fraction = calibration_fraction
        self.random_state = random_state

    def _features(self) -> tuple[str, ...]:
        return feature_names(self.feature_set)

    def fit(self, X: Any, y: Any, groups: Any = None) -> SequenceNet:
        """Fit; rows of X must be grouped by device stream in time order (as feature tables
        are), with scenario_id and device_id beside the features (else one stream)."""
        streams = _stream_ids(X)
        frame, target = self._prepare_fit(X, y)
        self._train(frame, target, None if groups is None else np.asarray(groups), streams)
        return self

    def predict_proba(self, X: Any) -> NDArray[np.float64]:
        """(n, 2) probabilities of no fire and fire, each row scored from its window."""
        streams = _stream_ids(X)
        return _two_columns(self._score(self._tensor(self._prepare_predict(X), streams)))

    def _tensor(self, X: pd.DataFrame, streams: NDArray[np.int64] | None) -> NDArray[np.float32]:
        values = ((X.to_numpy(dtype=float) - self.mean_) / self.scale_).astype(np.float32)
        missing = np.isnan(values)
        values[missing] = 0.0
        thermal_gap = missing[:, : min(15, values.shape[1])].all(axis=1, keepdims=True)
        values = np.hstack([values, thermal_gap.astype(np.float32)])
        return windows(
            values, np.zeros(len(X), np.int64) if streams is None else streams, self.window
        )

    def _net(self, n_inputs: int) -> _Net:
        return _Net(self.cell, n_inputs, self.hidden)

    def _train(
        self,
        X: pd.DataFrame,
        y: NDArray[np.int_],
        groups: NDArray[Any] | None,
        streams: NDArray[np.int64] | None,
    ) -> None:
        torch.manual_seed(self.random_state)
        torch.set_num_threads(1)
        self.mean_ = np.nanmean(X.to_numpy(dtype=float), axis=0)
        self.mean_ = np.where(np.isnan(self.mean_), 0.0, self.mean_)
        scale = np.nanstd(X.to_numpy(dtype=float), axis=0)
        self.scale_ = np.where(np.isnan(scale) | (scale == 0), 1.0, scale)
        seqs = self._tensor(X, streams)
        hold = held_out_rows(y, groups, self.calibration_fraction, self.random_state)
        net = self._net(seqs.shape[2])
        optimiser = torch.optim.Adam(net.parameters(), lr=self.learning_rate)
        loss_fn = torch.nn.BCEWithLogitsLoss()
        train_x = torch.from_numpy(seqs[~hold])
        train_y = torch.from_numpy(y[~hold].astype(np.float32))
        rng = np.random.default_rng(self.random_state)
        net.train()
        for _ in range(self.epochs):
            order = rng.permutation(len(train_x))
            for start in range(0, len(order), self.batch_size):
                batch = torch.from_numpy(order[start : start + self.batch_size])
                optimiser.zero_grad()
                loss = loss_fn(net(train_x[batch]), train_y[batch])
                loss.backward()
                optimiser.step()
        net.eval()
        self.net_ = net
        self.calibrator_ = fit_isotonic(self._raw(seqs[hold]), y[hold]) if hold.any() else None

    def _raw(self, seqs: NDArray[np.float32]) -> NDArray[np.float64]:
        with torch.no_grad():
            logits = self.net_(torch.from_numpy(seqs)).numpy()
        return np.asarray(1.0 / (1.0 + np.exp(-logits)), dtype=float)

    def _score(self, seqs: NDArray[np.float32]) -> NDArray[np.float64]:
        return calibrated(self._raw(seqs), self.calibrator_)


def _stream_ids(X: Any) -> NDArray[np.int64] | None:
    """Stream index of each row when X carries scenario_id and device_id (rows must be in time
    order within a stream); None for plain arrays (one stream in row order)."""
    if not isinstance(X, pd.DataFrame) or not {"scenario_id", "device_id"} <= set(X.columns):
        return None
    keys = X["scenario_id"].astype(str) + "\x1f" + X["device_id"].astype(str)
    codes, _ = pd.factorize(keys)
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    if len(starts) != len(np.unique(codes)):
        raise ValueError("rows of each device stream must be together and in time order")
    return np.asarray(codes, dtype=np.int64)
