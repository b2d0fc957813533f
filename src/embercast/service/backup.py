"""Back up the live service's state to any location (``embercast backup``).

A backup is a folder, local or any fsspec URL (``s3://bucket/backups/2026-12-05``), holding

* ``service/service.sqlite``: API keys, devices, twins, commands, alarms and their events,
  jobs and sessions (settings' ``service_home``); ``service/zones.sqlite``: the zones' states and
  audit log; ``service/outbox.sqlite``: the notifications and their attempts;
  ``service/bus.sqlite``: the embedded bus's messages (each when it exists); and
  ``service/ingest/...``: the ingest log's Parquet parts, laid out as under the home;
  ``service/episodes/...``: the labelled episodes of operators' verdicts (``learning_episodes``)
  and ``service/shadow.json``: shadow scoring's tallies;
* ``catalog/catalog.sqlite``: the lineage catalog (``catalog_path``);
* ``mlflow/mlflow.db``: the MLflow tracking store and registry (``mlflow_uri``, a SQLite file),
  and ``mlflow/artifacts/<k>/...``: the files under each local artifact root the store names;
* ``manifest.json``, written last: the format and its version, when [Unix s], the embercast
  version, the artifact roots the store named, and each file's path, size [bytes] and SHA-256.
  A backup cut short has no manifest, and restoring it is refused.

Each SQLite file is copied with SQLite's online backup API into a temporary file, which is then
uploaded: a running service goes on serving and writing, and each copy is a consistent snapshot
of its database (the databases one after the other, then the files). Ingest parts are never
changed, but the service compacts them (:meth:`~embercast.service.ingest_log.IngestLog.compact`):
when listed parts are gone by the time they are copied, the parts are listed again and those
made since are copied too, so what a merged part holds is in the backup (a backup holding a
merged part and some of its sources reads each message once).

Restoring one: :mod:`embercast.service.restore`.
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
from dataclasses import dataclass, field
from typing import Any

from fsspec import AbstractFileSystem

from embercast import __version__
from embercast.bus.open import BUS_FILE
from embercast.config import Settings
from embercast.errors import InputError
from embercast.service.db import DB_FILE
from embercast.service.home import (
    INGEST_DIR,
    OUTBOX_FILE,
    SHADOW_FILE,
    ZONES_FILE,
    episodes_location,
)
from embercast.service.mlflow_paths import artifact_roots
from embercast.store.fs import (
    atomic_write_bytes,
    check_writable,
    is_local,
    is_temporary_name,
    join,
    list_names,
    removed_if_left_empty,
    resolve,
)

logger = logging.getLogger(__name__)

FORMAT = "embercast-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SERVICE_DB = "service/service.sqlite"
SERVICE_FILES: dict[str, str] = {
    SERVICE_DB: DB_FILE,
    "service/zones.sqlite": ZONES_FILE,
    "service/outbox.sqlite": OUTBOX_FILE,
    "service/bus.sqlite": BUS_FILE,
}
"""The service's SQLite files in a backup -> their names in the service's home."""
INGEST = "service/ingest"
EPISODES = "service/episodes"
SHADOW = "service/shadow.json"
CATALOG = "catalog/catalog.sqlite"
MLFLOW_DB = "mlflow/mlflow.db"
ARTIFACTS = "mlflow/artifacts"
CHUNK = 4 * 1024 * 1024


class BackupError(InputError):
    """A backup that cannot be made or restored: the message names the location or file and
    what is wrong."""


@dataclass(frozen=True)
class Places:
    """Where one installation keeps its state (absolute local paths)."""

    service_home: str
    catalog: str
    episodes: str
    """The episodes folder (local)."""
    mlflow_uri: str
    mlflow_db: str | None
    """The MLflow store's SQLite file; None for a tracking server."""

    @classmethod
    def of(cls, settings: Settings) -> Places:
        home = os.path.abspath(os.path.expanduser(settings.service_home))
        catalog = os.path.abspath(os.path.expanduser(settings.catalog_path))
        episodes = os.path.abspath(os.path.expanduser(episodes_location(settings)))
        return cls(home, catalog, episodes, settings.mlflow_uri, sqlite_path(settings.mlflow_uri))

    @property
    def shadow(self) -> str:
        """Shadow scoring's tallies."""
        return os.path.join(self.service_home, SHADOW_FILE)

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
    """What :func:`backup` or a restore copied: ``files`` per part (``service``,
    ``ingest``, ``episodes``, ``catalog``, ``mlflow``, ``artifacts``) and ``bytes`` in all."""

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


def part_of(path: str) -> str:
    """The part a backed-up file belongs to (a key of :attr:`BackupSummary.files`)."""
    if path.startswith(INGEST + "/"):
        return "ingest"
    if path.startswith(EPISODES + "/"):
        return "episodes"
    if path.startswith(ARTIFACTS + "/"):
        return "artifacts"
    return path.split("/", 1)[0]


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


INGEST_PASSES = 5
"""How many times the ingest log is listed again while parts go from under the backup."""


def files_below(folder: str) -> list[str]:
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
            while chunk := src.read(CHUNK):
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
        *((name, os.path.join(places.service_home, file)) for name, file in SERVICE_FILES.items()),
        (CATALOG, places.catalog),
        (MLFLOW_DB, store),
    ]
    databases = [(name, path) for name, path in databases if os.path.isfile(path)]
    ingest = os.path.join(places.service_home, INGEST_DIR)
    if not databases and not files_below(ingest):
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
        part = part_of(name)
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
        copied: set[str] = set()
        for _ in range(INGEST_PASSES):  # again while parts went: merged into parts made since
            vanished = False
            for rel in files_below(ingest):
                if rel in copied:
                    continue
                try:
                    add(os.path.join(ingest, rel), f"{INGEST}/{rel}")
                    copied.add(rel)
                except FileNotFoundError:  # pruned or compacted meanwhile
                    vanished = True
                    logger.info("ingest part %s was deleted while backing up", rel)
            if not vanished:
                break
        else:
            logger.warning(
                "the ingest log kept changing under the backup for %d passes: parts compacted "
                "during the last may be missing", INGEST_PASSES,
            )  # fmt: skip
        for rel in files_below(places.episodes):  # each episode's facts are written last
            add(os.path.join(places.episodes, rel), f"{EPISODES}/{rel}")
        if os.path.isfile(places.shadow):  # replaced whole (atomic writes), never edited
            add(places.shadow, SHADOW)
        for k, artifacts in enumerate(roots):
            for rel in files_below(artifacts):
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
