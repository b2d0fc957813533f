"""SQL over the registered data: DuckDB in-process, one view per table kind.

Views (created for the names a query mentions):

``scenarios``
    ``scenarios.parquet`` of every registered dataset, plus ``dataset_id``.
``readings``
    ``readings/part-*.parquet`` of every registered dataset, plus ``dataset_id``.
``features``
    ``features/part-*.parquet`` of every registered feature set, plus ``features_id`` and the
    ``dataset_id`` of its parent dataset.

Artifacts are combined with ``UNION ALL BY NAME``, so columns that only some of them have are
null elsewhere. Files are read from the first location (newest registration first) whose
manifest still has the registered content hash; an artifact that no location holds any more is
skipped and reported. ``s3://`` (and any other fsspec) locations are read through the fsspec file
system registered with DuckDB, so the endpoint of the settings applies and DuckDB never loads or
downloads an extension.
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa
from fsspec import AbstractFileSystem

from embercast.errors import InputError
from embercast.store.fs import is_local, join
from embercast.store.integrity import ArtifactNotFoundError, IntegrityError, open_artifact
from embercast.store.lineage import Artifact, Catalog, CatalogError

__all__ = [
    "NAN_UNSAFE_OPTIMIZERS",
    "VIEWS",
    "QueryError",
    "QueryResult",
    "Source",
    "Sources",
    "connect",
    "read_only_statement",
    "run_query",
    "sources",
]

logger = logging.getLogger(__name__)

VIEWS: tuple[str, ...] = ("scenarios", "readings", "features")
"""Names of the views over the registered data."""

_NO_DOWNLOADS: dict[str, Any] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    # names in a query never resolve to Python variables of the calling code
    "python_enable_replacements": False,
}
NAN_UNSAFE_OPTIMIZERS: tuple[str, ...] = (
    "statistics_propagation",
    "filter_pushdown",
    "join_filter_pushdown",
    "row_group_pruner",
)
"""DuckDB optimizers switched off because they trust Parquet min/max statistics.

