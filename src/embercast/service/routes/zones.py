"""``/v1/zones``: each zone's state (read), its audit log (read), and operators' actions on it
(operate): acknowledge, silence, reset, isolate, end the isolation, walk test.

An action the zone refuses (a reset while the cause persists, a silence when nothing sounds, an
isolation of a zone in alarm) answers 409 with the reason; the refusal is in the audit log too,
with the key's name as who asked.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field

from embercast.agents.zone_requests import Zones, ZonesUnavailable
from embercast.agents.zones import ZoneView
from embercast.dataset.episodes import CAUSES
from embercast.errors import InputError
from embercast.service.deps import Operator, Reader, State

router = APIRouter(prefix="/v1/zones", tags=["zones"])


class ActionIn(BaseModel):
    """An operator's action; ``seconds``: a silence's length (at most 600, default 600), an
    isolation's or walk test's duration."""

    model_config = ConfigDict(extra="forbid")
    action: Literal[
        "acknowledge", "silence", "reset", "isolate", "end_isolation", "walk_test", "end_walk_test"
    ]
    seconds: float | None = Field(default=None, gt=0, le=7 * 86400)


class ActionOut(BaseModel):
    """What the action did: whether it was done, the zone after it, and the events."""

    done: bool
    zone: ZoneView
    events: list[dict[str, Any]]


class FeedbackIn(BaseModel):
    """An operator's verdict on the zone's latest alarm: ``false_alarm`` with its cause, or
    ``fire`` (confirmed)."""

    model_config = ConfigDict(extra="forbid")
    verdict: Literal["false_alarm", "fire"]
    cause: str | None = Field(
        default=None, max_length=32, description=f"A false alarm's cause: {', '.join(CAUSES)}"
    )


def _agent(state: State) -> Zones:
    if state.zones is None:
        raise HTTPException(503, "the zone agent is not running")
    return state.zones


@router.get("", summary="Every zone's state")
def zones(_: Reader, state: State) -> list[ZoneView]:
    return _agent(state).zones()


@router.get("/{zone}/events", summary="A zone's audit log, newest first")
def zone_events(
    zone: str, _: Reader, state: State, limit: Annotated[int, Query(ge=1, le=1000)] = 200
) -> list[dict[str, Any]]:
    return _agent(state).audit(zone, limit)


@router.post(
    "/{zone}/actions",
    response_model=ActionOut,
    summary="Acknowledge, silence, reset, isolate or walk-test a zone",
    responses={
        409: {"description": "The zone refused the action (the reason says why)"},
        503: {"description": "The zone agent (in a process of its own) did not answer"},
    },
)
def act(zone: str, body: ActionIn, key: Operator, state: State) -> ActionOut:
    agent = _agent(state)
    try:
        done, events = agent.act(zone, body.action, key.name, seconds=body.seconds)
    except InputError as exc:
        found = "no zone" in str(exc)
        raise HTTPException(404 if found else 422, str(exc)) from None
    except ZonesUnavailable as exc:
        raise HTTPException(503, str(exc)) from None
    if not done:
        refusal = next((e for e in events if e.kind.endswith("_refused")), None)
        reason = refusal.detail if refusal is not None else {"reason": "refused"}
        raise HTTPException(409, {"action": body.action, **reason})
    view = next(v for v in agent.zones() if v.zone == zone)
    return ActionOut(done=done, zone=view,
                     events=[{"kind": e.kind, "t": e.t, "who": e.who, "state": e.state.value,
                              "detail": e.detail} for e in events])  # fmt: skip


@router.post(
    "/{zone}/feedback",
    summary="Mark the zone's latest alarm a false alarm (with its cause) or a confirmed fire",
    responses={
        409: {"description": "The zone has had no alarm"},
        503: {"description": "The zone agent (in a process of its own) did not answer"},
    },
)
def feedback(zone: str, body: FeedbackIn, key: Operator, state: State) -> dict[str, Any]:
    agent = _agent(state)
    try:
        return agent.feedback(zone, body.verdict, key.name, body.cause)
    except InputError as exc:
        text = str(exc)
        code = 404 if "has reported yet" in text else 409 if "no alarm" in text else 422
        raise HTTPException(code, text) from None
    except ZonesUnavailable as exc:
        raise HTTPException(503, str(exc)) from None
