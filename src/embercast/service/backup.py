"""Back up the live service's state to any location and restore it elsewhere (``embercast
backup``, ``embercast restore``).

A backup is a folder, local or any fsspec URL (``s3://bucket/backups/2026-12-05``), holding

* ``service/service.sqlite``: API keys, devices, twins, commands, alarms and their events,
  jobs and sessions (settings' ``service_home``), and ``service/ingest/...``: the ingest log's
  Parquet parts, laid out as under the home;
* ``catalog/catalog.sqlite``: the lineage catalog (``catalog_path``);
* ``mlflow/mlflow.db``: the MLflow tracking store and registry (``mlflow_uri``, a SQLite file),
  and ``mlflow/artifacts/<k>/...``: the files under each local artifact root the store names;
* ``manifest.json``, written last: the format and its version, when [Unix s], the embercast
  version, the artifact roots the store named, and each file's path, size [bytes] and SHA-256.
  A backup cut short has no manifest, and restoring it is refused.

Each SQLite file is copied with SQLite's online backup API into a temporary file, which is then
uploaded: a running service goes on serving and writing, and each copy is a consistent snapshot
of its database (the databases one after the other, then the files; ingest parts are immutable).

:func:`restore` checks the manifest and every file's size and SHA-256 before it writes anything,
refuses to replace existing state unless ``force``, writes each file beside its target under a
temporary name and renames it into place, and points the MLflow store's artifact locations
(every text value naming a path under an old root) at the restored roots: ``mlartifacts``
beside the restored store for the root holding most files, ``mlartifacts-<k>`` for any other.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import os
import posixpath
import sqlite3
import tempfile
import time
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fsspec import AbstractFileSystem

from embercast import __version__
from embercast.config import Settings
from embercast.errors import InputError
from embercast.service.db import DB_FILE
from embercast.service.ingest import INGEST_DIR
from embercast.store.fs import (
    atomic_write_bytes,
    check_writable,
    is_local,
    is_temporary_name,
    join,
    list_names,
    read_json,
    removed_if_left_empty,
    resolve,
    sha256,
)

logger = logging.getLogger(__name__)

FORMAT = "embercast-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SERVICE_DB = "service/service.sqlite"
INGEST = "service/ingest"
CATALOG = "catalog/catalog.sqlite"
MLFLOW_DB = "mlflow/mlflow.db"
ARTIFACTS = "mlflow/artifacts"
_CHUNK = 4 * 1024 * 1024
_LOCATION_COLUMNS = (
    ("experiments", "artifact_location"),
    ("runs", "artifact_uri"),
    ("logged_models", "artifact_location"),
    ("model_versions", "storage_location"),
    ("model_versions", "source"),
    ("workspaces", "default_artifact_root"),
)
"""Columns of the MLflow store naming artifact locations; the experiments' come first."""


class BackupError(InputError):
    """A backup that cannot be made or restored: the message names the location or file and
    what is wrong."""


@dataclass(frozen=True)
class Places:
    """Where one installation keeps its state (absolute local paths)."""

    service_home: str
    catalog: str
    mlflow_uri: str
    mlflow_db: str | None
    """The MLflow store's SQLite file; None for a tracking server."""

    @classmethod
    def of(cls, settings: Settings) -> Places:
        home = os.path.abspath(os.path.expanduser(settings.service_home))
        catalog = os.path.abspath(os.path.expanduser(settings.catalog_path))
        return cls(home, catalog, settings.mlflow_uri, sqlite_path(settings.mlflow_uri))

    def store(self) -> str:
        """The MLflow store's file; BackupError when the store is a tracking server."""
        if self.mlflow_db is None:
            raise BackupError(
                f"the MLflow store {self.mlflow_uri} is a tracking server: only a SQLite store "
                "(mlflow_uri a file path or sqlite:///...) can be backed up and restored; "
                "back a server up with its own tools"
            )
        return self.mlflow_db


@dataclass
class BackupSummary:
    """What :func:`backup` or :func:`restore` copied: ``files`` per part (``service``,
    ``ingest``, ``catalog``, ``mlflow``, ``artifacts``) and ``bytes`` in all."""

    url: str
    files: dict[str, int] = field(default_factory=dict)
    bytes: int = 0
    rewritten: int = 0
    """Restore: values of the MLflow store pointed at the restored artifact roots."""
    targets: dict[str, str] = field(default_factory=dict)
    """Restore: where each part went."""


