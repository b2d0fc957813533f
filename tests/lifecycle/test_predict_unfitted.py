"""``predict`` refuses a detector that was never trained, naming what it takes instead."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import embercast.cli as cli
from embercast.config import get_settings
from embercast.errors import InputError
from embercast.lifecycle.predict import predict
from embercast.models.factory import make_detector


def test_an_unfitted_baseline_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="RateOfRiseHeat is not fitted"):
        predict(make_detector("rate_of_rise"), str(tmp_path / "in"), str(tmp_path / "p.parquet"))
    monkeypatch.setenv("EMBERCAST_CONFIG", "")
    get_settings.cache_clear()
    out = str(tmp_path / "p.parquet")
    args = ["predict", "--model", "rate_of_rise", "--input", str(tmp_path), "--out", out]
    result = CliRunner().invoke(cli.app, args)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: RateOfRiseHeat is not fitted: predict scores with")
    assert not Path(out).exists()
