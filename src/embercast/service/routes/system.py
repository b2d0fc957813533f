"""``/v1/system``: the live system's agents, its trouble and misuse conditions, and what it
learns (read scope; the dashboard's system panel polls it)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from embercast.service.deps import Reader, State
from embercast.service.overview import system_summary

router = APIRouter(prefix="/v1/system", tags=["system"])


@router.get("", summary="Agents, trouble and misuse conditions, drift, shadow and steward")
def system(_: Reader, state: State) -> dict[str, Any]:
    return system_summary(state)