def sqlite_path(uri: str) -> str | None:
    """The absolute file of a SQLite ``mlflow_uri`` (a path or ``sqlite:///...``); None for any
    other URI (a tracking server).

    >>> sqlite_path("sqlite:////srv/mlflow.db"), sqlite_path("http://mlflow:5000")
    ('/srv/mlflow.db', None)
    """
    if uri.startswith("sqlite:///"):
        return os.path.abspath(uri.removeprefix("sqlite:///"))
    if "://" in uri:
        return None
    return os.path.abspath(os.path.expanduser(uri))


def _part(path: str) -> str:
    """The part a backed-up file belongs to (a key of :attr:`BackupSummary.files`)."""
    if path.startswith(INGEST + "/"):
        return "ingest"
    if path.startswith(ARTIFACTS + "/"):
        return "artifacts"
    return path.split("/", 1)[0]


# --------------------------------------------------------------------------- backup


def snapshot_sqlite(source: str, dest: str) -> None:
    """Copy the SQLite database ``source`` to ``dest`` with SQLite's online backup API (a
    consistent snapshot while others write), as one self-contained file (rollback journal, not
    WAL), and check it (``PRAGMA quick_check``)."""
    uri = f"file:{urllib.parse.quote(source)}"
    try:
        try:
            src = sqlite3.connect(f"{uri}?mode=rw", uri=True, timeout=30.0)
        except sqlite3.OperationalError:  # a file this user may only read
            src = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=30.0)
        try:
            dst = sqlite3.connect(dest)
            try:
                src.backup(dst)
                dst.execute("PRAGMA journal_mode = DELETE")
                check = dst.execute("PRAGMA quick_check").fetchone()
            finally:
                dst.close()
        finally:
            src.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"cannot back up the SQLite database {source}: {exc}") from None
    if check is None or check[0] != "ok":
        raise BackupError(f"the SQLite database {source} is damaged: {check}")


def _local_path(value: str) -> str | None:
    """The absolute local path an artifact location names (a path or a ``file:`` URI), else
    None (``s3://``, ``models:/``, a relative path)."""
    if value.startswith("file:"):
        parsed = urllib.parse.urlparse(value)
        if parsed.netloc not in ("", "localhost"):
            return None
        path = urllib.parse.unquote(parsed.path)
    else:
        path = value
    if not path.startswith("/") or path == "/":
        return None
    return posixpath.normpath(path)


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def artifact_roots(db: str) -> list[str]:
    """The local folders holding the artifacts the MLflow store ``db`` names: each
    experiment's artifact location, and any other location (a run's, a model's) lying outside
    them; none inside another, in the order found."""
    found: list[str] = []
    conn = sqlite3.connect(f"file:{urllib.parse.quote(db)}?mode=ro", uri=True)
    try:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        for table, column in _LOCATION_COLUMNS:
            if table not in tables:
                continue
            if column not in {row[1] for row in conn.execute(f'PRAGMA table_info("{table}")')}:
                continue
            query = f'SELECT DISTINCT "{column}" FROM "{table}" WHERE "{column}" IS NOT NULL'
            for (value,) in conn.execute(query):
                path = _local_path(str(value))
                if path is not None and not any(_under(path, r) for r in found):
                    found = [r for r in found if not _under(r, path)] + [path]
    finally:
        conn.close()
    return found


def _files_below(folder: str) -> list[str]:
    """Relative POSIX paths of the files below ``folder``, sorted; temporaries of interrupted
    atomic writes left out ([] when there is no such folder)."""
    out = []
    for here, dirs, names in os.walk(folder):
        dirs.sort()
        for name in names:
            if not is_temporary_name(name) and os.path.isfile(os.path.join(here, name)):
                out.append(os.path.relpath(os.path.join(here, name), folder).replace(os.sep, "/"))
    return sorted(out)


def _upload(source: str, fs: AbstractFileSystem, dest: str) -> tuple[int, str]:
    """Copy the local file ``source`` to ``dest`` on ``fs`` (synced to disk when local); its
    (size [bytes], SHA-256) as read."""
    digest, size = hashlib.sha256(), 0
    with open(source, "rb") as src:
        if is_local(fs):
            os.makedirs(posixpath.dirname(dest), exist_ok=True)
            out: Any = open(dest, "wb")  # noqa: SIM115 - closed below, after fsync
        else:
            out = fs.open(dest, "wb")
        with out:
            while chunk := src.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
            if is_local(fs):
                out.flush()
                os.fsync(out.fileno())
    return size, digest.hexdigest()


