"""Catalog of datasets and feature sets, with their lineage, in SQLite.

Every artifact (a dataset or a feature set) is registered from its ``manifest.json`` under an id
made of the first 16 hex characters of its content hash. The content hash depends only on the
bytes of the artifact's files, so rebuilding the same inputs gives the same id, and registering
the same content again changes nothing except that a new location is remembered when the
content was moved or copied.

Tables (plain SQL with portable types, so the same schema serves Postgres later)::

    schema_version (version)
    artifacts      (id, kind, location, content_hash, producer, arguments, counts, registered_at)
    locations      (artifact_id, location, registered_at)     every place the content was seen
    lineage        (child_id, parent_id)                      a feature set -> its dataset
    verified       (location, content_hash, fingerprint, verified_at)
                   the files at a location were hashed and matched the manifest while their
                   names, sizes and modification times gave ``fingerprint``

``arguments`` and ``counts`` are JSON text; ``registered_at`` is an ISO 8601 UTC time. The
SQLite file runs in WAL mode with foreign keys on; writes take the write lock at their start
(``BEGIN IMMEDIATE``), so several processes may register at the same time.
"""

from __future__ import annotations

import builtins
import json
import logging
import os
import re
import sqlite3
import urllib.parse
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Literal

from fsspec import AbstractFileSystem

from embercast.config import get_settings
from embercast.dataset.manifest import DATASET_FORMAT, FEATURES_FORMAT, MANIFEST
from embercast.errors import InputError
from embercast.store.fs import OutputLocationError, describe_os_error, is_local, join, resolve

__all__ = [
    "ID_LENGTH",
    "KINDS",
    "SCHEMA_VERSION",
    "Artifact",
    "Catalog",
    "CatalogError",
    "Kind",
    "artifact_kind",
    "canonical_location",
    "open_catalog",
    "read_manifest",
    "record_dataset",
    "record_features",
]

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 2
"""Version of the catalog's table layout (2 added ``verified``; a version 1 file is upgraded
when it is opened writable)."""
ID_LENGTH = 16
"""An artifact id is this many leading hex characters of its content hash."""
MIN_PREFIX = 4
"""Shortest id prefix accepted as a reference."""

Kind = Literal["dataset", "features"]
KINDS: tuple[Kind, ...] = ("dataset", "features")

_TABLES = ("schema_version", "artifacts", "locations", "lineage")
_VERIFIED = """CREATE TABLE verified (
        location TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        verified_at TEXT NOT NULL,
        PRIMARY KEY (location, content_hash)
    )"""
_SCHEMA = (
    "CREATE TABLE schema_version (version INTEGER NOT NULL)",
    """CREATE TABLE artifacts (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('dataset', 'features')),
        location TEXT NOT NULL,
        content_hash TEXT NOT NULL UNIQUE,
        producer TEXT NOT NULL,
        arguments TEXT NOT NULL,
        counts TEXT NOT NULL,
        registered_at TEXT NOT NULL
    )""",
    """CREATE TABLE locations (
        artifact_id TEXT NOT NULL REFERENCES artifacts (id),
        location TEXT NOT NULL,
        registered_at TEXT NOT NULL,
        PRIMARY KEY (artifact_id, location)
    )""",
    "CREATE INDEX locations_by_location ON locations (location)",
    """CREATE TABLE lineage (
        child_id TEXT NOT NULL REFERENCES artifacts (id),
        parent_id TEXT NOT NULL REFERENCES artifacts (id),
        PRIMARY KEY (child_id, parent_id)
    )""",
    "CREATE INDEX lineage_by_parent ON lineage (parent_id)",
    _VERIFIED,
)
_COLUMNS = "id, kind, location, content_hash, producer, arguments, counts, registered_at"
_HASH = re.compile(r"[0-9a-f]{16,128}")
_HEX = re.compile(r"[0-9a-fA-F]+")


class CatalogError(InputError):
    """The catalog cannot be used, or a registration or reference is invalid.

    The message is one line and names the catalog file or the location concerned.
    """


