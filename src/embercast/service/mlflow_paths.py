"""Artifact locations in an MLflow store (a SQLite file): the local folders it names, and
moving them (a restore into another place: :mod:`embercast.service.restore`)."""

from __future__ import annotations

import posixpath
import sqlite3
import urllib.parse
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

_LOCATION_COLUMNS = (
    ("experiments", "artifact_location"),
    ("runs", "artifact_uri"),
    ("logged_models", "artifact_location"),
    ("model_versions", "storage_location"),
    ("model_versions", "source"),
    ("workspaces", "default_artifact_root"),
)
"""Columns of the MLflow store naming artifact locations; the experiments' come first."""


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
