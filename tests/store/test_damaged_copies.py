"""A damaged copy is repaired by rerunning generate, passed over by SQL, refused by
``catalog add`` and can be unregistered with ``catalog remove``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from embercast.dataset.validate import validate_dataset
from embercast.store.lineage import Catalog
from helpers import assert_usage_error, generate_fake, invoke

PART = "readings/part-00001.parquet"


def _corrupt(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_rerunning_generate_repairs_a_damaged_copy(tmp_path: Path, catalog_path: Path) -> None:
    out = tmp_path / "ds"
    first = generate_fake(out)
    _corrupt(out / PART)
    (out / "frames" / "part-00000.parquet").unlink()
    again = generate_fake(out)
    assert again.status == "repaired"
    assert any(
        "was damaged" in w and "frames/part-00000.parquet is missing" in w for w in again.warnings
    )
    assert again.content_hash == first.content_hash
    assert validate_dataset(str(out)) == []
    assert generate_fake(out).status == "complete"


def test_the_cli_reports_the_repair(tmp_path: Path, catalog_path: Path) -> None:
    out = str(tmp_path / "ds")
    args = ["generate", "-n", "2", "--seed", "3", "--frames", "none", "--out", out, "--json"]
    first = invoke(*args)
    assert first.exit_code == 0, first.output
    (tmp_path / "ds" / "readings" / "part-00000.parquet").write_bytes(b"not parquet")
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["status"] == "repaired"
    assert summary["content_hash"] == json.loads(first.stdout)["content_hash"]
    assert "was damaged" in result.stderr


def test_sql_passes_over_a_damaged_copy(tmp_path: Path, catalog_path: Path) -> None:
    summary = generate_fake(tmp_path / "a")
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    assert invoke("catalog", "add", str(tmp_path / "b")).exit_code == 0
    _corrupt(tmp_path / "b" / PART)  # the newest location is damaged
    result = invoke("sql", "SELECT count(*) AS n FROM readings", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [{"n": summary.rows}]
    assert f"passing over {tmp_path / 'b'}" in result.stderr and PART in result.stderr
    _corrupt(tmp_path / "a" / PART)
    gone = invoke("sql", "SELECT count(*) FROM readings")
    assert gone.exit_code == 2 and gone.stdout == ""
    *warned, last = gone.stderr.strip().splitlines()
    assert last.startswith("error: the view readings has no data")
    assert len(warned) == 2 and all(PART in line for line in warned)


def test_catalog_add_refuses_a_damaged_copy(tmp_path: Path, catalog_path: Path) -> None:
    generate_fake(tmp_path / "a")
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    (tmp_path / "b" / PART).unlink()
    assert_usage_error(invoke("catalog", "add", str(tmp_path / "b")), PART, "missing")
    with Catalog(catalog_path) as catalog:
        (artifact,) = catalog.list()
    assert artifact.locations == (str(tmp_path / "a"),)


def test_catalog_remove(tmp_path: Path, catalog_path: Path) -> None:
    summary = generate_fake(tmp_path / "a")
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    assert invoke("catalog", "add", str(tmp_path / "b")).exit_code == 0
    features = tmp_path / "f"
    assert invoke("features", str(tmp_path / "a"), "-o", str(features)).exit_code == 0
    ident = summary.content_hash[:16]

    result = invoke("catalog", "remove", str(tmp_path / "a"), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "id": ident, "kind": "dataset", "removed": [str(tmp_path / "a")],
        "remaining": [str(tmp_path / "b")],
    }  # fmt: skip
    shown = json.loads(invoke("catalog", "show", ident, "--json").stdout)
    assert shown["location"] == str(tmp_path / "b") and shown["locations"] == [shown["location"]]

    assert_usage_error(invoke("catalog", "remove", ident), "feature sets made from it")
    assert invoke("catalog", "remove", str(features)).exit_code == 0
    removed = invoke("catalog", "remove", ident)
    assert removed.exit_code == 0 and f"removed dataset {ident}" in removed.stdout
    assert json.loads(invoke("catalog", "list", "--json").stdout) == []
    assert (tmp_path / "a" / "manifest.json").exists()  # files are never touched
    assert_usage_error(invoke("catalog", "remove", ident), "unknown artifact")


def test_rerunning_features_rebuilds_a_damaged_feature_set(
    tmp_path: Path, catalog_path: Path
) -> None:
    generate_fake(tmp_path / "ds")
    out = tmp_path / "f"
    args = ["features", str(tmp_path / "ds"), "-o", str(out), "--json"]
    first = json.loads(invoke(*args).stdout)
    assert json.loads(invoke(*args).stdout)["status"] == "complete"
    _corrupt(sorted((out / "features").glob("part-*.parquet"))[0])
    again = invoke(*args)
    assert again.exit_code == 0, again.output
    rebuilt = json.loads(again.stdout)
    assert rebuilt["status"] == "built" and rebuilt["content_hash"] == first["content_hash"]
    assert "rebuilding the damaged feature set" in again.stderr
    assert invoke("validate", str(out)).exit_code == 0
