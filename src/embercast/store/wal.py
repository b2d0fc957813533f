"""One SQLite file in WAL mode, shared by the threads of one process: the live system's state
files (the service's, the zones', the outbox, the embedded bus) all open and write this way.

Writes are serialised by a lock and each is one ``BEGIN IMMEDIATE`` transaction, holding
SQLite's write lock from its start, so two processes on the same file never interleave a
read-then-write; an error rolls the transaction back. SQLite errors become the owner's error
class with a message naming the file (``what``, e.g. "the outbox").
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from embercast.errors import EmbercastError


class WalFile:
    """The SQLite file ``path`` (its folder made when missing), described to users as ``what``;
    its errors raised as ``error``. ``synchronous_normal``: durable across a crash of the
    process, a power cut may lose the last transactions (SQLite's ``synchronous = NORMAL``)."""

    def __init__(
        self,
        path: str,
        what: str,
        error: type[EmbercastError],
        *,
        schema: Sequence[str] = (),
        synchronous_normal: bool = False,
        foreign_keys: bool = False,
    ) -> None:
        self.path, self.what, self.error = path, what, error
        self.lock = threading.RLock()
        try:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            self.conn = sqlite3.connect(
                path, timeout=30.0, isolation_level=None, check_same_thread=False
            )
            self.conn.execute("PRAGMA journal_mode = WAL")
            if synchronous_normal:
                self.conn.execute("PRAGMA synchronous = NORMAL")
            if foreign_keys:
                self.conn.execute("PRAGMA foreign_keys = ON")
        except (OSError, sqlite3.DatabaseError) as exc:
            raise error(f"cannot open {what} {path}: {exc}") from None
        self.ensure(schema)

    def ensure(self, schema: Sequence[str]) -> None:
        """Run ``schema``'s statements in one transaction (idempotent ``IF NOT EXISTS``)."""
        with self.write() as conn:
            for statement in schema:
                conn.execute(statement)

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction holding the write lock from its start; rolled back when its
        body raises (that error passes through), the owner's error when it cannot begin or
        commit."""
        with self.lock:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            except sqlite3.DatabaseError as exc:
                raise self.error(f"{self.what} {self.path} cannot be written: {exc}") from None
            try:
                yield self.conn
            except BaseException:  # the caller's statements: its errors reach it as they are
                self.conn.execute("ROLLBACK")
                raise
            try:
                self.conn.execute("COMMIT")
            except sqlite3.DatabaseError as exc:
                self.conn.execute("ROLLBACK")
                raise self.error(f"{self.what} {self.path} cannot be written: {exc}") from None

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a read-only statement."""
        with self.lock:
            try:
                return list(self.conn.execute(sql, tuple(args)).fetchall())
            except sqlite3.DatabaseError as exc:
                raise self.error(f"{self.what} {self.path} cannot be read: {exc}") from None

    def close(self) -> None:
        with self.lock:
            self.conn.close()
