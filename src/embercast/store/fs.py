"""File-system helpers for a dataset location: a local path or any fsspec URL.

A location such as ``runs/ds1``, ``/data/ds1`` or ``s3://bucket/ds1`` resolves to a file system
and a root path with :func:`resolve`. S3 URLs go through s3fs; when
``get_settings().s3_endpoint_url`` is set, it is passed as the endpoint of an S3-compatible store
(Garage, SeaweedFS, a test server, ...).

Files are written atomically: the bytes go to a hidden temporary name in the same directory
(``.NAME.tmp-XXXXXXXXXXXX``) and are then moved to their final name, so a crash never leaves a
file that looks complete. :func:`remove_temporaries` deletes the leftovers of an interrupted run.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import posixpath
import shutil
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
from fsspec import AbstractFileSystem
from fsspec.implementations.local import LocalFileSystem

from embercast.config import get_settings
from embercast.errors import EmbercastError

__all__ = [
    "OutputLocationError",
    "atomic_write_bytes",
    "check_writable",
    "describe_os_error",
    "describe_storage_error",
    "storage_errors",
    "is_local",
    "is_temporary_name",
    "join",
    "list_names",
    "read_schema",
    "read_table",
    "remove_empty_folder",
    "removed_if_left_empty",
    "remove_temporaries",
    "resolve",
    "sha256",
    "storage_options",
    "write_table_atomic",
]

_TMP_MARK = ".tmp-"
_PROBE_PREFIX = ".embercast-probe-"
_HASH_CHUNK = 4 * 1024 * 1024
MIN_FREE_BYTES = 1024 * 1024
"""A local location with less free space than this is reported as full [bytes]."""


class OutputLocationError(EmbercastError, OSError):
    """A dataset location cannot be used (unreachable, not writable, full, ...).

    The message names the location and the cause, for example
    ``cannot write to '/data/ds1': Permission denied (EACCES)``.
    """

    def __init__(self, location: str, cause: BaseException | str) -> None:
        if isinstance(cause, str):
            reason = cause
        elif isinstance(cause, storage_errors()):
            reason = describe_storage_error(cause).removeprefix("storage error: ")
        else:
            reason = describe_os_error(cause)
        code = cause.errno if isinstance(cause, OSError) else None
        super().__init__(code, f"cannot write to {location!r}: {reason}")
        self.location = location
        self.cause = reason

    def __str__(self) -> str:
        return str(self.strerror)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.location, self.cause))


def describe_os_error(exc: BaseException) -> str:
    """One line for an error: ``Permission denied (EACCES)``, ``No space left ... (ENOSPC)``."""
    code = exc.errno if isinstance(exc, OSError) else None
    if code is not None and code in errno.errorcode:
        text = exc.strerror if isinstance(exc, OSError) and exc.strerror else os.strerror(code)
        return f"{text} ({errno.errorcode[code]})"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    name = type(exc).__name__
    return f"{name}: {text}" if text else name


_STORAGE_HINTS = {
    "NoCredentialsError": "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE",
    "PartialCredentialsError": "set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
    "EndpointConnectionError": "check the s3_endpoint_url setting and that the store is up",
    "ConnectTimeoutError": "check the s3_endpoint_url setting and that the store is up",
    "InvalidEndpointURL": "the s3_endpoint_url setting is not a URL",
}


def storage_errors() -> tuple[type[Exception], ...]:
    """The exception classes of the object-store client (credentials, endpoint, request
    failures), for ``except storage_errors()``; empty when no S3 client is installed."""
    try:
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
        )
    except ImportError:
        return ()
    return (BotoCoreError, ClientError)


def describe_storage_error(exc: BaseException) -> str:
    """One line for an object-store error, with what to check: ``storage error:
    NoCredentialsError: Unable to locate credentials (set AWS_ACCESS_KEY_ID ...)``."""
    hint = _STORAGE_HINTS.get(type(exc).__name__, "")
    return f"storage error: {describe_os_error(exc)}" + (f" ({hint})" if hint else "")


def storage_options(location: str) -> dict[str, Any]:
    """fsspec options for a location (the S3 endpoint from the settings for ``s3://``)."""
    protocol = fsspec.utils.get_protocol(location)
    if protocol in ("s3", "s3a"):
        endpoint = get_settings().s3_endpoint_url
        if endpoint:
            return {"client_kwargs": {"endpoint_url": endpoint}}
    return {}


def resolve(location: str) -> tuple[AbstractFileSystem, str]:
    """Return ``(fs, root)`` for a local path or an fsspec URL.

    Local paths become absolute, so the root means the same thing in a worker process.
    Raises :class:`OutputLocationError` for a location fsspec cannot open (unknown protocol,
    missing driver).
    """
    if not location or not location.strip():
        raise OutputLocationError(location, "the location is empty")
    try:
        fs, root = fsspec.core.url_to_fs(location, **storage_options(location))
    except (ValueError, ImportError) as exc:
        raise OutputLocationError(location, exc) from exc
    root = str(root)
    return fs, root.rstrip("/") if root not in ("/", "") else root


def is_local(fs: AbstractFileSystem) -> bool:
    """Whether ``fs`` is the local file system."""
    return isinstance(fs, LocalFileSystem)


def join(root: str, *parts: str) -> str:
    """Join path parts with ``/`` (fsspec paths are POSIX-style for every protocol)."""
    return posixpath.join(root, *parts)


def _temporary_path(path: str) -> str:
    head, name = posixpath.split(path)
    return posixpath.join(head, f".{name}{_TMP_MARK}{uuid.uuid4().hex[:12]}")


def is_temporary_name(name: str) -> bool:
    """Whether a base name is a temporary file of an atomic write or a writability probe."""
    return name.startswith(_PROBE_PREFIX) or (name.startswith(".") and _TMP_MARK in name)


def _fsync_directory(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fsync_file(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _discard(fs: AbstractFileSystem, path: str) -> None:
    """Remove a temporary file, best effort: a failure here (the store is unreachable) must not
    hide the error that made the write fail."""
    try:
        if is_local(fs):
            os.unlink(path)
        else:
            fs.rm_file(path)
    except Exception:  # noqa: BLE001 - the first error is the one to report
        pass


def atomic_write_bytes(fs: AbstractFileSystem, path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory, then move it.

    Readers see either the old file, no file or the complete new file, never a partial one.
    """
    tmp = _temporary_path(path)
    try:
        if is_local(fs):
            os.makedirs(posixpath.dirname(path) or ".", exist_ok=True)
            with open(tmp, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
            _fsync_directory(posixpath.dirname(path) or ".")
        else:
            fs.pipe_file(tmp, data)
            fs.mv(tmp, path)
    except BaseException:
        _discard(fs, tmp)
        raise


def write_table_atomic(
    fs: AbstractFileSystem, path: str, table: pa.Table, **parquet_options: Any
) -> None:
    """Write ``table`` as Parquet to ``path`` atomically (see :func:`atomic_write_bytes`).

    ``parquet_options`` go to :func:`pyarrow.parquet.write_table` (compression, ...).
    """
    tmp = _temporary_path(path)
    try:
        if is_local(fs):
            os.makedirs(posixpath.dirname(path) or ".", exist_ok=True)
            pq.write_table(table, tmp, **parquet_options)  # Arrow's own file, no Python handle
            _fsync_file(tmp)
            os.replace(tmp, path)
            _fsync_directory(posixpath.dirname(path) or ".")
        else:
            with fs.open(tmp, "wb") as handle:
                pq.write_table(table, handle, **parquet_options)
            fs.mv(tmp, path)
    except BaseException:
        _discard(fs, tmp)
        raise


def read_table(fs: AbstractFileSystem, path: str, columns: Sequence[str] | None = None) -> pa.Table:
    """Read a Parquet file (optionally some columns only).

    Local files are read by Arrow directly. Other file systems are read through their Python
    file objects on the calling thread only: Arrow threads calling back into Python can abort
    the process when it exits.
    """
    cols = list(columns) if columns is not None else None
    if is_local(fs):
        return pq.read_table(path, columns=cols)
    with fs.open(path, "rb") as handle:
        return pq.read_table(handle, columns=cols, use_threads=False, pre_buffer=False)


def read_json(fs: AbstractFileSystem, path: str) -> dict[str, Any] | None:
    """The JSON object in ``path`` (a manifest), or None when there is no such file."""
    if not fs.exists(path):
        return None
    with fs.open(path, "rb") as handle:
        loaded: dict[str, Any] = json.loads(handle.read())
    return loaded


def read_schema(fs: AbstractFileSystem, path: str) -> pa.Schema:
    """The Arrow schema stored in a Parquet file."""
    if is_local(fs):
        return pq.read_schema(path)
    with fs.open(path, "rb") as handle:
        return pq.ParquetFile(handle, pre_buffer=False).schema_arrow


def read_row_count(fs: AbstractFileSystem, path: str) -> int:
    """The number of rows of a Parquet file, from its footer."""
    if is_local(fs):
        return int(pq.ParquetFile(path).metadata.num_rows)
    with fs.open(path, "rb") as handle:
        return int(pq.ParquetFile(handle, pre_buffer=False).metadata.num_rows)


def sha256(fs: AbstractFileSystem, path: str) -> str:
    """Hex SHA-256 of the bytes of one file."""
    digest = hashlib.sha256()
    with fs.open(path, "rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def list_names(fs: AbstractFileSystem, directory: str) -> list[str]:
    """Sorted base names of the entries of ``directory`` ([] when it does not exist)."""
    fs.invalidate_cache(directory)
    try:
        if not fs.isdir(directory):
            return []
        entries = fs.ls(directory, detail=False)
    except FileNotFoundError:
        return []
    names = {posixpath.basename(str(entry).rstrip("/")) for entry in entries}
    names.discard("")
    # some object stores list the directory itself
    names.discard(posixpath.basename(directory.rstrip("/")))
    return sorted(names)


def remove_temporaries(fs: AbstractFileSystem, directories: Iterable[str]) -> list[str]:
    """Delete temporary files left by interrupted atomic writes; return the removed paths."""
    removed = []
    for directory in directories:
        for name in list_names(fs, directory):
            if is_temporary_name(name):
                path = join(directory, name)
                _discard(fs, path)
                removed.append(path)
    return removed


@contextmanager
def removed_if_left_empty(fs: AbstractFileSystem, root: str) -> Iterator[None]:
    """Run the block; if it fails and ``root`` was created during it and is still empty, remove
    it, so a failed command leaves no empty output folder behind."""
    created = is_local(fs) and not os.path.exists(root)
    try:
        yield
    except BaseException:
        if created:
            remove_empty_folder(fs, root)
        raise


def remove_empty_folder(fs: AbstractFileSystem, root: str) -> None:
    """Remove the local folder ``root`` if nothing but temporary files is in it (an output
    folder created by a command that then failed); anything else is left as it is."""
    if not is_local(fs) or not os.path.isdir(root):
        return
    names = os.listdir(root)
    if all(is_temporary_name(name) for name in names):
        for name in names:
            _discard(fs, join(root, name))
        try:
            os.rmdir(root)
        except OSError:
            pass


def check_writable(fs: AbstractFileSystem, root: str, location: str | None = None) -> None:
    """Create ``root`` if needed and prove it is writable with a small probe file.

    Raises :class:`OutputLocationError` naming ``location`` (default: ``root``) and the cause:
    a missing permission (EACCES), a read-only file system (EROFS), a full disk (ENOSPC, also when
    less than :data:`MIN_FREE_BYTES` are free locally), a missing bucket, ...
    """
    where = location if location is not None else root
    probe = join(root, f"{_PROBE_PREFIX}{uuid.uuid4().hex[:12]}")
    try:
        if is_local(fs):
            os.makedirs(root, exist_ok=True)
            with open(probe, "wb") as handle:
                handle.write(b"embercast write probe\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.unlink(probe)
            free = shutil.disk_usage(root).free
            if free < MIN_FREE_BYTES:
                raise OSError(errno.ENOSPC, f"No space left on device ({free} bytes free)")
        else:
            fs.pipe_file(probe, b"embercast write probe\n")
            fs.rm_file(probe)
    except Exception as exc:  # every failure here means the location is unusable
        _discard(fs, probe)
        raise OutputLocationError(where, exc) from exc
