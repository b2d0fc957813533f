"""``/v1/alarms``: the devices' alarms, newest first, and one alarm with its events (read).

An unknown alarm id answers 404 with a ``detail`` naming it.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel

from embercast.service.alarm_events import AlarmEvent
from embercast.service.alarms import Alarm, AlarmNotFound, AlarmState, Cause
from embercast.service.deps import Reader, State

router = APIRouter(prefix="/v1/alarms", tags=["alarms"])


class AlarmDetail(BaseModel):
    """An alarm (see :class:`~embercast.service.alarms.Alarm`) with its events in order."""

    alarm_id: str
    device_id: str
    zone: str | None
    state: AlarmState
    started_t: float
    started_s: float
    cleared_t: float | None
    cleared_s: float | None
    peak_p: float | None
    peak_risk: str
    cause: Cause
    events: list[AlarmEvent]


@router.get("", response_model=list[Alarm], summary="Alarms, newest first")
def alarms(
    _: Reader,
    state: State,
    alarm_state: Annotated[AlarmState | None, Query(alias="state")] = None,
    zone: str | None = None,
    device_id: str | None = None,
    since: Annotated[
        float | None, Query(description="Only alarms started at or after this [Unix s].")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[Alarm]:
    return state.alarms.list(alarm_state, zone, device_id, since, limit)


@router.get("/{alarm_id}", response_model=AlarmDetail, summary="An alarm with its events")
def alarm(alarm_id: str, _: Reader, state: State) -> AlarmDetail:
    try:
        found = state.alarms.get(alarm_id)
        events = state.alarms.events(alarm_id)
    except AlarmNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    return AlarmDetail(**asdict(found), events=events)
