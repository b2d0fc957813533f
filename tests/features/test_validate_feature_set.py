"""``embercast validate`` on a feature set: manifest and hashes, columns, keys, counts and
lineage to its dataset; on a dataset it stays the dataset check, and each says which it is."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from embercast.dataset.validate import validate_dataset
from embercast.features.validate import validate_feature_set
from helpers import generate_fake, invoke


@pytest.fixture
def fset(tmp_path: Path, catalog_path: Path) -> Path:
    """A feature set built from a small dataset, in its own catalog (so no other copy of the
    same dataset stands in for a damaged one)."""
    generate_fake(tmp_path / "ds")
    out = tmp_path / "f"
    assert invoke("features", str(tmp_path / "ds"), "-o", str(out)).exit_code == 0
    return out


def codes(path: Path) -> list[str]:
    return [p.code for p in validate_feature_set(str(path))]


def test_a_sound_feature_set(fset: Path, features: Path) -> None:
    assert validate_feature_set(str(fset)) == []
    assert validate_feature_set(str(features)) == []  # computed while generating
    result = invoke("validate", str(fset), "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {
        "ok": True, "path": str(fset), "kind": "features", "problems": []
    }  # fmt: skip


def test_validate_dataset_says_a_feature_set_is_not_a_dataset(fset: Path) -> None:
    (problem,) = validate_dataset(str(fset))
    assert problem.code == "manifest-invalid"
    assert "this is a feature set, not a dataset" in problem.message


def _rewrite(part: Path, change: str) -> None:
    table = pq.read_table(part)
    if change == "keys":
        table = table.set_column(2, "t_s", pa.array([5.0] * table.num_rows))
    elif change == "split":
        index = table.column_names.index("split_group")
        table = table.set_column(index, "split_group", pa.array(["everything"] * table.num_rows))
    elif change == "columns":
        table = table.drop(["t_mean"])
    pq.write_table(table, part)


@pytest.mark.parametrize(
    ("change", "code", "needle"),
    [
        ("keys", "invariant", "repeated (scenario_id, device_id, t_s) keys"),
        ("split", "invariant", "unknown split groups ['everything']"),
        ("columns", "schema", "differ from the manifest's"),
    ],
)
def test_a_part_breaking_the_contract(fset: Path, change: str, code: str, needle: str) -> None:
    part = sorted((fset / "features").glob("part-*.parquet"))[0]
    _rewrite(part, change)
    # the part no longer matches its hash: re-record it so the content checks are reached
    manifest = json.loads((fset / "manifest.json").read_text())
    from embercast.dataset.manifest import content_hash
    from embercast.store.fs import resolve, sha256

    fs, _ = resolve(str(part))
    rel = f"features/{part.name}"
    manifest["files"][rel] = {"sha256": sha256(fs, str(part)), "bytes": part.stat().st_size}
    manifest["content_hash"] = content_hash({k: v["sha256"] for k, v in manifest["files"].items()})
    (fset / "manifest.json").write_text(json.dumps(manifest))
    problems = validate_feature_set(str(fset))
    assert any(p.code == code and needle in p.message for p in problems), problems


def test_damaged_files(fset: Path) -> None:
    part = sorted((fset / "features").glob("part-*.parquet"))[0]
    shutil.copy(part, part.with_name("part-00099.parquet"))
    data = bytearray(part.read_bytes())
    data[len(data) // 2] ^= 0xFF
    part.write_bytes(bytes(data))
    assert sorted(codes(fset)) == ["hash-mismatch", "unlisted-file"]
    part.unlink()
    assert "missing-file" in codes(fset)
    result = invoke("validate", str(fset))
    assert result.exit_code == 1 and result.stdout.strip().endswith("problem(s)")


def test_lineage(fset: Path, tmp_path: Path) -> None:
    scenarios = tmp_path / "ds" / "scenarios.parquet"
    data = bytearray(scenarios.read_bytes())
    data[len(data) // 2] ^= 0xFF
    scenarios.write_bytes(bytes(data))
    (problem,) = validate_feature_set(str(fset))
    assert problem.code == "lineage" and "cannot be found intact" in problem.message
    assert "scenarios.parquet" in problem.message