@dataclass(frozen=True, kw_only=True)
class Artifact:
    """One registered dataset or feature set."""

    id: str
    kind: Kind
    location: str
    """Where it was first registered."""
    locations: tuple[str, ...]
    """Every location it was registered from, oldest first."""
    content_hash: str
    producer: str
    """What made it: ``generator 1``, ``features standard18 1``."""
    arguments: dict[str, Any]
    counts: dict[str, Any]
    registered_at: str
    """ISO 8601 UTC time of the first registration."""

    def to_dict(self) -> dict[str, Any]:
        """The artifact as JSON-ready primitives."""
        data = asdict(self)
        data["locations"] = list(self.locations)
        return data


# --------------------------------------------------------------------------- locations


def canonical_location(location: str) -> tuple[str, AbstractFileSystem, str]:
    """Return ``(canonical location, fs, root)``.

    The canonical form is an absolute path for local locations and a URL with its protocol
    (``s3://bucket/ds``) otherwise, without a trailing slash.
    """
    try:
        fs, root = resolve(location)
    except OutputLocationError as exc:
        raise CatalogError(f"cannot open {location!r}: {exc.cause}") from exc
    return (root if is_local(fs) else str(fs.unstrip_protocol(root))), fs, root


def _unwritable(exc: BaseException | None) -> bool:
    """Whether an SQLite error says the file or its folder cannot be written."""
    text = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and (
        "readonly" in text or "unable to open" in text
    )


def _canonical_or_none(location: str) -> str | None:
    """The canonical form of ``location``, or None when it is not a location (an id)."""
    try:
        return canonical_location(location.strip())[0]
    except Exception:  # not a location fsspec understands
        return None


def read_manifest(location: str) -> tuple[str, dict[str, Any]]:
    """Return ``(canonical location, manifest)`` of a dataset or feature set.

    Raises :class:`CatalogError` when the location holds no readable manifest (an unfinished
    run, or no artifact at all).
    """
    canonical, fs, root = canonical_location(location)
    path = join(root, MANIFEST)
    try:
        with fs.open(path, "rb") as handle:
            data = json.loads(handle.read())
    except FileNotFoundError:
        raise CatalogError(
            f"{location} holds no {MANIFEST}: not a complete dataset or feature set"
        ) from None
    except ValueError as exc:
        raise CatalogError(f"{location}/{MANIFEST} is not valid JSON ({exc})") from exc
    except OSError as exc:
        raise CatalogError(f"cannot read {location}/{MANIFEST}: {describe_os_error(exc)}") from exc
    if not isinstance(data, dict):
        raise CatalogError(f"{location}/{MANIFEST} is not a JSON object")
    return canonical, data


def artifact_kind(location: str) -> Kind:
    """``features`` when ``location``'s manifest is a feature set's, else ``dataset`` (also
    when there is no readable manifest: the dataset checks report what is missing)."""
    try:
        _, manifest = read_manifest(location)
    except CatalogError:
        return "dataset"
    return "features" if manifest.get("format") == FEATURES_FORMAT else "dataset"


def _field(manifest: dict[str, Any], key: str, kind: type, where: str) -> Any:
    value = manifest.get(key)
    if not isinstance(value, kind):
        raise CatalogError(f"{where}/{MANIFEST}: {key!r} is missing or not a {kind.__name__}")
    return value


def _content_hash(manifest: dict[str, Any], where: str) -> str:
    value = manifest.get("content_hash")
    if not isinstance(value, str) or not _HASH.fullmatch(value):
        raise CatalogError(f"{where}/{MANIFEST}: 'content_hash' is missing or not a hex digest")
    return value


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _dumps(value: object) -> str:
    return json.dumps(value, sort_keys=True)


# --------------------------------------------------------------------------- the catalog


