"""API keys with scopes, kept hashed.

A key is ``emb_<id>_<secret>``: ``id`` (8 hex digits) finds its row, and only the SHA-256 of the
whole key is stored, so the state file never holds a usable key (a random 256-bit secret needs
no slow hash: there is nothing to guess). Scopes are ordered: ``read`` < ``operate`` (alarm
actions) < ``admin`` (models, keys, devices); a key may do what its scope and those below allow.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
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
)
_PREFIX = "emb_"


@dataclass(frozen=True)
class ApiKey:
    """A key's record (never its secret): id, name, scope, creation and revocation [Unix s]."""

    key_id: str
    name: str
    scope: Scope
    created_s: float
    revoked_s: float | None = None

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


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class KeyStore:
    """API keys in the service's state file."""

    def __init__(self, db: ServiceDB) -> None:
        self.db = db
        db.ensure(SCHEMA)

    def create(self, name: str, scope: str) -> tuple[ApiKey, str]:
        """A new key named ``name`` with ``scope``: its record and the key itself, shown once."""
        checked = check_scope(scope)
        if not name.strip():
            raise InputError("a key needs a name (who or what uses it)")
        key_id = secrets.token_hex(4)
        key = f"{_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        record = ApiKey(key_id, name.strip(), checked, time.time())
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO api_keys (key_id, name, scope, sha256, created_s) VALUES (?,?,?,?,?)",
                (key_id, record.name, checked, _digest(key), record.created_s),
            )
        return record, key

    def verify(self, key: str) -> ApiKey | None:
        """The record of a valid, unrevoked ``key``; None for anything else."""
        if not key.startswith(_PREFIX) or key.count("_") < 2:
            return None
        key_id = key[len(_PREFIX) :].split("_", 1)[0]
        rows = self.db.query(
            "SELECT name, scope, sha256, created_s, revoked_s FROM api_keys WHERE key_id = ?",
            (key_id,),
        )
        if not rows:
            return None
        name, scope, digest, created, revoked = rows[0]
        if revoked is not None or not hmac.compare_digest(str(digest), _digest(key)):
            return None
        return ApiKey(key_id, str(name), check_scope(str(scope)), float(created))

    def list(self) -> list[ApiKey]:
        """Every key's record, oldest first (revoked ones too)."""
        rows = self.db.query(
            "SELECT key_id, name, scope, created_s, revoked_s FROM api_keys ORDER BY created_s"
        )
        return [
            ApiKey(str(k), str(n), check_scope(str(s)), float(c), None if r is None else float(r))
            for k, n, s, c, r in rows
        ]

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
        return next(k for k in self.list() if k.key_id == key_id)
