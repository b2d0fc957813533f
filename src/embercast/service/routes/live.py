"""``/v1/live``: what the dashboard shows (read scope): devices by zone with their latest
prediction, reading and frame, alarms and the model; a device's history for the charts; its
latest frame as a PNG heat map; and the live stream of predictions and alarm changes
(server-sent events, see :mod:`embercast.service.live_feed`)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Request, Response
from fastapi.responses import StreamingResponse

from embercast.alarm.risk import RISK_LEVELS
from embercast.service.deps import Reader, State
from embercast.service.device_records import NotFound
from embercast.service.heatmap import heat_png
from embercast.service.live_feed import LiveFeed, reading_view, thermal_view
from embercast.service.sse import RETRY_MS
from embercast.service.state import ServiceState

router = APIRouter(prefix="/v1/live", tags=["live"])
_RANK = {name: i for i, (name, _) in enumerate(RISK_LEVELS)}


def get_feed(request: Request) -> LiveFeed:
    feed: LiveFeed = request.app.state.live
    return feed


Feed = Annotated[LiveFeed, Depends(get_feed)]


def _alarms(state: ServiceState) -> tuple[str, list[dict[str, Any]]]:
    """Where alarms come from (``store``: the alarm store; ``predictions``: the devices'
    decisions) and the latest of them, newest first."""
    store = getattr(state, "alarms", None)
    if store is not None:
        return "store", [dataclasses.asdict(a) for a in store.list(None, limit=50)]
    found = []
    for device_id in state.hub.devices():
        p = state.hub.latest(device_id)
        if p is not None and p.alarm:
            found.append({"device_id": device_id, "state": "active", "t_s": p.t_s,
                          "peak_risk": p.risk, "peak_p": p.as_dict()["p_fire"]})  # fmt: skip
    return "predictions", found


@router.get("", summary="Devices by zone with their latest state, alarms and the model")
def live(_: Reader, state: State, feed: Feed) -> dict[str, Any]:
    source, alarms = _alarms(state)
    alarmed = {a["device_id"] for a in alarms if a["state"] == "active"}
    zones: dict[str, list[dict[str, Any]]] = {}
    hub = state.hub
    for device in state.devices.list():
        latest = hub.latest(device.device_id)
        zones.setdefault(device.zone, []).append({
            "device_id": device.device_id, "name": device.name, "zone": device.zone,
            "prediction": None if latest is None else latest.as_dict(),
            "risk": None if latest is None else latest.risk,
            "alarm": device.device_id in alarmed or bool(latest and latest.alarm),
            "reading": reading_view(hub.last_reading(device.device_id)),
            "thermal": thermal_view(hub.last_frame(device.device_id)),
        })  # fmt: skip
    return {
        "model": feed.model(),
        "zones": [
            {
                "zone": zone,
                "alarm": any(d["alarm"] for d in devices),
                "risk": max((d["risk"] or "none" for d in devices), key=lambda r: _RANK.get(r, 0)),
                "devices": devices,
            }
            for zone, devices in sorted(zones.items())
        ],
        "alarms": alarms,
        "alarm_source": source,
        "stream": {"boot": feed.boot, "clients": feed.clients},
    }


def _known(state: ServiceState, device_id: str) -> None:
    try:
        state.devices.get(device_id)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from None


@router.get("/{device_id}/history", summary="A device's recent predictions and readings")
def history(device_id: str, _: Reader, state: State, feed: Feed) -> dict[str, Any]:
    _known(state, device_id)
    return {
        "device_id": device_id,
        "predictions": [p.as_dict() for p in state.hub.history(device_id)],
        "readings": feed.history(device_id),
    }


@router.get(
    "/{device_id}/thermal.png",
    summary="A device's latest thermal frame as a PNG heat map (ETag: the frame's time)",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}, 304: {"description": "Not modified"}},
)
def thermal(
    device_id: str,
    _: Reader,
    state: State,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    _known(state, device_id)
    frame = state.hub.last_frame(device_id)
    if frame is None or frame.frame is None:
        raise HTTPException(404, f"no thermal frame from {device_id!r} yet")
    etag = f'"{frame.ts!r}"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if if_none_match is not None and etag in (t.strip() for t in if_none_match.split(",")):
        return Response(status_code=304, headers=headers)
    return Response(heat_png(frame.frame), media_type="image/png", headers=headers)


@router.get(
    "/events",
    summary="Server-sent events: hello, then a prediction event per new prediction and an "
    "alarm event per alarm change; a comment line every 15 s of silence",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def events(_: Reader, feed: Feed) -> StreamingResponse:
    async def stream() -> AsyncIterator[bytes]:
        sub = feed.subscribe()
        try:
            yield f"retry: {RETRY_MS}\n\n".encode()
            while True:
                try:
                    event = await sub.next(feed.heartbeat_s)
                except TimeoutError:
                    yield b": heartbeat\n\n"
                    continue
                if event is None:
                    return
                chunk = [event.encode()]  # with those queued meanwhile: one write for all
                for more in sub.waiting():
                    if more is None:
                        yield b"".join(chunk)
                        return
                    chunk.append(more.encode())
                yield b"".join(chunk)
        finally:
            feed.unsubscribe(sub)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
