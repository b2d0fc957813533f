"""The OpenAPI document of the service: FastAPI's, plus the errors every keyed route may answer
(401, 403, 413, 429, each ``{"detail": ...}``) and the service's own 422 answers (a sentence, or
``{"reason", "message"}`` for a rejected device message) beside FastAPI's validation list."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

OPEN_PATHS = frozenset({"/healthz", "/readyz"})
"""Routes that need no key."""
KEYED_ERRORS = {
    "401": "No API key, or an unknown or revoked one",
    "403": "The key's scope does not allow this",
    "413": "The body is larger than service_max_body_bytes",
    "429": "Over the key's rate or daily quota (Retry-After says when to try again)",
}
_DETAIL: dict[str, Any] = {
    "title": "Detail",
    "anyOf": [
        {"type": "string"},
        {"type": "object"},
        {"type": "array", "items": {"$ref": "#/components/schemas/ValidationError"}},
    ],
}


def document_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` (an OpenAPI document of the service) with the shared error answers added."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = {
        "title": "Error",
        "type": "object",
        "required": ["detail"],
        "properties": {"detail": _DETAIL},
    }
    if "HTTPValidationError" in components:
        components["HTTPValidationError"]["properties"]["detail"] = _DETAIL
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, operations in schema.get("paths", {}).items():
        if path in OPEN_PATHS:
            continue
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for code, description in KEYED_ERRORS.items():
                responses.setdefault(code, {"description": description, "content": error})
    return schema


def openapi_of(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """A replacement for ``app.openapi``: the document built once, with :func:`document_errors`."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_errors(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    summary=app.summary,
                    description=app.description,
                    routes=app.routes,
                )  # fmt: skip
            )
        return app.openapi_schema

    return build
