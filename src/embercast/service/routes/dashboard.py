"""The dashboard page and its browser session.

``GET /`` and ``GET /static/{name}`` serve the page (plain HTML, JavaScript and CSS shipped in
the package: no data, so no key). The page asks for an API key once and trades it for a session
with ``POST /v1/session`` (the key in ``Authorization: Bearer`` or ``X-API-Key``): an HttpOnly,
SameSite=Strict cookie that then stands for the key on every route until it expires, the key is
revoked, or ``DELETE /v1/session`` ends it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Cookie, HTTPException, Request, Response
from fastapi.responses import FileResponse

from embercast.service.deps import KeyOnly, Reader, State
from embercast.service.sessions import SESSION_COOKIE

router = APIRouter()
STATIC = Path(__file__).resolve().parent.parent / "static"
"""The page's files (package data)."""
_TYPES = {
    "index.html": "text/html; charset=utf-8",
    "dashboard.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
}
_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def _file(name: str) -> FileResponse:
    if name not in _TYPES:
        raise HTTPException(404, f"no file {name!r} in the dashboard")
    return FileResponse(STATIC / name, media_type=_TYPES[name], headers=_HEADERS)


@router.get("/", include_in_schema=False)
def page() -> FileResponse:
    return _file("index.html")


@router.get("/static/{name}", include_in_schema=False)
def static(name: str) -> FileResponse:
    return _file(name)


@router.post(
    "/v1/session",
    tags=["session"],
    summary="Trade an API key (header) for a dashboard session cookie (HttpOnly, SameSite=Strict)",
)
def sign_in(key: KeyOnly, state: State, request: Request, response: Response) -> dict[str, Any]:
    token, expires = state.sessions.create(key)
    response.set_cookie(
        SESSION_COOKIE, token, max_age=int(state.sessions.ttl_s), path="/", httponly=True,
        samesite="strict", secure=request.url.scheme == "https",
    )  # fmt: skip
    return {"name": key.name, "scope": key.scope, "expires_s": expires}


@router.get("/v1/session", tags=["session"], summary="Who the caller is signed in as")
def whoami(key: Reader) -> dict[str, Any]:
    return {"name": key.name, "scope": key.scope}


@router.delete("/v1/session", tags=["session"], summary="End the dashboard session")
def sign_out(
    _: Reader,
    state: State,
    response: Response,
    session: Annotated[str | None, Cookie(alias=SESSION_COOKIE)] = None,
) -> dict[str, bool]:
    ended = state.sessions.end(session) if session else False
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return {"ended": ended}
