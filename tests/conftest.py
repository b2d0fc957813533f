"""Shared fixtures: paths, a replayable random seed, small scenario specs."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest

from embercast.config import get_settings

ROOT = Path(__file__).resolve().parents[1]
REAL_FIRES = ROOT.parent / "shared" / "data" / "real_fires"
TEST_CATALOG = str(Path(tempfile.mkdtemp(prefix="embercast-tests-")) / "catalog.sqlite")
"""Catalog of everything the tests generate: never the working directory's catalog."""
TEST_MLFLOW = str(Path(TEST_CATALOG).parent / "mlflow.db")
"""MLflow store of the tests."""
TEST_COMPILED = str(Path(TEST_CATALOG).parent / "compiled")
"""Where the tests' LightGBM models are compiled to."""
os.environ["EMBERCAST_CATALOG_PATH"] = TEST_CATALOG  # also for module-scoped fixtures
os.environ["EMBERCAST_MLFLOW_URI"] = TEST_MLFLOW
os.environ["EMBERCAST_COMPILED_DIR"] = TEST_COMPILED


@pytest.fixture(autouse=True)
def _fresh_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test reads settings anew (tests override them with EMBERCAST_* variables); the
    catalog is a temporary file unless a test sets another."""
    for key in list(os.environ):
        if key.startswith("EMBERCAST_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("EMBERCAST_CATALOG_PATH", TEST_CATALOG)
    monkeypatch.setenv("EMBERCAST_MLFLOW_URI", TEST_MLFLOW)
    monkeypatch.setenv("EMBERCAST_COMPILED_DIR", TEST_COMPILED)
    get_settings.cache_clear()


@pytest.fixture(params=[0, 7, 42])
def global_random_seed(request: pytest.FixtureRequest) -> int:
    """Seeds a stochastic test must pass for; reproduce one with ``-k 'global_random_seed-7'``."""
    return int(request.param)


@pytest.fixture
def rng(global_random_seed: int) -> np.random.Generator:
    return np.random.default_rng(global_random_seed)


@pytest.fixture(scope="session")
def real_fires() -> Path:
    if not REAL_FIRES.is_dir():
        pytest.fail(f"the real fire-test data are missing: expected {REAL_FIRES}")
    return REAL_FIRES
