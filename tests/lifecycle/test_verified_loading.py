"""Nothing unverified is loaded: a model file or a registered version is unpickled only when it
is the artifact that was saved (its recorded SHA-256)."""

from __future__ import annotations

import hashlib
import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from embercast.errors import InputError
from embercast.lifecycle.registry import Registry, RegistryError
from embercast.models.base import FireDetector
from embercast.models.baselines import CO2Threshold
from embercast.models.persistence import load_model, save_model


class Planted:
    """A pickle that runs code when it is loaded: it creates the file ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (Path.touch, (str(self.marker),))  # type: ignore[return-value]


def fitted() -> FireDetector:
    X = pd.DataFrame({"gas_val": np.r_[np.full(20, 450.0), np.full(20, 2500.0)],
                      "gas_vel": np.r_[np.zeros(20), np.full(20, 5.0)]})  # fmt: skip
    y = np.r_[np.zeros(20, int), np.ones(20, int)]
    return CO2Threshold().fit(X, y, groups=np.repeat(["a", "b"], 20))


def test_a_saved_model_records_its_hash_and_loads(tmp_path: Path) -> None:
    path = tmp_path / "m.pkl"
    save_model(fitted(), str(path), {"model": "co2_threshold"})
    info = json.loads((tmp_path / "m.pkl.json").read_text())
    assert info["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert isinstance(load_model(str(path)), CO2Threshold)


def test_a_replaced_pickle_is_refused_unopened(tmp_path: Path) -> None:
    path = tmp_path / "m.pkl"
    save_model(fitted(), str(path), {"model": "co2_threshold"})
    marker = tmp_path / "ran"
    path.write_bytes(pickle.dumps(Planted(marker)))
    with pytest.raises(InputError, match="does not match its recorded SHA-256"):
        load_model(str(path))
    assert not marker.exists()


def test_a_description_without_a_hash_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.pkl"
    save_model(fitted(), str(path), {"model": "co2_threshold"})
    described = tmp_path / "m.pkl.json"
    info = json.loads(described.read_text())
    del info["sha256"]
    described.write_text(json.dumps(info))
    with pytest.raises(InputError, match="has no recorded SHA-256"):
        load_model(str(path))


def test_a_changed_artifact_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # MLflow keeps the artifacts beside the working directory
    registry = Registry(str(tmp_path / "mlflow.db"))
    _, version = registry.log_training(
        fitted(), params={"model": "co2_threshold"}, metrics={"detection_rate": 1.0},
        tags={}, register="fire",
    )  # fmt: skip
    assert version == 1
    assert isinstance(registry.load("fire@champion"), CO2Threshold)
    stored = [p for p in tmp_path.rglob("model.*") if p.suffix in (".pkl", ".skops")]
    assert stored, "the registered model's artifact was not found under the store"
    marker = tmp_path / "ran"
    for path in stored:
        path.write_bytes(pickle.dumps(Planted(marker)))
    with pytest.raises(RegistryError, match="does not match its recorded SHA-256"):
        registry.load("fire@champion")
    assert not marker.exists()


# --------------------------------------------------------------------------- skops


class Foreign(CO2Threshold):
    """A detector of a type outside the trusted modules (it lives in the tests)."""


def test_skops_model_file_round_trip(tmp_path: Path) -> None:
    from embercast.alarm.decision import AlarmParams
    from embercast.models.factory import make_detector
    from helpers import table

    X, y, groups = table()
    detector = make_detector("gbm").fit(X, y, groups=groups)
    # a trained detector carries its operating point, chosen by train
    detector.alarm_ = AlarmParams(threshold=0.9, delay_on_s=20.0, slow_threshold=0.6)
    path = tmp_path / "m.skops"
    save_model(detector, str(path), {"model": "gbm"})
    info = json.loads((tmp_path / "m.skops.json").read_text())
    assert info["serialization"] == "skops"
    assert not path.read_bytes().startswith(b"\x80")  # not a pickle: a zip of JSON and arrays
    loaded = load_model(str(path))
    np.testing.assert_array_equal(loaded.predict_proba(X), detector.predict_proba(X))
    assert loaded.alarm_ == detector.alarm_


def test_a_skops_file_with_an_untrusted_type_is_refused_even_with_its_hash(
    tmp_path: Path,
) -> None:
    """Someone who can rewrite both the file and its recorded hash still gets no foreign type
    built: only the trusted modules are."""
    import skops.io as sio

    path = tmp_path / "m.skops"
    save_model(fitted(), str(path), {"model": "co2_threshold"})
    planted = Foreign().fit(*_xy())
    data = sio.dumps(planted)
    path.write_bytes(data)
    described = tmp_path / "m.skops.json"
    info = json.loads(described.read_text())
    info["sha256"] = hashlib.sha256(data).hexdigest()
    described.write_text(json.dumps(info))
    with pytest.raises(InputError, match="not trusted.*Foreign"):
        load_model(str(path))


def _xy() -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    X = pd.DataFrame({"gas_val": np.r_[np.full(20, 450.0), np.full(20, 2500.0)],
                      "gas_vel": np.r_[np.zeros(20), np.full(20, 5.0)]})  # fmt: skip
    return X, np.r_[np.zeros(20, int), np.ones(20, int)], np.repeat(["a", "b"], 20)


def test_the_registry_stores_skops_where_it_fits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    registry = Registry(str(tmp_path / "mlflow.db"))
    registry.log_training(
        fitted(), params={"model": "co2_threshold"}, metrics={"detection_rate": 1.0},
        tags={}, register="fire",
    )  # fmt: skip
    tags = registry.client.get_model_version("fire", "1").tags
    assert tags["serialization"] == "skops"
    assert list(tmp_path.rglob("model.skops")) and not list(tmp_path.rglob("model.pkl"))
    assert isinstance(registry.load("fire@champion"), CO2Threshold)


def test_loading_a_skops_file_imports_neither_torch_nor_dask(tmp_path: Path) -> None:
    """skops' first import walks scikit-learn's packages; its array-API shims, which import
    PyTorch and Dask, are kept out of that walk, and skops trusts every estimator all the same."""
    path = tmp_path / "m.skops"
    save_model(fitted(), str(path), {})
    script = f"""
import sys
from embercast.models.persistence import load_model
load_model({str(path)!r})
loaded = sorted({{"torch", "dask"}} & set(sys.modules))
from skops.io._trusted_types import SKLEARN_ESTIMATOR_TYPE_NAMES as trusted
from sklearn.utils import all_estimators
every = [f"{{c.__module__}}.{{c.__name__}}" for _, c in all_estimators()]
print(loaded, sorted(trusted) == sorted(n for n in every if n.startswith("sklearn.")))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["[]", "True"], out.stdout + out.stderr
