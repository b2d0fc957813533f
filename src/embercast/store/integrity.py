"""Open a dataset or feature set only after its files are checked against its manifest.

Every reader of a dataset or feature set (``features``, ``train``, ``evaluate``, ``predict``,
``sql``, ``plot``) goes through :func:`open_artifact`, which refuses, naming the file, when

* the location holds no manifest, or one of another kind than the reader needs;
* the manifest's ``content_hash`` does not match the file hashes it lists;
* a listed file is missing or its size differs from the manifest (checked every time);
* a data part (``part-*.parquet``) lies in the data folders without being listed;
* a listed file's SHA-256 differs from the manifest.

Hashing every file on every read would cost as much as reading it twice, so the hashes are
checked once per location and remembered in the catalog under a *fingerprint*: the listed files'
names, sizes and modification times (the ETag on an object store). While the fingerprint is
unchanged the files are not hashed again; a file rewritten since changes its time or size and
is hashed again. This protects against damage and mistakes (a part deleted, truncated,
overwritten or added), not against someone who can write the files and also restore their
times; ``embercast validate`` re-hashes everything. A catalog that cannot be written (read-only)
only means hashing on every read.
"""

from __future__ import annotations

import hashlib
import logging
import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from fsspec import AbstractFileSystem

from embercast.dataset.manifest import (
    DATASET_FORMAT,
    FEATURES_DIR,
    FEATURES_FORMAT,
    FRAMES_DIR,
    MANIFEST,
    READINGS_DIR,
    RUN_FILE,
    content_hash,
)
from embercast.errors import InputError
from embercast.store.fs import describe_os_error, join, sha256
from embercast.store.lineage import (
    Catalog,
    CatalogError,
    Kind,
    canonical_location,
    open_catalog,
    read_manifest,
)

__all__ = [
    "ArtifactNotFoundError",
    "IntegrityError",
    "VerifiedArtifact",
    "fingerprint",
    "open_artifact",
]

logger = logging.getLogger(__name__)

_FORMATS: dict[str, Kind] = {DATASET_FORMAT: "dataset", FEATURES_FORMAT: "features"}
_DATA_FOLDERS: dict[Kind, tuple[str, ...]] = {
    "dataset": (READINGS_DIR, FRAMES_DIR),
    "features": (FEATURES_DIR,),
}
_NAMES: dict[Kind, str] = {"dataset": "dataset", "features": "feature set"}
_VERSION_KEYS = ("mtime", "LastModified", "last_modified", "ETag", "etag", "created")


class IntegrityError(InputError):
    """A dataset or feature set does not match its manifest (the message names the file)."""


class ArtifactNotFoundError(IntegrityError):
    """Nothing is at the location any more."""


@dataclass(frozen=True)
class VerifiedArtifact:
    """A dataset or feature set whose files matched its manifest when it was opened."""

    location: str
    """As the caller named it."""
    canonical: str
    """Absolute path or URL (:func:`~embercast.store.lineage.canonical_location`)."""
    fs: AbstractFileSystem
    root: str
    kind: Kind
    manifest: dict[str, Any]

    @property
    def content_hash(self) -> str:
        return str(self.manifest["content_hash"])

    def parts(self, folder: str) -> list[str]:
        """Names of the listed Parquet parts in ``folder`` (``readings``), in order."""
        prefix = folder + "/"
        return sorted(
            rel[len(prefix) :]
            for rel in self.manifest["files"]
            if rel.startswith(prefix) and rel.endswith(".parquet")
        )


def _version(info: Mapping[str, Any]) -> str:
    """What changes when a file is rewritten: its modification time, or an object's ETag."""
    for key in _VERSION_KEYS:
        if info.get(key) is not None:
            return f"{key}={info[key]}"
    return ""