def backup(settings: Settings, url: str) -> BackupSummary:
    """Back up the state ``settings`` name to the folder ``url`` (local or fsspec), which must
    be empty or new; its manifest is written last. BackupError when the MLflow store is a
    tracking server, when nothing exists to back up or when ``url`` holds files already."""
    places = Places.of(settings)
    store = places.store()
    databases = [
        (SERVICE_DB, os.path.join(places.service_home, DB_FILE)),
        (CATALOG, places.catalog),
        (MLFLOW_DB, store),
    ]
    databases = [(name, path) for name, path in databases if os.path.isfile(path)]
    ingest = os.path.join(places.service_home, INGEST_DIR)
    if not databases and not _files_below(ingest):
        raise BackupError(
            f"nothing to back up: none of {places.service_home}/{DB_FILE}, {places.catalog}, "
            f"{store} or the ingest log {ingest} exists (check the settings)"
        )
    fs, root = resolve(url)
    if list_names(fs, root):
        raise BackupError(
            f"the backup location {url} is not empty (a backup, or one cut short): back up to a "
            "new location"
        )
    check_writable(fs, root, url)
    summary = BackupSummary(url)
    entries: list[dict[str, Any]] = []

    def add(source: str, name: str) -> None:
        size, digest = _upload(source, fs, join(root, name))
        entries.append({"path": name, "size": size, "sha256": digest})
        part = _part(name)
        summary.files[part] = summary.files.get(part, 0) + 1
        summary.bytes += size

    roots: list[str] = []
    with removed_if_left_empty(fs, root), tempfile.TemporaryDirectory(prefix="embercast-") as tmp:
        for name, source in databases:
            copy = os.path.join(tmp, posixpath.basename(name))
            snapshot_sqlite(source, copy)
            if name == MLFLOW_DB:
                roots = artifact_roots(copy)
            add(copy, name)
            logger.info("backed up %s (%s)", source, name)
        for rel in _files_below(ingest):
            try:
                add(os.path.join(ingest, rel), f"{INGEST}/{rel}")
            except FileNotFoundError:  # pruned meanwhile
                logger.info("ingest part %s was deleted while backing up", rel)
        for k, artifacts in enumerate(roots):
            for rel in _files_below(artifacts):
                add(os.path.join(artifacts, rel), f"{ARTIFACTS}/{k}/{rel}")
        now = time.time()
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "created_s": now,
            "created": datetime.datetime.fromtimestamp(now, datetime.UTC).isoformat(),
            "embercast_version": __version__,
            "source": {
                "service_home": places.service_home,
                "catalog_path": places.catalog,
                "mlflow_db": store,
            },
            "artifact_roots": [
                {"path": r, "folder": f"{ARTIFACTS}/{k}"} for k, r in enumerate(roots)
            ],
            "files": entries,
        }
        atomic_write_bytes(fs, join(root, MANIFEST), json.dumps(manifest, indent=1).encode())
    logger.info("backup %s: %d files, %d bytes", url, len(entries), summary.bytes)
    return summary


# --------------------------------------------------------------------------- restore


def _manifest(fs: AbstractFileSystem, root: str, url: str) -> dict[str, Any]:
    """The manifest of the backup at ``url``, its format and file list checked."""
    try:
        manifest = read_json(fs, join(root, MANIFEST))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BackupError(f"the backup {url} has an unreadable {MANIFEST}: {exc}") from None
    if manifest is None:
        raise BackupError(
            f"{url} holds no {MANIFEST}: it is not a backup, or one cut short (the manifest is "
            "written last); restore nothing from it"
        )
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{url}/{MANIFEST} is not an embercast backup's manifest")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise BackupError(
            f"the backup {url} has format version {version!r}; this embercast "
            f"({__version__}) reads version {FORMAT_VERSION}"
        )
    files = manifest.get("files")
    if not isinstance(files, list) or not all(
        isinstance(f, dict) and isinstance(f.get("path"), str) and isinstance(f.get("size"), int)
        and isinstance(f.get("sha256"), str) for f in files
    ):  # fmt: skip
        raise BackupError(f"the backup {url} has a malformed file list in {MANIFEST}")
    return manifest


def _safe(rel: str, url: str) -> str:
    """``rel`` when it is a plain relative path (no ``..``, not absolute)."""
    parts = rel.split("/")
    if rel.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\\" in rel:
        raise BackupError(f"the backup {url} lists a file outside it: {rel!r}")
    return rel


