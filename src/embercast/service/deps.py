"""Route dependencies: the service's state, the caller's API key with its scope (401 without a
valid key, 403 for a scope too low, 429 over the key's rate or daily quota), and the served model
(503 while none is loaded). A dashboard session cookie (``POST /v1/session``) stands for its key.

They are ``async``: each takes microseconds (or one indexed SQLite read), so they run on the
event loop instead of costing a worker-thread hop per dependency per request."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyCookie, APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from embercast.service.keys import ApiKey, Scope
from embercast.service.live_model import LiveModel
from embercast.service.sessions import SESSION_COOKIE
from embercast.service.state import ServiceState

_bearer = HTTPBearer(auto_error=False, description="An API key: Authorization: Bearer emb_...")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key.")
_session = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, description="A dashboard session.")


async def get_state(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.service
    return state


State = Annotated[ServiceState, Depends(get_state)]


def _client(request: Request) -> str | None:
    """The address a request came from (the proxy's, unless uvicorn trusts its headers)."""
    return None if request.client is None else request.client.host


def require(scope: Scope, sessions: bool = True) -> Callable[..., Awaitable[ApiKey]]:
    """A dependency admitting callers whose key (or, with ``sessions``, session) allows
    ``scope``."""

    async def check(
        state: State,
        request: Request,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
        header: Annotated[str | None, Security(_header)],
        session: Annotated[str | None, Security(_session)],
    ) -> ApiKey:
        given = bearer.credentials if bearer is not None else header
        key: ApiKey | None
        if not given and sessions and session:
            key = state.sessions.verify(session)
            if key is None:
                state.metrics.rejected.labels("bad_session").inc()
                state.misuse.auth_failed(_client(request))
                raise HTTPException(401, "the session has ended: sign in again with an API key")
        elif not given:
            state.metrics.rejected.labels("no_key").inc()
            state.misuse.auth_failed(_client(request))
            raise HTTPException(
                401, "an API key is required (Authorization: Bearer <key> or X-API-Key)",
                headers={"WWW-Authenticate": "Bearer"},
            )  # fmt: skip
        else:
            key = state.keys.verify(given)
        if key is None:
            state.metrics.rejected.labels("bad_key").inc()
            state.misuse.auth_failed(_client(request))
            raise HTTPException(
                401, "the API key is unknown or revoked", headers={"WWW-Authenticate": "Bearer"}
            )
        if not key.allows(scope):
            state.metrics.rejected.labels("scope").inc()
            raise HTTPException(403, f"this needs the {scope!r} scope; the key has {key.scope!r}")
        wait = state.limiter.take(key.key_id)
        if wait > 0:
            state.metrics.rejected.labels("rate").inc()
            raise HTTPException(
                429, f"too many requests for this key (settings service_rate_per_s = "
                f"{state.limiter.rate:g}); retry after {wait:.3f} s",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )  # fmt: skip
        renews = state.keys.spend(key)
        if renews > 0:
            state.metrics.rejected.labels("quota").inc()
            raise HTTPException(
                429, f"this key's quota of {key.quota_per_day} requests per day is used up; it "
                f"renews at 00:00 UTC, in {renews:.0f} s (embercast keys quota changes it)",
                headers={"Retry-After": str(max(1, math.ceil(renews)))},
            )  # fmt: skip
        return key

    return check


async def served_model(state: State) -> LiveModel:
    model = state.models.current
    if model is None:
        raise HTTPException(
            503, f"no model is loaded ({state.models.ref}): {state.models.error or 'loading'}"
        )
    return model


Reader = Annotated[ApiKey, Depends(require("read"))]
Operator = Annotated[ApiKey, Depends(require("operate"))]
Admin = Annotated[ApiKey, Depends(require("admin"))]
KeyOnly = Annotated[ApiKey, Depends(require("read", sessions=False))]
"""A read key given as a header, never a session (to open one)."""
Served = Annotated[LiveModel, Depends(served_model)]
