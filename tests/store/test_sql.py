"""Tests of ``embercast sql``: views over the registered data, restrictions, errors, S3."""

from __future__ import annotations

import csv
import io
import json
import shutil
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import Result

from embercast.config import get_settings
from embercast.store.lineage import ID_LENGTH, Catalog
from embercast.store.sql import QueryError, run_query
from helpers import (
    THREE_CLASSES,
    assert_usage_error,
    features_table,
    generate_fake,
    generate_three_classes,
    invoke,
    write_dataset_manifest,
    write_feature_set,
)

pytestmark = pytest.mark.usefixtures("catalog_path")  # a fresh catalog per test (conftest)

CLASSES = THREE_CLASSES


def unique() -> str:
    """A fresh S3 prefix: moto keeps its objects for the whole process, across servers."""
    return f"query-{uuid.uuid4().hex[:12]}"


def sql(*args: str) -> Result:
    result = invoke("sql", *args)
    assert result.exit_code == 0, result.output
    return result


def sql_json(*args: str) -> list[dict[str, Any]]:
    rows = json.loads(sql(*args, "--json").stdout)
    assert isinstance(rows, list)
    return rows


def sql_csv(*args: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(sql(*args, "--csv").stdout)))


def readings_keys(dataset: Path) -> pa.Table:
    """Key, CO2 and label columns of a local dataset's readings (for a hand-made feature set)."""
    parts = sorted((dataset / "readings").glob("part-*.parquet"))
    columns = ["scenario_id", "device_id", "t_s", "co2_ppm", "fire", "phase", "scenario_class"]
    return pa.concat_tables([pq.read_table(p, columns=columns) for p in parts])


def make_features(dataset: Path, out: Path) -> str:
    """A hand-made feature set over a local dataset, registered; returns its id."""
    manifest = json.loads((dataset / "manifest.json").read_text())
    write_feature_set(
        out, str(dataset), manifest["content_hash"], features_table(readings_keys(dataset))
    )
    with Catalog(settings_catalog()) as catalog:
        return catalog.register_features(str(out)).id


def settings_catalog() -> Path:
    return Path(get_settings().catalog_path)


# --------------------------------------------------------------------------- end to end


def check_dataset_queries(location: str) -> None:
    """Class balance and CO2 rise by class over a real 3-scenario dataset at ``location``."""
    balance = sql_json(
        "SELECT scenario_class, count(*) AS n FROM scenarios GROUP BY 1 ORDER BY 1",
        "--dataset",
        location,
    )
    assert balance == [{"scenario_class": name, "n": 1} for name in sorted(CLASSES)]
    rise = sql_csv(
        "SELECT s.scenario_class, s.is_fire, max(r.co2_ppm) - min(r.co2_ppm) AS co2_rise "
        "FROM readings r JOIN scenarios s USING (dataset_id, scenario_id) "
        "WHERE NOT isnan(r.co2_ppm) GROUP BY ALL ORDER BY co2_rise DESC"
    )
    by_class = {row["scenario_class"]: float(row["co2_rise"]) for row in rise}
    assert set(by_class) == set(CLASSES)
    assert min(by_class["flaming_fire"], by_class["smouldering"]) > by_class["normal_day"] > 0
    assert rise[0]["is_fire"] == "True"
    table = sql("SELECT scenario_class, count(*) AS readings FROM readings GROUP BY 1")
    assert "scenario_class" in table.stdout and "flaming_fire" in table.stdout


def generate_real(out: str) -> str:
    """Generate (or, complete already, register) the three-class dataset; its id."""
    summary = generate_three_classes(out)
    return summary.content_hash[:ID_LENGTH]


def test_end_to_end_with_the_real_generator(three_classes: Path) -> None:
    # generated once per session (conftest); generating it again registers it in this catalog
    dataset_id = generate_real(str(three_classes))
    check_dataset_queries(str(three_classes))
    ids = sql_json("SELECT DISTINCT dataset_id FROM readings")
    assert ids == [{"dataset_id": dataset_id}]


@pytest.mark.integration
def test_end_to_end_on_s3(s3_bucket: str) -> None:
    url = f"s3://{s3_bucket}/{unique()}/real"
    dataset_id = generate_real(url)
    check_dataset_queries(url)
    assert sql_json("SELECT count(*) AS n FROM scenarios", "--dataset", dataset_id) == [{"n": 3}]
    loaded = sql_json(
        "SELECT count(*) AS n FROM duckdb_extensions() "
        "WHERE loaded AND extension_name IN ('httpfs', 'aws')"
    )
    assert loaded == [{"n": 0}]  # read through s3fs, no DuckDB extension