def _new_roots(manifest: dict[str, Any], store: str, url: str) -> dict[str, tuple[str, str]]:
    """Backup folder -> (old root, restored root) of each artifact root: ``mlartifacts`` beside
    the restored store for the root holding most files, ``mlartifacts-<k>`` for the others."""
    roots = manifest.get("artifact_roots", [])
    if not isinstance(roots, list) or not all(
        isinstance(r, dict) and isinstance(r.get("path"), str) and isinstance(r.get("folder"), str)
        for r in roots
    ):  # fmt: skip
        raise BackupError(f"the backup {url} has malformed artifact_roots in {MANIFEST}")
    counts = {r["folder"]: 0 for r in roots}
    for f in manifest["files"]:
        for folder in counts:
            counts[folder] += f["path"].startswith(folder + "/")
    main = max(counts, key=lambda folder: counts[folder]) if counts else None
    beside = os.path.dirname(store)
    out = {}
    for r in roots:
        name = (
            "mlartifacts" if r["folder"] == main else f"mlartifacts-{r['folder'].rsplit('/')[-1]}"
        )
        out[r["folder"]] = (r["path"], os.path.join(beside, name))
    return out


def _target(rel: str, places: Places, roots: Mapping[str, tuple[str, str]], url: str) -> str:
    """The local path a backed-up file is restored to."""
    rel = _safe(rel, url)
    if rel == SERVICE_DB:
        return os.path.join(places.service_home, DB_FILE)
    if rel.startswith(INGEST + "/"):
        return os.path.join(places.service_home, INGEST_DIR, rel[len(INGEST) + 1 :])
    if rel == CATALOG:
        return places.catalog
    if rel == MLFLOW_DB:
        return places.store()
    for folder, (_, new) in roots.items():
        if rel.startswith(folder + "/"):
            return os.path.join(new, rel[len(folder) + 1 :])
    raise BackupError(f"the backup {url} lists a file embercast does not restore: {rel!r}")


def _existing(
    plan: list[tuple[dict[str, Any], str]], places: Places, roots: Mapping[str, tuple[str, str]]
) -> list[str]:
    """The state a restore of ``plan`` would replace."""
    parts = {_part(entry["path"]) for entry, _ in plan}
    found = []
    if parts & {"service", "ingest"}:
        state = os.path.join(places.service_home, DB_FILE)
        if os.path.exists(state):
            found.append(f"the service state {state}")
        ingest = os.path.join(places.service_home, INGEST_DIR)
        if _files_below(ingest):
            found.append(f"the ingest log {ingest}")
    if "catalog" in parts and os.path.exists(places.catalog):
        found.append(f"the catalog {places.catalog}")
    if "mlflow" in parts and os.path.exists(places.store()):
        found.append(f"the MLflow store {places.store()}")
    for _, new in roots.values():
        if _files_below(new):
            found.append(f"the MLflow artifacts in {new}")
    return found


def _verify(fs: AbstractFileSystem, root: str, files: list[dict[str, Any]], url: str) -> None:
    """BackupError naming the first listed file that is missing or whose size or SHA-256
    differs from the manifest."""
    for entry in files:
        path = join(root, entry["path"])
        try:
            size = int(fs.info(path)["size"])
        except FileNotFoundError:
            raise BackupError(
                f"the backup {url} is incomplete: {entry['path']} is missing"
            ) from None
        if size != entry["size"]:
            raise BackupError(
                f"the backup {url} is damaged: {entry['path']} has {size} bytes, the manifest "
                f"says {entry['size']}"
            )
        digest = sha256(fs, path)
        if digest != entry["sha256"]:
            raise BackupError(
                f"the backup {url} is damaged: {entry['path']} has SHA-256 {digest}, the "
                f"manifest says {entry['sha256']}"
            )


