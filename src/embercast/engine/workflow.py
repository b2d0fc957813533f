"""A small workflow runner: named steps, each cached by the hash of its inputs, retried on
transient failure, resumable after an interruption, with its state in one JSON file.

A step's key is the SHA-256 of its arguments and of the outputs of the steps it reads; a step
whose key is unchanged and that finished before is not run again (``cached``). The state file is
rewritten atomically after every transition, so ``status`` always shows where a run is.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from embercast.errors import InputError

logger = logging.getLogger(__name__)

TRANSIENT: tuple[type[BaseException], ...] = (OSError, TimeoutError, ConnectionError)
"""Failures worth retrying (I/O, a scheduler or store briefly away)."""


@dataclass(frozen=True)
class Step:
    """A step: its name, the function (inputs -> outputs), its arguments and the steps it
    reads (their outputs are passed to it as ``upstream[name]``)."""

    name: str
    run: Callable[[Mapping[str, Any], Mapping[str, Mapping[str, Any]]], dict[str, Any]]
    args: dict[str, Any] = field(default_factory=dict)
    after: tuple[str, ...] = ()


def step_key(step: Step, upstream: Mapping[str, Mapping[str, Any]]) -> str:
    """SHA-256 of a step's name, arguments and the outputs it reads."""
    doc = {"step": step.name, "args": step.args, "upstream": {k: upstream[k] for k in step.after}}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


class Workflow:
    """Run steps in order with caching, retries and a state file at ``state_path``."""

    def __init__(
        self, steps: list[Step], state_path: str, *, retries: int = 2, backoff_s: float = 1.0
    ) -> None:
        names = [s.name for s in steps]
        for s in steps:
            unknown = [a for a in s.after if a not in names[: names.index(s.name)]]
            if unknown:
                raise InputError(f"step {s.name!r} reads {unknown}, which do not run before it")
        self.steps = steps
        self.path = Path(state_path)
        self.retries = retries
        self.backoff_s = backoff_s

    def state(self) -> dict[str, Any]:
        """The saved state ({"steps": {name: record}}), empty when nothing ran yet."""
        if not self.path.exists():
            return {"steps": {}}
        loaded: dict[str, Any] = json.loads(self.path.read_text())
        return loaded

    def _save(self, state: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_text(json.dumps(state, indent=2, sort_keys=True, default=str))
        tmp.replace(self.path)

    def run(
        self,
        on_event: Callable[[str, str], object] = lambda _s, _e: None,
        *,
        until: str | None = None,
    ) -> dict[str, Any]:
        """Run every step that is not already done with the same key, up to and including the
        step ``until`` (all of them when None); return the state.

        A step that runs again makes the records of every later step ``stale``: what they made
        came from the earlier inputs (they run again when the workflow next reaches them).
        """
        names = [s.name for s in self.steps]
        if until is not None and until not in names:
            raise InputError(f"no step {until!r} to stop after; the steps are {', '.join(names)}")
        last = names.index(until) if until is not None else len(names) - 1
        state = self.state()
        records: dict[str, Any] = state.setdefault("steps", {})
        outputs: dict[str, Mapping[str, Any]] = {}
        for index, step in enumerate(self.steps[: last + 1]):
            key = step_key(step, outputs)
            record = records.get(step.name, {})
            if record.get("status") == "done" and record.get("key") == key:
                outputs[step.name] = record["outputs"]
                record["cached"] = True
                logger.info("step %s: cached (inputs unchanged)", step.name)
                on_event(step.name, "cached")
                continue
            record = {"status": "running", "key": key, "attempts": 0,
                      "started": _now(), "cached": False}  # fmt: skip
            records[step.name] = record
            for later in names[index + 1 :]:
                if later in records:
                    records[later]["status"] = "stale"
                    records[later]["cached"] = False
            self._save(state)
            logger.info("step %s: running", step.name)
            on_event(step.name, "running")
            started = time.perf_counter()
            while True:
                record["attempts"] += 1
                try:
                    result = step.run(step.args, {k: outputs[k] for k in step.after})
                    break
                except TRANSIENT as exc:
                    record["last_error"] = f"{type(exc).__name__}: {exc}"
                    if record["attempts"] > self.retries:
                        self._fail(state, record, on_event, step.name)
                        raise
                    self._save(state)
                    logger.info("step %s: attempt %d failed (%s); retrying",
                                   step.name, record["attempts"], exc)  # fmt: skip
                    on_event(step.name, f"retry {record['attempts']}: {exc}")
                    time.sleep(self.backoff_s * record["attempts"])
                except BaseException as exc:
                    record["last_error"] = f"{type(exc).__name__}: {exc}"
                    self._fail(state, record, on_event, step.name)
                    raise
            record.update(status="done", outputs=result, finished=_now(),
                          seconds=round(time.perf_counter() - started, 3))  # fmt: skip
            outputs[step.name] = result
            self._save(state)
            logger.info("step %s: done in %.1f s", step.name, record["seconds"])
            on_event(step.name, "done")
        return state

    def _fail(
        self, state: dict[str, Any], record: dict[str, Any], on_event: Callable[[str, str], object],
        name: str,
    ) -> None:  # fmt: skip
        record["status"] = "failed"
        record["finished"] = _now()
        self._save(state)
        on_event(name, "failed")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
