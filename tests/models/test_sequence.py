"""The temporal detectors cut each row's window from its own device stream, per chunk."""

from __future__ import annotations

import numpy as np
import pytest

from embercast.models import sequence
from embercast.models.sequence import SequenceNet, stream_starts, windows
from helpers import table


def test_windows_stay_in_their_stream_for_any_rows() -> None:
    values = np.arange(10, dtype=np.float32)[:, None]
    starts = stream_starts(np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 2]))
    got = windows(values, starts, np.array([5, 1, 9]), 3)[:, :, 0]
    assert got.tolist() == [[4.0, 4.0, 5.0], [0.0, 0.0, 1.0], [7.0, 8.0, 9.0]]


def test_scores_do_not_depend_on_the_chunk_size(monkeypatch: pytest.MonkeyPatch) -> None:
    X, y, groups = table(n_scenarios=6, rows=30)
    X = X.assign(scenario_id=groups, device_id="d0", t_s=np.tile(np.arange(30) * 5.0, 6))
    net = SequenceNet(cell="gru", epochs=2, hidden=8, window=6).fit(X, y, groups=groups)
    whole = net.predict_proba(X)
    # chunks of 7 rows cut the 30-row streams mid-window: each window still reaches back
    # into the chunk before it
    monkeypatch.setattr(sequence, "SCORE_CHUNK", 7)
    np.testing.assert_allclose(net.predict_proba(X), whole, rtol=1e-6, atol=1e-7)
