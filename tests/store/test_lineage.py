"""Tests of the catalog: registration, ids from content hashes, lineage, references, errors.

Feature sets are written by hand (``helpers``: a manifest and one Parquet part with the columns of
``embercast.dataset.feature_table``), so the catalog is tested apart from the feature code.
"""

from __future__ import annotations

import json
import sqlite3
import stat
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from embercast.config import get_settings
from embercast.dataset.manifest import DATASET_FORMAT, FEATURES_FORMAT
from embercast.dataset.schema import FramePolicy
from embercast.store.lineage import (
    ID_LENGTH,
    SCHEMA_VERSION,
    Catalog,
    CatalogError,
    record_features,
)
from embercast.synth.writer import generate_dataset
from helpers import (
    assert_usage_error,
    drop_root_override,
    features_table,
    generate_fake,
    invoke,
    write_dataset_manifest,
    write_feature_set,
)

pytestmark = pytest.mark.usefixtures("catalog_path")  # a fresh catalog per test (conftest)

# --------------------------------------------------------------------------- the file


def test_formats_are_the_documented_ones() -> None:
    # datasets and feature sets on disk carry these names: a change is a format change
    assert DATASET_FORMAT == "embercast-dataset/1"
    assert FEATURES_FORMAT == "embercast-features/1"


def test_new_catalog_has_its_schema(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "catalog.sqlite"
    with Catalog(path) as catalog:
        assert catalog.list() == []
    conn = sqlite3.connect(path)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"schema_version", "artifacts", "locations", "lineage"} <= tables
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()
    with Catalog(path) as again:  # reopening an existing catalog
        assert again.list() == []


def test_unwritable_catalog_path_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    path = tmp_path / "file" / "catalog.sqlite"
    with pytest.raises(CatalogError, match="cannot use the catalog") as info:
        Catalog(path)
    assert str(info.value) == (
        f"cannot use the catalog '{path}': {tmp_path / 'file'} is a file, not a folder"
    )
    with pytest.raises(CatalogError, match="a folder, not a file"):
        Catalog(tmp_path)
    with pytest.raises(CatalogError, match="local file"):
        Catalog("s3://bucket/catalog.sqlite")


def test_catalog_in_a_read_only_directory(tmp_path: Path) -> None:
    """A real read-only directory (the child gives up root's override, if it is root)."""
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
    code = textwrap.dedent(
        f"""
        from embercast.store.lineage import Catalog, CatalogError
        try:
            Catalog({str(locked / "catalog.sqlite")!r})
        except CatalogError as exc:
            print(exc)
        """
    )
    try:
        result = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=60,
            preexec_fn=drop_root_override,
        )
    finally:
        locked.chmod(stat.S_IRWXU)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"cannot use the catalog '{locked / 'catalog.sqlite'}': ")