@pytest.mark.integration
def test_features_on_s3(tmp_path: Path, s3_bucket: str) -> None:
    import s3fs

    local = tmp_path / "ds"
    generate_fake(local, scenarios=2)
    prefix = f"{s3_bucket}/{unique()}"
    url = f"s3://{prefix}/ds"
    generate_fake(url, scenarios=2)  # the same content: one artifact, two locations
    shutil.rmtree(local / "frames")
    write_feature_set(
        tmp_path / "feats",
        url,
        json.loads((local / "manifest.json").read_text())["content_hash"],
        features_table(readings_keys(local)),
    )
    shutil.rmtree(local)  # only S3 holds the dataset now
    fs = s3fs.S3FileSystem(client_kwargs={"endpoint_url": get_settings().s3_endpoint_url})
    fs.put(str(tmp_path / "feats"), f"{prefix}/feats", recursive=True)
    added = invoke("catalog", "add", f"s3://{prefix}/feats")
    assert added.exit_code == 0, added.output
    rows = sql_json(
        "SELECT count(*) AS n, count(DISTINCT scenario_id) AS scenarios FROM features f "
        "JOIN readings r USING (dataset_id, scenario_id, device_id, t_s) "
        "WHERE f.gas_val IS NOT DISTINCT FROM r.co2_ppm"
    )
    assert rows[0]["scenarios"] == 2 and rows[0]["n"] > 0


# --------------------------------------------------------------------------- views


def test_features_view_and_lineage_columns(tmp_path: Path) -> None:
    ds = tmp_path / "ds"
    summary = generate_fake(ds)
    features_id = make_features(ds, tmp_path / "feats")
    counts = sql_json("SELECT features_id, dataset_id, count(*) AS n FROM features GROUP BY ALL")
    assert counts == [
        {
            "features_id": features_id,
            "dataset_id": summary.content_hash[:ID_LENGTH],
            "n": summary.rows,
        }
    ]
    same = sql_json(
        "SELECT count(*) AS n FROM features f JOIN readings r "
        "USING (dataset_id, scenario_id, device_id, t_s) "
        "WHERE f.gas_val IS NOT DISTINCT FROM r.co2_ppm"
    )
    assert same == [{"n": summary.rows}]
    columns = sql_json("SELECT * FROM features LIMIT 1")[0]
    assert list(columns)[:5] == ["features_id", "dataset_id", "scenario_id", "device_id", "t_s"]
    assert "t_mean" in columns and "thermal_status" in columns and "split_group" in columns


def test_views_union_every_dataset_by_name(tmp_path: Path) -> None:
    one = generate_fake(tmp_path / "one", seed=1, classes=["flaming_fire"])
    two = generate_fake(tmp_path / "two", seed=2, classes=["normal_day"])
    rows = sql_json(
        "SELECT dataset_id, count(*) AS n, count(fuel) AS with_fuel, count(occupants) AS with_occ "
        "FROM scenarios GROUP BY 1 ORDER BY 1"
    )
    expected = {
        one.content_hash[:ID_LENGTH]: {"n": 6, "with_fuel": 6, "with_occ": 0},
        two.content_hash[:ID_LENGTH]: {"n": 6, "with_fuel": 0, "with_occ": 6},
    }
    assert {r.pop("dataset_id"): r for r in rows} == expected
    total = sql_json("SELECT count(*) AS n FROM readings")
    assert total == [{"n": one.rows + two.rows}]


def test_restriction_to_a_dataset_or_a_feature_set(tmp_path: Path) -> None:
    one = generate_fake(tmp_path / "one", seed=1)
    two = generate_fake(tmp_path / "two", seed=2)
    features_id = make_features(tmp_path / "one", tmp_path / "feats")
    one_id, two_id = one.content_hash[:ID_LENGTH], two.content_hash[:ID_LENGTH]
    query = "SELECT DISTINCT dataset_id FROM readings"
    assert sql_json(query, "--dataset", str(tmp_path / "two")) == [{"dataset_id": two_id}]
    assert sql_json(query, "--features", features_id[:6]) == [{"dataset_id": one_id}]
    assert sql_json(query, "--features", features_id, "--dataset", one_id) == [
        {"dataset_id": one_id}
    ]
    feats = "SELECT count(*) AS n FROM features"
    assert sql_json(feats, "--dataset", one_id) == [{"n": one.rows}]
    assert_usage_error(
        invoke("sql", feats, "--dataset", two_id), "view features has no data", "selection"
    )
    assert_usage_error(
        invoke("sql", query, "--features", features_id, "--dataset", two_id),
        "was not computed from the dataset",
    )
    assert_usage_error(invoke("sql", query, "--dataset", features_id), "not a dataset")
    assert_usage_error(invoke("sql", query, "--features", one_id), "not a feature set")
    assert_usage_error(invoke("sql", query, "--dataset", "ffff"), "unknown artifact 'ffff'")


