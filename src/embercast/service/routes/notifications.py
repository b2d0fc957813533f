"""``/v1/notifications``: every attempt to notify a recipient of a zone event, newest first
(read): whether the channel took it, and what it said."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from embercast.service.deps import Reader, State

router = APIRouter(prefix="/v1/notifications", tags=["notifications"])


@router.get("", summary="Attempts to notify, newest first (of one zone event)")
def notifications(
    _: Reader,
    state: State,
    event_id: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    if state.notifications is None:
        raise HTTPException(503, "the service runs without a bus: nothing is notified")
    return state.notifications.list(event_id, limit)
