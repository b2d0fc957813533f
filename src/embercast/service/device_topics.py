"""Twins and command answers over MQTT (DESIGN 4.6): what a device publishes on
``embercast/v1/devices/{device_id}/state`` and ``.../commands/ack``, and what the service
publishes to it on ``.../commands``.

- ``state``: a JSON object, the device's reported state. It replaces the twin's reported state
  and bumps its version, as ``PUT /v1/devices/{id}/twin/reported`` does (the same
  :meth:`~embercast.service.devices.DeviceStore.report`). Devices publish it retained, so the
  broker hands it to the service again at each subscription: such a retained copy equal to the
  twin's reported state changes nothing (``unchanged``).
- ``commands/ack``: the body of ``POST .../commands/{id}/ack`` with the command's id,
  ``{"command_id": "...", "ok": true, "result": {...}}`` (``ok`` false: failed). A command of
  another device is unknown here; answering an answered command again the same way is a
  ``duplicate`` (QoS 1 delivers at least once), any other way a ``transition`` refused.
- ``commands``: :func:`command_message`, QoS 1.

A ``device_id`` in a payload must be the topic's. Each message's outcome is counted
(``embercast_device_messages_total{kind, outcome}``); one that cannot be used is logged with
its reason (``json``, ``invalid``, ``device_mismatch``, ``unknown_device``, ``revoked_device``,
``unknown_command``, ``transition``) and never raised.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client import Counter as PromCounter
from pydantic import BaseModel, ConfigDict, ValidationError

from embercast.errors import InputError
from embercast.service.commands import Command
from embercast.service.device_records import MAX_JSON_BYTES, Conflict, NotFound
from embercast.service.devices import DeviceStore
from embercast.service.messages import DEVICE_ID, TOPIC_PREFIX

logger = logging.getLogger(__name__)

STATE, ACK, COMMANDS = "state", "commands/ack", "commands"
SUBSCRIPTIONS = (f"{TOPIC_PREFIX}+/{STATE}", f"{TOPIC_PREFIX}+/{ACK}")
"""What the service subscribes to besides the readings and frames."""


class Refused(InputError):
    """A device message that cannot be used: ``reason`` (short, counted) and the message."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class AnswerIn(BaseModel):
    """A device's answer to a command over MQTT: the REST answer's body and the command's id."""

    model_config = ConfigDict(extra="forbid")

    command_id: str
    ok: bool
    result: dict[str, Any] | None = None
    device_id: str | None = None


def device_topic(topic: str) -> tuple[str, str] | None:
    """(device_id, ``state`` or ``commands/ack``) of a topic; None for any other topic.

    >>> device_topic("embercast/v1/devices/cam-1/commands/ack")
    ('cam-1', 'commands/ack')
    >>> device_topic("embercast/v1/devices/cam-1/scd41") is None
    True
    """
    if not topic.startswith(TOPIC_PREFIX):
        return None
    device_id, _, kind = topic[len(TOPIC_PREFIX) :].partition("/")
    return (device_id, kind) if kind in (STATE, ACK) and DEVICE_ID.match(device_id) else None


def commands_topic(device_id: str) -> str:
    """Where ``device_id`` receives its commands."""
    return f"{TOPIC_PREFIX}{device_id}/{COMMANDS}"


def command_message(command: Command) -> bytes:
    """A command as its device receives it: id, name, args and ``deadline_s`` [Unix s], after
    which the service no longer takes its answer."""
    body = {"command_id": command.command_id, "name": command.name, "args": command.args,
            "deadline_s": command.deadline_s}  # fmt: skip
    return json.dumps(body, separators=(",", ":")).encode()


def _object(payload: bytes) -> dict[str, Any]:
    if len(payload) > 2 * MAX_JSON_BYTES:
        raise Refused("invalid", f"{len(payload)} bytes; at most {MAX_JSON_BYTES} of JSON")
    try:
        found = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Refused("json", f"not JSON: {exc}") from None
    if not isinstance(found, dict):
        raise Refused("json", f"not a JSON object but {type(found).__name__}")
    return found


class DeviceTopics:
    """Applies devices' ``state`` and ``commands/ack`` messages to ``devices``; outcomes in
    ``counts`` by (kind, outcome), and on ``registry`` when given."""

    def __init__(self, devices: DeviceStore, registry: CollectorRegistry | None = None) -> None:
        self.devices = devices
        self.counts: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()
        self._metric = None if registry is None else PromCounter(
            "embercast_device_messages", "Devices' state and command answers over MQTT, by "
            "kind and outcome", ["kind", "outcome"], registry=registry,
        )  # fmt: skip

    def handle(self, device_id: str, kind: str, payload: bytes, retained: bool = False) -> str:
        """Apply one message of ``device_id`` (``retained``: a retained copy); its outcome."""
        try:
            body = _object(payload)
            mine = body.get("device_id", device_id)
            if mine != device_id:
                raise Refused("device_mismatch", f"the payload names device {mine!r}")
            self._known(device_id)
            outcome = self._state(device_id, body, retained) if kind == STATE else (
                self._answer(device_id, body)
            )  # fmt: skip
        except Refused as exc:
            outcome = exc.reason
            logger.warning("%s message of %s refused (%s): %s", kind, device_id, outcome, exc)
        with self._lock:
            self.counts[(kind, outcome)] += 1
        if self._metric is not None:
            self._metric.labels(kind, outcome).inc()
        return outcome

    def _known(self, device_id: str) -> None:
        try:
            device = self.devices.get(device_id)
        except NotFound:
            raise Refused("unknown_device", f"no device {device_id!r} is registered") from None
        if device.revoked_s is not None:
            raise Refused("revoked_device", f"device {device_id!r} is revoked")

    def _state(self, device_id: str, state: dict[str, Any], retained: bool) -> str:
        if retained and self.devices.twin(device_id).reported == state:
            return "unchanged"
        try:
            twin = self.devices.report(device_id, state)
        except Conflict as exc:  # revoked in between
            raise Refused("revoked_device", str(exc)) from None
        except InputError as exc:
            raise Refused("invalid", str(exc)) from None
        logger.info("%s reported its state (version %d)", device_id, twin.reported_version)
        return "reported"

    def _answer(self, device_id: str, body: dict[str, Any]) -> str:
        try:
            answer = AnswerIn.model_validate(body)
        except ValidationError as exc:
            errors = exc.errors()
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors)
            raise Refused("invalid", f"not a command answer ({problems})") from None
        try:
            done = self.devices.acknowledge(
                answer.command_id, answer.ok, answer.result, device_id=device_id
            )
        except NotFound as exc:
            raise Refused("unknown_command", str(exc)) from None
        except Conflict as exc:
            now = self.devices.command(answer.command_id, device_id)
            if now.status == ("acknowledged" if answer.ok else "failed"):
                return "duplicate"
            raise Refused("transition", str(exc)) from None
        except InputError as exc:
            raise Refused("invalid", str(exc)) from None
        return done.status