def fingerprint(listed: Mapping[str, Mapping[str, Any]]) -> str:
    """SHA-256 over each listed file's relative path, size [bytes] and version (modification
    time or ETag), as returned by ``fs.ls(detail=True)``."""
    text = "".join(
        f"{rel}\t{info.get('size')}\t{_version(info)}\n" for rel, info in sorted(listed.items())
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _listing(fs: AbstractFileSystem, root: str, folders: Iterable[str]) -> dict[str, Any]:
    """``{relative path: info}`` of the files directly in ``root`` and in ``folders``."""
    found: dict[str, Any] = {}
    for folder in ("", *folders):
        path = join(root, folder) if folder else root
        fs.invalidate_cache(path)  # an object store's listing may predate the last write
        try:
            entries = fs.ls(path, detail=True)
        except FileNotFoundError:
            continue
        for info in entries:
            name = str(info["name"]).rstrip("/").rsplit("/", 1)[-1]
            if info.get("type") == "file":
                found[f"{folder}/{name}" if folder else name] = info
    return found


def _files(manifest: Mapping[str, Any], where: str) -> dict[str, dict[str, Any]]:
    files = manifest.get("files")
    if not isinstance(files, dict) or not all(
        isinstance(e, dict) and isinstance(e.get("sha256"), str) for e in files.values()
    ):
        raise IntegrityError(f"{where}/manifest.json: 'files' is missing or malformed")
    return files


def _check_files(
    location: str, kind: Kind, manifest: Mapping[str, Any], listing: Mapping[str, Any]
) -> None:
    """Sizes, missing and unlisted files (cheap: one directory listing per folder)."""
    files = _files(manifest, location)
    recorded = manifest.get("content_hash")
    if content_hash({rel: str(e["sha256"]) for rel, e in files.items()}) != recorded:
        raise IntegrityError(
            f"{location}/manifest.json: its content_hash does not match the file hashes it "
            "lists (the manifest was edited)"
        )
    for rel, entry in sorted(files.items()):
        info = listing.get(rel)
        if info is None:
            raise IntegrityError(
                f"{location}/{rel} is missing: the {kind} is damaged "
                f"(embercast validate {location} lists every problem)"
            )
        size = entry.get("bytes")
        if size is not None and int(info.get("size", -1)) != int(size):
            raise IntegrityError(
                f"{location}/{rel} has {info.get('size')} bytes, the manifest says {size}: the "
                "file was changed or truncated after the manifest was written"
            )
    for rel in sorted(listing):
        folder, _, name = rel.rpartition("/")
        if folder in _DATA_FOLDERS[kind] and name.startswith("part-") and rel not in files:
            raise IntegrityError(
                f"{location}/{rel} is not listed in the manifest: it was added after the {kind} "
                "was written (remove it, or regenerate)"
            )


def _check_hashes(
    fs: AbstractFileSystem, root: str, location: str, files: Mapping[str, Mapping[str, Any]]
) -> None:
    for rel, entry in sorted(files.items()):
        try:
            digest = sha256(fs, join(root, rel))
        except OSError as exc:
            raise IntegrityError(f"cannot read {location}/{rel}: {describe_os_error(exc)}") from exc
        if digest != entry["sha256"]:
            raise IntegrityError(
                f"{location}/{rel}: its SHA-256 differs from the manifest, the file was changed "
                f"or corrupted (embercast validate {location} lists every problem)"
            )


def _catalog() -> Catalog | None:
    """The settings' catalog for remembering verifications, or None when it cannot be used."""
    try:
        return open_catalog()
    except CatalogError as exc:
        logger.info("verifications are not remembered: %s", exc)
        return None


def open_artifact(location: str, kind: Kind | None = None) -> VerifiedArtifact:
    """Check the dataset or feature set at ``location`` against its manifest and return it.

    ``kind`` is what the caller needs (None: either). Raises :class:`IntegrityError` naming the
    file that does not match, or :class:`~embercast.store.lineage.CatalogError` when the
    location holds no readable manifest.
    """
    canonical, fs, root = canonical_location(location)
    wanted = _NAMES[kind] if kind else "dataset or feature set"
    try:
        exists = fs.exists(root)
    except OSError as exc:
        raise IntegrityError(f"cannot read {location}: {describe_os_error(exc)}") from exc
    if not exists:
        raise ArtifactNotFoundError(
            f"{location} is not a complete {wanted}: it has no {MANIFEST} (nothing is there)"
        )
    if not fs.exists(join(root, MANIFEST)):
        hint = " (an unfinished run: rerun it to finish)" if fs.exists(join(root, RUN_FILE)) else ""
        raise IntegrityError(f"{location} is not a complete {wanted}: it has no {MANIFEST}{hint}")
    try:
        _, manifest = read_manifest(location)
    except CatalogError as exc:
        raise IntegrityError(str(exc)) from exc
    found = _FORMATS.get(str(manifest.get("format")))
    if found is None:
        raise IntegrityError(
            f"{location}/manifest.json has an unknown format {manifest.get('format')!r}"
        )
    if kind is not None and found != kind:
        raise IntegrityError(f"{location} is a {_NAMES[found]}, not a {_NAMES[kind]}")
    try:
        listing = _listing(fs, root, _DATA_FOLDERS[found])
    except OSError as exc:
        raise IntegrityError(f"cannot list {location}: {describe_os_error(exc)}") from exc
    files = _files(manifest, location)
    _check_files(location, found, manifest, listing)
    digest = str(manifest["content_hash"])
    mark = fingerprint({rel: listing[rel] for rel in files})
    catalog = _catalog()
    try:
        if catalog is not None and catalog.verified_fingerprint(canonical, digest) == mark:
            logger.debug("%s: files unchanged since they were hashed", location)
        else:
            logger.info("%s: checking the SHA-256 of %d files", location, len(files))
            try:
                _check_hashes(fs, root, location, files)
            except IntegrityError:
                if catalog is not None:
                    _quietly(catalog.forget_verified, canonical)
                raise
            if catalog is not None:
                _quietly(catalog.record_verified, canonical, digest, mark)
    finally:
        if catalog is not None:
            catalog.close()
    return VerifiedArtifact(location, canonical, fs, root, found, manifest)


def _quietly(action: Any, *args: str) -> None:
    """Run a catalog write whose failure (a read-only catalog) costs only a later re-hash."""
    try:
        action(*args)
    except CatalogError as exc:
        logger.info("verification not remembered: %s", exc)


def open_parent(manifest: Mapping[str, Any], child: str, child_canonical: str) -> VerifiedArtifact:
    """The dataset the feature set ``child`` (its manifest, its canonical location) was built
    from, verified, with the content hash the manifest records: at the location it records, else
    the folder around the feature set (one computed while generating sits inside its dataset),
    else any location the catalog knows for that hash. IntegrityError saying why each failed."""
    parent = manifest.get("parent")
    parent = parent if isinstance(parent, dict) else {}
    wanted = str(parent.get("content_hash", ""))
    recorded = str(parent.get("location", ""))
    candidates = [recorded, posixpath.dirname(child_canonical.rstrip("/"))]
    catalog = _catalog()
    if catalog is not None and wanted:
        try:
            candidates += list(catalog.get(wanted).locations)
        except CatalogError:  # not registered
            pass
        finally:
            catalog.close()
    reasons = []
    for candidate in dict.fromkeys(c for c in candidates if c):
        try:
            source = open_artifact(candidate, "dataset")
        except IntegrityError as exc:
            reasons.append(str(exc))
            continue
        if source.content_hash == wanted:
            return source
        reasons.append(f"{candidate} now holds another dataset ({source.content_hash[:16]})")
    shown = "; ".join(reasons[:3]) or "no location recorded"
    raise IntegrityError(
        f"the dataset of feature set {child!r} ({wanted[:16]}, recorded at {recorded!r}) "
        f"cannot be found intact: {shown}"
    )
