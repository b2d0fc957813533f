"""``POST /v1/ingest/{device_id}/{kind}``: the MQTT payloads over HTTP (DESIGN 4.6). The answer
(202) comes once the messages are stored; a bad payload gets 422 with its reason and is kept as
a dead letter; ``GET /v1/ingest/dead-letters`` lists those."""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse

from embercast.service.deps import Operator, Reader, State

router = APIRouter(prefix="/v1/ingest", tags=["ingest"])

_EXAMPLE = {"ts": 1764939600.0, "co2_ppm": 612.0, "temperature_c": 21.4, "humidity_pct": 41.0}


@router.post(
    "/{device_id}/{kind}",
    status_code=202,
    summary="Readings (scd41) or frames (thermal) of a device: one JSON object or a list",
    responses={422: {"description": "Rejected: the reason, kept as a dead letter"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {}, "example": _EXAMPLE}},
        }
    },
)
async def ingest(
    device_id: str,
    kind: Literal["scd41", "thermal"],
    request: Request,
    state: State,
    _: Operator,
) -> JSONResponse:
    body = await request.body()
    result = await asyncio.to_thread(state.ingest.submit, "http", device_id, kind, body)
    if result.reason is not None and result.accepted == 0:
        raise HTTPException(422, {"reason": result.reason, "message": result.message})
    try:
        await asyncio.wrap_future(result.stored)
    except Exception as exc:
        raise HTTPException(503, f"the messages could not be stored ({exc}); send again") from None
    return JSONResponse(
        {
            "accepted": result.accepted,
            "duplicates": result.duplicates,
            "rejected": result.reason,
        },  # fmt: skip
        status_code=202,
    )


@router.get("/dead-letters", summary="The latest rejected payloads and why (without payloads)")
def dead_letters(
    state: State,
    _: Reader,
    reason: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, object]]:
    return state.ingest.dead_letters(limit, reason)