def test_moved_and_deleted_datasets(tmp_path: Path) -> None:
    first = generate_fake(tmp_path / "a", seed=1)
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    generate_fake(tmp_path / "b", seed=1)  # complete: registers the new location
    shutil.rmtree(tmp_path / "a")
    assert sql_json("SELECT count(*) AS n FROM readings") == [{"n": first.rows}]
    other = generate_fake(tmp_path / "c", seed=3)
    shutil.rmtree(tmp_path / "b")
    result = invoke("sql", "SELECT count(*) AS n FROM readings", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [{"n": other.rows}]
    assert result.stderr.startswith(
        f"warning: skipped dataset {first.content_hash[:ID_LENGTH]}: no registered location"
    )
    assert_usage_error(
        invoke("sql", "SELECT 1 FROM readings", "--dataset", first.content_hash[:8]),
        "no registered location holds it",
    )
    shutil.rmtree(tmp_path / "c")
    gone = invoke("sql", "SELECT count(*) FROM scenarios")
    assert gone.exit_code == 2
    assert gone.stderr.splitlines()[-1].startswith("error: the view scenarios has no data")
    assert "2 skipped" in gone.stderr


def test_missing_readings_are_counted_right(tmp_path: Path, catalog_path: Path) -> None:
    """NaN readings are missing from Parquet min/max statistics; no row may be lost."""
    root = tmp_path / "ds"
    nan = float("nan")
    co2 = [400.0, 410.0, nan, 420.0, nan, 430.0, 440.0, 450.0, 460.0]
    readings = pa.table(
        {"scenario_id": ["s000000"] * 9, "t_s": [5.0 * (i + 1) for i in range(9)], "co2_ppm": co2}
    )
    (root / "readings").mkdir(parents=True)
    pq.write_table(readings, root / "readings" / "part-00000.parquet", row_group_size=3)
    scenarios = pa.table({"scenario_id": ["s000000"], "scenario_class": ["normal_day"]})
    pq.write_table(scenarios, root / "scenarios.parquet")
    files = {"scenarios.parquet": {}, "readings/part-00000.parquet": {}}
    write_dataset_manifest(root, files=files)
    with Catalog(catalog_path) as catalog:
        catalog.register_dataset(str(root))
    rows = sql_json(
        "SELECT count(*) FILTER (WHERE isnan(co2_ppm)) AS missing, "
        "count(*) FILTER (WHERE co2_ppm > 445) AS above, "
        "max(co2_ppm) FILTER (WHERE NOT isnan(co2_ppm)) AS top, "
        "max(co2_ppm)::VARCHAR AS raw_max FROM readings"
    )
    assert rows == [{"missing": 2, "above": 4, "top": 460.0, "raw_max": "nan"}]
    joined = sql_json(
        "SELECT count(*) AS n FROM readings r "
        "JOIN (SELECT co2_ppm FROM readings WHERE co2_ppm > 455) b USING (co2_ppm)"
    )
    assert joined == [{"n": 5}]  # 460 once, and each NaN equals both NaNs in DuckDB


# --------------------------------------------------------------------------- output and errors


def test_output_formats() -> None:
    query = (
        "SELECT 'nan'::DOUBLE AS x, 1.5::DECIMAL(3, 1) AS d, DATE '2024-01-02' AS day, "
        "NULL AS nothing, 'a,b' AS text"
    )
    assert sql_json(query) == [
        {"x": None, "d": 1.5, "day": "2024-01-02", "nothing": None, "text": "a,b"}
    ]
    assert sql(query, "--csv").stdout == 'x,d,day,nothing,text\nnan,1.5,2024-01-02,,"a,b"\n'
    table = sql(query).stdout
    assert "nan" in table and "NULL" in table and "2024-01-02" in table
    assert sql_json("SELECT 1 AS n WHERE false") == []


@pytest.mark.parametrize(
    ("query", "needles"),
    [
        ("SELECT * FROM nope", ["unknown table or view 'nope'", "scenarios, readings, features"]),
        ("SELECT * FROM scenarios", ["view scenarios has no data", "catalog.sqlite"]),
        ("SELECT * FROM features", ["view features has no data"]),
        ("SELEC 1", ["SQL error: Parser Error", "SELEC"]),
        ("SELECT nope FROM (SELECT 1 AS n)", ["SQL error: Binder Error", "nope"]),
        ("  ", ["empty SQL query"]),
    ],
)
def test_query_errors(query: str, needles: list[str]) -> None:
    assert_usage_error(invoke("sql", query), *needles)


def test_json_and_csv_exclude_each_other() -> None:
    assert_usage_error(invoke("sql", "SELECT 1", "--json", "--csv"), "--json", "--csv")


def test_query_names_never_resolve_to_python_variables(catalog_path: Path) -> None:
    """DuckDB's replacement scans would read the caller's variable ``features`` (None here)."""
    with Catalog(catalog_path) as catalog, pytest.raises(QueryError, match="has no data"):
        run_query("SELECT * FROM features", catalog)
