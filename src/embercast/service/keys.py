"""API keys with scopes, kept hashed.

A key is ``emb_<id>_<secret>``: ``id`` (8 hex digits) finds its row, and only the SHA-256 of the
whole key is stored, so the state file never holds a usable key (a random 256-bit secret needs
no slow hash: there is nothing to guess). Scopes are ordered: ``read`` < ``operate`` (alarm
actions) < ``admin`` (models, keys, devices); a key may do what its scope and those below allow.

A key may carry a quota: at most ``quota_per_day`` requests per UTC day. Use is counted in memory
and written to the state file at most every :data:`USAGE_FLUSH_S` and when the service stops, so a
crash forgets at most that much of a day's use.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from typing import Literal

from embercast.errors import InputError
from embercast.service.db import ServiceDB

Scope = Literal["read", "operate", "admin"]
SCOPES: tuple[Scope, ...] = ("read", "operate", "admin")
"""Scopes from the least to the most allowed."""

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS api_keys (
        key_id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        scope TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        created_s REAL NOT NULL,
        revoked_s REAL
    )""",
    """CREATE TABLE IF NOT EXISTS api_key_usage (
        key_id TEXT NOT NULL,
        day INTEGER NOT NULL,
        used INTEGER NOT NULL,
        PRIMARY KEY (key_id, day)
    )""",
)
_PREFIX = "emb_"
DAY_S = 86_400
"""A quota's period: one UTC day [s]."""
USAGE_FLUSH_S = 1.0
"""Quota use is written to the state file at most this often [s]."""


@dataclass(frozen=True)
class ApiKey:
    """A key's record (never its secret): id, name, scope, creation and revocation [Unix s]."""

    key_id: str
    name: str
    scope: Scope
    created_s: float
    revoked_s: float | None = None
    quota_per_day: int | None = None
    """Requests allowed per UTC day (None: no quota)."""

    def allows(self, scope: Scope) -> bool:
        """Whether this key may act in ``scope``.

        >>> ApiKey("0a1b2c3d", "ops", "operate", 0.0).allows("read")
        True
        >>> ApiKey("0a1b2c3d", "ops", "operate", 0.0).allows("admin")
        False
        """
        return self.revoked_s is None and SCOPES.index(self.scope) >= SCOPES.index(scope)


def check_scope(scope: str) -> Scope:
    """``scope`` as a Scope; InputError naming the allowed ones."""
    if scope not in SCOPES:
        raise InputError(f"unknown scope {scope!r}: one of {', '.join(SCOPES)}")
    return scope


def check_quota(quota_per_day: int | None) -> int | None:
    """``quota_per_day`` if it is None or a positive count; InputError otherwise."""
    if quota_per_day is not None and quota_per_day < 1:
        raise InputError(f"a quota is a positive number of requests per day, not {quota_per_day}")
    return quota_per_day


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


_COLUMNS = "key_id, name, scope, created_s, revoked_s, quota_per_day"


def _record(row: tuple[object, ...]) -> ApiKey:
    key_id, name, scope, created, revoked, quota = row
    return ApiKey(
        str(key_id), str(name), check_scope(str(scope)), float(str(created)),
        None if revoked is None else float(str(revoked)),
        None if quota is None else int(str(quota)),
    )  # fmt: skip


