"""``embercast sql`` only reads the catalog's data: no writes, no other files, no extensions,
no setting changed back."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

import embercast.cli as cli
from embercast.config import get_settings
from embercast.store.lineage import open_catalog
from embercast.store.sql import QueryError, connect, run_query, sources
from embercast.synth.writer import generate_dataset

runner = CliRunner()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("sandbox")
    catalog = root / "catalog.sqlite"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EMBERCAST_CATALOG_PATH", str(catalog))
        mp.setenv("EMBERCAST_CONFIG", "")
        get_settings.cache_clear()
        generate_dataset(str(root / "ds"), scenarios=2, seed=4, frames="none")
    get_settings.cache_clear()
    return root / "ds", catalog


@pytest.fixture(autouse=True)
def settings(dataset: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMBERCAST_CATALOG_PATH", str(dataset[1]))
    monkeypatch.setenv("EMBERCAST_CONFIG", "")
    get_settings.cache_clear()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _query(sql: str) -> object:
    with open_catalog() as catalog:
        return run_query(sql, catalog)


def test_reading_the_views_still_works(dataset: tuple[Path, Path]) -> None:
    result = _query("SELECT count(*) AS n FROM scenarios")
    assert result.rows() == [{"n": 2}]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        ("COPY (SELECT * FROM scenarios) TO '{ds}/scenarios.parquet' (FORMAT parquet)", "COPY"),
        ("ATTACH '{ds}/x.duckdb' AS x", "ATTACH"),
        ("INSTALL httpfs", "LOAD"),
        ("SET enable_external_access = true", "SET"),
        ("CREATE TABLE t AS SELECT * FROM scenarios", "CREATE"),
    ],
)
def test_statements_that_write_or_reach_out_are_refused(
    dataset: tuple[Path, Path], sql: str, kind: str
) -> None:
    scenarios = dataset[0] / "scenarios.parquet"
    before = _digest(scenarios)
    with pytest.raises(QueryError, match=f"a {kind} statement is refused"):
        _query(sql.format(ds=dataset[0]))
    assert _digest(scenarios) == before
    assert not (dataset[0] / "x.duckdb").exists()


def test_one_statement_at_a_time(dataset: tuple[Path, Path]) -> None:
    with pytest.raises(QueryError, match="one SQL statement at a time, got 2"):
        _query("SELECT 1; COPY (SELECT 1) TO '/tmp/embercast-never.csv'")
    assert not Path("/tmp/embercast-never.csv").exists()


def test_files_outside_the_views_cannot_be_read(dataset: tuple[Path, Path], tmp_path: Path) -> None:
    secret = tmp_path / "secret.csv"
    secret.write_text("a,b\n1,2\n")
    for sql in (
        f"SELECT * FROM read_csv('{secret}')",
        "SELECT * FROM read_text('/etc/hostname')",
        f"SELECT * FROM scenarios, read_csv('{secret}')",
    ):
        with pytest.raises(QueryError, match="(?i)permission|disabled"):
            _query(sql)


def test_the_sandbox_cannot_be_lifted_from_inside(dataset: tuple[Path, Path]) -> None:
    with open_catalog() as catalog:
        found = sources(catalog, views=["scenarios"])
    with connect(found, ["scenarios"]) as con:
        assert con.execute("SELECT count(*) FROM scenarios").fetchall() == [(2,)]
        for setting in ("enable_external_access = true", "allowed_directories = ['/']"):
            with pytest.raises(duckdb.Error, match="(?i)lock"):
                con.execute(f"SET {setting}")


def test_the_command_line_says_so_on_one_line(dataset: tuple[Path, Path]) -> None:
    target = dataset[0] / "scenarios.parquet"
    result = runner.invoke(cli.app, ["sql", f"COPY scenarios TO '{target}'"])
    assert result.exit_code == 2
    assert result.stderr == (
        "error: embercast sql only reads: a COPY statement is refused; use SELECT\n"
    )
