"""The service's own state in one SQLite file (WAL): API keys now; devices, twins, alarms and
the audit log live beside them. Each table's module declares its schema; :class:`ServiceDB`
creates what is missing and serialises writes (``BEGIN IMMEDIATE``)."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence

from embercast.errors import EmbercastError, InputError
from embercast.store.wal import WalFile

DB_FILE = "service.sqlite"
"""Name of the state file in the service's home (settings' ``service_home``)."""


class ServiceStateError(EmbercastError, OSError):
    """The service's state file cannot be opened or written."""


class ServiceDB(WalFile):
    """One connection to the state file ``path``, shared by the threads of one process under a
    lock; ``schema`` statements (``CREATE TABLE IF NOT EXISTS ...``) run at opening."""

    def __init__(self, path: str, schema: Sequence[str] = ()) -> None:
        folder = os.path.dirname(os.path.abspath(path))
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as exc:
            raise ServiceStateError(f"cannot create the service's folder {folder}: {exc}") from None
        if os.path.isdir(path):
            raise InputError(f"the service state {path} is a folder, not a file")
        super().__init__(
            path, "the service state", ServiceStateError, schema=schema, foreign_keys=True
        )

    def writable(self) -> bool:
        """Whether a write goes through now (readiness)."""
        try:
            with self.write() as conn:
                conn.execute("CREATE TABLE IF NOT EXISTS _probe (x INTEGER)")
            return True
        except (ServiceStateError, sqlite3.DatabaseError):
            return False
