"""``/v1/devices``: devices (admin registers and revokes), their twins and their commands.

A new command goes out over MQTT when the service has a broker (``ServiceState.send_command``).
A twin's ``ETag`` is the version of its desired state; ``PATCH .../twin/desired`` needs it in
``If-Match`` (428 without, 412 when stale) and ``PUT .../twin/reported`` may give the reported
version the same way. The store's errors answer 404 (unknown device or command), 409 (duplicate,
revoked device, a command transition not allowed), 412 (stale version) and 422 (bad input).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, HTTPException, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from embercast.errors import InputError
from embercast.service.commands import COMMAND_NAME_PATTERN, MAX_TIMEOUT_S, Command, Status
from embercast.service.deps import Admin, Operator, Reader, State
from embercast.service.device_records import (
    DEVICE_ID_PATTERN,
    ZONE_PATTERN,
    Conflict,
    Device,
    NotFound,
)
from embercast.service.twins import StaleVersion, Twin

router = APIRouter(prefix="/v1/devices", tags=["devices"])
JsonObject = Annotated[dict[str, Any], Body(description="A JSON object.")]


class DeviceIn(BaseModel):
    """A device to register: its id (also its MQTT topic level), zone and display name."""

    model_config = ConfigDict(extra="forbid")

    device_id: str = Field(pattern=DEVICE_ID_PATTERN)
    zone: str = Field(pattern=ZONE_PATTERN)
    name: str = Field(default="", max_length=128, description="Default: the device id.")


class DeviceDetail(BaseModel):
    """A device with its twin."""

    device_id: str
    name: str
    zone: str
    created_s: float
    revoked_s: float | None
    twin: Twin


class CommandIn(BaseModel):
    """A command to send: its name, arguments and how long it may wait for an answer [s]."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=COMMAND_NAME_PATTERN)
    args: dict[str, Any] = Field(default_factory=dict)
    timeout_s: float = Field(default=60.0, gt=0, le=MAX_TIMEOUT_S, allow_inf_nan=False)


class AckIn(BaseModel):
    """A device's answer to a command: whether it succeeded, and what it has to say."""

    model_config = ConfigDict(extra="forbid")

    ok: bool
    result: dict[str, Any] | None = None


@contextmanager
def _answer() -> Iterator[None]:
    """The store's errors as HTTP answers."""
    try:
        yield
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except StaleVersion as exc:
        raise HTTPException(412, str(exc), headers={"ETag": _etag(exc.current)}) from None
    except Conflict as exc:
        raise HTTPException(409, str(exc)) from None
    except InputError as exc:
        raise HTTPException(422, str(exc)) from None


def _etag(version: int) -> str:
    return f'"{version}"'


def _version(if_match: str) -> int | None:
    """The version an ``If-Match`` header names (None for ``*``); 412 for anything else."""
    tag = if_match.strip()
    if tag == "*":
        return None
    bare = tag[1:-1] if len(tag) >= 2 and tag[0] == tag[-1] == '"' else tag
    if not bare.isdigit():
        raise HTTPException(
            412, f'If-Match {if_match!r} names no version: give the twin\'s ETag, e.g. "3"'
        )
    return int(bare)


@router.post("", status_code=201, response_model=Device, summary="Register a device")
def register(body: DeviceIn, _: Admin, state: State) -> Device:
    with _answer():
        return state.devices.register(body.device_id, body.zone, body.name)


@router.get("", response_model=list[Device], summary="The devices, by id")
def devices(
    _: Reader, state: State, zone: str | None = None, include_revoked: bool = False
) -> list[Device]:
    return state.devices.list(zone, include_revoked)


@router.get("/{device_id}", response_model=DeviceDetail, summary="A device with its twin")
def device(device_id: str, _: Reader, state: State) -> DeviceDetail:
    with _answer():
        found = state.devices.get(device_id)
        return DeviceDetail(**asdict(found), twin=state.devices.twin(device_id))


@router.delete("/{device_id}", response_model=Device, summary="Revoke a device")
def revoke(device_id: str, _: Admin, state: State) -> Device:
    with _answer():
        return state.devices.revoke(device_id)


@router.get("/{device_id}/twin", response_model=Twin, summary="A twin; ETag: desired version")
def twin(device_id: str, _: Reader, state: State, response: Response) -> Twin:
    with _answer():
        found = state.devices.twin(device_id)
    response.headers["ETag"] = _etag(found.desired_version)
    return found


@router.patch(
    "/{device_id}/twin/desired",
    response_model=Twin,
    summary="Merge a patch into the desired state (If-Match: the twin's ETag)",
)
def desire(
    device_id: str,
    patch: JsonObject,
    _: Admin,
    state: State,
    response: Response,
    if_match: Annotated[str | None, Header()] = None,
) -> Twin:
    if if_match is None:
        raise HTTPException(428, "If-Match is required: the twin's ETag (GET .../twin)")
    with _answer():
        found = state.devices.desire(device_id, patch, _version(if_match))
    response.headers["ETag"] = _etag(found.desired_version)
    return found


@router.put(
    "/{device_id}/twin/reported",
    response_model=Twin,
    summary="Replace the reported state (If-Match optional: the reported version)",
)
def report(
    device_id: str,
    reported: JsonObject,
    _: Operator,
    state: State,
    response: Response,
    if_match: Annotated[str | None, Header()] = None,
) -> Twin:
    expected = None if if_match is None else _version(if_match)
    with _answer():
        found = state.devices.report(device_id, reported, expected)
    response.headers["ETag"] = _etag(found.reported_version)
    return found


@router.post(
    "/{device_id}/commands", status_code=201, response_model=Command, summary="Send a command"
)
def send(device_id: str, body: CommandIn, _: Operator, state: State) -> Command:
    with _answer():
        return state.send_command(device_id, body.name, body.args, body.timeout_s)


@router.get("/{device_id}/commands", response_model=list[Command], summary="Commands, oldest first")
def commands(
    device_id: str,
    _: Reader,
    state: State,
    status: Status | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[Command]:
    with _answer():
        return state.devices.commands(device_id, status, limit=limit)


@router.get("/{device_id}/commands/{command_id}", response_model=Command, summary="A command")
def command(device_id: str, command_id: str, _: Reader, state: State) -> Command:
    with _answer():
        return state.devices.command(command_id, device_id)


@router.post(
    "/{device_id}/commands/{command_id}/ack",
    response_model=Command,
    summary="A device's answer: acknowledged (ok) or failed",
)
def acknowledge(device_id: str, command_id: str, body: AckIn, _: Operator, state: State) -> Command:
    with _answer():
        return state.devices.acknowledge(command_id, body.ok, body.result, device_id)
