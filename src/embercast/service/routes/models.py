"""``/v1/models``: the registry's versions and the model being served."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException

from embercast.errors import InputError
from embercast.lifecycle.registry import Registry
from embercast.service.deps import Reader, Served

router = APIRouter(prefix="/v1/models", tags=["models"])


@router.get("/current", summary="The model being served, its features and operating point")
def current(_: Reader, served: Served) -> dict[str, Any]:
    return served.summary()


@router.get("", summary="Every registered version with its aliases and held-out metrics")
def versions(_: Reader, name: str | None = None) -> list[dict[str, Any]]:
    try:
        return Registry().versions(name)
    except InputError as exc:
        raise HTTPException(503, str(exc)) from None


@router.get("/{name}/{version}", summary="One registered version")
def version(name: str, version: int, _: Reader) -> dict[str, Any]:
    try:
        rows = Registry().versions()
        found = [v for v in rows if v["name"] == name and int(v["version"]) == version]
    except InputError as exc:
        raise HTTPException(503, str(exc)) from None
    if not found:
        raise HTTPException(404, f"no model version {name}/{version}")
    return found[0]
