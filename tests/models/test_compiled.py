"""LightGBM scoring through compiled trees: row by row and in batches, the same probabilities."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from embercast.models.trees import GBMDetector, RandomForestDetector
from helpers import table


def test_row_scorer_gives_the_same_probabilities() -> None:
    from embercast.models.compiled import RowScorer

    X, y, groups = table()
    det = GBMDetector(n_estimators=40).fit(X, y, groups=groups)
    scorer = RowScorer(det)
    arr = X[list(scorer.features)].to_numpy()
    fast = np.array([scorer.score(r) for r in arr[:200]])
    np.testing.assert_allclose(fast, det.predict_proba(X.iloc[:200])[:, 1], rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="row has 3 features"):
        scorer.score(arr[0, :3])
    with pytest.raises(ValueError, match="supports LightGBM detectors"):
        RowScorer(RandomForestDetector(n_estimators=5).fit(X, y))


def test_row_scorer_through_compiled_trees_gives_the_same_probabilities(tmp_path: Path) -> None:
    from embercast.models import compiled

    X, y, groups = table()
    X = X.copy()
    X.iloc[::5, 1] = np.nan  # missing readings go down LightGBM's default branches
    det = GBMDetector(n_estimators=30, bags=2).fit(X, y, groups=groups)
    compiled._LOADED.clear()
    scorer = compiled.RowScorer(det, compiled=True, directory=str(tmp_path))
    # each member's trees compiled, the camera-less bag's too
    assert len(list(tmp_path.glob("lightgbm-*.o"))) == 4
    arr = X[list(scorer.features)].to_numpy()
    rows = np.array([scorer.score(r) for r in arr[:200]])
    np.testing.assert_allclose(rows, det.predict_proba(X.iloc[:200])[:, 1], rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="row has 3 features"):
        scorer.score(arr[0, :3])


def test_compiled_scorer_gives_the_same_probabilities(tmp_path: Path) -> None:
    from embercast.models import compiled

    X, y, groups = table()
    X = X.copy()
    X.iloc[::7, 0] = np.nan  # missing readings go down LightGBM's default branches
    det = GBMDetector(n_estimators=40, bags=2).fit(X, y, groups=groups)
    compiled._LOADED.clear()
    scorer = compiled.CompiledScorer(det, str(tmp_path))
    np.testing.assert_allclose(scorer.score(X), det.predict_proba(X)[:, 1], rtol=0, atol=1e-12)
    kept = sorted(tmp_path.glob("lightgbm-*.o"))
    # one per member of both bags, whole
    assert len(kept) == 4 and not list(tmp_path.glob(".compiling-*"))
    stamps = [f.stat().st_mtime_ns for f in kept]
    compiled._LOADED.clear()  # a new process: loads the kept files, compiles nothing
    again = pickle.loads(pickle.dumps(scorer))
    np.testing.assert_array_equal(again.score(X), scorer.score(X))
    assert [f.stat().st_mtime_ns for f in kept] == stamps
    with pytest.raises(ValueError, match="lacks the features"):
        scorer.score(X.drop(columns=[X.columns[0]]))
    with pytest.raises(ValueError, match="compiled batch scoring supports LightGBM"):
        compiled.CompiledScorer(RandomForestDetector(n_estimators=5).fit(X, y))


def test_camera_less_rows_are_scored_alike_everywhere(tmp_path: Path) -> None:
    from embercast.features.sets import camera_less_features
    from embercast.models import compiled
    from embercast.models.augment import sensor_columns

    X, y, groups = table(n_scenarios=16)
    X = X.copy()
    _, thermal = sensor_columns(list(X.columns))
    X.loc[X.index[::3], thermal] = np.nan  # a third of the rows without a camera
    gas = list(camera_less_features("extended"))
    X.loc[X.index[::12], gas] = np.nan  # and some of them without their SCD41: p 0
    det = GBMDetector(n_estimators=30, bags=2, camera_less=True).fit(X, y, groups=groups)
    p = det.predict_proba(X)[:, 1]
    np.testing.assert_array_equal(p[::12], 0.0)
    compiled._LOADED.clear()
    batch = compiled.CompiledScorer(det, str(tmp_path)).score(X)
    np.testing.assert_allclose(batch, p, rtol=0, atol=1e-12)
    for use_compiled in (False, True):
        scorer = compiled.RowScorer(det, compiled=use_compiled, directory=str(tmp_path))
        arr = X[list(scorer.features)].to_numpy()
        rows = np.array([scorer.score(r) for r in arr[:60]])
        np.testing.assert_allclose(rows, p[:60], rtol=0, atol=1e-12)
        # many rows at once, camera-less ones among them: the same numbers, bit for bit
        np.testing.assert_array_equal(scorer.score_rows(arr[:60]), rows)
        assert np.isnan(arr[:60:3, [list(scorer.features).index(c) for c in thermal]]).all()
    with pytest.raises(ValueError, match="row has 3 features"):
        scorer.score_rows(arr[:5, :3])
