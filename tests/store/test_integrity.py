"""Every reader checks a dataset's or feature set's files against its manifest before trusting
it: sizes every time, hashes once per location (remembered in the catalog), and refuses naming
the file."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from embercast.errors import EmbercastError
from embercast.evaluation.feature_data import load_features
from embercast.store import integrity
from embercast.store.integrity import IntegrityError, open_artifact
from embercast.store.lineage import Catalog
from helpers import assert_usage_error, generate_fake, invoke

PART = "readings/part-00001.parquet"


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    out = tmp_path / "ds"
    generate_fake(out, scenarios=6, scenarios_per_task=2)
    return out


def _rewrite_same_size(path: Path) -> None:
    """Change a byte in the middle of a file, keeping its size."""
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_intact_dataset_opens(dataset: Path) -> None:
    artifact = open_artifact(str(dataset), "dataset")
    assert artifact.kind == "dataset"
    assert artifact.parts("readings") == [f"part-0000{i}.parquet" for i in range(3)]


@pytest.mark.parametrize(
    ("damage", "needle"),
    [
        (lambda p: p.unlink(), f"{PART} is missing"),
        (lambda p: p.write_bytes(p.read_bytes()[:-10]), f"{PART} has "),
        (_rewrite_same_size, f"{PART}: its SHA-256 differs"),
        (
            lambda p: shutil.copy(p, p.with_name("part-00009.parquet")),
            "readings/part-00009.parquet is not listed in the manifest",
        ),
    ],
    ids=["deleted", "truncated", "changed", "added"],
)
def test_damage_is_refused_naming_the_file(dataset: Path, damage, needle: str) -> None:  # type: ignore[no-untyped-def]
    damage(dataset / PART)
    with pytest.raises(IntegrityError, match=needle.replace(".", r"\.")):
        open_artifact(str(dataset), "dataset")


def test_edited_manifest_is_refused(dataset: Path) -> None:
    manifest = json.loads((dataset / "manifest.json").read_text())
    manifest["files"][PART]["sha256"] = "0" * 64
    (dataset / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IntegrityError, match="content_hash does not match"):
        open_artifact(str(dataset))


def test_hashes_are_checked_once_until_a_file_changes(
    dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    open_artifact(str(dataset))  # hashed and remembered

    def no_hashing(*_: object) -> str:
        raise AssertionError("hashed again")

    monkeypatch.setattr(integrity, "sha256", no_hashing)
    open_artifact(str(dataset))  # the fingerprint is unchanged: no hashing
    part = dataset / PART
    stat = part.stat()
    os.utime(part, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    with pytest.raises(AssertionError, match="hashed again"):
        open_artifact(str(dataset))


def test_a_changed_file_with_its_time_restored_is_caught_by_validate(dataset: Path) -> None:
    """The fingerprint is names, sizes and times: ``validate`` re-hashes everything."""
    open_artifact(str(dataset))
    part = dataset / PART
    stat = part.stat()
    _rewrite_same_size(part)
    os.utime(part, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    open_artifact(str(dataset))  # documented limit: same names, sizes and times
    result = invoke("validate", str(dataset))
    assert result.exit_code == 1 and "hash-mismatch" in result.stdout


def test_unusable_catalog_still_verifies(dataset: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMBERCAST_CATALOG_PATH", str(dataset / "manifest.json"))  # not SQLite
    open_artifact(str(dataset))
    _rewrite_same_size(dataset / PART)
    with pytest.raises(IntegrityError, match="SHA-256 differs"):
        open_artifact(str(dataset))


def test_a_failed_check_is_forgotten(dataset: Path, catalog_path: Path) -> None:
    open_artifact(str(dataset))
    _rewrite_same_size(dataset / PART)
    os.utime(dataset / PART, ns=(0, 0))
    with pytest.raises(IntegrityError):
        open_artifact(str(dataset))
    with Catalog(catalog_path) as catalog:
        assert catalog.verified_fingerprint(str(dataset), "x") is None
        rows = catalog._conn.execute("SELECT count(*) FROM verified").fetchone()[0]
    assert rows == 0


def test_kind_and_missing(dataset: Path, tmp_path: Path) -> None:
    with pytest.raises(IntegrityError, match="is a dataset, not a feature set"):
        open_artifact(str(dataset), "features")
    with pytest.raises(
        IntegrityError,
        match=r"not a complete dataset: it has no manifest.json \(nothing is there\)",
    ):
        open_artifact(str(tmp_path / "none"), "dataset")
    (tmp_path / "empty").mkdir()
    with pytest.raises(IntegrityError, match="it has no manifest.json"):
        open_artifact(str(tmp_path / "empty"), "dataset")
    assert issubclass(IntegrityError, EmbercastError)


# --------------------------------------------------------------------------- through the CLI


def test_features_refuses_a_damaged_dataset_and_writes_nothing(
    dataset: Path, tmp_path: Path
) -> None:
    (dataset / PART).unlink()
    out = tmp_path / "f"
    assert_usage_error(invoke("features", str(dataset), "--out", str(out)), PART, "missing")
    assert not out.exists()


def test_features_of_a_feature_set_says_so(features: Path, tmp_path: Path) -> None:
    out = tmp_path / "f"
    result = invoke("features", str(features), "--out", str(out))
    assert_usage_error(result, "is a feature set, not a dataset")
    assert not out.exists()


def test_train_evaluate_predict_refuse_a_damaged_feature_set(
    features: Path, gas_model: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "ds"
    shutil.copytree(features.parent, copy)
    part = sorted((copy / "features" / "features").glob("part-*.parquet"))[0]
    _rewrite_same_size(part)
    rel = f"features/{part.name}"
    fset = str(copy / "features")
    assert_usage_error(
        invoke("train", fset, "--model", "gas", "--out", str(tmp_path / "m.pkl")), rel
    )
    report = tmp_path / "report"
    evaluated = invoke("evaluate", "--data", fset, "--model", str(gas_model), "--out", str(report))
    assert_usage_error(evaluated, rel)
    predicted = tmp_path / "p.parquet"
    assert_usage_error(
        invoke("predict", "--input", fset, "--model", str(gas_model), "--out", str(predicted)), rel
    )
    assert not predicted.exists()


def test_a_feature_set_whose_dataset_is_damaged_is_refused(
    dataset: Path, tmp_path: Path, catalog_path: Path
) -> None:
    """(Its own catalog: an intact copy of the same content registered elsewhere would do.)"""
    fset = str(tmp_path / "f")
    assert invoke("features", str(dataset), "--out", fset, "--set", "standard18").exit_code == 0
    assert load_features(fset).rows.shape[0] > 0
    _rewrite_same_size(dataset / "scenarios.parquet")
    result = invoke("train", fset, "--model", "gas", "-o", str(tmp_path / "b.pkl"))
    assert_usage_error(result, "cannot be found intact", "scenarios.parquet")
    assert not (tmp_path / "b.pkl").exists()


def test_plot_refuses_a_damaged_dataset(three_classes: Path, tmp_path: Path) -> None:
    copy = tmp_path / "ds"
    shutil.copytree(three_classes, copy)
    (copy / "readings" / "part-00000.parquet").unlink()
    out = tmp_path / "plot.png"
    result = invoke("plot", str(copy), "--scenario", "s000000", "--out", str(out))
    assert_usage_error(result, "readings/part-00000.parquet is missing")
    assert not out.exists()