class KeyStore:
    """API keys in the service's state file."""

    def __init__(self, db: ServiceDB) -> None:
        self.db = db
        db.ensure(SCHEMA)
        with db.write() as conn:  # state files made before quotas existed
            try:
                conn.execute("ALTER TABLE api_keys ADD COLUMN quota_per_day INTEGER")
            except sqlite3.OperationalError:
                pass  # the column is there
        self._used: dict[tuple[str, int], int] = {}
        self._dirty: set[tuple[str, int]] = set()
        self._flushed = time.monotonic()
        self._lock = threading.Lock()

    def create(self, name: str, scope: str, quota_per_day: int | None = None) -> tuple[ApiKey, str]:
        """A new key named ``name`` with ``scope`` and at most ``quota_per_day`` requests a day
        (None: no quota): its record and the key itself, shown once."""
        checked = check_scope(scope)
        quota = check_quota(quota_per_day)
        if not name.strip():
            raise InputError("a key needs a name (who or what uses it)")
        key_id = secrets.token_hex(4)
        key = f"{_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        record = ApiKey(key_id, name.strip(), checked, time.time(), None, quota)
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO api_keys (key_id, name, scope, sha256, created_s, quota_per_day) "
                "VALUES (?,?,?,?,?,?)",
                (key_id, record.name, checked, _digest(key), record.created_s, quota),
            )
        return record, key

    def set_quota(self, key_id: str, quota_per_day: int | None) -> ApiKey:
        """Give the key ``key_id`` a new daily quota (None: none), from its next request on."""
        quota = check_quota(quota_per_day)
        with self.db.write() as conn:
            found = conn.execute(
                "UPDATE api_keys SET quota_per_day = ? WHERE key_id = ?", (quota, key_id)
            )
            if found.rowcount == 0:
                raise InputError(f"no API key {key_id!r} (embercast keys list shows them)")
        return self.get(key_id)

    def get(self, key_id: str) -> ApiKey:
        """The record of ``key_id``; InputError for an unknown id."""
        rows = self.db.query(f"SELECT {_COLUMNS} FROM api_keys WHERE key_id = ?", (key_id,))
        if not rows:
            raise InputError(f"no API key {key_id!r} (embercast keys list shows them)")
        return _record(rows[0])

    def spend(self, key: ApiKey, now_s: float | None = None) -> float:
        """Count one request of ``key`` against its quota at ``now_s`` [Unix s]: 0 when allowed,
        else the seconds until the quota renews (the next UTC midnight)."""
        if key.quota_per_day is None:
            return 0.0
        now = time.time() if now_s is None else now_s
        day = int(now // DAY_S)
        slot = (key.key_id, day)
        with self._lock:
            if slot not in self._used:
                rows = self.db.query(
                    "SELECT used FROM api_key_usage WHERE key_id = ? AND day = ?", slot
                )
                self._used[slot] = int(rows[0][0]) if rows else 0
            if self._used[slot] >= key.quota_per_day:
                return (day + 1) * DAY_S - now
            self._used[slot] += 1
            self._dirty.add(slot)
            due = time.monotonic() - self._flushed >= USAGE_FLUSH_S
        if due:
            self.flush()
        return 0.0

    def used_today(self, key_id: str, now_s: float | None = None) -> int:
        """Requests ``key_id`` made this UTC day (counted against a quota)."""
        day = int((time.time() if now_s is None else now_s) // DAY_S)
        with self._lock:
            if (key_id, day) in self._used:
                return self._used[(key_id, day)]
        rows = self.db.query(
            "SELECT used FROM api_key_usage WHERE key_id = ? AND day = ?", (key_id, day)
        )
        return int(rows[0][0]) if rows else 0

    def flush(self) -> None:
        """Write the quota use counted since the last flush to the state file."""
        with self._lock:
            dirty = [(k, d, self._used[(k, d)]) for k, d in self._dirty]
            self._dirty.clear()
            self._flushed = time.monotonic()
            today = int(time.time() // DAY_S)
            for slot in [s for s in self._used if s[1] < today - 1]:
                del self._used[slot]  # days that can no longer be spent
        if dirty:
            with self.db.write() as conn:
                conn.executemany(
                    "INSERT INTO api_key_usage (key_id, day, used) VALUES (?,?,?) "
                    "ON CONFLICT (key_id, day) DO UPDATE SET used = MAX(used, excluded.used)",
                    dirty,
                )

    def verify(self, key: str) -> ApiKey | None:
        """The record of a valid, unrevoked ``key``; None for anything else."""
        if not key.startswith(_PREFIX) or key.count("_") < 2:
            return None
        key_id = key[len(_PREFIX) :].split("_", 1)[0]
        rows = self.db.query(f"SELECT {_COLUMNS}, sha256 FROM api_keys WHERE key_id = ?", (key_id,))
        if not rows:
            return None
        record = _record(rows[0][:-1])
        if record.revoked_s is not None or not hmac.compare_digest(str(rows[0][-1]), _digest(key)):
            return None
        return record

    def list(self) -> list[ApiKey]:
        """Every key's record, oldest first (revoked ones too)."""
        rows = self.db.query(f"SELECT {_COLUMNS} FROM api_keys ORDER BY created_s")
        return [_record(row) for row in rows]

    def revoke(self, key_id: str) -> ApiKey:
        """Revoke the key ``key_id`` (it answers 401 from the next request on); InputError for
        an unknown id."""
        with self.db.write() as conn:
            found = conn.execute(
                "SELECT revoked_s FROM api_keys WHERE key_id = ?", (key_id,)
            ).fetchone()
            if found is None:
                raise InputError(f"no API key {key_id!r} (embercast keys list shows them)")
            if found[0] is None:
                conn.execute(
                    "UPDATE api_keys SET revoked_s = ? WHERE key_id = ?", (time.time(), key_id)
                )
        return self.get(key_id)
