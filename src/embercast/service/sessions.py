"""Browser sessions of the dashboard, kept hashed.

A browser signs in once with an API key (``POST /v1/session``) and gets a random session token
in an HttpOnly, SameSite=Strict cookie; the token then stands for that key until it expires
(:data:`SESSION_TTL_S`), the browser signs out, or the key is revoked. Only the SHA-256 of a
token is stored (a random 256-bit token needs no slow hash), in the service's state file, so
sessions survive a restart of the service and the state file never holds a usable token.
"""

from __future__ import annotations

import hashlib
import secrets
import time

from embercast.service.db import ServiceDB
from embercast.service.keys import ApiKey, check_scope

SESSION_COOKIE = "embercast_session"
"""Name of the cookie holding the session token."""
SESSION_TTL_S = 12 * 3600.0
"""How long a session lasts from sign-in [s]."""

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS sessions (
        sha256 TEXT PRIMARY KEY,
        key_id TEXT NOT NULL,
        created_s REAL NOT NULL,
        expires_s REAL NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS sessions_expiry ON sessions (expires_s)",
)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SessionStore:
    """Sessions in the service's state file (``db``), each lasting ``ttl_s`` [s]."""

    def __init__(self, db: ServiceDB, ttl_s: float = SESSION_TTL_S) -> None:
        self.db = db
        self.ttl_s = ttl_s
        db.ensure(SCHEMA)

    def create(self, key: ApiKey, now: float | None = None) -> tuple[str, float]:
        """A new session standing for ``key``: its token (shown once) and expiry [Unix s].
        Expired sessions are deleted on the way."""
        now = time.time() if now is None else now
        token = secrets.token_urlsafe(32)
        expires = now + self.ttl_s
        with self.db.write() as conn:
            conn.execute("DELETE FROM sessions WHERE expires_s <= ?", (now,))
            conn.execute(
                "INSERT INTO sessions (sha256, key_id, created_s, expires_s) VALUES (?,?,?,?)",
                (_digest(token), key.key_id, now, expires),
            )
        return token, expires

    def verify(self, token: str, now: float | None = None) -> ApiKey | None:
        """The key a live session ``token`` stands for; None when the token is unknown,
        expired, or its key revoked."""
        now = time.time() if now is None else now
        rows = self.db.query(
            "SELECT k.key_id, k.name, k.scope, k.created_s FROM sessions s "
            "JOIN api_keys k ON k.key_id = s.key_id "
            "WHERE s.sha256 = ? AND s.expires_s > ? AND k.revoked_s IS NULL",
            (_digest(token), now),
        )
        if not rows:
            return None
        key_id, name, scope, created = rows[0]
        return ApiKey(str(key_id), str(name), check_scope(str(scope)), float(created))

    def end(self, token: str) -> bool:
        """End the session ``token`` (sign-out); whether there was one."""
        with self.db.write() as conn:
            gone = conn.execute("DELETE FROM sessions WHERE sha256 = ?", (_digest(token),))
            return gone.rowcount > 0