def _download(fs: AbstractFileSystem, source: str, target: str, expected: str) -> str:
    """Copy ``source`` to a temporary file beside ``target`` (synced); its path. BackupError
    when the bytes read differ from ``expected`` (SHA-256)."""
    folder, name = os.path.split(target)
    os.makedirs(folder, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.tmp-")
    digest = hashlib.sha256()
    try:
        with os.fdopen(handle, "wb") as out, fs.open(source, "rb") as src:
            while chunk := src.read(_CHUNK):
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != expected:
            raise BackupError(f"{source} changed while it was restored; restore it again")
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp


def _fsync_folder(folder: str) -> None:
    """Make the renames in ``folder`` durable (best effort: not every system allows it)."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


def _text_columns(conn: sqlite3.Connection) -> Iterator[tuple[str, str]]:
    """(table, column) of every column with text affinity."""
    query = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    tables = [row[0] for row in conn.execute(query)]
    for table in tables:
        for row in conn.execute(f'PRAGMA table_info("{table}")'):
            kind = str(row[2]).upper()
            if any(word in kind for word in ("CHAR", "TEXT", "CLOB")):
                yield table, str(row[1])


def rewrite_artifact_roots(db: str, moves: Mapping[str, str]) -> int:
    """Point every text value of the MLflow store ``db`` that names a path under an old root
    of ``moves`` (old -> new absolute folder), as a path or a ``file:`` URI, at the same path
    under the new root; the number of values changed. Each value is rewritten once."""
    pairs: list[tuple[str, str]] = []
    for old, new in moves.items():
        if old == new:
            continue
        forms = [(old, new), ("file://" + old, "file://" + new), ("file:" + old, "file:" + new),
                 (Path(old).as_uri(), Path(new).as_uri())]  # fmt: skip
        pairs += list(dict.fromkeys(forms))
    if not pairs:
        return 0
    conn = sqlite3.connect(db, isolation_level=None)
    changed = 0
    try:
        conn.execute("BEGIN IMMEDIATE")
        for table, column in list(_text_columns(conn)):
            col = f'"{column}"'
            whens, conds, args, where_args = [], [], [], []
            for old, new in pairs:
                test = f"({col} = ? OR substr({col}, 1, ?) = ?)"
                test_args: list[Any] = [old, len(old) + 1, old + "/"]
                whens.append(f"WHEN {test} THEN ? || substr({col}, ?)")
                args += [*test_args, new, len(old) + 1]
                conds.append(test)
                where_args += test_args
            sql = (f'UPDATE "{table}" SET {col} = CASE {" ".join(whens)} ELSE {col} END '
                   f"WHERE {' OR '.join(conds)}")  # fmt: skip
            changed += conn.execute(sql, [*args, *where_args]).rowcount
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    finally:
        conn.close()
    return changed


def restore(url: str, settings: Settings, force: bool = False) -> BackupSummary:
    """Restore the backup at ``url`` to the places ``settings`` name. Nothing is written
    before the manifest and every file's size and SHA-256 are checked, nor when state exists
    there already, unless ``force`` (which replaces it: the ingest log then holds the backup's
    parts only). Stop the service first. BackupError naming what is wrong."""
    fs, root = resolve(url)
    manifest = _manifest(fs, root, url)
    places = Places.of(settings)
    files: list[dict[str, Any]] = manifest["files"]
    has_mlflow = any(_part(f["path"]) in ("mlflow", "artifacts") for f in files)
    roots = _new_roots(manifest, places.store(), url) if has_mlflow else {}
    plan = [(entry, _target(entry["path"], places, roots, url)) for entry in files]
    existing = _existing(plan, places, roots)
    if existing and not force:
        raise BackupError(
            f"restoring {url} would replace {'; '.join(existing)}: restore with --force to "
            "replace them, or into other settings"
        )
    _verify(fs, root, files, url)
    summary = BackupSummary(url)
    staged: list[tuple[str, str]] = []
    try:
        for entry, target in plan:
            tmp = _download(fs, join(root, entry["path"]), target, entry["sha256"])
            staged.append((tmp, target))
            part = _part(entry["path"])
            summary.files[part] = summary.files.get(part, 0) + 1
            summary.bytes += entry["size"]
            if entry["path"] == MLFLOW_DB:
                summary.rewritten = rewrite_artifact_roots(tmp, dict(roots.values()))
    except BaseException:
        for tmp, _ in staged:
            os.unlink(tmp)
        raise
    databases = {os.path.join(places.service_home, DB_FILE), places.catalog, places.mlflow_db}
    for tmp, target in staged:
        if target in databases:
            for leftover in ("-wal", "-shm", "-journal"):  # of the database it replaces
                if os.path.exists(target + leftover):
                    os.unlink(target + leftover)
        os.replace(tmp, target)
    for folder in {os.path.dirname(target) for _, target in staged}:
        _fsync_folder(folder)
    if summary.files.keys() & {"service", "ingest"}:  # the log holds the backup's parts only
        ingest = os.path.join(places.service_home, INGEST_DIR)
        kept = {target for _, target in plan}
        for rel in _files_below(ingest):
            if os.path.join(ingest, rel) not in kept:
                os.unlink(os.path.join(ingest, rel))
    if summary.files.keys() & {"service", "ingest"}:
        summary.targets["service"] = places.service_home
    if "catalog" in summary.files:
        summary.targets["catalog"] = places.catalog
    if has_mlflow:
        summary.targets["mlflow"] = places.store()
        summary.targets.update({f"artifacts {old}": new for old, new in roots.values()})
    logger.info("restored %s: %d files, %d bytes", url, len(files), summary.bytes)
    return summary