def test_a_file_that_is_not_a_catalog(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a database at all, but long enough to have a header" * 10)
    with pytest.raises(CatalogError, match="not an embercast catalog") as info:
        Catalog(text)
    assert str(text) in str(info.value)
    other = tmp_path / "other.sqlite"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE people (name TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(CatalogError, match="not an embercast catalog.*people"):
        Catalog(other)
    newer = tmp_path / "newer.sqlite"
    Catalog(newer).close()
    conn = sqlite3.connect(newer)
    conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    conn.commit()
    conn.close()
    with pytest.raises(CatalogError, match="layout version"):
        Catalog(newer)


# --------------------------------------------------------------------------- datasets


def test_register_dataset_is_idempotent(tmp_path: Path, catalog_path: Path) -> None:
    digest = write_dataset_manifest(tmp_path / "ds")
    with Catalog(catalog_path) as catalog:
        first = catalog.register_dataset(str(tmp_path / "ds"))
        second = catalog.register_dataset(str(tmp_path / "ds") + "/")
        assert first == second
        assert first.id == digest[:ID_LENGTH] and first.content_hash == digest
        assert first.kind == "dataset" and first.producer == "generator 1"
        assert first.location == str(tmp_path / "ds")
        assert first.locations == (str(tmp_path / "ds"),)
        assert first.arguments == {"scenarios": 2, "seed": 1}
        assert first.counts["rows"] == 10
        assert [a.id for a in catalog.list()] == [first.id]


def test_same_content_elsewhere_adds_a_location(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, catalog_path: Path
) -> None:
    digest = write_dataset_manifest(tmp_path / "one")
    write_dataset_manifest(tmp_path / "two", digest, arguments={"changed": True})
    monkeypatch.chdir(tmp_path)
    with Catalog(catalog_path) as catalog:
        one = catalog.register_dataset("one")  # relative paths become absolute
        two = catalog.register_dataset("two")
        assert two.id == one.id
        assert two.locations == (str(tmp_path / "one"), str(tmp_path / "two"))
        assert two.arguments == one.arguments  # nothing but the location is updated
        assert two.registered_at == one.registered_at
        assert catalog.get(str(tmp_path / "two")).id == one.id
        assert catalog.get("two").id == one.id


def test_same_inputs_give_the_same_id_with_the_real_generator(
    tmp_path: Path, catalog_path: Path
) -> None:
    options: dict[str, Any] = {"scenarios": 3, "seed": 5, "frames": FramePolicy.parse("none")}
    one = generate_dataset(str(tmp_path / "one"), **options)
    two = generate_dataset(str(tmp_path / "two"), **options)
    assert one.content_hash == two.content_hash
    with Catalog(catalog_path) as catalog:  # the writer registered both
        (artifact,) = catalog.list()
        assert artifact.id == one.content_hash[:ID_LENGTH]
        assert artifact.locations == (str(tmp_path / "one"), str(tmp_path / "two"))
        assert artifact.counts["scenarios"] == 3
        assert artifact.arguments["seed"] == 5
        assert catalog.register_dataset(str(tmp_path / "one")) == artifact
    other = generate_dataset(str(tmp_path / "other"), **{**options, "seed": 6})
    assert other.content_hash[:ID_LENGTH] != artifact.id
    with Catalog(catalog_path) as catalog:
        assert len(catalog.list("dataset")) == 2


def test_complete_dataset_is_registered_again_when_regenerated(
    tmp_path: Path, catalog_path: Path
) -> None:
    summary = generate_fake(tmp_path / "ds")
    catalog_path.unlink()  # a catalog that lost it
    for suffix in ("-wal", "-shm"):
        Path(f"{catalog_path}{suffix}").unlink(missing_ok=True)
    again = generate_fake(tmp_path / "ds")
    assert again.status == "complete"
    with Catalog(catalog_path) as catalog:
        assert catalog.get(str(tmp_path / "ds")).content_hash == summary.content_hash


def test_incomplete_or_foreign_dataset_is_refused(tmp_path: Path, catalog_path: Path) -> None:
    (tmp_path / "unfinished").mkdir()
    (tmp_path / "unfinished" / "_run.json").write_text("{}")
    write_dataset_manifest(tmp_path / "odd", format="something/9")
    with Catalog(catalog_path) as catalog:
        with pytest.raises(CatalogError, match="holds no manifest.json"):
            catalog.register_dataset(str(tmp_path / "unfinished"))
        with pytest.raises(CatalogError, match="not a dataset.*something/9"):
            catalog.register_dataset(str(tmp_path / "odd"))
        with pytest.raises(CatalogError, match="holds no manifest.json"):
            catalog.register_dataset(str(tmp_path / "missing"))
        (tmp_path / "bad").mkdir()
        (tmp_path / "bad" / "manifest.json").write_text("{not json")
        with pytest.raises(CatalogError, match="not valid JSON"):
            catalog.register(str(tmp_path / "bad"))
        write_dataset_manifest(tmp_path / "nohash", content_hash="xyz")
        with pytest.raises(CatalogError, match="content_hash"):
            catalog.register_dataset(str(tmp_path / "nohash"))
        assert catalog.list() == []


def test_unwritable_catalog_fails_generation_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("EMBERCAST_CATALOG_PATH", str(tmp_path / "file" / "catalog.sqlite"))
    get_settings.cache_clear()
    with pytest.raises(CatalogError, match="is complete but was not registered") as info:
        generate_fake(tmp_path / "ds")
    assert str(tmp_path / "file" / "catalog.sqlite") in str(info.value)
    assert (tmp_path / "ds" / "manifest.json").is_file()  # the dataset itself is whole
    result = invoke("generate", "-n", "2", "-o", str(tmp_path / "ds2"), "--frames", "none")
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert "is a file, not a folder" in line and "embercast catalog add" in line


# --------------------------------------------------------------------------- feature sets


def test_register_features_registers_the_parent_and_lineage(
    tmp_path: Path, catalog_path: Path
) -> None:
    parent_hash = write_dataset_manifest(tmp_path / "ds")
    digest = write_feature_set(tmp_path / "feats", str(tmp_path / "ds"), parent_hash)
    with Catalog(catalog_path) as catalog:
        feats = catalog.register_features(str(tmp_path / "feats"))
        assert feats.kind == "features" and feats.id == digest[:ID_LENGTH]
        assert feats.producer == "features standard18 1"
        assert feats.counts["rows"] == 4
        (parent,) = catalog.parents(feats.id)
        assert parent.id == parent_hash[:ID_LENGTH] and parent.kind == "dataset"
        assert [c.id for c in catalog.children(parent.id)] == [feats.id]
        assert catalog.parents(parent.id) == [] and catalog.children(feats.id) == []
        assert catalog.register(str(tmp_path / "feats")) == feats  # idempotent, auto-detected
        assert [a.kind for a in catalog.list()] == ["dataset", "features"]
        assert [a.id for a in catalog.list("features")] == [feats.id]
        extended = write_feature_set(
            tmp_path / "ext", str(tmp_path / "ds"), parent_hash, features_table(rows=6), "extended"
        )
        catalog.register_features(str(tmp_path / "ext"))
        assert {c.id for c in catalog.children(parent.id)} == {feats.id, extended[:ID_LENGTH]}


def test_record_features_uses_the_settings_catalog(
    tmp_path: Path, catalog_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parent_hash = write_dataset_manifest(tmp_path / "ds")
    write_feature_set(tmp_path / "feats", str(tmp_path / "ds"), parent_hash)
    feats = record_features(str(tmp_path / "feats"))
    with Catalog(catalog_path) as catalog:
        assert catalog.parents(feats.id)[0].content_hash == parent_hash
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("EMBERCAST_CATALOG_PATH", str(tmp_path / "file" / "catalog.sqlite"))
    get_settings.cache_clear()
    with pytest.raises(CatalogError, match="feature set .* is complete but was not registered"):
        record_features(str(tmp_path / "feats"))


def test_features_with_a_registered_parent_that_moved(tmp_path: Path, catalog_path: Path) -> None:
    parent_hash = write_dataset_manifest(tmp_path / "ds")
    write_feature_set(tmp_path / "feats", str(tmp_path / "gone"), parent_hash)
    with Catalog(catalog_path) as catalog:
        catalog.register_dataset(str(tmp_path / "ds"))
        feats = catalog.register_features(str(tmp_path / "feats"))  # found by content hash
        assert catalog.parents(feats.id)[0].location == str(tmp_path / "ds")


def test_features_whose_parent_cannot_be_found(tmp_path: Path, catalog_path: Path) -> None:
    write_dataset_manifest(tmp_path / "ds")
    write_feature_set(tmp_path / "lost", str(tmp_path / "gone"), "ab" * 32)
    write_feature_set(tmp_path / "changed", str(tmp_path / "ds"), "cd" * 32)
    write_dataset_manifest(tmp_path / "plain")
    with Catalog(catalog_path) as catalog:
        with pytest.raises(CatalogError, match="parent dataset .* cannot be registered"):
            catalog.register_features(str(tmp_path / "lost"))
        with pytest.raises(CatalogError, match="now holds a different dataset"):
            catalog.register_features(str(tmp_path / "changed"))
        with pytest.raises(CatalogError, match="not a feature set"):
            catalog.register_features(str(tmp_path / "plain"))
        assert [a.location for a in catalog.list()] == [str(tmp_path / "ds")]


def test_processes_register_at_the_same_time(tmp_path: Path) -> None:
    path = tmp_path / "shared" / "catalog.sqlite"
    roots = [tmp_path / f"ds{i}" for i in range(6)]
    for root in roots:
        write_dataset_manifest(root)
    code = textwrap.dedent(
        f"""
        from embercast.store.lineage import Catalog
        with Catalog({str(path)!r}) as catalog:
            for root in {[str(r) for r in roots]!r}:
                catalog.register_dataset(root)
        """
    )
    children = [
        subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    for child in children:
        _, err = child.communicate(timeout=60)
        assert child.returncode == 0, err
    with Catalog(path) as catalog:
        assert sorted(a.location for a in catalog.list()) == sorted(str(r) for r in roots)


# --------------------------------------------------------------------------- references


def test_get_by_id_prefix_location_and_errors(tmp_path: Path, catalog_path: Path) -> None:
    a = write_dataset_manifest(tmp_path / "a", "abcd1" + "0" * 59)
    b = write_dataset_manifest(tmp_path / "b", "abcd2" + "0" * 59)
    with Catalog(catalog_path) as catalog:
        catalog.register_dataset(str(tmp_path / "a"))
        catalog.register_dataset(str(tmp_path / "b"))
        assert catalog.get(a[:ID_LENGTH]).content_hash == a
        assert catalog.get(a).content_hash == a  # the full hash
        assert catalog.get("ABCD2").content_hash == b
        assert catalog.get(str(tmp_path / "b")).content_hash == b
        with pytest.raises(CatalogError, match="ambiguous.*abcd10000000000.*abcd2"):
            catalog.get("abcd")
        with pytest.raises(CatalogError, match="unknown artifact 'abc'"):
            catalog.get("abc")  # too short for a prefix
        with pytest.raises(CatalogError, match="unknown artifact 'ffff'"):
            catalog.get("ffff")
        with pytest.raises(CatalogError, match="unknown artifact"):
            catalog.get(str(tmp_path / "c"))
        with pytest.raises(CatalogError, match="empty"):
            catalog.get("  ")
        with pytest.raises(CatalogError, match="invalid kind"):
            catalog.list("model")


def test_an_overwritten_location_names_its_latest_artifact(
    tmp_path: Path, catalog_path: Path
) -> None:
    with Catalog(catalog_path) as catalog:
        write_dataset_manifest(tmp_path / "ds", "1" * 64)
        catalog.register_dataset(str(tmp_path / "ds"))
        write_dataset_manifest(tmp_path / "ds", "2" * 64)
        catalog.register_dataset(str(tmp_path / "ds"))
        assert len(catalog.list()) == 2
        assert catalog.get(str(tmp_path / "ds")).content_hash == "2" * 64


# --------------------------------------------------------------------------- command line


def test_catalog_commands(tmp_path: Path) -> None:
    empty = invoke("catalog", "list")
    assert empty.exit_code == 0 and "nothing registered" in empty.stdout
    parent_hash = write_dataset_manifest(tmp_path / "ds")
    write_feature_set(tmp_path / "feats", str(tmp_path / "ds"), parent_hash)
    added = invoke("catalog", "add", str(tmp_path / "feats"), "--json")
    assert added.exit_code == 0, added.output
    feats = json.loads(added.stdout)
    assert feats["kind"] == "features"

    listed = json.loads(invoke("catalog", "list", "--json").stdout)
    assert [a["kind"] for a in listed] == ["dataset", "features"]
    only = json.loads(invoke("catalog", "list", "--kind", "features", "--json").stdout)
    assert [a["id"] for a in only] == [feats["id"]]
    table = invoke("catalog", "list")
    assert table.exit_code == 0 and parent_hash[:ID_LENGTH] in table.stdout

    shown = json.loads(invoke("catalog", "show", parent_hash[:8], "--json").stdout)
    assert shown["id"] == parent_hash[:ID_LENGTH]
    assert shown["children"] == [
        {
            "id": feats["id"],
            "kind": "features",
            "producer": "features standard18 1",
            "location": str(tmp_path / "feats"),
        }
    ]
    assert shown["parents"] == [] and shown["locations"] == [str(tmp_path / "ds")]
    text = invoke("catalog", "show", str(tmp_path / "feats"))
    assert text.exit_code == 0, text.output
    assert f"id:            {feats['id']}" in text.stdout
    assert "parents:\n  " + parent_hash[:ID_LENGTH] in text.stdout
    assert "children:\n  (none)" in text.stdout


def test_catalog_command_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert_usage_error(invoke("catalog", "show", "ffff"), "unknown artifact 'ffff'")
    assert_usage_error(invoke("catalog", "list", "--kind", "model"), "--kind 'model'")
    assert_usage_error(invoke("catalog", "add", str(tmp_path / "nothing")), "no manifest.json")
    (tmp_path / "notes.txt").write_text("hello" * 100)
    monkeypatch.setenv("EMBERCAST_CATALOG_PATH", str(tmp_path / "notes.txt"))
    get_settings.cache_clear()
    assert_usage_error(invoke("catalog", "list"), "not an embercast catalog", "notes.txt")
