"""The service's own state in one SQLite file (WAL): API keys now; devices, twins, alarms and
the audit log live beside them. Each table's module declares its schema; :class:`ServiceDB`
creates what is missing and serialises writes (``BEGIN IMMEDIATE``)."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from embercast.errors import EmbercastError, InputError

DB_FILE = "service.sqlite"
"""Name of the state file in the service's home (settings' ``service_home``)."""


class ServiceStateError(EmbercastError, OSError):
    """The service's state file cannot be opened or written."""


class ServiceDB:
    """One connection to the state file ``path``, shared by the threads of one process under a
    lock; ``schema`` statements (``CREATE TABLE IF NOT EXISTS ...``) run at opening."""

    def __init__(self, path: str, schema: Sequence[str] = ()) -> None:
        self.path = path
        folder = os.path.dirname(os.path.abspath(path))
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as exc:
            raise ServiceStateError(f"cannot create the service's folder {folder}: {exc}") from None
        if os.path.isdir(path):
            raise InputError(f"the service state {path} is a folder, not a file")
        self._lock = threading.RLock()
        try:
            self._conn = sqlite3.connect(
                path, timeout=30.0, isolation_level=None, check_same_thread=False
            )
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.DatabaseError as exc:
            raise ServiceStateError(f"cannot open the service state {path}: {exc}") from None
        self.ensure(schema)

    def ensure(self, schema: Sequence[str]) -> None:
        """Run ``schema``'s statements in one transaction (idempotent ``IF NOT EXISTS``)."""
        with self.write() as conn:
            for statement in schema:
                conn.execute(statement)

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction holding the write lock from its start; rolled back on error."""
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.DatabaseError as exc:
                raise ServiceStateError(
                    f"cannot write the service state {self.path}: {exc}"
                ) from None
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            try:
                self._conn.execute("COMMIT")
            except sqlite3.DatabaseError as exc:
                raise ServiceStateError(
                    f"cannot write the service state {self.path}: {exc}"
                ) from None

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a read-only statement."""
        with self._lock:
            try:
                return list(self._conn.execute(sql, tuple(args)).fetchall())
            except sqlite3.DatabaseError as exc:
                raise ServiceStateError(
                    f"cannot read the service state {self.path}: {exc}"
                ) from None

    def _cannot(self, verb: str, exc: BaseException) -> str:
        return f"cannot {verb} the service state {self.path}: {exc}"

    def writable(self) -> bool:
        """Whether a write goes through now (readiness)."""
        try:
            with self.write() as conn:
                conn.execute("CREATE TABLE IF NOT EXISTS _probe (x INTEGER)")
            return True
        except (ServiceStateError, sqlite3.DatabaseError):
            return False

    def close(self) -> None:
        with self._lock:
            self._conn.close()
