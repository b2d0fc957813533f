"""Batch prediction over feature sets and raw datasets, plain or through compiled trees."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from typer.testing import CliRunner

from embercast.cli import app
from embercast.models.persistence import load_model

runner = CliRunner()


def test_batch_predict_over_features_and_raw_datasets(
    features: Path, gas_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow.parquet as pq

    from embercast.config import get_settings
    from embercast.evaluation.feature_data import load_features
    from embercast.models import compiled as compiled_scoring

    monkeypatch.setenv("EMBERCAST_COMPILED_DIR", str(tmp_path / "compiled"))
    compiled_scoring._LOADED.clear()
    model = gas_model  # train --model gas --out, once per session (conftest)
    data = load_features(str(features)).rows.sort_values(["scenario_id", "device_id", "t_s"])
    expected = load_model(str(model)).predict_proba(data)[:, 1]

    def scored(name: str, *flags: str, source: Path = features) -> tuple[str, NDArray[np.float64]]:
        out = tmp_path / name
        args = ["predict", "--model", str(model), "--input", str(source), "--out", str(out)]
        result = runner.invoke(app, [*args, *flags, "--json"])
        assert result.exit_code == 0, result.output
        summary = json.loads(result.stdout)
        assert summary["rows"] == len(data)
        return summary["scoring"], pq.read_table(out)["p_fire"].to_numpy()

    # a few thousand rows and a model not compiled here: compiling would not pay
    scoring, plain = scored("plain.parquet")
    assert scoring == "predict_proba" and not list((tmp_path / "compiled").glob("*.o"))
    np.testing.assert_allclose(plain, expected)
    scoring, compiled = scored("compiled.parquet", "--compiled")  # LightGBM: its compiled trees
    assert scoring == "compiled" and list((tmp_path / "compiled").glob("*.o"))
    np.testing.assert_allclose(compiled, expected, rtol=0, atol=1e-12)
    compiled_scoring._LOADED.clear()  # another process: the model is compiled here, so it is used
    assert scored("again.parquet")[0] == "compiled"
    assert scored("asked-plain.parquet", "--no-compiled")[0] == "predict_proba"
    monkeypatch.setenv("EMBERCAST_COMPILE_MIN_ROWS", str(len(data)))
    for source in (features, tmp_path / "table.parquet"):  # rows from the manifest, the footer
        data.to_parquet(tmp_path / "table.parquet")
        monkeypatch.setenv("EMBERCAST_COMPILED_DIR", str(tmp_path / f"compiled-{source.name}"))
        get_settings.cache_clear()
        compiled_scoring._LOADED.clear()
        # an input large enough: compiled for it
        assert scored("large.parquet", source=source)[0] == "compiled"
    scores = pq.read_table(tmp_path / "compiled.parquet").to_pandas()
    assert set(scores.risk) <= {"none", "low", "medium", "high", "critical"}
    # the raw dataset: the features are computed on the way, with the same result
    raw = tmp_path / "raw.parquet"
    dataset = features.parent
    result = runner.invoke(
        app,
        [
            "predict",
            "--model",
            str(model),
            "--input",
            str(dataset),
            "--out",
            str(raw),
            "--workers",
            "2",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["input"] == "dataset"
    raw_scores = pq.read_table(raw).to_pandas()
    np.testing.assert_allclose(raw_scores.p_fire.to_numpy(), scores.p_fire.to_numpy())  # gas-only
    bad = runner.invoke(
        app,
        ["predict", "--model", str(model), "--input", str(tmp_path / "none"), "--out", str(raw)],
    )
    assert bad.exit_code == 2 and "neither a Parquet file" in bad.output
