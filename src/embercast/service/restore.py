"""Restore a backup (:mod:`embercast.service.backup`) to the places the settings name
(``embercast restore``): the manifest and every file's size and SHA-256 checked before anything
is written, existing state replaced only with ``force``, each file written beside its target
under a temporary name and renamed into place, and the MLflow store's artifact locations pointed
at the restored roots (``mlartifacts`` beside the restored store for the root holding most files,
``mlartifacts-<k>`` for any other)."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Mapping
from typing import Any

from fsspec import AbstractFileSystem

from embercast import __version__
from embercast.config import Settings
from embercast.service.backup import (
    CATALOG,
    CHUNK,
    EPISODES,
    FORMAT,
    FORMAT_VERSION,
    INGEST,
    MANIFEST,
    MLFLOW_DB,
    SERVICE_FILES,
    SHADOW,
    BackupError,
    BackupSummary,
    Places,
    files_below,
    part_of,
)
from embercast.service.db import DB_FILE
from embercast.service.home import INGEST_DIR
from embercast.service.mlflow_paths import rewrite_artifact_roots
from embercast.store.fs import join, read_json, resolve, sha256

logger = logging.getLogger(__name__)

LIVE = frozenset({"service", "ingest", "episodes"})
"""The parts of a backup that are the live service's state, restored as one."""


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
    if rel in SERVICE_FILES:
        return os.path.join(places.service_home, SERVICE_FILES[rel])
    if rel.startswith(INGEST + "/"):
        return os.path.join(places.service_home, INGEST_DIR, rel[len(INGEST) + 1 :])
    if rel.startswith(EPISODES + "/"):
        return os.path.join(places.episodes, rel[len(EPISODES) + 1 :])
    if rel == SHADOW:
        return places.shadow
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
    parts = {part_of(entry["path"]) for entry, _ in plan}
    found = []
    if parts & LIVE:
        state = os.path.join(places.service_home, DB_FILE)
        if os.path.exists(state):
            found.append(f"the service state {state}")
        ingest = os.path.join(places.service_home, INGEST_DIR)
        if files_below(ingest):
            found.append(f"the ingest log {ingest}")
        if files_below(places.episodes):
            found.append(f"the episodes {places.episodes}")
    if "catalog" in parts and os.path.exists(places.catalog):
        found.append(f"the catalog {places.catalog}")
    if "mlflow" in parts and os.path.exists(places.store()):
        found.append(f"the MLflow store {places.store()}")
    for _, new in roots.values():
        if files_below(new):
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
            while chunk := src.read(CHUNK):
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


def restore(url: str, settings: Settings, force: bool = False) -> BackupSummary:
    """Restore the backup at ``url`` to the places ``settings`` name. Nothing is written
    before the manifest and every file's size and SHA-256 are checked, nor when state exists
    there already, unless ``force`` (which replaces it: the ingest log and episodes then hold the
    backup's files only). Stop the service first. BackupError naming what is wrong."""
    fs, root = resolve(url)
    manifest = _manifest(fs, root, url)
    places = Places.of(settings)
    files: list[dict[str, Any]] = manifest["files"]
    has_mlflow = any(part_of(f["path"]) in ("mlflow", "artifacts") for f in files)
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
            part = part_of(entry["path"])
            summary.files[part] = summary.files.get(part, 0) + 1
            summary.bytes += entry["size"]
            if entry["path"] == MLFLOW_DB:
                summary.rewritten = rewrite_artifact_roots(tmp, dict(roots.values()))
    except BaseException:
        for tmp, _ in staged:
            os.unlink(tmp)
        raise
    databases = {places.catalog, places.mlflow_db}
    databases |= {os.path.join(places.service_home, file) for file in SERVICE_FILES.values()}
    for tmp, target in staged:
        if target in databases:
            for leftover in ("-wal", "-shm", "-journal"):  # of the database it replaces
                if os.path.exists(target + leftover):
                    os.unlink(target + leftover)
        os.replace(tmp, target)
    for folder in {os.path.dirname(target) for _, target in staged}:
        _fsync_folder(folder)
    if summary.files.keys() & LIVE:  # the log and episodes hold the backup's files only
        kept = {target for _, target in plan}
        for file in SERVICE_FILES.values():  # state the backup did not have is not kept either
            path = os.path.join(places.service_home, file)
            for stale in (path, path + "-wal", path + "-shm"):
                if path not in kept and os.path.exists(stale):
                    os.unlink(stale)
        if places.shadow not in kept and os.path.exists(places.shadow):
            os.unlink(places.shadow)
        for folder in (os.path.join(places.service_home, INGEST_DIR), places.episodes):
            for rel in files_below(folder):
                if os.path.join(folder, rel) not in kept:
                    os.unlink(os.path.join(folder, rel))
        summary.targets["service"] = places.service_home
    if "episodes" in summary.files:
        summary.targets["episodes"] = places.episodes
    if "catalog" in summary.files:
        summary.targets["catalog"] = places.catalog
    if has_mlflow:
        summary.targets["mlflow"] = places.store()
        summary.targets.update({f"artifacts {old}": new for old, new in roots.values()})
    logger.info("restored %s: %d files, %d bytes", url, len(files), summary.bytes)
    return summary