class Catalog:
    """A catalog in one SQLite file (created with its parent folders when missing).

    Use it as a context manager, or call :meth:`close`.

    Raises
    ------
    CatalogError
        The file cannot be created, opened or written, is not a database, is a database that is
        not a catalog, or has a newer layout than this version knows.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        if "://" in self.path:
            raise CatalogError(f"catalog {self.path!r}: the catalog must be a local file")
        folder = os.path.dirname(os.path.abspath(self.path))
        try:
            os.makedirs(folder, exist_ok=True)
        except FileExistsError as exc:
            raise CatalogError(self._cannot(f"{folder} is a file, not a folder")) from exc
        except OSError as exc:
            raise CatalogError(self._cannot(describe_os_error(exc))) from exc
        if os.path.isdir(self.path):
            raise CatalogError(self._cannot("it is a folder, not a file"))
        self._verified_table = True
        self.read_only = False
        """Whether the catalog was opened read-only (its file or folder cannot be written):
        look-ups work, registrations fail with a CatalogError saying so."""
        try:
            self._conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        except sqlite3.Error as exc:
            raise CatalogError(self._cannot(str(exc))) from exc
        try:
            with self._errors():
                self._conn.execute("PRAGMA foreign_keys = ON")
                self._conn.execute("PRAGMA journal_mode = WAL")
                self._setup()
        except CatalogError as exc:
            self._conn.close()
            if not (os.path.isfile(self.path) and _unwritable(exc.__cause__)):
                raise
            self._open_read_only()
        except BaseException:
            self._conn.close()
            raise

    def _open_read_only(self) -> None:
        """Open an existing catalog that cannot be written, for look-ups only (immutable when
        even SQLite's shared-memory file cannot be created beside it)."""
        self.read_only = True
        uri = f"file:{urllib.parse.quote(os.path.abspath(self.path))}"
        for mode in ("?mode=ro", "?mode=ro&immutable=1"):
            try:
                self._conn = sqlite3.connect(uri + mode, uri=True, isolation_level=None)
                with self._errors():
                    if not self._check_tables():
                        raise CatalogError(self._cannot("it is empty and cannot be written"))
                logger.info("the catalog %s is read-only: look-ups only", self.path)
                return
            except CatalogError as exc:
                self._conn.close()
                if mode.endswith("immutable=1") or not _unwritable(exc.__cause__):
                    raise

    def _cannot(self, reason: str) -> str:
        return f"cannot use the catalog {self.path!r}: {reason}"

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.DatabaseError as exc:
            reason = str(exc)
            if self.read_only and "readonly" in reason:
                reason = "it is read-only (its file or folder cannot be written)"
            if "not a database" in reason:
                reason = "the file is not an embercast catalog (not an SQLite database)"
            raise CatalogError(self._cannot(reason)) from exc

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction that holds the write lock from its start."""
        with self._errors():
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _setup(self) -> None:
        """Create the tables in a new file, or check that an existing file is a catalog."""
        if self._check_tables():
            return
        with self._write() as conn:
            if self._check_tables():  # another process created them meanwhile
                return
            for statement in _SCHEMA:
                conn.execute(statement)
            conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))

    def _check_tables(self) -> bool:
        """Whether the catalog's tables exist (an error if the file holds something else)."""
        rows = self._conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        tables = {str(row[0]) for row in rows}
        if not tables:
            return False
        if any(name not in tables for name in _TABLES):
            shown = ", ".join(sorted(tables)[:5])
            raise CatalogError(
                self._cannot(f"not an embercast catalog (it holds the tables {shown})")
            )
        version = self._conn.execute("SELECT max(version) FROM schema_version").fetchone()[0]
        if version == 1 and "verified" not in tables:
            self._upgrade_from_1()
            version = SCHEMA_VERSION
        if version != SCHEMA_VERSION:
            raise CatalogError(
                self._cannot(
                    f"catalog layout version {version}, this embercast knows {SCHEMA_VERSION}"
                )
            )
        return True

    def _upgrade_from_1(self) -> None:
        """Add the ``verified`` table of layout 2 (a read-only catalog stays at 1 and works
        without remembering verifications)."""
        try:
            with self._write() as conn:
                conn.execute(_VERIFIED)
                conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))
        except CatalogError:
            self._verified_table = False

    def close(self) -> None:
        """Close the database connection."""
        self._conn.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Catalog({self.path!r})"

    # ----------------------------------------------------------------------- registration

    def register(self, location: str) -> Artifact:
        """Register a dataset or a feature set, whichever ``location`` holds."""
        _, manifest = read_manifest(location)
        if manifest.get("format") == FEATURES_FORMAT:
            return self.register_features(location)
        return self.register_dataset(location)

    def register_dataset(self, location: str) -> Artifact:
        """Register the complete dataset at ``location`` (refused without its manifest)."""
        canonical, manifest = read_manifest(location)
        if manifest.get("format") != DATASET_FORMAT:
            raise CatalogError(
                f"{location} is not a dataset: its manifest format is "
                f"{manifest.get('format')!r}, expected {DATASET_FORMAT!r}"
            )
        generator = _field(manifest, "generator", dict, location)
        return self._register(
            kind="dataset",
            location=canonical,
            content_hash=_content_hash(manifest, location),
            producer=f"generator {generator.get('generator_version', '?')}",
            arguments=_field(manifest, "arguments", dict, location),
            counts=_field(manifest, "counts", dict, location),
            parents=(),
        )

    def register_features(self, location: str) -> Artifact:
        """Register the feature set at ``location`` and its lineage to its parent dataset.

        The parent is found by its content hash; when it is not registered yet it is registered
        from the location recorded in the feature set's manifest.
        """
        canonical, manifest = read_manifest(location)
        if manifest.get("format") != FEATURES_FORMAT or manifest.get("kind") != "features":
            raise CatalogError(
                f"{location} is not a feature set: its manifest format is "
                f"{manifest.get('format')!r}, expected {FEATURES_FORMAT!r}"
            )
        parent = _field(manifest, "parent", dict, location)
        parent_hash = _content_hash(parent, f"{location} (parent)")
        parent_id = self._ensure_parent(location, parent_hash, parent.get("location"))
        name = _field(manifest, "feature_set", str, location)
        version = manifest.get("feature_version", "?")
        return self._register(
            kind="features",
            location=canonical,
            content_hash=_content_hash(manifest, location),
            producer=f"features {name} {version}",
            arguments=_field(manifest, "arguments", dict, location),
            counts=_field(manifest, "counts", dict, location),
            parents=(parent_id,),
        )

    def _ensure_parent(self, child: str, content_hash: str, location: object) -> str:
        parent_id = content_hash[:ID_LENGTH]
        if self._row(parent_id) is not None:
            return parent_id
        if not isinstance(location, str) or not location:
            raise CatalogError(
                f"the parent dataset of {child} ({parent_id}) is not registered and its "
                "manifest records no location"
            )
        try:
            artifact = self.register_dataset(location)
        except CatalogError as exc:
            raise CatalogError(
                f"the parent dataset of {child} ({parent_id}) is not registered and "
                f"cannot be registered from {location}: {exc}"
            ) from exc
        if artifact.content_hash != content_hash:
            raise CatalogError(
                f"the parent dataset of {child} ({parent_id}) is not registered, and "
                f"{location} now holds a different dataset ({artifact.id})"
            )
        return parent_id

    def _register(
        self,
        *,
        kind: Kind,
        location: str,
        content_hash: str,
        producer: str,
        arguments: dict[str, Any],
        counts: dict[str, Any],
        parents: Sequence[str],
    ) -> Artifact:
        artifact_id = content_hash[:ID_LENGTH]
        with self._write() as conn:
            now = _now()
            row = conn.execute(
                "SELECT kind, content_hash FROM artifacts WHERE id = ?", (artifact_id,)
            ).fetchone()
            if row is None:
                conn.execute(
                    f"INSERT INTO artifacts ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        artifact_id,
                        kind,
                        location,
                        content_hash,
                        producer,
                        _dumps(arguments),
                        _dumps(counts),
                        now,
                    ),
                )
            elif tuple(row) != (kind, content_hash):
                raise CatalogError(
                    f"cannot register {location}: id {artifact_id} is already taken by a "
                    f"{row[0]} with content hash {row[1]}"
                )
            conn.execute(
                "INSERT INTO locations (artifact_id, location, registered_at) VALUES (?, ?, ?) "
                "ON CONFLICT (artifact_id, location) DO NOTHING",
                (artifact_id, location, now),
            )
            for parent_id in parents:
                conn.execute(
                    "INSERT INTO lineage (child_id, parent_id) VALUES (?, ?) "
                    "ON CONFLICT (child_id, parent_id) DO NOTHING",
                    (artifact_id, parent_id),
                )
        return self._artifact(artifact_id)

    # ----------------------------------------------------------------------- verification

    def verified_fingerprint(self, location: str, content_hash: str) -> str | None:
        """The file fingerprint under which the content at ``location`` was last hashed and
        found to match its manifest (None if never)."""
        if not self._verified_table:
            return None
        with self._errors():
            row = self._conn.execute(
                "SELECT fingerprint FROM verified WHERE location = ? AND content_hash = ?",
                (location, content_hash),
            ).fetchone()
        return None if row is None else str(row[0])

    def record_verified(self, location: str, content_hash: str, fingerprint: str) -> None:
        """Remember that the files at ``location`` matched their manifest under
        ``fingerprint`` (names, sizes and times: :mod:`embercast.store.integrity`)."""
        if not self._verified_table:
            return
        with self._write() as conn:
            conn.execute(
                "INSERT INTO verified (location, content_hash, fingerprint, verified_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (location, content_hash) "
                "DO UPDATE SET fingerprint = excluded.fingerprint, "
                "verified_at = excluded.verified_at",
                (location, content_hash, fingerprint, _now()),
            )

    def forget_verified(self, location: str) -> None:
        """Forget every verification of ``location`` (its files failed a check)."""
        if not self._verified_table:
            return
        with self._write() as conn:
            conn.execute("DELETE FROM verified WHERE location = ?", (location,))

    # ----------------------------------------------------------------------- removal

    def remove(self, ref: str) -> tuple[Artifact, builtins.list[str]]:
        """Unregister what ``ref`` names; return the artifact and the locations removed.

        A registered location (one of several copies) removes only that location; the artifact
        goes with its last location. An id, prefix or content hash removes the artifact and all
        its locations. An artifact that feature sets were made from is refused while they are
        registered (remove them first). The files themselves are never touched.
        """
        artifact = self.get(ref)
        by_location = None
        for candidate in (ref.strip().rstrip("/"), _canonical_or_none(ref)):
            if candidate in artifact.locations:
                by_location = candidate
                break
        removed = [by_location] if by_location is not None else list(artifact.locations)
        whole = len(removed) == len(artifact.locations)
        if whole:
            children = self.children(artifact.id)
            if children:
                shown = ", ".join(c.id for c in children[:5])
                raise CatalogError(
                    f"cannot remove {artifact.kind} {artifact.id}: feature sets made from it are "
                    f"registered ({shown}); remove them first"
                )
        with self._write() as conn:
            marks = ", ".join("?" for _ in removed)
            conn.execute(
                f"DELETE FROM locations WHERE artifact_id = ? AND location IN ({marks})",
                (artifact.id, *removed),
            )
            if self._verified_table:
                conn.execute(f"DELETE FROM verified WHERE location IN ({marks})", removed)
            if whole:
                conn.execute("DELETE FROM lineage WHERE child_id = ?", (artifact.id,))
                conn.execute("DELETE FROM artifacts WHERE id = ?", (artifact.id,))
            elif artifact.location in removed:  # the next copy leads
                rest = [loc for loc in artifact.locations if loc not in removed]
                conn.execute(
                    "UPDATE artifacts SET location = ? WHERE id = ?", (rest[0], artifact.id)
                )
        return artifact, removed

    # ----------------------------------------------------------------------- look-up

    def _row(self, artifact_id: str) -> tuple[Any, ...] | None:
        with self._errors():
            row = self._conn.execute(
                f"SELECT {_COLUMNS} FROM artifacts WHERE id = ?", (artifact_id,)
            ).fetchone()
        return tuple(row) if row is not None else None

    def _from_row(self, row: Sequence[Any]) -> Artifact:
        with self._errors():
            where = self._conn.execute(
                "SELECT location FROM locations WHERE artifact_id = ? "
                "ORDER BY registered_at, location",
                (row[0],),
            ).fetchall()
        locations = [str(r[0]) for r in where]
        if row[2] in locations:  # the first location leads
            locations.remove(row[2])
        return Artifact(
            id=str(row[0]),
            kind=row[1],
            location=str(row[2]),
            locations=(str(row[2]), *locations),
            content_hash=str(row[3]),
            producer=str(row[4]),
            arguments=json.loads(row[5]),
            counts=json.loads(row[6]),
            registered_at=str(row[7]),
        )

    def _artifact(self, artifact_id: str) -> Artifact:
        row = self._row(artifact_id)
        if row is None:
            raise CatalogError(f"unknown artifact {artifact_id!r} in the catalog {self.path!r}")
        return self._from_row(row)

    def _select(self, sql: str, parameters: Sequence[object] = ()) -> builtins.list[Artifact]:
        with self._errors():
            rows = self._conn.execute(sql, tuple(parameters)).fetchall()
        return [self._from_row(row) for row in rows]

    def list(self, kind: str | None = None) -> builtins.list[Artifact]:
        """All artifacts, or those of one kind, oldest registration first."""
        if kind is None:
            return self._select(f"SELECT {_COLUMNS} FROM artifacts ORDER BY registered_at, id")
        if kind not in KINDS:
            raise CatalogError(f"invalid kind {kind!r}: expected one of {', '.join(KINDS)}")
        return self._select(
            f"SELECT {_COLUMNS} FROM artifacts WHERE kind = ? ORDER BY registered_at, id",
            (kind,),
        )

    def get(self, ref: str) -> Artifact:
        """The artifact named by ``ref``: an id, a unique id prefix (>= 4 characters), a full
        content hash, or a registered location.

        A location that held several artifacts over time (it was overwritten) names the one
        registered there last.
        """
        ref = ref.strip()
        if not ref:
            raise CatalogError("empty artifact reference")
        candidates = [ref.rstrip("/") or ref]
        canonical = _canonical_or_none(ref)
        if canonical is not None:
            candidates.append(canonical)
        with self._errors():
            marks = ", ".join("?" for _ in candidates)
            row = self._conn.execute(
                f"SELECT artifact_id FROM locations WHERE location IN ({marks}) "
                "ORDER BY registered_at DESC, artifact_id LIMIT 1",
                candidates,
            ).fetchone()
        if row is not None:
            return self._artifact(str(row[0]))
        if _HEX.fullmatch(ref) and len(ref) >= MIN_PREFIX:
            found = self._select(
                f"SELECT {_COLUMNS} FROM artifacts WHERE content_hash LIKE ? ORDER BY id",
                (ref.lower() + "%",),
            )
            if len(found) == 1:
                return found[0]
            if found:
                shown = ", ".join(f"{a.id} ({a.kind})" for a in found[:5])
                raise CatalogError(f"ambiguous artifact reference {ref!r}: it matches {shown}")
        raise CatalogError(
            f"unknown artifact {ref!r} in the catalog {self.path!r} "
            f"(not an id, an id prefix of at least {MIN_PREFIX} characters, "
            "or a registered location)"
        )

    def parents(self, ref: str) -> builtins.list[Artifact]:
        """The artifacts ``ref`` was made from (a feature set's dataset)."""
        child = self.get(ref)
        return self._select(
            f"SELECT {_COLUMNS} FROM artifacts WHERE id IN "
            "(SELECT parent_id FROM lineage WHERE child_id = ?) ORDER BY registered_at, id",
            (child.id,),
        )

    def children(self, ref: str) -> builtins.list[Artifact]:
        """The artifacts made from ``ref`` (a dataset's feature sets)."""
        parent = self.get(ref)
        return self._select(
            f"SELECT {_COLUMNS} FROM artifacts WHERE id IN "
            "(SELECT child_id FROM lineage WHERE parent_id = ?) ORDER BY registered_at, id",
            (parent.id,),
        )


# --------------------------------------------------------------------------- entry points


def open_catalog(path: str | os.PathLike[str] | None = None) -> Catalog:
    """Open the catalog at ``path`` (default: ``get_settings().catalog_path``)."""
    return Catalog(path if path is not None else get_settings().catalog_path)


def record_dataset(location: str) -> Artifact:
    """Register a freshly written dataset in the catalog of the settings.

    Raises :class:`CatalogError` whose message says that the dataset itself is complete and
    how to register it once the catalog is usable.
    """
    try:
        with open_catalog() as catalog:
            return catalog.register_dataset(location)
    except CatalogError as exc:
        raise CatalogError(
            f"the dataset {location} is complete but was not registered: {exc} "
            f"(fix that, then run 'embercast catalog add {location}')"
        ) from exc


def record_features(location: str) -> Artifact:
    """Register a freshly written feature set (and its dataset if needed) like
    :func:`record_dataset`.
    """
    try:
        with open_catalog() as catalog:
            return catalog.register_features(location)
    except CatalogError as exc:
        raise CatalogError(
            f"the feature set {location} is complete but was not registered: {exc} "
            f"(fix that, then run 'embercast catalog add {location}')"
        ) from exc