Parquet writers (Arrow among them) leave NaN out of a float column's min/max, while DuckDB
orders NaN above every number; with these optimizers on, DuckDB 2.0 drops or miscounts the
rows of missing readings (``WHERE isnan(co2_ppm)`` finds none, ``max(co2_ppm)`` misses NaN,
joins and range filters lose rows; duckdb/duckdb#25521). Queries stay correct without them
and joins are still planned (``join_order``) and ``ORDER BY ... LIMIT`` still uses top-N.
"""
_MISSING_TABLE = re.compile(r"Table with name (\S+?) does not exist", re.IGNORECASE)


class QueryError(InputError):
    """A query cannot run: SQL error, unknown view, unknown or unreachable artifact.

    The message is one line.
    """


@dataclass(frozen=True, kw_only=True)
class Source:
    """One artifact to read: where it is and its Parquet files per view."""

    artifact: Artifact
    location: str
    files: dict[str, list[str]]
    """View name -> file URLs."""
    fs: AbstractFileSystem
    parent_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class Sources:
    """The artifacts a query reads, and those skipped because no location holds them."""

    datasets: list[Source] = field(default_factory=list)
    feature_sets: list[Source] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    restricted: bool = False
    """Whether a --dataset / --features restriction applies."""


@dataclass(frozen=True, kw_only=True)
class QueryResult:
    """The rows of a query and what was skipped."""

    table: pa.Table
    skipped: list[str] = field(default_factory=list)

    @property
    def columns(self) -> list[str]:
        """Column names in order."""
        return list(self.table.column_names)

    def rows(self) -> list[dict[str, Any]]:
        """The rows as dictionaries of Python values (a repeated column name keeps one)."""
        return list(self.table.to_pylist())

    def values(self) -> list[tuple[Any, ...]]:
        """The rows as tuples of Python values, in column order."""
        return list(zip(*(column.to_pylist() for column in self.table.columns), strict=True))


# --------------------------------------------------------------------------- sources


def _files(manifest: Mapping[str, Any]) -> list[str]:
    listed = manifest.get("files") or {}
    return sorted(str(name) for name in listed)


def _parts(files: Sequence[str], folder: str) -> list[str]:
    return [name for name in files if name.startswith(f"{folder}/") and name.endswith(".parquet")]


def _locate(artifact: Artifact) -> tuple[str, AbstractFileSystem, dict[str, Any]] | None:
    """The newest location that still holds the artifact's content, intact (a damaged or
    replaced copy is passed over with a warning)."""
    for location in reversed(artifact.locations):
        try:
            found = open_artifact(location, artifact.kind)
        except ArtifactNotFoundError as exc:
            logger.info("passing over %s: %s", location, exc)
            continue
        except IntegrityError as exc:
            logger.warning("passing over %s: %s", location, exc)
            continue
        if found.content_hash == artifact.content_hash:
            return found.canonical, found.fs, found.manifest
        logger.warning("passing over %s: it now holds %s", location, found.content_hash[:16])
    return None


def _source(artifact: Artifact, parent_id: str | None = None) -> Source | None:
    found = _locate(artifact)
    if found is None:
        return None
    location, fs, manifest = found
    names = _files(manifest)
    if artifact.kind == "dataset":
        tables = {
            "scenarios": [n for n in names if n == "scenarios.parquet"],
            "readings": _parts(names, "readings"),
        }
    else:
        tables = {"features": _parts(names, "features")}
    files = {view: [join(location, name) for name in names] for view, names in tables.items()}
    return Source(
        artifact=artifact,
        location=location,
        files={view: urls for view, urls in files.items() if urls},
        fs=fs,
        parent_id=parent_id,
    )


def _unreachable(artifact: Artifact) -> str:
    what = "dataset" if artifact.kind == "dataset" else "feature set"
    where = ", ".join(artifact.locations)
    return f"{what} {artifact.id}: no registered location holds it intact ({where})"


def _pick(catalog: Catalog, ref: str, kind: str) -> Artifact:
    try:
        artifact = catalog.get(ref)
    except CatalogError as exc:
        raise QueryError(str(exc)) from exc
    if artifact.kind != kind:
        wanted = "a dataset" if kind == "dataset" else "a feature set"
        raise QueryError(f"{ref!r} is {artifact.id}, a {artifact.kind} artifact, not {wanted}")
    return artifact


def sources(
    catalog: Catalog,
    *,
    dataset: str | None = None,
    features: str | None = None,
    views: Sequence[str] = VIEWS,
) -> Sources:
    """Find the artifacts to query: all of them, or one dataset and/or one feature set.

    With ``features`` the views hold that feature set and its parent dataset; with ``dataset``
    they hold that dataset and its feature sets. An explicitly chosen artifact that no location
    holds is an error; otherwise such artifacts are skipped. Only the artifacts of ``views``
    are looked for (a query of ``features`` alone reads no dataset manifest).
    """
    restricted = dataset is not None or features is not None
    if features is not None:
        chosen = _pick(catalog, features, "features")
        feature_sets = [chosen]
        parents = catalog.parents(chosen.id)
        if dataset is not None:
            wanted = _pick(catalog, dataset, "dataset")
            if wanted.id not in {p.id for p in parents}:
                raise QueryError(
                    f"the feature set {chosen.id} was not computed from the dataset {wanted.id}"
                )
            parents = [wanted]
        datasets = parents
    elif dataset is not None:
        wanted = _pick(catalog, dataset, "dataset")
        datasets = [wanted]
        feature_sets = [c for c in catalog.children(wanted.id) if c.kind == "features"]
    else:
        datasets = catalog.list("dataset")
        feature_sets = catalog.list("features")

    if "scenarios" not in views and "readings" not in views:
        datasets = []
    if "features" not in views:
        feature_sets = []
    found = Sources(restricted=restricted)
    for artifact in datasets:
        source = _source(artifact)
        if source is None:
            if restricted:
                raise QueryError(_unreachable(artifact))
            found.skipped.append(_unreachable(artifact))
        else:
            found.datasets.append(source)
    for artifact in feature_sets:
        parent = catalog.parents(artifact.id)
        source = _source(artifact, parent[0].id if parent else None)
        if source is None:
            if features is not None:
                raise QueryError(_unreachable(artifact))
            found.skipped.append(_unreachable(artifact))
        else:
            found.feature_sets.append(source)
    return found


# --------------------------------------------------------------------------- DuckDB


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _select(extra: Mapping[str, str | None], files: Sequence[str]) -> str:
    columns = ", ".join(
        f"{_literal(value) if value is not None else 'NULL::VARCHAR'} AS {name}"
        for name, value in extra.items()
    )
    listing = ", ".join(_literal(path) for path in files)
    return f"SELECT {columns}, * FROM read_parquet([{listing}], union_by_name = true)"


def _view_sql(view: str, found: Sources) -> str | None:
    selects = []
    if view == "features":
        for source in found.feature_sets:
            extra = {"features_id": source.artifact.id, "dataset_id": source.parent_id}
            if view in source.files:
                selects.append(_select(extra, source.files[view]))
    else:
        for source in found.datasets:
            if view in source.files:
                selects.append(_select({"dataset_id": source.artifact.id}, source.files[view]))
    return "\nUNION ALL BY NAME\n".join(selects) if selects else None


def _mentioned(sql: str) -> list[str]:
    words = {word.lower() for word in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", sql)}
    return [view for view in VIEWS if view in words]


@contextmanager
def connect(found: Sources, views: Sequence[str] = VIEWS) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB connection with ``views`` over ``found`` (empty views are left out).

    Extension auto-loading is off; non-local file systems are registered from fsspec. Once the
    views exist the connection is sandboxed (:func:`_sandbox`): it reads the views' own files
    and nothing else, and its configuration is locked.
    """
    # an empty extension folder of its own: DuckDB looks there before it reads s3:// through
    # the registered file system, and the sandbox allows it nothing else
    extensions = tempfile.mkdtemp(prefix="embercast-duckdb-")
    con = duckdb.connect(
        config={
            **_NO_DOWNLOADS,
            "disabled_optimizers": ",".join(NAN_UNSAFE_OPTIMIZERS),
            "extension_directory": extensions,
        }
    )
    try:
        protocols: set[str] = set()
        for source in [*found.datasets, *found.feature_sets]:
            if is_local(source.fs):
                continue
            protocol = source.fs.protocol
            name = protocol if isinstance(protocol, str) else protocol[0]
            if name not in protocols:
                con.register_filesystem(source.fs)
                protocols.add(name)
        for view in views:
            body = _view_sql(view, found)
            if body is not None:
                try:
                    con.execute(f"CREATE VIEW {view} AS {body}")
                except duckdb.Error as exc:
                    raise QueryError(f"cannot open the view {view}: {_first_line(exc)}") from exc
        _sandbox(con, found, extensions)
        yield con
    finally:
        con.close()
        shutil.rmtree(extensions, ignore_errors=True)


