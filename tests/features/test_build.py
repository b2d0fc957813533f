"""The offline feature table: rebuilt the same on any engine; refused or flagged input."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from embercast.features.build import FeaturesError, build_features
from helpers import OfflineFeatures


@pytest.fixture
def dataset(frames_dataset: Path) -> Path:
    """Three scenarios with every frame stored (conftest: shared, read-only)."""
    return frames_dataset


def test_rebuilding_gives_the_same_hash_and_any_engine_too(
    dataset: Path, offline_features: OfflineFeatures, tmp_path: Path
) -> None:
    # build_features(dataset, out_a): standard18 on the default engine, once per session
    a, out_a = offline_features("standard18")
    b = build_features(str(dataset), str(tmp_path / "b"), workers=2)
    c = build_features(str(dataset), str(tmp_path / "c"), engine="dask", workers=2)
    assert a.content_hash == b.content_hash == c.content_hash
    assert a.warnings == []
    again = build_features(str(dataset), str(out_a))
    assert again.status == "complete" and again.content_hash == a.content_hash
    with pytest.raises(FeaturesError, match="pass --overwrite"):
        build_features(str(dataset), str(out_a), feature_set="extended")


def test_incomplete_dataset_is_refused(tmp_path: Path) -> None:
    (tmp_path / "ds").mkdir()
    with pytest.raises(FeaturesError, match="not a complete dataset"):
        build_features(str(tmp_path / "ds"), str(tmp_path / "f"))


def test_camera_dropout_and_no_frames_give_nan_thermal_with_a_flag(
    three_classes: Path, tmp_path: Path
) -> None:
    out = three_classes  # generated with no frames stored, once per session (conftest)
    summary = build_features(str(out), str(tmp_path / "f"))
    assert "stores frames 'none'" in summary.warnings[0]
    t = pq.read_table(tmp_path / "f" / "features").to_pandas()
    assert t.thermal_missing.all() and (t.thermal_status == "no_frame").all()
    assert t.t_mean.isna().all() and t.flow_mag_mean.isna().all() and t.tproxy_vel.isna().all()
    assert t.gas_val.notna().any()
