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

from embercast.errors import InputError
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


SCORE_CHUNK = 16_384
"""Rows scored at once: their windows are built per chunk, never for a whole table."""


def stream_starts(streams: NDArray[np.int64]) -> NDArray[np.int64]:
    """Index of the first row of each row's stream (rows sorted by stream then time).

    >>> stream_starts(np.array([0, 0, 1, 1, 1])).tolist()
    [0, 0, 2, 2, 2]
    """
    start = np.zeros(len(streams), dtype=np.int64)
    change = np.flatnonzero(np.r_[True, streams[1:] != streams[:-1]])
    start[change] = change
    return np.maximum.accumulate(start)


def windows(
    values: NDArray[np.float32],
    starts: NDArray[np.int64],
    rows: NDArray[np.int64],
    window: int,
) -> NDArray[np.float32]:
    """(len(rows), window, f) windows of ``values`` ending at each of ``rows``, within its
    stream (``starts``: :func:`stream_starts`); before a stream's first row, that row is
    repeated. Built for the rows asked only, so a batch or chunk costs its own size.

    >>> v = np.arange(4, dtype=np.float32)[:, None]
    >>> s = stream_starts(np.array([0, 0, 1, 1]))
    >>> windows(v, s, np.arange(4), 2)[:, :, 0].tolist()
    [[0.0, 0.0], [0.0, 1.0], [2.0, 2.0], [2.0, 3.0]]
    """
    idx = rows[:, None] - np.arange(window - 1, -1, -1)[None, :]
    idx = np.maximum(idx, starts[rows][:, None])
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
        values, starts = self._inputs(self._prepare_predict(X).to_numpy(dtype=float), streams)
        return _two_columns(self._score(values, starts, np.arange(len(values))))

    def _inputs(
        self, matrix: NDArray[np.float64], streams: NDArray[np.int64] | None
    ) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        """Standardised rows with the missing-thermal channel (n, f + 1), and each row's stream
        start (:func:`stream_starts`): what the windows are cut from."""
        values = ((matrix - self.mean_) / self.scale_).astype(np.float32)
        missing = np.isnan(values)
        values[missing] = 0.0
        thermal_gap = missing[:, : min(15, values.shape[1])].all(axis=1, keepdims=True)
        values = np.hstack([values, thermal_gap.astype(np.float32)])
        ids = np.zeros(len(values), np.int64) if streams is None else streams
        return values, stream_starts(ids)

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
        matrix = X.to_numpy(dtype=float)
        self.mean_ = np.nanmean(matrix, axis=0)
        self.mean_ = np.where(np.isnan(self.mean_), 0.0, self.mean_)
        scale = np.nanstd(matrix, axis=0)
        self.scale_ = np.where(np.isnan(scale) | (scale == 0), 1.0, scale)
        values, starts = self._inputs(matrix, streams)
        del matrix
        hold = held_out_rows(y, groups, self.calibration_fraction, self.random_state)
        net = self._net(values.shape[1])
        optimiser = torch.optim.Adam(net.parameters(), lr=self.learning_rate)
        loss_fn = torch.nn.BCEWithLogitsLoss()
        train_rows = np.flatnonzero(~hold)
        train_y = torch.from_numpy(y[train_rows].astype(np.float32))
        rng = np.random.default_rng(self.random_state)
        net.train()
        for _ in range(self.epochs):
            order = rng.permutation(len(train_rows))
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                seqs = windows(values, starts, train_rows[batch], self.window)
                optimiser.zero_grad()
                loss = loss_fn(net(torch.from_numpy(seqs)), train_y[torch.from_numpy(batch)])
                loss.backward()
                optimiser.step()
        net.eval()
        self.net_ = net
        held = np.flatnonzero(hold)
        self.calibrator_ = (
            fit_isotonic(self._raw(values, starts, held), y[held]) if held.size else None
        )

    def _raw(
        self, values: NDArray[np.float32], starts: NDArray[np.int64], rows: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        """The network's fire probability of each of ``rows``, their windows built and scored
        :data:`SCORE_CHUNK` rows at a time."""
        out = np.empty(len(rows), dtype=float)
        with torch.no_grad():
            for lo in range(0, len(rows), SCORE_CHUNK):
                part = rows[lo : lo + SCORE_CHUNK]
                seqs = torch.from_numpy(windows(values, starts, part, self.window))
                logits = self.net_(seqs).numpy()
                out[lo : lo + len(part)] = 1.0 / (1.0 + np.exp(-logits))
        return out

    def _score(
        self, values: NDArray[np.float32], starts: NDArray[np.int64], rows: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        return calibrated(self._raw(values, starts, rows), self.calibrator_)


def _stream_ids(X: Any) -> NDArray[np.int64] | None:
    """Stream index of each row when X carries scenario_id and device_id (rows must be in time
    order within a stream); None for plain arrays (one stream in row order)."""
    if not isinstance(X, pd.DataFrame) or not {"scenario_id", "device_id"} <= set(X.columns):
        return None
    keys = X["scenario_id"].astype(str) + "\x1f" + X["device_id"].astype(str)
    codes, _ = pd.factorize(keys)
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    if len(starts) != len(np.unique(codes)):
        raise InputError("rows of each device stream must be together and in time order")
    return np.asarray(codes, dtype=np.int64)