def _sandbox(con: duckdb.DuckDBPyConnection, found: Sources, extensions: str) -> None:
    """Confine ``con`` to the folders of the views' Parquet files: no other file, no network,
    no extension, and no setting can be changed back (DuckDB's ``allowed_directories``,
    ``enable_external_access=false`` and ``lock_configuration``)."""
    folders = sorted(
        {
            path.rsplit("/", 1)[0] + "/"
            for source in [*found.datasets, *found.feature_sets]
            for paths in source.files.values()
            for path in paths
        }
    )
    con.execute("SET allowed_directories = ?", [[*folders, extensions.rstrip("/") + "/"]])
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def read_only_statement(sql: str) -> str:
    """``sql`` when it is one SELECT statement; QueryError naming what else it is. ``embercast
    sql`` reads the catalog's data and writes nothing: COPY, ATTACH, INSTALL, SET, CREATE and
    the rest are refused before anything runs.

    >>> read_only_statement("SELECT 1")
    'SELECT 1'
    """
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryError(f"SQL error: {_first_line(exc)}") from exc
    if len(statements) != 1:
        raise QueryError(f"one SQL statement at a time, got {len(statements)}")
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        name = str(kind).rsplit(".", 1)[-1]
        raise QueryError(f"embercast sql only reads: a {name} statement is refused; use SELECT")
    return sql


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    hints = [line for line in lines[1:] if line.startswith("Did you mean")]
    return " ".join(lines[:1] + hints) if lines else type(exc).__name__


def _explain(exc: duckdb.Error, found: Sources, catalog: Catalog) -> str:
    missing = _MISSING_TABLE.search(str(exc))
    if missing is not None:
        name = missing.group(1).strip("\"'`").lower()
        if name in VIEWS:
            what = "feature set" if name == "features" else "dataset"
            scope = "the selection" if found.restricted else f"the catalog {catalog.path!r}"
            skipped = f" ({len(found.skipped)} skipped: no location holds them)"
            return (
                f"the view {name} has no data: {scope} holds no {what}"
                f"{skipped if found.skipped else ''}"
            )
        return f"unknown table or view {name!r}: the views are {', '.join(VIEWS)}"
    return f"SQL error: {_first_line(exc)}"


def run_query(
    sql: str,
    catalog: Catalog,
    *,
    dataset: str | None = None,
    features: str | None = None,
) -> QueryResult:
    """Run one SQL statement over the views and return its rows as an Arrow table.

    Raises :class:`QueryError` for an SQL error, an unknown or empty view, or an unknown,
    ambiguous or unreachable ``dataset`` / ``features`` reference.
    """
    if not sql.strip():
        raise QueryError("empty SQL query")
    read_only_statement(sql)
    views = _mentioned(sql)
    found = sources(catalog, dataset=dataset, features=features, views=views)
    with connect(found, views) as con:
        try:
            relation = con.sql(sql)
            table = relation.to_arrow_table() if relation is not None else None
        except duckdb.Error as exc:
            raise QueryError(_explain(exc, found, catalog)) from exc
    return QueryResult(table=table if table is not None else pa.table({}), skipped=found.skipped)
